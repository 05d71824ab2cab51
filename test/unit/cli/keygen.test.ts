/**
 * `chio keygen` says what it wrote (docs/configuration.md#keys): the keys it created, a public
 * half it wrote again from its private key, or that every key already exists. A missing
 * `.pub` repaired was told "all keys already exist", as if nothing had been written.
 */
import { existsSync, readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../support/nats.js';
import { runChio } from '../../support/run-chio.js';

describe('chio keygen', () => {
  it('creates the keys, then says they all exist, then names a .pub it wrote again from its .key', async () => {
    const dir = tempDir('chio-keygen-');
    const env = { CHIO_KEY_DIR: dir };
    const first = await runChio(['keygen'], env);
    expect(first).toMatchObject({ exit: 0, stdout: `created kernel, log, export, demo-issuer in ${dir}\n` });
    const second = await runChio(['keygen'], env);
    expect(second).toMatchObject({ exit: 0, stdout: `all keys already exist in ${dir}\n` });

    const logPub = readFileSync(join(dir, 'log.pub'), 'utf8');
    unlinkSync(join(dir, 'log.pub'));
    const repaired = await runChio(['keygen'], env);
    expect(repaired).toMatchObject({ exit: 0, stdout: `wrote log.pub again from log.key in ${dir}\n` });
    expect(existsSync(join(dir, 'log.pub'))).toBe(true);
    expect(readFileSync(join(dir, 'log.pub'), 'utf8')).toBe(logPub);
  }, 60_000);
});
