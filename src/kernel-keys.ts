/**
 * The kernel keys the ledger and the verifier trust (docs/configuration.md, "Rotating the
 * kernel key"): the key directory's own kernel key, always, plus `kernels.yaml` beside it when
 * there is one — a list of verifier keys, each with an optional validity window:
 *
 *   kernels:
 *     - key: chio-kernel+1a2b3c4d+AbC…           # the new key
 *     - key: chio-kernel+cb2c0530+Ads…           # the old one, retired
 *       not_after: 2025-06-01T12:30:00Z
 *
 * A listed key that is also the directory's own takes the window written here (that is how the
 * key still in kernel.pub is retired). JSON is YAML, so a kernels.json renamed works too.
 *
 * The file is polled, not watched: a Kubernetes Secret or ConfigMap update is a symlink swap
 * that fs.watch reports unreliably (policy-watcher.ts backs its watch with a poll for that
 * reason), a SIGHUP needs a shell in the pod, and reading a few hundred bytes every few seconds
 * costs nothing. A file that does not parse is refused at start-up and, later, logged and
 * ignored: the set in force stays (dropping trust would quarantine receipts for good).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { parseYaml, yamlErrorReason } from './yaml-documents.js';
import { z } from 'zod';
import { ChioError } from './errors/index.js';
import { loadKey, loadVerifierKey } from './keys.js';
import { readRegularFile, UnreadableFile } from './setting-file.js';
import { KernelTrustSet, MAX_TRUSTED_KERNEL_KEYS, type TrustedKernelKey } from './receipt/kernel-trust.js';

/** The trusted-kernel-keys file in the key directory. */
export const KERNEL_KEYS_FILE = 'kernels.yaml';
/** Larger than any honest list of MAX_TRUSTED_KERNEL_KEYS entries (comments included). */
export const MAX_KERNEL_KEYS_FILE_BYTES = 64 * 1024;

const ENTRY = z.object({
  key: z.string().min(1).max(512),
  not_before: z.string().max(64).optional(),
  not_after: z.string().max(64).optional(),
}).strict();
const FILE = z.object({ kernels: z.array(ENTRY).max(MAX_TRUSTED_KERNEL_KEYS) }).strict();

/** Parse kernels.yaml's text; throws CONFIG_INVALID naming `path` and the entry. */
export function parseKernelKeysFile(text: string, path: string): TrustedKernelKey[] {
  const bad = (why: string, cause?: unknown) => new ChioError('CONFIG_INVALID', `kernel keys file ${path}: ${why}`, cause === undefined ? undefined : { cause });
  if (Buffer.byteLength(text) > MAX_KERNEL_KEYS_FILE_BYTES) throw bad(`larger than ${MAX_KERNEL_KEYS_FILE_BYTES} bytes`);
  let doc: unknown;
  try {
    // No aliases: a list of keys needs none, and they are how a small file expands into a large one.
    doc = parseYaml(text, { maxAliasCount: 0 });
  } catch (err) {
    throw bad(`not YAML (${yamlErrorReason(err)})`, err);
  }
  const parsed = FILE.safeParse(doc);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw bad(`${whereOf(issue.path)}${issue.message} (expected {kernels: [{key, not_before?, not_after?}, …]}, at most ${MAX_TRUSTED_KERNEL_KEYS})`);
  }
  const entries = parsed.data.kernels.map((e) => ({ key: e.key, ...(e.not_before !== undefined ? { not_before: e.not_before } : {}), ...(e.not_after !== undefined ? { not_after: e.not_after } : {}) }));
  try {
    // Keys, times and windows, with messages naming the entry as numbered in the file.
    new KernelTrustSet(entries);
  } catch (err) {
    throw bad(err instanceof Error ? err.message : String(err), err);
  }
  return entries;
}

/** `kernels[2].not_after` as the operator counts: `entry 3: not_after: `. */
function whereOf(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '';
  if (path[0] === 'kernels' && typeof path[1] === 'number') return `entry ${path[1] + 1}: ${path.slice(2).map(String).join('.')}${path.length > 2 ? ': ' : ''}`;
  return `${path.map(String).join('.')}: `;
}

/** Who loads: the ledger may hold kernel.key (it did before kernel.pub sufficed); the verifier reads public halves only. */
export type KernelTrustReader = 'ledger' | 'verifier';

/**
 * The trust set of `keyDir` now: its own kernel key (for the ledger kernel.key's public half
 * when that file is there, else kernel.pub) without a window unless kernels.yaml gives it one,
 * then every key of kernels.yaml. Throws CONFIG_INVALID when nothing is trusted or a file is bad.
 */
