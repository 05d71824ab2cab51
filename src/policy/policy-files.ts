/**
 * The files of a policy set: a file, or a directory's `.yaml`/`.yml` files, read from one
 * version when the directory is a Kubernetes ConfigMap or Secret volume (whose files are links
 * into `..data`, swapped at once on each update), so that a set is never half one version and
 * half the next.
 */
import { lstatSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { ChioError } from '../errors/index.js';

/** Most policy files in one set (a directory's, or those named together). */
export const MAX_POLICY_FILES = 1000;
/** The name of a `chio policy test` file, which a policy directory may hold beside its policies. */
export const TEST_FILE = /\.test\.ya?ml$/;

/**
 * The policy files at `path`: the file itself, or the directory's .yaml/.yml files, sorted.
 * Test files (`*.test.yaml`, read by `chio policy test`) are not policies and are left out.
 * `source` is where the path was given (a setting, an option), named in a refusal so that the
 * user looks there; '' for a path that is its own name (`chio policy check FILE`).
 */
export function listPolicyFiles(path: string, source = 'CHIO_POLICIES'): string[] {
  const where = source === '' ? '' : `${source}: `;
  let stat;
  try {
    stat = statSync(path);
  } catch {
    throw new ChioError('CONFIG_INVALID', `${where}${path} does not exist`);
  }
  if (!stat.isDirectory()) return [versionOfFile(resolve(path))];
  const dir = mountedVersion(path) ?? path;
  const files = readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f) && !TEST_FILE.test(f) && !f.startsWith('.'))
    .sort()
    .map((f) => resolve(join(dir, f)));
  if (files.length === 0) throw new ChioError('CONFIG_INVALID', `${where}no .yaml files in ${path}`);
  if (files.length > MAX_POLICY_FILES) throw new ChioError('CONFIG_INVALID', `${where}${files.length} .yaml files in ${path}, over the ${MAX_POLICY_FILES} a set may have`);
  return files;
}

/**
 * The directory of the version a Kubernetes ConfigMap or Secret volume shows now, or undefined
 * for any other directory. Such a volume's files are links into `..data`, a link the kubelet
 * points at a new directory, at once, on each update. Read through the links one file after
 * another, a swap between two reads gave a set of half the old files and half the new, which
 * neither version is; the directory `..data` names is one version, whole.
 */
function mountedVersion(path: string): string | undefined {
  const data = join(path, '..data');
  try {
    // The link's own target under `path` (the kubelet's is `..<timestamp>`), not a realpath: the
    // mount's path stays as it was given, so `..` from the version directory is the mount.
    return lstatSync(data).isSymbolicLink() ? resolve(path, readlinkSync(data)) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The mounted directory of a version directory of a ConfigMap or Secret volume
 * (`<mount>/..<timestamp>`, beside `<mount>/..data`), or undefined for any other directory.
 */
export function mountOfVersion(dir: string): string | undefined {
  if (!basename(dir).startsWith('..')) return undefined;
  try {
    return lstatSync(join(dirname(dir), '..data')).isSymbolicLink() ? dirname(dir) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A policy file named on its own: in a ConfigMap or Secret volume (a link into `..data`), the
 * file in the version `..data` names now, as listing its directory gives it, so that a file
 * named both ways is one file of the set; any other file as it is.
 */
function versionOfFile(file: string): string {
  const dir = dirname(file);
  const version = mountedVersion(dir);
  try {
    return version !== undefined && lstatSync(file).isSymbolicLink() && readlinkSync(file) === join('..data', basename(file)) ? join(version, basename(file)) : file;
  } catch {
    return file;
  }
}
