import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

// Counts the YAML parses: the 10 s backstop poll must not parse (and compile) files that did
// not change, since a parse holds the thread that answers Checks (seconds for a large file).
const parses = vi.hoisted(() => ({ count: 0 }));
vi.mock('../../../src/yaml-documents.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../../src/yaml-documents.js')>();
  return {
    ...original,
    parseYamlDocuments: (text: string) => {
      parses.count += 1;
      return original.parseYamlDocuments(text);
    },
  };
});
const { PolicyWatcher } = await import('../../../src/policy/policy-watcher.js');
const { createLogger } = await import('../../../src/log.js');

const policy = (path: string) => `apiVersion: chio.dev/v1
kind: AuthorizationPolicy
metadata:
  name: tools
spec:
  rules:
    - to:
        - operation:
            paths: ["${path}"]
`;

describe('PolicyWatcher.reload of files that did not change', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'chio-poll-'));
    writeFileSync(join(dir, 'a.yaml'), policy('/a/*'));
    writeFileSync(join(dir, 'b.yaml'), policy('/b/*').replace('name: tools', 'name: b'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('does not parse them again (the poll every 10 s would hold the event loop for nothing)', async () => {
    const w = new PolicyWatcher(dir, dir, createLogger('silent'));
    const before = w.current();
    parses.count = 0;
    expect(await w.reload()).toBe('unchanged');
    expect(parses.count).toBe(0);
    expect(w.current()).toBe(before);
  });

  it('does not parse again, poll after poll, files changed in a way that gave the same set (a comment)', async () => {
    const w = new PolicyWatcher(dir, dir, createLogger('silent'));
    const before = w.current();
    writeFileSync(join(dir, 'a.yaml'), `# a comment\n${policy('/a/*')}`);
    expect(await w.reload()).toBe('unchanged');
    parses.count = 0;
    expect(await w.reload()).toBe('unchanged');
    expect(parses.count).toBe(0);
    expect(w.current().hash).toBe(before.hash);
    writeFileSync(join(dir, 'a.yaml'), policy('/z/*'));
    expect(await w.reload()).toBe('swapped');
  });

  it('still loads the set again when a byte of one file changed', async () => {
    const w = new PolicyWatcher(dir, dir, createLogger('silent'));
    writeFileSync(join(dir, 'b.yaml'), policy('/c/*').replace('name: tools', 'name: b'));
    expect(await w.reload()).toBe('swapped');
  });

  it('still loads the set again when a file is added', async () => {
    const w = new PolicyWatcher(dir, dir, createLogger('silent'));
    writeFileSync(join(dir, 'c.yaml'), policy('/c/*').replace('name: tools', 'name: c'));
    expect(await w.reload()).toBe('swapped');
  });

  it('still loads the set again when only a jwksFile it names changed (a key rotation)', async () => {
    const { generateKeyPair, exportJWK } = await import('jose');
    const jwk = async () => ({ ...(await exportJWK((await generateKeyPair('ES256')).publicKey)), kid: 'k' });
    writeFileSync(join(dir, 'ra.yaml'), 'apiVersion: chio.dev/v1\nkind: RequestAuthentication\nmetadata: { name: ra }\nspec: { jwtRules: [{ issuer: iss, jwksFile: keys.json }] }\n');
    writeFileSync(join(dir, 'keys.json'), JSON.stringify({ keys: [await jwk()] }));
    const w = new PolicyWatcher(dir, dir, createLogger('silent'));
    expect(await w.reload()).toBe('unchanged');
    writeFileSync(join(dir, 'keys.json'), JSON.stringify({ keys: [await jwk()] }));
    expect(await w.reload()).toBe('swapped');
  });

  it('refuses, keeping the set, when the directory is gone (never an empty set)', async () => {
    const w = new PolicyWatcher(dir, dir, createLogger('silent'));
    const before = w.current();
    rmSync(dir, { recursive: true, force: true });
    expect(await w.reload()).toBe('refused');
    expect(w.current()).toBe(before);
  });
});
