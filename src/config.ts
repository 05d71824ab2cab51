/**
 * Configuration: environment variables `CHIO_*` (and `NATS_*`) over an optional YAML file
 * (`--config`), validated once at start-up. A bad value stops the process with a message that
 * names the setting and the problem (SPEC §1). Every default is a named value here.
 */
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';
import { hostname } from 'node:os';
import { parseYaml, yamlErrorReason } from './yaml-documents.js';
import { z } from 'zod';
import { ChioError } from './errors/index.js';
import { LOG_FORMATS } from './log.js';
import { laneChainIds, workerChainId } from './chain/lanes.js';
import { CHAIN_ID_PATTERN } from './receipt/receipt.js';
import { readRegularFile } from './setting-file.js';

/** Root of the installed package (holds deploy/ and proto/), from src/ or dist/. */
export const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Receipt chains per authz process (CHIO_LANES): each has one message in flight at a time, and
 * a message holds every receipt that waited for it (group commit). Fewer lanes so mean fuller
 * messages, so fewer signatures and PubAcks per Check: at saturation on the 2-core bench
 * machine 4 lanes answered about 10 % more Checks/s than 16 in alternating runs (2,330 vs
 * 2,135), 4 and 8 the same, 2 fewer; p50 and p99 at 1,000/s did not move.
 */
export const DEFAULT_LANES = 4;
export const MAX_LANES = 64;

/** Environment variable `chio authz --workers` sets to tell a worker its index (authz/workers.ts): Chio's own, no setting. */
export const WORKER_INDEX_VARIABLE = 'CHIO_AUTHZ_WORKER';

/** Most `chio authz` worker processes (CHIO_AUTHZ_WORKERS). */
export const MAX_AUTHZ_WORKERS = 16;

/** The demo policy set shipped with Chio (SPEC §8): the default for CHIO_POLICIES. */
export const DEMO_POLICIES = resolve(PACKAGE_ROOT, 'deploy/policies');

/** Default ports (SPEC §1); the CLI's --addr and --url defaults point at the same ones. */
export const DEFAULT_HTTP_PORT = 9090;
export const DEFAULT_GRPC_PORT = 9091;
export const DEFAULT_LEDGER_PORT = 9092;
export const DEFAULT_VERIFIER_PORT = 9093;
/** Where `chio prove` asks by default: the verifier of a `chio up` on this machine. */
export const DEFAULT_VERIFIER_URL = `http://127.0.0.1:${DEFAULT_VERIFIER_PORT}`;

/**
 * A whole number written in decimal (surrounding blanks allowed). Not z.coerce.number(), which
 * takes what Number() makes of a string: " " is 0 (port 0: a port the OS picks), "0x10" is 16,
 * "1e2" is 100 — a typo silently became a value.
 */
const decimal = (schema: z.ZodNumber) => z.preprocess((v) => (typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : v), schema.int());
/**
 * A whole number from `min` to `max`, every refusal saying so: zod's own "expected number,
 * received string" for CHIO_GRPC_PORT=-1 named neither the range nor that only digits are read.
 */
const wholeNumber = (min: number, max: number) => {
  const error = `must be a whole number from ${min} to ${max}, in decimal digits`;
  return decimal(z.number({ error }).int({ error }).min(min, { error }).max(max, { error }));
};
const port = wholeNumber(0, 65535);
const positiveMs = wholeNumber(1, 3_600_000);
/** Settings whose value is a credential: never quoted in a message. */
const SECRET_SETTINGS: ReadonlySet<string> = new Set(['natsPass', 'natsToken']);

