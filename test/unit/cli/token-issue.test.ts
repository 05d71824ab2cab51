/**
 * `chio token issue` prints only a token a Check can accept. Claims that every Check refuses
 * as malformed (an empty subject — an unset shell variable —, an empty method, a zero lifetime,
 * too many grants) were signed and printed with exit 0, and the Check said no more than
 * "capability token is malformed": refused instead, exit 2, naming what is wrong.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { IssuerTrust, verifyCapability } from '../../../src/credentials/capability.js';
import { generateKeys } from '../../../src/keys.js';
import { tempDir } from '../../support/nats.js';
import { runChio, type Run } from '../../support/run-chio.js';

const dir = tempDir('chio-token-issue-');
const env = { CHIO_KEY_DIR: dir };
const issue = (...args: string[]) => runChio(['token', 'issue', ...args], env);

describe('chio token issue', () => {
  const runs: Record<string, Run> = {};
  beforeAll(async () => {
    generateKeys(dir, 'chio.local/receipts');
    const cases: Record<string, Promise<Run>> = {
      good: issue('--subject', 'agent', '--grant', 'GET,POST /tools/*'),
      emptySubject: issue('--subject', '', '--grant', 'GET /tools/*'),
      emptyMethod: issue('--subject', 'agent', '--grant', 'GET, /tools/*'),
      zeroTtl: issue('--subject', 'agent', '--grant', 'GET /tools/*', '--ttl', '0s'),
      tooManyGrants: issue('--subject', 'agent', ...Array.from({ length: 65 }, (_, i) => ['--grant', `GET /t${i}`]).flat()),
    };
    for (const [name, run] of Object.entries(cases)) runs[name] = await run;
  }, 120_000);

  it('prints a token a Check accepts', () => {
    expect(runs.good!.exit).toBe(0);
    const trust = new IssuerTrust([readFileSync(join(dir, 'demo-issuer.pub'), 'utf8').trim()]);
    const claims = verifyCapability(runs.good!.stdout.trim(), trust, Math.floor(Date.now() / 1000));
    expect(claims).toMatchObject({ subject: 'agent', scope: { grants: [{ methods: ['GET', 'POST'], paths: ['/tools/*'] }] } });
  });

  it.each([
    ['emptySubject', /subject must be a non-empty string/],
    ['emptyMethod', /grant\.methods must be a list of non-empty strings/],
    ['zeroTtl', /expires before it is issued/],
    ['tooManyGrants', /scope\.grants must be a list of 1 to 64 grants/],
  ])('refuses claims every Check would refuse (%s), printing no token, exit 2', (name, why) => {
    const run = runs[name]!;
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^chio: /);
    expect(run.stderr).toMatch(why);
    expect(run.exit).toBe(2);
  });
});
