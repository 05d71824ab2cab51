/**
 * Loading a policy set (SPEC §4): YAML files (a file or a directory, several documents per
 * file) → validated documents → compiled policies with the set's hash.
 *
 * Kinds: CapabilityAuthority, RequestAuthentication, AuthorizationPolicy (chio.dev/v1) and
 * ValidatingPolicy (json.kyverno.io/v1alpha1, and policies.kyverno.io/v1alpha1 in CEL; one of
 * the latter whose evaluation mode is not Envoy is ignored, as kyverno-authz does, and named
 * in `ignored` for the log; it is not part of the hash). The policy hash is `sha256:` + hex SHA-256 of
 * JCS(normalised set): documents sorted by kind, namespace and name, defaults filled in, key
 * files replaced by the keys they hold. It changes when and only when what decides changes —
 * not with file names, comments, document order or YAML layout.
 * Errors name the file, the document and the field.
 */
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { z } from 'zod';
import { ChioError } from '../errors/index.js';
import { metadataSchema } from './metadata.js';
import { readRegularFile, UnreadableFile } from '../setting-file.js';
import { parseYamlDocuments, yamlErrorReason } from '../yaml-documents.js';
import { findNotPolicyData } from './policy-data.js';
import { MAX_JWKS_BYTES } from '../credentials/jwks.js';
import { MAX_ARCHIVED_POLICY_BYTES } from '../verify/export-format.js';
import { DURATION_PATTERN, durationSeconds } from '../time.js';
import { canonicalBytes } from '../receipt/jcs.js';
import { sha256Hex } from '../crypto/sha256.js';
import { KEY_NO_ONE_HOLDS, canHoldSignatures, parseVerifierKey } from '../tlog/note.js';
import { IssuerTrust } from '../credentials/capability.js';
import { authorizationPolicySchema, compileAuthorizationPolicy, SHADOW_ANNOTATION, type CompiledPolicy } from './istio/authorization-policy.js';
import { JwtAuthenticator, requestAuthenticationSchema, type JwtAuthenticatorOptions } from '../credentials/jwt.js';
import { compileValidatingPolicy, validatingPolicySchema } from './kyverno/validating-policy.js';
import { API_VERSION as CEL_API_VERSION, celValidatingPolicySchema, compileCelPolicy, evaluationModeOf, type CompiledCelPolicy } from './kyverno-authz/validating-policy.js';
import { createEnvoyEnvironment } from './kyverno-authz/envoy-library.js';
import { PolicyInputs } from './policy-inputs.js';
import { listPolicyFiles, MAX_POLICY_FILES, mountOfVersion } from './policy-files.js';

export { listPolicyFiles, MAX_POLICY_FILES, TEST_FILE } from './policy-files.js';

/** A policy file larger than this is refused. */
export const MAX_POLICY_FILE_BYTES = 1024 * 1024;
export const MAX_POLICY_DOCUMENTS = 1000;

const duration = z.string().regex(DURATION_PATTERN, 'must be a duration like 30m, 1h, 7d');
const capabilityAuthoritySchema = z.strictObject({
  apiVersion: z.literal('chio.dev/v1'),
  kind: z.literal('CapabilityAuthority'),
  metadata: metadataSchema,
  spec: z.strictObject({
    issuers: z.array(z.string().min(1).max(1024)).max(256).default([]),
    /** Verifier-key files, relative to the key directory (for keys made by `chio keygen`). */
    issuerKeyFiles: z.array(z.string().min(1).max(1024)).max(256).default([]),
    maxTtl: duration.optional(),
  }),
});

const KINDS = {
  CapabilityAuthority: capabilityAuthoritySchema,
  RequestAuthentication: requestAuthenticationSchema,
  AuthorizationPolicy: authorizationPolicySchema,
  ValidatingPolicy: validatingPolicySchema,
} as const;
type Kind = keyof typeof KINDS;

export type CompiledValidatingPolicy = ReturnType<typeof compileValidatingPolicy>;

export interface PolicySet {
  /** `sha256:<hex>` of the normalised set. */
  hash: string;
  /** JCS of the normalised set: the bytes `hash` is the SHA-256 of, archived as they are (store/policy-archive). */
  canonical: Uint8Array;
  issuers: IssuerTrust;
  authorization: CompiledPolicy[];
  validating: CompiledValidatingPolicy[];
  /** kyverno-authz CEL policies (evaluation mode Envoy), sorted by name as kyverno-authz runs them. */
  cel: CompiledCelPolicy[];
  /** Documents read but not evaluated (another evaluation mode), each with where and why: for the log. */
  ignored: string[];
  /** Undefined when no RequestAuthentication is configured. */
  jwt: JwtAuthenticator | undefined;
  files: string[];
  /** Every file read and what it held: a reload of the same bytes need not parse (policy-watcher). */
  inputs: PolicyInputs;
  documents: number;
}

