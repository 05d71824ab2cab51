/**
 * Which private files are open to others (src/setting-file.ts): OpenSSH's rule, with
 * PostgreSQL's exception for a root-owned file its group may read — how Kubernetes mounts a
 * Secret (defaultMode 0440, group = fsGroup) for a pod that does not run as root.
 */
import { describe, expect, it } from 'vitest';
import { isOpenToOthers } from '../../src/setting-file.js';

const CHIO = 1000;
const ROOT = 0;

describe('isOpenToOthers', () => {
  it.each([
    [0o600, CHIO, CHIO, false],
    [0o400, CHIO, CHIO, false],
    [0o640, CHIO, CHIO, true],
    [0o604, CHIO, CHIO, true],
    [0o440, ROOT, CHIO, false], // a Kubernetes Secret with fsGroup, read by a non-root pod
    [0o460, ROOT, CHIO, true], // group write
    [0o444, ROOT, CHIO, true], // others
    [0o450, ROOT, CHIO, true], // group execute
    [0o440, ROOT, ROOT, true], // Chio itself runs as root: no exception
    [0o440, 2000, CHIO, true], // owned by another account
  ])('mode %o owned by %i, read by %i: %s', (mode, owner, self, open) => {
    expect(isOpenToOthers(0o100000 | mode, owner, self)).toBe(open);
  });
});