/** Each setting: its environment variable, its YAML key, its schema with the default. */
const SETTINGS = {
  grpcPort: ['CHIO_GRPC_PORT', port.default(DEFAULT_GRPC_PORT)],
  httpPort: ['CHIO_HTTP_PORT', port.default(DEFAULT_HTTP_PORT)],
  ledgerPort: ['CHIO_LEDGER_PORT', port.default(DEFAULT_LEDGER_PORT)],
  verifierPort: ['CHIO_VERIFIER_PORT', port.default(DEFAULT_VERIFIER_PORT)],
  bind: ['CHIO_BIND', z.string().min(1).optional()],
  natsUrl: ['NATS_URL', z.string().min(1).optional()],
  natsCreds: ['NATS_CREDS', z.string().min(1).optional()],
  natsNkey: ['NATS_NKEY', z.string().min(1).optional()],
  natsUser: ['NATS_USER', z.string().min(1).optional()],
  natsPass: ['NATS_PASS', z.string().optional()],
  natsToken: ['NATS_TOKEN', z.string().min(1).optional()],
  // Replies (PubAcks, API answers) come to subjects under this prefix: a NATS user that may only
  // subscribe under its own cannot read another service's replies (deploy/nats/chio-users.conf).
  natsInboxPrefix: ['NATS_INBOX_PREFIX', z.string().regex(/^[A-Za-z0-9_-]+$/, 'must be one subject token: letters, digits, _ and -').optional()],
  natsCa: ['NATS_CA', z.string().min(1).optional()],
  natsCert: ['NATS_CERT', z.string().min(1).optional()],
  natsKey: ['NATS_KEY', z.string().min(1).optional()],
  // TLS on every gRPC and HTTP listener (tls.ts); with a client CA, mutual TLS.
  tlsCert: ['CHIO_TLS_CERT', z.string().min(1).optional()],
  tlsKey: ['CHIO_TLS_KEY', z.string().min(1).optional()],
  tlsClientCa: ['CHIO_TLS_CLIENT_CA', z.string().min(1).optional()],
  replicas: ['CHIO_REPLICAS', decimal(z.number({ error: 'must be 1, 3 or 5' })).refine((n) => [1, 3, 5].includes(n), 'must be 1, 3 or 5').default(1)],
  dataDir: ['CHIO_DATA_DIR', z.string().min(1).default('./.chio')],
  keyDir: ['CHIO_KEY_DIR', z.string().min(1).optional()],
  policies: ['CHIO_POLICIES', z.string().min(1).default(DEMO_POLICIES)],
  receiptTimeoutMs: ['CHIO_RECEIPT_TIMEOUT_MS', positiveMs.default(150)],
  mode: ['CHIO_MODE', z.enum(['enforce', 'shadow']).default('enforce')],
  defaultVerdict: ['CHIO_DEFAULT', z.enum(['deny', 'allow']).default('deny')],
  logOrigin: ['CHIO_LOG_ORIGIN', z.string().regex(/^[^\s+]+$/, 'must be a non-empty name without spaces or "+"').default('chio.local/receipts')],
  checkpointIntervalMs: ['CHIO_CHECKPOINT_INTERVAL_MS', positiveMs.default(1000)],
  // How soon the ledger and the verifier see an edit of kernels.yaml (kernel-keys.ts).
  kernelKeysPollMs: ['CHIO_KERNEL_KEYS_POLL_MS', wholeNumber(100, 3_600_000).default(5000)],
  // Up to 60 characters: a lane adds `-<n>` and a chain id is at most 64 (a NATS subject token).
  chainId: ['CHIO_CHAIN_ID', z.string().regex(/^[A-Za-z0-9_-]{1,60}$/, 'must match [A-Za-z0-9_-]{1,60}').optional()],
  lanes: ['CHIO_LANES', wholeNumber(1, MAX_LANES).default(DEFAULT_LANES)],
  // Processes of `chio authz`, one per core it may use (authz/workers.ts); each adds `-w<k>` to the chain id.
  authzWorkers: ['CHIO_AUTHZ_WORKERS', wholeNumber(1, MAX_AUTHZ_WORKERS).default(1)],
  // The ledger's id in the writer lease; unique per replica (a pod name). A ledger restarted
  // with the same id takes its lease back at once instead of after the lease TTL.
  ledgerId: ['CHIO_LEDGER_ID', z.string().regex(/^[A-Za-z0-9._-]{1,128}$/, 'must match [A-Za-z0-9._-]{1,128}').optional()],
  // Threads besides the ledger's own that check receipt signatures (ed25519-pool.ts); 0: its own thread only. Default: 1.
  ledgerVerifyThreads: ['CHIO_LEDGER_VERIFY_THREADS', wholeNumber(0, 64).optional()],
  logLevel: ['CHIO_LOG_LEVEL', z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info')],
  logFormat: ['CHIO_LOG_FORMAT', z.enum(LOG_FORMATS).default('auto')],
} as const;

/** Each setting's YAML key and its environment variable, as the user sees them (docs/configuration.md). */
export const SETTING_VARIABLES: Readonly<Record<string, string>> = Object.fromEntries(Object.entries(SETTINGS).map(([key, [envName]]) => [key, envName]));

type Settings = typeof SETTINGS;
export type ChioConfig = { [K in keyof Settings]: z.output<Settings[K][1]> } & { keyDir: string; bind: string; chainId: string };

export interface LoadConfigOptions {
  env?: NodeJS.ProcessEnv;
  configFile?: string;
  /** Default bind address: 127.0.0.1 for `chio up`, 0.0.0.0 for the single services. */
  defaultBind?: string;
}

/** Read, merge and validate the configuration; throws ChioError('CONFIG_INVALID') naming the setting. */
export function loadConfig(options: LoadConfigOptions = {}): ChioConfig {
  const env = options.env ?? process.env;
  const file = options.configFile ? readConfigFile(options.configFile) : {};
  const out: Record<string, unknown> = {};
  for (const [key, [envName, schema]] of Object.entries(SETTINGS)) {
    const raw = env[envName] !== undefined && env[envName] !== '' ? env[envName] : file[key];
    const parsed = (schema as z.ZodType).safeParse(raw);
    if (!parsed.success) {
      const where = env[envName] !== undefined && env[envName] !== '' ? envName : `${key} in ${options.configFile}`;
      throw new ChioError('CONFIG_INVALID', `setting ${where}: ${parsed.error.issues.map((i) => i.message).join('; ')} (got ${SECRET_SETTINGS.has(key) ? 'a value not shown: it is a credential' : JSON.stringify(raw)})${serviceLinkHint(envName, env[envName])}`);
    }
    out[key] = parsed.data;
  }
  // Own keys only: `in` would take `constructor`, `toString`, `__proto__` … (inherited by every object) as settings.
  const unknown = Object.keys(file).filter((k) => !Object.hasOwn(SETTINGS, k));
  if (unknown.length > 0) {
    // The first few, each with a hint: a file of 100,000 stray keys is not all repeated back.
    const told = unknown.slice(0, MAX_UNKNOWN_TOLD).map(withHint).join(', ');
    throw new ChioError('CONFIG_INVALID', `unknown setting(s) in ${options.configFile}: ${told}${unknown.length > MAX_UNKNOWN_TOLD ? ` and ${unknown.length - MAX_UNKNOWN_TOLD} more` : ''}`);
  }
  refuseMisspeltVariables(env);
  refuseHalfConfigured(out);
  const dataDir = out.dataDir as string;
  const config: ChioConfig = {
    ...(out as ChioConfig),
    keyDir: (out.keyDir as string | undefined) ?? resolve(dataDir, 'keys'),
    bind: (out.bind as string | undefined) ?? options.defaultBind ?? '0.0.0.0',
    chainId: (out.chainId as string | undefined) ?? defaultChainId(),
  };
  refuseLongChainIds(config);
  return config;
}

/**
 * Kubernetes gives every pod, unless its spec sets `enableServiceLinks: false`, a variable
 * <SERVICE>_PORT=tcp://<ip>:<port> for each Service of its namespace: a Service named
 * chio-ledger sets CHIO_LEDGER_PORT. Say so, since nobody set that value on purpose.
 */
function serviceLinkHint(envName: string, value: string | undefined): string {
  if (!isServiceLink(value)) return '';
  const service = envName.replace(/_PORT$/, '').toLowerCase().replaceAll('_', '-');
  return `: it looks like the variable Kubernetes sets for a Service named ${service} in the pod's namespace; set enableServiceLinks: false in the pod spec, or set ${envName} explicitly`;
}

/** A value of the form the kubelet gives <SERVICE>_PORT: `tcp://<ip>:<port>`. */
function isServiceLink(value: string | undefined): boolean {
  return value !== undefined && /^(tcp|udp|sctp):\/\/[^\s/]+:\d+$/.test(value);
}

/**
 * An unknown key of the file, with the setting it most likely meant: a bare "grpcPot" left the
 * operator to find the spelling, and CHIO_GRPC_PORT (the variable's name, the first thing one
 * writes) is refused as unknown without saying that the file spells it grpcPort.
 */
const MAX_UNKNOWN_TOLD = 10;

function withHint(key: string): string {
  const byVariable = Object.entries(SETTINGS).find(([, [envName]]) => envName === key.toUpperCase());
  if (byVariable) return `${key} (the YAML key for ${byVariable[1][0]} is ${byVariable[0]})`;
  let best: { name: string; distance: number } | undefined;
  for (const name of Object.keys(SETTINGS)) {
    const distance = editDistance(key.toLowerCase(), name.toLowerCase());
    if (!best || distance < best.distance) best = { name, distance };
  }
  // Two edits at most (a dropped, doubled or swapped letter, a wrong case anywhere): beyond that a
  // suggestion is a guess.
  return best && best.distance <= 2 ? `${key} (did you mean ${best.name}?)` : key;
}

/** Levenshtein distance, with an adjacent swap counted as one edit; keys are short. */
function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2 || a.length > 64) return Infinity;
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * A CHIO_ variable one or two letters off a setting's name (CHIO_RECIEPT_TIMEOUT_MS, CHIO_MOD):
 * read as nothing, it left the default in force without a word. Names further off are not
 * Chio's to judge (a shell's CHIO_TOKEN), nor is a Service's link variable however near.
 */