interface LoadedDoc {
  kind: Kind;
  key: string;
  where: string;
  doc: any;
}

export interface LoadOptions {
  /** The clock JWTs are checked against (ms since the epoch); `chio policy test` sets it. */
  now?: () => number;
  /** Largest normalised set (its JCS bytes); MAX_ARCHIVED_POLICY_BYTES unless given (tests give less). */
  maxSetBytes?: number;
  /** The remote JWKS of the set this one replaces, by URI (JwtAuthenticatorOptions.remoteJwks). */
  remoteJwks?: JwtAuthenticatorOptions['remoteJwks'];
  /** Where the path was given, named when it is missing or empty (listPolicyFiles); CHIO_POLICIES unless given. */
  source?: string;
  /**
   * Refuse a policy file of no bytes (a reload does): written in place, a file is truncated
   * and then written, and read between the two it is a file of no policies, not the set meant.
   */
  refuseEmptyFiles?: boolean;
}

/** Load and compile every policy file under `path` (a file or a directory). */
export function loadPolicySet(path: string, keyDir: string, options: LoadOptions = {}): PolicySet {
  return loadPolicySetFiles(listPolicyFiles(path, options.source), keyDir, options);
}

/** Load and compile these files as one set. */
export function loadPolicySetFiles(files: string[], keyDir: string, options: LoadOptions = {}): PolicySet {
  const maxSetBytes = options.maxSetBytes ?? MAX_ARCHIVED_POLICY_BYTES;
  if (files.length > MAX_POLICY_FILES) throw new ChioError('CONFIG_INVALID', `${files.length} policy files, over the ${MAX_POLICY_FILES} a set may have`);
  // The files are bounded together as the set they make is, before they are parsed and held:
  // a set is refused past maxSetBytes anyway, and a thousand files of a megabyte each are not
  // worth parsing to learn that.
  let bytesLeft = maxSetBytes;
  const inputs = new PolicyInputs();
  const all = files.flatMap((file) => {
    const { docs, bytes } = readDocuments(file, inputs);
    if (bytes === 0 && options.refuseEmptyFiles) throw new ChioError('CONFIG_INVALID', `${file}: empty, taken for a file being written (delete a file to drop its policies)`);
    bytesLeft -= bytes;
    if (bytesLeft < 0) throw new ChioError('CONFIG_INVALID', `the policy files up to ${file} hold more than the ${maxSetBytes} bytes a set may have`);
    return docs.map((doc, i) => parseDocument(doc, `${file} document ${i + 1}`));
  });
  const isCel = (d: LoadedDoc) => d.kind === 'ValidatingPolicy' && d.doc.apiVersion === CEL_API_VERSION;
  const ignored = all.filter((d) => isCel(d) && evaluationModeOf(d.doc) !== 'Envoy');
  for (const d of ignored) refuseMisspeltEnvoyMode(d.where, evaluationModeOf(d.doc));
  const docs = all.filter((d) => !ignored.includes(d));
  docs.sort(byKindNamespaceName);
  for (let i = 1; i < docs.length; i++) {
    if (docs[i]!.kind === docs[i - 1]!.kind && docs[i]!.key === docs[i - 1]!.key) {
      throw new ChioError('CONFIG_INVALID', `${docs[i]!.where}: field metadata.name: a ${docs[i]!.kind} named ${docs[i]!.key} is defined twice (also ${docs[i - 1]!.where})`);
    }
  }
  const of = (kind: Kind) => docs.filter((d) => d.kind === kind);
  const authorities = of('CapabilityAuthority').map((d) => withIssuerFiles(d, keyDir, inputs));
  const issuers = [...new Set(authorities.flatMap((a) => a.doc.spec.issuers as string[]))].sort();
  const ttls = authorities.map((a) => a.doc.spec.maxTtl as string | undefined).filter((t): t is string => t !== undefined).map((t) => durationSeconds(t)!);
  const compile = <T>(d: LoadedDoc, fn: () => T): T => {
    try {
      return fn();
    } catch (err) {
      if (err instanceof ChioError) throw new ChioError(err.code, `${d.where}: ${err.message}`, { cause: err });
      throw err;
    }
  };
  const authn = of('RequestAuthentication');
  // Relative jwksFile paths start at the folder of the first policy file as it is mounted: for a
  // ConfigMap volume, its directory, not the version directory under it that the files are read
  // from (listPolicyFiles), so that `../` leads where it did; one inside the volume is read from
  // that same version.
  const listedDir = dirname(files[0]!);
  const baseDir = mountOfVersion(listedDir) ?? listedDir;
  const locate = (path: string) => {
    const inside = relative(baseDir, path);
    const outside = inside === '' || inside === '..' || inside.startsWith(`..${sep}`) || isAbsolute(inside);
    return baseDir !== listedDir && !outside ? join(listedDir, inside) : path;
  };
  // Each jwksFile is read once: its bytes are hashed into the set and are the keys enforced.
  const jwksFiles = new Map<string, Uint8Array>();
  const normalised = docs
    .map((d) => (d.kind === 'CapabilityAuthority' ? authorities.find((a) => a.key === d.key)! : d.kind === 'RequestAuthentication' ? withJwksFileDigests(d, baseDir, jwksFiles, locate, inputs) : d))
    .map((d) => ({ kind: d.kind, doc: d.doc }));
  const canonical = canonicalBytes(JSON.parse(JSON.stringify(normalised)));
  // Receipts name the set by its hash, and the verifier serves it back by that hash: a set the
  // archive cannot hold would be enforced with a hash no one could ever read back.
  if (canonical.length > maxSetBytes) {
    throw new ChioError('CONFIG_INVALID', `the policy set is ${canonical.length} bytes once normalised, over the ${maxSetBytes} its archive can hold (receipts name it by a hash that could not be read back)`);
  }
  return {
    hash: `sha256:${sha256Hex(canonical)}`,
    canonical,
    issuers: new IssuerTrust(issuers, ttls.length > 0 ? Math.min(...ttls) : undefined),
    authorization: of('AuthorizationPolicy').map((d) => compile(d, () => compileAuthorizationPolicy(d.doc))),
    validating: of('ValidatingPolicy').filter((d) => !isCel(d)).map((d) => compile(d, () => compileValidatingPolicy(d.doc))),
    cel: compileCelPolicies(of('ValidatingPolicy').filter(isCel), compile),
    ignored: ignored.map((d) => `${d.where}: ValidatingPolicy ${d.doc.metadata.name} has evaluation mode ${evaluationModeOf(d.doc)}, not Envoy: ignored`),
    // Relative jwksFile paths start at the folder of the first policy file.
    jwt: authn.length > 0 ? compile(authn[0]!, () => new JwtAuthenticator(authn.map((d) => d.doc), { baseDir, jwksFiles, ...(options.now ? { now: options.now } : {}), ...(options.remoteJwks ? { remoteJwks: options.remoteJwks } : {}) })) : undefined,
    files,
    inputs,
    documents: docs.length,
  };
}

