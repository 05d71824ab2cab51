/**
 * Loading a policy set (SPEC §4): YAML files (a file or a directory, several documents per
 * file) → validated documents → a normalised set with its hash.
 *
 * Kinds understood here: `CapabilityAuthority` and `AuthorizationPolicy` (apiVersion
 * chio.dev/v1). The policy hash is `sha256:` + hex SHA-256 of JCS(normalised set): it changes
 * when and only when what decides changes (not with file names, comments, order or layout).
 * Errors name the file, the document and the field.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { z } from 'zod';
import { ChioError } from '../errors.js';
import { canonicalBytes } from '../receipt/jcs.js';
import { sha256Hex } from '../receipt/signer.js';
import { parseVerifierKey } from '../tlog/note.js';
import { IssuerTrust } from './capability.js';

/** A policy file larger than this is refused. */
export const MAX_POLICY_FILE_BYTES = 1024 * 1024;
export const MAX_POLICY_DOCUMENTS = 1000;

const patterns = z.array(z.string().min(1).max(1024)).max(256);
const operation = z.strictObject({
  hosts: patterns.optional(), notHosts: patterns.optional(),
  methods: patterns.optional(), notMethods: patterns.optional(),
  paths: patterns.optional(), notPaths: patterns.optional(),
});
const source = z.strictObject({ principals: patterns.optional(), notPrincipals: patterns.optional() });
const condition = z.strictObject({ key: z.string().min(1).max(256), values: patterns.optional(), notValues: patterns.optional() });
const rule = z.strictObject({
  from: z.array(z.strictObject({ source })).max(64).optional(),
  to: z.array(z.strictObject({ operation })).max(64).optional(),
  when: z.array(condition).max(64).optional(),
});
const metadata = z.object({ name: z.string().min(1).max(253), namespace: z.string().max(253).optional() }).loose();

const authorizationPolicy = z.strictObject({
  apiVersion: z.literal('chio.dev/v1'),
  kind: z.literal('AuthorizationPolicy'),
  metadata,
  spec: z.strictObject({
    action: z.enum(['ALLOW', 'DENY']).default('ALLOW'),
    hosts: patterns.optional(),
    rules: z.array(rule).max(256).default([]),
  }),
});

const duration = z.string().regex(/^\d+[smhd]$/, 'must be a duration like 30m, 1h, 7d');
const capabilityAuthority = z.strictObject({
  apiVersion: z.literal('chio.dev/v1'),
  kind: z.literal('CapabilityAuthority'),
  metadata,
  spec: z.strictObject({
    issuers: z.array(z.string().min(1).max(1024)).max(256).default([]),
    /** Verifier-key files, relative to the key directory (for keys made by `chio keygen`). */
    issuerKeyFiles: z.array(z.string().min(1).max(1024)).max(256).default([]),
    maxTtl: duration.optional(),
  }),
});

export type AuthorizationPolicy = z.output<typeof authorizationPolicy>;
export type PolicyRule = AuthorizationPolicy['spec']['rules'][number];

export interface PolicySet {
  /** `sha256:<hex>` of the normalised set. */
  hash: string;
  issuers: IssuerTrust;
  /** Sorted by name: DENY and ALLOW policies in one list. */
  authorization: AuthorizationPolicy[];
  files: string[];
}

/** Load every policy file under `path` (a file or a directory). */
export function loadPolicySet(path: string, keyDir: string): PolicySet {
  const files = listPolicyFiles(path);
  const authorities: Array<{ name: string; issuers: string[]; maxTtlSeconds?: number }> = [];
  const authorization: AuthorizationPolicy[] = [];
  for (const file of files) {
    for (const [i, doc] of readDocuments(file).entries()) {
      const where = `${file} document ${i + 1}`;
      const kind = (doc as { kind?: unknown } | null)?.kind;
      if (kind === 'AuthorizationPolicy') authorization.push(parseDoc(authorizationPolicy, doc, where));
      else if (kind === 'CapabilityAuthority') authorities.push(toAuthority(parseDoc(capabilityAuthority, doc, where), keyDir, where));
      else throw new ChioError('CONFIG_INVALID', `${where}: kind ${JSON.stringify(kind)} is not a Chio policy kind`);
    }
  }
  authorities.sort((a, b) => a.name.localeCompare(b.name));
  authorization.sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  const issuers = [...new Set(authorities.flatMap((a) => a.issuers))].sort();
  const ttls = authorities.map((a) => a.maxTtlSeconds).filter((t): t is number => t !== undefined);
  const maxTtl = ttls.length > 0 ? Math.min(...ttls) : undefined;
  const normalised = {
    authorities: authorities.map((a) => ({ ...a, issuers: [...a.issuers].sort() })),
    authorization: authorization.map((p) => ({ name: p.metadata.name, namespace: p.metadata.namespace ?? '', spec: p.spec })),
  };
  return {
    hash: `sha256:${sha256Hex(canonicalBytes(JSON.parse(JSON.stringify(normalised))))}`,
    issuers: new IssuerTrust(issuers, maxTtl),
    authorization,
    files,
  };
}

