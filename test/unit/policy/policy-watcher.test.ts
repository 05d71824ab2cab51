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
    it('keeps the old set and counts result="refused"', async () => {
      const w = watcher();
      const before = w.current();
      const counted = await reloads('refused');
      writeFileSync(file, 'kind: AuthorizationPolicy\nspec: [');
      expect(await w.reload()).toBe('refused');
      expect(w.current()).toBe(before);
      expect(await reloads('refused')).toBe(counted + 1);
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