/**
 * A mode that is `Envoy` but for its spelling (`envoy`, `ENVOY`, ` Envoy`) is refused, not
 * ignored: modes are compared as written, as kyverno-authz does, so such a policy was dropped
 * with no more than a log line, and a DENY written in it denied nothing. Chio is stricter than
 * the reference here: a set that says it is for Envoy is held to it.
 */
function refuseMisspeltEnvoyMode(where: string, mode: string): void {
  if (mode.trim().toLowerCase() === 'envoy') {
    throw new ChioError('CONFIG_INVALID', `${where}: field spec.evaluation.mode: ${JSON.stringify(mode)} is not a mode (modes are case-sensitive): write Envoy`);
  }
}

function compileCelPolicies(docs: LoadedDoc[], compile: <T>(d: LoadedDoc, fn: () => T) => T): CompiledCelPolicy[] {
  if (docs.length === 0) return [];
  const env = createEnvoyEnvironment();
  const sorted = [...docs].sort((a, b) => (a.doc.metadata.name < b.doc.metadata.name ? -1 : a.doc.metadata.name > b.doc.metadata.name ? 1 : 0));
  return sorted.map((d) => compile(d, () => compileCelPolicy(d.doc, env)));
}

/**
 * The set's order, in its hash and in evaluation: each part compared on its own, since as one
 * string a namespace that begins another would sort after it (`a-b/x` before `a/x`).
 */