function listPolicyFiles(path: string): string[] {
  let stat;
  try {
    stat = statSync(path);
  } catch {
    throw new ChioError('CONFIG_INVALID', `CHIO_POLICIES: ${path} does not exist`);
  }
  if (!stat.isDirectory()) return [resolve(path)];
  const files = readdirSync(path)
    .filter((f) => /\.ya?ml$/.test(f) && !f.startsWith('.'))
    .sort()
    .map((f) => resolve(join(path, f)));
  if (files.length === 0) throw new ChioError('CONFIG_INVALID', `CHIO_POLICIES: no .yaml files in ${path}`);
  return files;
}

function readDocuments(file: string): unknown[] {
  const size = statSync(file).size;
  if (size > MAX_POLICY_FILE_BYTES) throw new ChioError('CONFIG_INVALID', `${file}: larger than ${MAX_POLICY_FILE_BYTES} bytes`);
  const docs = parseAllDocuments(readFileSync(file, 'utf8'));
  const list = Array.isArray(docs) ? docs : [docs];
  if (list.length > MAX_POLICY_DOCUMENTS) throw new ChioError('CONFIG_INVALID', `${file}: more than ${MAX_POLICY_DOCUMENTS} documents`);
  const out: unknown[] = [];
  for (const [i, doc] of list.entries()) {
    if (doc.errors.length > 0) throw new ChioError('CONFIG_INVALID', `${file} document ${i + 1}: ${doc.errors[0]!.message}`);
    // Bounded alias expansion: a "billion laughs" document is an error, not a memory blow-up.
    const value = doc.toJS({ maxAliasCount: 100 });
    if (value !== null && value !== undefined) out.push(value);
  }
  return out;
}

function parseDoc<T extends z.ZodType>(schema: T, doc: unknown, where: string): z.output<T> {
  const parsed = schema.safeParse(doc);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  throw new ChioError('CONFIG_INVALID', `${where}: field ${issue.path.join('.') || '(document)'}: ${issue.message}`);
}

function toAuthority(doc: z.output<typeof capabilityAuthority>, keyDir: string, where: string) {
  const fromFiles = doc.spec.issuerKeyFiles.map((f) => {
    try {
      return readFileSync(resolve(keyDir, f), 'utf8').trim();
    } catch {
      throw new ChioError('CONFIG_INVALID', `${where}: field spec.issuerKeyFiles: cannot read ${resolve(keyDir, f)} (run \`chio keygen\`)`);
    }
  });
  const issuers = [...doc.spec.issuers, ...fromFiles];
  for (const key of issuers) {
    try {
      parseVerifierKey(key);
    } catch (err) {
      throw new ChioError('CONFIG_INVALID', `${where}: field spec.issuers: ${JSON.stringify(key.slice(0, 80))} is not a verifier key`, { cause: err });
    }
  }
  const maxTtlSeconds = doc.spec.maxTtl ? durationSeconds(doc.spec.maxTtl) : undefined;
  return { name: doc.metadata.name, issuers, ...(maxTtlSeconds !== undefined ? { maxTtlSeconds } : {}) };
}

function durationSeconds(text: string): number {
  const n = Number(text.slice(0, -1));
  return n * ({ s: 1, m: 60, h: 3600, d: 86400 } as const)[text.slice(-1) as 's' | 'm' | 'h' | 'd'];
}
