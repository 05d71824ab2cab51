/**
 * The Settings table of docs/configuration.md is what loadConfig reads: a row for every
 * setting (its variable and YAML key, paired) and none else; each default written as one value
 * is the value a process gets with nothing set; each range `a–b` takes a and b and refuses
 * a − 1 and b + 1; each list of values (`enforce`, `shadow`; 1, 3 or 5) is exactly what is
 * taken; each pattern `[…]{1,n}` takes n characters and refuses n + 1.
 */
import { createInbox } from '@nats-io/transport-node';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SETTING_VARIABLES, loadConfig } from '../../../src/config.js';
import { DEFAULT_VERIFY_THREADS } from '../../../src/crypto/ed25519-pool.js';
import { tableUnder, ticked } from './doc-text.js';

interface Row { variable: string; key: string; defaultCell: string; accepted: string }

/** One row per variable: `NATS_USER`, `NATS_PASS` | `natsUser`, `natsPass` are two. */
function rows(): Row[] {
  const out: Row[] = [];
  let previous = '';
  for (const [variables, keys, defaultCell, acceptedCell] of tableUnder('docs/configuration.md', 'Settings')) {
    const accepted = acceptedCell === 'same' ? previous : acceptedCell!;
    previous = accepted;
    const names = ticked(variables!);
    const yamlKeys = ticked(keys!);
    expect(yamlKeys.length, `${variables}: as many YAML keys as variables`).toBe(names.length);
    names.forEach((variable, i) => out.push({ variable, key: yamlKeys[i]!, defaultCell: defaultCell!, accepted }));
  }
  return out;
}

/** The refusal of `value` for `variable`, or undefined when it is taken. */
function refusal(variable: string, value: string): string | undefined {
  try {
    loadConfig({ env: { [variable]: value } });
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** Defaults the table states that loadConfig leaves to the code that reads the setting. */
const DEFAULTS_ELSEWHERE: Record<string, string> = {
  natsInboxPrefix: createInbox().split('.')[0]!,
  ledgerVerifyThreads: String(DEFAULT_VERIFY_THREADS),
};

describe('docs/configuration.md, Settings', () => {
  const table = rows();
  const defaults = loadConfig({ env: {} }) as unknown as Record<string, unknown>;

  it('has a row for every setting, with its variable and YAML key, and for no other', () => {
    expect(Object.fromEntries(table.map((r) => [r.key, r.variable]))).toEqual(SETTING_VARIABLES);
  });

  it('gives each default written as one value', () => {
    const problems: string[] = [];
    let checked = 0;
    for (const { key, defaultCell } of table) {
      // `<CHIO_DATA_DIR>/keys`: a directory under the data directory, as a process resolves it.
      const literal = /^`([^`]+)`$/.exec(defaultCell)?.[1]?.replace(/^<CHIO_DATA_DIR>\//, `${resolve(String(defaults.dataDir))}/`);
      if (literal === undefined) continue;
      checked++;
      const actual = defaults[key] === undefined ? DEFAULTS_ELSEWHERE[key] : String(defaults[key]);
      if (actual !== literal) problems.push(`${key}: docs ${literal}, code ${actual}`);
    }
    expect(checked).toBeGreaterThan(15);
    expect(problems).toEqual([]);
  });

  it('gives each range, list of values and pattern as loadConfig takes them', () => {
    const problems: string[] = [];
    const takes = (variable: string, value: string, expected: boolean) => {
      if ((refusal(variable, value) === undefined) !== expected) problems.push(`${variable}=${JSON.stringify(value)}: docs ${expected ? 'taken' : 'refused'}`);
    };
    for (const { variable, accepted } of table) {
      const range = /^(\d+)–(\d+)\b/.exec(accepted);
      const list = /^(\d+(?:, \d+)*) or (\d+)\b/.exec(accepted);
      const pattern = /^`\[([^\]]+)\]\{1,(\d+)\}`/.exec(accepted);
      const options = /expected one of (\S*)/.exec(refusal(variable, 'no-such-value') ?? '')?.[1];
      if (range) {
        const [min, max] = [Number(range[1]), Number(range[2])];
        takes(variable, String(min), true);
        takes(variable, String(max), true);
        if (min > 0) takes(variable, String(min - 1), false);
        takes(variable, String(max + 1), false);
      } else if (list) {
        const listed = [...list[1]!.split(', '), list[2]!].map(Number);
        for (let n = Math.min(...listed) - 1; n <= Math.max(...listed) + 1; n++) takes(variable, String(n), listed.includes(n));
      } else if (pattern) {
        const n = Number(pattern[2]);
        takes(variable, 'a'.repeat(n), true);
        takes(variable, 'a'.repeat(n + 1), false);
      } else if (options) {
        const taken = [...options.matchAll(/"([^"]+)"/g)].map((m) => m[1]!).sort();
        if (JSON.stringify(taken) !== JSON.stringify([...ticked(accepted)].sort())) problems.push(`${variable}: docs ${ticked(accepted).join(', ')}, code ${taken.join(', ')}`);
      }
    }
    expect(problems).toEqual([]);
  });
});