function byKindNamespaceName(a: LoadedDoc, b: LoadedDoc): number {
  const parts = (d: LoadedDoc): string[] => [d.kind, d.doc.metadata.namespace ?? '', d.doc.metadata.name];
  const [pa, pb] = [parts(a), parts(b)];
  for (let i = 0; i < pa.length; i++) if (pa[i] !== pb[i]) return pa[i]! < pb[i]! ? -1 : 1;
  return 0;
}

function parseDocument(doc: unknown, where: string): LoadedDoc {
  const kind = (doc as { kind?: unknown } | null)?.kind;
  if (typeof kind !== 'string' || !Object.hasOwn(KINDS, kind)) {
    throw new ChioError('CONFIG_INVALID', `${where}: field kind: ${JSON.stringify(kind)} is not one of ${Object.keys(KINDS).join(', ')}`);
  }
  const apiVersion = (doc as { apiVersion?: unknown }).apiVersion;
  const schema = kind === 'ValidatingPolicy' && apiVersion === CEL_API_VERSION ? celValidatingPolicySchema : KINDS[kind as Kind];
  const parsed = (schema as z.ZodType).safeParse(doc);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ChioError('CONFIG_INVALID', `${where}: field ${issue.path.join('.') || '(document)'}: ${issue.message}`);
  }
  const meta = (parsed.data as { metadata: { name: string; namespace?: string; annotations?: Record<string, string> } }).metadata;
  refuseUnreadShadow(kind, meta.annotations, where);
  return { kind: kind as Kind, key: `${meta.namespace ?? ''}/${meta.name}`, where, doc: parsed.data };
}

/**
 * `chio.dev/shadow` is read on an AuthorizationPolicy, as "true" or "false". Anywhere else, or
 * spelt otherwise ("True", "yes"), it was ignored: the policy a user meant to try out was
 * enforced, its denials answered.
 */
function refuseUnreadShadow(kind: string, annotations: Record<string, string> | undefined, where: string): void {
  if (annotations === undefined || !Object.hasOwn(annotations, SHADOW_ANNOTATION)) return;
  const field = `${where}: field metadata.annotations.${SHADOW_ANNOTATION}`;
  if (kind !== 'AuthorizationPolicy') {
    throw new ChioError('CONFIG_INVALID', `${field}: only an AuthorizationPolicy can be put in shadow mode; this ${kind} would be enforced (CHIO_MODE=shadow shadows every policy)`);
  }
  const value = annotations[SHADOW_ANNOTATION];
  if (value !== 'true' && value !== 'false') throw new ChioError('CONFIG_INVALID', `${field}: ${JSON.stringify(value)} is not "true" or "false"`);
}

/** Policy text is UTF-8 (a leading BOM is dropped); other bytes are refused, not replaced by U+FFFD. */
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** The documents of a policy file, and the file's size. */
function readDocuments(file: string, inputs: PolicyInputs): { docs: unknown[]; bytes: number } {
  let text: string;
  let bytes: number;
  try {
    const raw = readRegularFile(file, MAX_POLICY_FILE_BYTES);
    inputs.record(file, raw, MAX_POLICY_FILE_BYTES);
    bytes = raw.length;
    text = UTF8.decode(raw);
  } catch (err) {
    if (err instanceof ChioError) throw err;
    throw new ChioError('CONFIG_INVALID', `${file}: not UTF-8`, { cause: err });
  }
  const docs = parseYamlDocuments(text);
  if (docs.length > MAX_POLICY_DOCUMENTS) throw new ChioError('CONFIG_INVALID', `${file}: more than ${MAX_POLICY_DOCUMENTS} documents`);
  const out: unknown[] = [];
  for (const [i, doc] of docs.entries()) {
    if (doc.errors.length > 0) throw new ChioError('CONFIG_INVALID', `${file} document ${i + 1}: ${yamlErrorReason(doc.errors[0])}`);
    // Bounded alias expansion: a "billion laughs" document is an error, not a memory blow-up.
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (err) {
      throw new ChioError('CONFIG_INVALID', `${file} document ${i + 1}: ${err instanceof Error ? err.message : String(err)}`);
    }
    // maxAliasCount bounds the aliases, not what they point at: one 1 MB scalar aliased 100
    // times is 100 MB hashed, archived and held on every reload. Bound the document as it decides,
    // and take only JSON data: the set is hashed as JSON (policy-data.ts).
    const notData = findNotPolicyData(value, MAX_POLICY_FILE_BYTES);
    if (notData?.kind === 'too-large') throw new ChioError('CONFIG_INVALID', `${file} document ${i + 1}: larger than ${MAX_POLICY_FILE_BYTES} bytes once its aliases are expanded`);
    if (notData?.kind === 'not-data') throw new ChioError('CONFIG_INVALID', `${file} document ${i + 1}: field ${notData.field || '(document)'}: ${notData.why}`);
    if (value !== null && value !== undefined) out.push(value);
  }
  return { docs: out, bytes };
}

