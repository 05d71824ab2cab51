import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PolicyWatcher } from '../../../src/policy/policy-watcher.js';
import { policyReloadsTotal } from '../../../src/metrics.js';
import { createLogger } from '../../../src/log.js';

const policy = (path: string) => `apiVersion: chio.dev/v1
kind: AuthorizationPolicy
metadata:
  name: tools
spec:
  action: ALLOW
  rules:
    - to:
        - operation:
            paths: ["${path}"]
`;

async function reloads(result: string): Promise<number> {
  const metric = await policyReloadsTotal.get();
  return metric.values.find((v) => v.labels.result === result)?.value ?? 0;
}

describe('PolicyWatcher.reload', () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'chio-watch-'));
    file = join(dir, 'policy.yaml');
    writeFileSync(file, policy('/tools/*'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const watcher = () => new PolicyWatcher(file, dir, createLogger('silent'));

  describe('when the files did not change in meaning', () => {
    it('keeps the set and counts result="unchanged"', async () => {
      const w = watcher();
      const before = w.current();
      const counted = await reloads('unchanged');
      writeFileSync(file, `# a comment changes the bytes, not the meaning\n${policy('/tools/*')}`);
      expect(await w.reload()).toBe('unchanged');
      expect(w.current()).toBe(before);
      expect(await reloads('unchanged')).toBe(counted + 1);
    });
  });

  describe('when the set has a remote JWKS', () => {
    // A swapped-in set began with an empty key set cache: an unrelated policy edit during an
    // identity provider's outage ended the stale window, and every JWT of it was denied.
    it('hands the key sets, with what they fetched, to the set that replaces it', async () => {
      const jwksUri = 'http://127.0.0.1:9/jwks.json';
      const authn = `apiVersion: chio.dev/v1\nkind: RequestAuthentication\nmetadata: { name: r }\nspec: { jwtRules: [{ issuer: "https://issuer.example", jwksUri: "${jwksUri}" }] }\n---\n`;
      writeFileSync(file, authn + policy('/tools/*'));
      const w = watcher();
      const keys = w.current().jwt!.remoteJwks.get(jwksUri);
      expect(keys).toBeDefined();
      writeFileSync(file, authn + policy('/invoke/*'));
      expect(await w.reload()).toBe('swapped');
      expect(w.current().jwt!.remoteJwks.get(jwksUri)).toBe(keys);
    });
  });

  describe('when a valid change arrives', () => {
    it('swaps the set in, with a new hash, and counts result="swapped"', async () => {
      const w = watcher();
      const before = w.current().hash;
      const counted = await reloads('swapped');
      writeFileSync(file, policy('/invoke/*'));
      expect(await w.reload()).toBe('swapped');
      expect(w.current().hash).not.toBe(before);
      expect(await reloads('swapped')).toBe(counted + 1);
    });
  });

  describe('when an invalid change arrives', () => {
    // An empty file: an editor or `cat >` truncates, then writes, and a reload between the two
    // (a writer slower than the 200 ms debounce, or the 10 s poll falling between) read it as a
    // file of no policies, and swapped in a set without them.
    it.each([
      ['a file that does not parse', 'kind: AuthorizationPolicy\nspec: ['],
      ['a file caught truncated, before its new text is written', ''],
    ])('keeps the old set and counts result="refused": %s', async (_, text) => {
      const w = watcher();
      const before = w.current();
      const counted = await reloads('refused');
      writeFileSync(file, text);
      expect(await w.reload()).toBe('refused');
      expect(w.current()).toBe(before);
      expect(await reloads('refused')).toBe(counted + 1);
      writeFileSync(file, policy('/invoke/*'));
      expect(await w.reload()).toBe('swapped');
    });
  });

  describe('when the archive cannot hold the new set yet', () => {
    it('keeps answering from the archived set: no receipt names a hash the archive does not hold', async () => {
      let stored = false;
      const archive = vi.fn(async () => {
        if (!stored) throw new Error('object store unavailable');
      });
      const w = new PolicyWatcher(file, dir, createLogger('silent'), archive);
      const before = w.current();
      const counted = await reloads('unarchived');
      writeFileSync(file, policy('/invoke/*'));
      expect(await w.reload()).toBe('unarchived');
      expect(w.current()).toBe(before);
      expect(await reloads('unarchived')).toBe(counted + 1);
      stored = true;
      expect(await w.reload()).toBe('swapped');
      expect(w.current().hash).not.toBe(before.hash);
      expect(archive).toHaveBeenLastCalledWith(w.current());
    });
  });
});
