/**
 * `chio token revoke` takes a capability's id. Given the token itself (or a JWT) it would store
 * a revocation no token matches and say "revoked": it refuses instead, names the id to use, and
 * never echoes the token.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../support/nats.js';
import { capabilityIdInToken } from '../../../src/credentials/capability.js';
import { statusOf } from '../../../src/errors/index.js';
import { runChio } from '../../support/run-chio.js';
import { ISTIO_JWT, capabilityToken } from '../decision/fixtures.js';

describe('capabilityIdInToken', () => {
  it('finds the id in a token, and nothing in an id or other text', () => {
    expect(capabilityIdInToken(capabilityToken({ id: 'cap-42' }))).toBe('cap-42');
    expect(capabilityIdInToken('cap-42')).toBeUndefined();
    expect(capabilityIdInToken('3f0c1c1e-5d43-4a3b-9d1e-0b1f5e0c2a11')).toBeUndefined();
    expect(capabilityIdInToken(ISTIO_JWT)).toBeUndefined();
  });
});

describe('chio token revoke', () => {
  // NATS_URL names nothing that listens: a refused argument never gets as far as connecting.
  const env = { NATS_URL: 'nats://127.0.0.1:1', CHIO_DATA_DIR: '/nonexistent' };

  it('refuses a capability token, naming its id, without echoing the token', async () => {
    const token = capabilityToken({ id: 'cap-42' });
    const run = await runChio(['token', 'revoke', token], env);
    expect(run.exit).toBe(statusOf('CONFIG_INVALID').exit);
    expect(run.stderr).toContain('that is a capability token, not its id: run chio token revoke cap-42');
    expect(run.stderr + run.stdout).not.toContain(token);
  });

  it.each([
    ['after Bearer', (t: string) => `Bearer ${t}`],
    ['with its header name', (t: string) => `x-chio-capability-token: ${t}`],
  ])('refuses a capability token pasted %s, naming its id, without echoing the token', async (_how, paste) => {
    const token = capabilityToken({ id: 'cap-43' });
    const run = await runChio(['token', 'revoke', paste(token)], env);
    expect(run.exit).toBe(statusOf('CONFIG_INVALID').exit);
    expect(run.stderr).toContain('that is a capability token, not its id: run chio token revoke cap-43');
    expect(run.stderr + run.stdout).not.toContain(token);
  });

  it('refuses, without echoing it, an argument no id looks like', async () => {
    const run = await runChio(['token', 'revoke', 'Basic c2VjcmV0OnBhc3M='], env);
    expect(run.exit).toBe(statusOf('CONFIG_INVALID').exit);
    expect(run.stderr).toContain('that is not a capability id');
    expect(run.stderr + run.stdout).not.toContain('c2VjcmV0OnBhc3M=');
  });

  it('refuses a JWT', async () => {
    const run = await runChio(['token', 'revoke', ISTIO_JWT], env);
    expect(run.exit).toBe(statusOf('CONFIG_INVALID').exit);
    expect(run.stderr).toContain('that looks like a JWT');
    expect(run.stderr + run.stdout).not.toContain(ISTIO_JWT);
  });
});

// After `chio up` stopped, its data directory still holds the nats.url it wrote: revoke (and
// export) connected there and said only "chio: connection refused".
describe('chio token revoke after chio up stopped', () => {
  it('says that the chio up of this directory does not answer, and what to do', async () => {
    const dataDir = tempDir('chio-revoke-stale-');
    writeFileSync(join(dataDir, 'nats.url'), 'nats://127.0.0.1:1\n');
    const run = await runChio(['token', 'revoke', 'cap-42'], { CHIO_DATA_DIR: dataDir });
    expect(run.exit).toBe(statusOf('UNAVAILABLE').exit);
    expect(run.stderr.trim()).toBe(`chio: chio token revoke: no NATS answers at nats://127.0.0.1:1, the address the last \`chio up\` on this data directory wrote to ${join(dataDir, 'nats.url')}: is it still running? Start it (\`npm start\`), or set NATS_URL`);
  });
});

// docs/policies.md: revoke finds a `chio up` "running with the same CHIO_DATA_DIR". The message
// said "in this directory", the working directory, which is not where it looked when
// CHIO_DATA_DIR is set: it names the file it looked for.
describe('chio token revoke with no NATS to find', () => {
  it('names the data directory file it looked for, not "this directory"', async () => {
    const dataDir = tempDir('chio-revoke-none-');
    const run = await runChio(['token', 'revoke', 'cap-42'], { CHIO_DATA_DIR: dataDir });
    expect(run.exit).toBe(statusOf('CONFIG_INVALID').exit);
    expect(run.stderr.trim()).toBe(`chio: chio token revoke needs NATS_URL, or a running \`chio up\` on this data directory (CHIO_DATA_DIR): no ${join(dataDir, 'nats.url')}`);
  });
});
