/**
 * A new --out is made as `mkdir` would make it: its mode is the process's umask applied to
 * 0777, like the `policies/` folder inside it and any directory the operator makes. It was
 * the 0700 of a temporary directory (mkdtemp), renamed into place: a bundle on a shared
 * exports volume that the auditor's account, or a sync sidecar, could no longer read.
 */
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { STAGING_PREFIX, stageBundle } from '../../../src/export/bundle-staging.js';
import { tempDir } from '../../support/nats.js';

const modeOf = (path: string) => statSync(path).mode & 0o777;

describe('stageBundle', () => {
  it('puts a new --out in place with the mode mkdir gives a directory, not a temporary directory\'s 0700', () => {
    const parent = tempDir('chio-staging-');
    const previous = process.umask(0o022);
    try {
      mkdirSync(join(parent, 'made-by-mkdir'));
      const staging = stageBundle(join(parent, 'bundle'));
      writeFileSync(join(staging.dir, 'manifest.json'), '{}\n');
      staging.commit();
      expect(modeOf(join(parent, 'bundle'))).toBe(modeOf(join(parent, 'made-by-mkdir')));
      expect(modeOf(join(parent, 'bundle'))).toBe(0o755);
    } finally {
      process.umask(previous);
    }
    expect(readdirSync(parent).filter((name) => name.includes(STAGING_PREFIX))).toEqual([]);
  });

  it('names its staging directory beside --out with the hidden prefix the CronJob removes', () => {
    const parent = tempDir('chio-staging-');
    const staging = stageBundle(join(parent, '2026-05-01'));
    expect(staging.dir.startsWith(join(parent, `.2026-05-01.${STAGING_PREFIX}`))).toBe(true);
    staging.discard();
    expect(readdirSync(parent)).toEqual([]);
  });
});
