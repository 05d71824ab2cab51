/**
 * Where `chio export` writes a bundle before it is one: a hidden staging directory, moved to
 * --out only once every file is written and the manifest signed. An export stopped half-way
 * (a signal, an error) takes the staging directory away, and one killed outright (SIGKILL, the
 * OOM killer) leaves only a hidden name: --out never holds a bundle cut short, which would
 * never verify yet could be handed to an auditor, and would be refused as --out next time.
 *
 *   --out not there:          <parent>/.<name>.chio-export-XXXXXX, renamed to --out (rename(2):
 *                             atomic, on the same filesystem since it is the same directory)
 *   --out an empty directory: <out>/.chio-export-XXXXXX, its files moved up into --out with
 *                             manifest.json last, then removed. The directory itself is kept
 *                             (its owner, its mode, a volume mounted there), so it is not
 *                             replaced; a kill inside those few renames is the one moment
 *                             that can leave files without a manifest.
 *
 * commit() and discard() are synchronous: a signal handler, which runs on the event loop,
 * never runs between their steps.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, rmdirSync, statSync, type Dirent } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { MANIFEST_FILE } from '../verify/export-format.js';

/** What a staging directory's name starts with, after the dot (and, beside --out, its name). */
export const STAGING_PREFIX = 'chio-export-';

/** A staging directory inside --out: the dot, the prefix and mkdtemp's six random characters. */
const STAGING_INSIDE_NAME = new RegExp(`^\\.${STAGING_PREFIX}[A-Za-z0-9]{6}$`);

export interface BundleStaging {
  /** Where the bundle's files are written. */
  readonly dir: string;
  /** Put the bundle in place at --out. */
  commit(): void;
  /** Take away everything made since stageBundle, so --out is as it was; nothing after commit(). */
  discard(): void;
}

/** A staging directory for a bundle at `outDir`, which MUST be absent or an empty directory. */
export function stageBundle(outDir: string): BundleStaging {
  return isDirectory(outDir) ? stageInside(outDir) : stageBeside(outDir);
}

/**
 * The staging directories among `entries` of a --out directory: only an export killed outright
 * leaves one there, and since its name is hidden the user sees an empty --out refused.
 */
export function leftoverStagingDirs(entries: readonly Dirent[]): string[] {
  return entries.filter((e) => e.isDirectory() && STAGING_INSIDE_NAME.test(e.name)).map((e) => e.name);
}

function stageBeside(outDir: string): BundleStaging {
  // The first directory made of --out's parents, taken away with the staging directory.
  const madeParent = mkdirSync(dirname(outDir), { recursive: true });
  const dir = newDirectory(join(dirname(outDir), `.${basename(outDir)}.${STAGING_PREFIX}`));
  return {
    dir,
    commit: () => renameSync(dir, outDir),
    discard: () => rmSync(madeParent ?? dir, { recursive: true, force: true }),
  };
}

function stageInside(outDir: string): BundleStaging {
  const dir = mkdtempSync(join(outDir, `.${STAGING_PREFIX}`));
  const moved: string[] = [];
  return {
    dir,
    commit() {
      // manifest.json last: until it is there, what was moved is no bundle.
      const names = readdirSync(dir).sort((a, b) => Number(a === MANIFEST_FILE) - Number(b === MANIFEST_FILE));
      for (const name of names) {
        renameSync(join(dir, name), join(outDir, name));
        moved.push(name);
      }
      rmdirSync(dir);
    },
    discard() {
      for (const name of moved) rmSync(join(outDir, name), { recursive: true, force: true });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A directory of a name not taken, `prefix` + 6 hex digits, made as mkdir makes one: it
 * becomes --out, so its mode is the umask's (0755 under the usual 022), as the operator's own
 * directories and the bundle's policies/ folder are; mkdtemp's is always 0700.
 */
function newDirectory(prefix: string): string {
  for (let attempt = 0; ; attempt++) {
    const dir = `${prefix}${randomBytes(3).toString('hex')}`;
    try {
      mkdirSync(dir);
      return dir;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 99) throw err;
    }
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
