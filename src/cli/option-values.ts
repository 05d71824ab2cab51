/**
 * The values `chio` options take, parsed as commander reads them: a bad one is refused with
 * what was wanted, before the command runs.
 */
import { InvalidArgumentError } from 'commander';
import { existsSync } from 'node:fs';
import { ChioError } from '../errors/index.js';
import { DEFAULT_GRPC_PORT, MAX_AUTHZ_WORKERS } from '../config.js';
import { durationSeconds } from '../time.js';
import { loadVerifierKey, wrongKindHint } from '../keys.js';
import { parseVerifierKey } from '../tlog/index.js';
import { normalizePathPattern } from '../decision/path.js';
import { readKernelTrustFile } from '../kernel-keys.js';
import { KernelTrustSet, type TrustedKernelKey } from '../receipt/kernel-trust.js';

export function parseWorkers(text: string): number {
  // Decimal digits only, as CHIO_AUTHZ_WORKERS takes: Number() made 0x2 two and 1e1 ten.
  const n = /^\s*\d+\s*$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_AUTHZ_WORKERS) throw new InvalidArgumentError(`a whole number from 1 to ${MAX_AUTHZ_WORKERS}`);
  return n;
}

/**
 * A --*-key value: a verifier key itself (name+hash+key), or a file holding one (as `chio
 * keygen` writes *.pub). The value is not echoed: a signer key passed by mistake is a secret.
 */
export function verifierKeyArg(value: string, flag: string): string {
  try {
    parseVerifierKey(value);
    return value;
  } catch (asKey) {
    if (existsSync(value)) return loadVerifierKey(value);
    throw new ChioError('CONFIG_INVALID', `${flag}: neither a verifier key (${asKey instanceof Error ? asKey.message : String(asKey)}) nor a file${wrongKindHint(value, 'verifier')}`);
  }
}

/**
 * `--kernel-key`, repeatable: the kernel keys an auditor holds. Each value is a verifier key, a
 * file holding one (kernel.pub), or a kernels.yaml trust file (keys with their validity windows).
 */
export function kernelKeysArg(values: readonly string[], flag: string): KernelTrustSet {
  const given: TrustedKernelKey[] = values.flatMap((value) => {
    if (isVerifierKey(value)) return [{ key: value }];
    // Not a key: a file, or verifierKeyArg's message (never the value) on why it is neither.
    return existsSync(value) ? readKernelTrustFile(value) : [{ key: verifierKeyArg(value, flag) }];
  });
  // kernel.pub and a kernels.yaml that retires that very key, as loadKernelTrust reads a key
  // directory: the window wins. Two different windows for one key stay, and are refused.
  const windowed = (e: TrustedKernelKey) => e.not_before !== undefined || e.not_after !== undefined;
  const entries = given.filter((e, i) => !given.some((other, j) => other.key === e.key &&
    (windowed(e) ? windowed(other) && j < i && other.not_before === e.not_before && other.not_after === e.not_after : windowed(other) || j < i)));
  try {
    return new KernelTrustSet(entries);
  } catch (err) {
    throw new ChioError('CONFIG_INVALID', `${flag}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

function isVerifierKey(value: string): boolean {
  try {
    parseVerifierKey(value);
    return true;
  } catch {
    return false;
  }
}

/**
 * `chio check --addr`: a gRPC target, host:port. A URL's scheme (copied from `chio prove
 * --url`, or from a browser) made grpc-js look the whole text up as a host name:
 * "Name resolution failed for target dns:http://127.0.0.1:9091".
 */
export function parseGrpcAddr(text: string): string {
  const url = /^\s*(https?):\/\/([^/?#]*)/i.exec(text);
  if (url) {
    const tls = url[1]!.toLowerCase() === 'https' ? ' --tls-ca <ca.pem>' : '';
    throw new InvalidArgumentError(`host:port, without ${url[1]!.toLowerCase()}:// (--addr ${url[2]}${tls})`);
  }
  // A name or address with no port: grpc-js dials it on 443, never Chio's port. (A target with
  // a scheme of grpc-js's own, `unix:/path`, `dns:…`, has a colon and is passed on.)
  const bare = text.trim();
  if (/^[^:]+$/.test(bare) || /^\[[^\]]*\]$/.test(bare)) throw new InvalidArgumentError(`host:port, with the port (--addr ${bare}:${DEFAULT_GRPC_PORT})`);
  return text;
}

/**
 * `chio prove --url`: the verifier's http(s) URL. new URL() threw later, and `chio prove --url
 * 127.0.0.1:9093` said only "chio: Invalid URL" (or, read as a scheme, fetch failed on it).
 */
export function parseVerifierUrl(text: string): string {
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    const hostPort = /^[\w.-]+:\d+\/?$/.test(text.trim()) ? ` (--url http://${text.trim().replace(/\/$/, '')})` : '';
    throw new InvalidArgumentError(`the verifier's URL, http:// or https:// and host:port, e.g. http://127.0.0.1:9093${hostPort}`);
  }
  return text;
}

/** `chio prove --wait`: Number('5s') is NaN, a deadline that waited not at all. */
export function parseMilliseconds(text: string): number {
  const n = /^\d+$/.test(text.trim()) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError('a whole number of milliseconds, e.g. 5000');
  return n;
}

export function parseTtl(text: string): number {
  const seconds = durationSeconds(text);
  if (seconds === undefined) throw new InvalidArgumentError('a duration like 30m, 1h, 7d');
  return seconds;
}

export function parseGrant(text: string, previous: Array<{ methods: string[]; paths: string[] }> = []) {
  const m = /^\s*([A-Za-z*,]+)\s+(\S+)\s*$/.exec(text);
  if (!m) throw new InvalidArgumentError("a grant is 'METHOD[,METHOD] PATH-PATTERN', e.g. 'POST /tools/*'");
  try {
    normalizePathPattern(m[2]!);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
  return [...previous, { methods: m[1]!.toUpperCase().split(','), paths: [m[2]!] }];
}

/** `--config`, given once: commander kept the last of several, and the others were silently not read. */
export function singleConfigFile(file: string, previous: string | undefined): string {
  if (previous !== undefined) throw new InvalidArgumentError(`given twice (${previous} and ${file}): settings come from one file; merge them`);
  return file;
}

/** A repeatable option's values, in the order given. */
export function collectValue(text: string, previous: string[] = []): string[] {
  return [...previous, text];
}

export function collectHeader(text: string, previous: Record<string, string> = {}) {
  const i = text.indexOf(':', 1);
  if (i < 0) throw new InvalidArgumentError('a header is name:value');
  return { ...previous, [text.slice(0, i).trim().toLowerCase()]: text.slice(i + 1).trim() };
}