/** Larger than any verifier key file `chio keygen` writes. */
const MAX_KEY_FILE_BYTES = 4096;

/** The authority with its key files read and every key checked. */
function withIssuerFiles(d: LoadedDoc, keyDir: string, inputs: PolicyInputs): LoadedDoc {
  const fromFiles = (d.doc.spec.issuerKeyFiles as string[]).map((f) => {
    let key: string;
    try {
      const bytes = readRegularFile(resolve(keyDir, f), MAX_KEY_FILE_BYTES);
      inputs.record(resolve(keyDir, f), bytes, MAX_KEY_FILE_BYTES);
      key = bytes.toString('utf8').trim();
    } catch (err) {
      const why = err instanceof ChioError && !(err instanceof UnreadableFile) ? err.message : `cannot read ${resolve(keyDir, f)} (run \`chio keygen\`)`;
      throw new ChioError('CONFIG_INVALID', `${d.where}: field spec.issuerKeyFiles: ${why}`, { cause: err });
    }
    // Checked here, naming the file and never quoting it: a policy may name any file (a
    // private key beside the .pub it meant), and this message goes to the log.
    checkIssuerKey(key, `${d.where}: field spec.issuerKeyFiles: ${resolve(keyDir, f)}`, 'does not hold a verifier key');
    return key;
  });
  for (const [i, key] of (d.doc.spec.issuers as string[]).entries()) {
    // Named by its place, never quoted: a signer key (PRIVATE+KEY+…) pasted here instead of
    // its .pub is a private key, and this message goes to the log and to stderr.
    const signer = key.trim().startsWith('PRIVATE+KEY+') ? ' (it is a signer key, which is private: give its verifier key, the .pub)' : '';
    checkIssuerKey(key, `${d.where}: field spec.issuers.${i}:`, `not a verifier key${signer}`);
  }
  const issuers = [...new Set([...(d.doc.spec.issuers as string[]), ...fromFiles])].sort();
  const { issuerKeyFiles: _files, ...spec } = d.doc.spec;
  return { ...d, doc: { ...d.doc, spec: { ...spec, issuers } } };
}

/** Throws CONFIG_INVALID, `where` then why, unless `key` is a verifier key someone holds the secret of. */
function checkIssuerKey(key: string, where: string, notAKey: string): void {
  let publicKey: Uint8Array;
  try {
    ({ publicKey } = parseVerifierKey(key));
  } catch (err) {
    throw new ChioError('CONFIG_INVALID', `${where} ${notAKey}`, { cause: err });
  }
  // Tokens are checked with node:crypto, which takes a forgery under such a key: anyone could mint them.
  if (!canHoldSignatures(publicKey)) throw new ChioError('CONFIG_INVALID', `${where} ${KEY_NO_ONE_HOLDS}`);
}

/**
 * The keys a jwksFile holds are part of what decides: the hash covers the file's SHA-256, so
 * that rotating a key in the file is a policy change (swapped in), not an unchanged set.
 */
function withJwksFileDigests(d: LoadedDoc, baseDir: string, read: Map<string, Uint8Array>, locate: (path: string) => string, inputs: PolicyInputs): LoadedDoc {
  const rules = (d.doc.spec.jwtRules as Array<{ jwksFile?: string }>).map((rule, i) => {
    if (rule.jwksFile === undefined) return rule;
    let bytes: Uint8Array;
    try {
      const path = resolve(baseDir, rule.jwksFile);
      const known = read.get(path);
      bytes = known ?? readRegularFile(locate(path), MAX_JWKS_BYTES);
      if (known === undefined) inputs.record(locate(path), bytes, MAX_JWKS_BYTES);
      read.set(path, bytes);
    } catch (err) {
      const why = err instanceof ChioError && !(err instanceof UnreadableFile) ? err.message : `cannot read ${resolve(baseDir, rule.jwksFile)}`;
      throw new ChioError('CONFIG_INVALID', `${d.where}: field spec.jwtRules.${i}.jwksFile: ${why}`, { cause: err });
    }
    return { ...rule, jwksFileSha256: sha256Hex(bytes) };
  });
  return { ...d, doc: { ...d.doc, spec: { ...d.doc.spec, jwtRules: rules } } };
}