export function loadKernelTrust(keyDir: string, reader: KernelTrustReader): KernelTrustSet {
  const file = join(keyDir, KERNEL_KEYS_FILE);
  const listed = existsSync(file) ? parseKernelKeysFile(readKernelKeysText(file), file) : [];
  const own = ownKernelKey(keyDir, reader, listed.length > 0);
  const entries = own === undefined || listed.some((e) => e.key === own) ? listed : [{ key: own }, ...listed];
  if (entries.length > MAX_TRUSTED_KERNEL_KEYS) throw new ChioError('CONFIG_INVALID', `kernel keys file ${file}: with the key directory's own kernel key, more than ${MAX_TRUSTED_KERNEL_KEYS} keys`);
  return new KernelTrustSet(entries);
}

/**
 * The kernel keys a file an auditor gives holds: one verifier key (kernel.pub) or a trust file
 * shaped as kernels.yaml (keys with their windows). Throws CONFIG_INVALID/KEY_INVALID naming
 * the file, never quoting it (a signer key given by mistake is a secret).
 */
export function readKernelTrustFile(path: string): TrustedKernelKey[] {
  const text = readKernelKeysText(path).trim();
  if (!/^kernels\s*:|^\{/m.test(text)) return [{ key: loadVerifierKey(path) }];
  return parseKernelKeysFile(text, path);
}

function readKernelKeysText(path: string): string {
  try {
    // Bounded, and a FIFO or a device refused without blocking: the file may be a mount anyone
    // with cluster access edits, and it is read again on the event loop every poll.
    return readRegularFile(path, MAX_KERNEL_KEYS_FILE_BYTES).toString('utf8');
  } catch (err) {
    if (err instanceof UnreadableFile) throw new ChioError('CONFIG_INVALID', `kernel keys file ${path} cannot be read`, { cause: err });
    throw new ChioError('CONFIG_INVALID', `kernel keys file ${(err as Error).message}`, { cause: err });
  }
}

function ownKernelKey(keyDir: string, reader: KernelTrustReader, optional: boolean): string | undefined {
  const privateFile = join(keyDir, 'kernel.key');
  const publicFile = join(keyDir, 'kernel.pub');
  if (reader === 'ledger' && existsSync(privateFile)) return loadKey(keyDir, 'kernel').verifierKey;
  if (existsSync(publicFile)) return loadVerifierKey(publicFile);
  if (optional) return undefined;
  // Neither half and no list: the message start-up gave before kernels.yaml existed.
  if (reader === 'ledger') return loadKey(keyDir, 'kernel').verifierKey;
  return loadVerifierKey(publicFile);
}

/** How often kernels.yaml (and the own kernel key) is read again; CHIO_KERNEL_KEYS_POLL_MS. */
export const DEFAULT_KERNEL_KEYS_POLL_MS = 5_000;

/** Keeps the trust set in force, reading the key directory again every `pollMs`. */
export class KernelTrustWatcher {
  private set: KernelTrustSet;
  private poll: NodeJS.Timeout | undefined;

  /** Loads once; throws CONFIG_INVALID (start-up stops) when the key directory trusts nothing or a file is bad. */
  constructor(
    private readonly keyDir: string,
    private readonly reader: KernelTrustReader,
    private readonly log: Logger,
    private readonly pollMs = DEFAULT_KERNEL_KEYS_POLL_MS,
  ) {
    this.set = loadKernelTrust(keyDir, reader);
    log.info({ kernel_keys: this.set.entries.length, windowed: windowed(this.set) }, 'kernel keys trusted');
  }

  current(): KernelTrustSet {
    return this.set;
  }

  start(): void {
    this.poll = setInterval(() => this.reload(), this.pollMs);
    this.poll.unref();
  }

  stop(): void {
    clearInterval(this.poll);
  }

  /** Read again; swap when valid and different, else keep the set in force. */
  reload(): 'swapped' | 'unchanged' | 'refused' {
    let next: KernelTrustSet;
    try {
      next = loadKernelTrust(this.keyDir, this.reader);
    } catch (err) {
      // Keys are public, but the message names files and entries, never a private key.
      this.log.error({ err: err instanceof Error ? err.message : String(err) }, 'kernel keys change refused; keeping the keys in force');
      return 'refused';
    }
    if (JSON.stringify(next.entries) === JSON.stringify(this.set.entries)) return 'unchanged';
    this.set = next;
    this.log.info({ kernel_keys: next.entries.length, windowed: windowed(next) }, 'kernel keys changed');
    return 'swapped';
  }
}

function windowed(set: KernelTrustSet): number {
  return set.entries.filter((e) => e.not_before !== undefined || e.not_after !== undefined).length;
}