function refuseMisspeltVariables(env: NodeJS.ProcessEnv): void {
  const known = new Set<string>([...Object.values(SETTINGS).map(([envName]) => envName), WORKER_INDEX_VARIABLE]);
  for (const name of Object.keys(env)) {
    // A Service's link variable (chio-ledger-0 gives CHIO_LEDGER_0_PORT) is no one's typo.
    if (!name.startsWith('CHIO_') || known.has(name) || env[name] === undefined || isServiceLink(env[name])) continue;
    const meant = [...known].find((setting) => setting.startsWith('CHIO_') && setting !== WORKER_INDEX_VARIABLE && editDistance(name, setting) <= 2);
    if (meant) throw new ChioError('CONFIG_INVALID', `environment variable ${name} is no setting; did you mean ${meant}? (unset it, or correct its name)`);
  }
}

/**
 * A chain id is a NATS subject token of at most 64 characters, and workers and lanes each add
 * a suffix (`<chain id>-w<k>-<n>`): refuse a set-up whose longest chain id would not fit.
 */
export function refuseLongChainIds(config: Pick<ChioConfig, 'chainId' | 'authzWorkers' | 'lanes'>): void {
  const worker = config.authzWorkers > 1 ? workerChainId(config.chainId, config.authzWorkers - 1) : config.chainId;
  const longest = laneChainIds(worker, config.lanes).at(-1)!;
  if (!CHAIN_ID_PATTERN.test(longest)) {
    throw new ChioError('CONFIG_INVALID', `setting CHIO_CHAIN_ID: with ${config.authzWorkers} worker(s) and ${config.lanes} lane(s), chain id ${JSON.stringify(longest)} would be ${longest.length} characters, over 64; set a shorter CHIO_CHAIN_ID`);
  }
}

/**
 * Settings that only make sense together. Half a TLS set-up would otherwise start in plain
 * text, or with TLS the operator did not ask for; two NATS identities would have one silently win.
 */
function refuseHalfConfigured(out: Record<string, unknown>): void {
  const has = (key: keyof Settings) => out[key] !== undefined;
  const refuse = (why: string) => {
    throw new ChioError('CONFIG_INVALID', why);
  };
  if (has('tlsCert') !== has('tlsKey')) refuse(`setting ${has('tlsCert') ? 'CHIO_TLS_CERT is set but CHIO_TLS_KEY is not' : 'CHIO_TLS_KEY is set but CHIO_TLS_CERT is not'}: TLS needs both`);
  if (has('tlsClientCa') && !has('tlsCert')) refuse('setting CHIO_TLS_CLIENT_CA needs CHIO_TLS_CERT and CHIO_TLS_KEY: mutual TLS is TLS with client certificates');
  if (has('natsCert') !== has('natsKey')) refuse(`setting ${has('natsCert') ? 'NATS_CERT is set but NATS_KEY is not' : 'NATS_KEY is set but NATS_CERT is not'}: a client certificate needs its key`);
  if (has('natsPass') && !has('natsUser')) refuse('setting NATS_PASS is set but NATS_USER is not');
  const identities = (['natsCreds', 'natsNkey', 'natsUser', 'natsToken'] as const).filter(has);
  if (identities.length > 1) refuse(`settings ${identities.map((k) => SETTINGS[k][0]).join(' and ')}: set one way to authenticate to NATS`);
}

/**
 * A settings file is a few kilobytes; this is far more. Not more: the YAML parser checks a
 * mapping's keys for duplicates pairwise, so 1 MiB of stray keys (~90,000) held start-up on one
 * core for about a minute; 64 KiB parses in well under a second.
 */
const MAX_CONFIG_FILE_BYTES = 64 * 1024;

function readConfigFile(path: string): Record<string, unknown> {
  let doc: unknown;
  try {
    // Bounded, and a regular file: --config /dev/zero or a FIFO is refused, not read for ever.
    doc = parseYaml(readRegularFile(path, MAX_CONFIG_FILE_BYTES).toString('utf8'), { maxAliasCount: 100 });
  } catch (err) {
    // Not the lines the parser points at: they may hold NATS_PASS or NATS_TOKEN. The path is named once.
    const why = yamlErrorReason(err).replace(`${path}: `, '');
    throw new ChioError('CONFIG_INVALID', `config file ${path}: ${why}`, { cause: err });
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ChioError('CONFIG_INVALID', `config file ${path}: must be a mapping of settings`);
  return doc as Record<string, unknown>;
}

/** One chain per signing process: the host name (a pod name under Kubernetes), made a subject token. */
function defaultChainId(): string {
  const token = hostname().replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 60);
  return token.length > 0 ? token : 'chio';
}
