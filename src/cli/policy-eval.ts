/**
 * `chio policy eval` (SPEC §9): one request against a policy set, offline — no NATS, no
 * receipt — through the same decision pipeline that serves Checks. Says the verdict, the guard,
 * the reason, the headers the answer would add or remove, and which policy and rule decided.
 *
 * The request is a CheckRequest in protobuf JSON (or the same in YAML): lowerCamelCase or
 * proto field names, header maps as they are, `request.time` as RFC 3339.
 */
import { parseYaml, yamlErrorReason } from '../yaml-documents.js';
import { ChioError } from '../errors/index.js';
import { readBoundedFile, UnreadableFile } from '../setting-file.js';
import { DecisionPipeline } from '../decision/pipeline.js';
import type { Decision } from '../decision/decision.js';
import type { PolicySet } from '../policy/policy-set.js';
import type { CheckRequest } from '../authz/wire.js';
import { headersToRemoveOnAllow } from '../authz/response.js';
import { forTerminal } from './terminal.js';

/** A request file larger than this is refused. */
export const MAX_REQUEST_FILE_BYTES = 1024 * 1024;

/** Map fields: their keys are data, never renamed. */
const MAP_FIELDS = new Set(['headers', 'labels', 'context_extensions', 'filter_metadata']);

export interface PolicyEvaluation {
  verdict: 'allow' | 'deny';
  guard?: string;
  reason?: string;
  httpStatus: number;
  policy?: string;
  rule?: string;
  headersToAdd: Record<string, string>;
  headersToRemove: string[];
  responseHeadersToAdd: Record<string, string>;
  /** Query parameters an allow sets and removes upstream (envoy …WithQueryParam), when it does. */
  queryParametersToSet?: Record<string, string>;
  queryParametersToRemove?: string[];
  body?: string;
}

/**
 * The text of a file named on the command line (--request, --payload), at most
 * MAX_REQUEST_FILE_BYTES; any file that opens, so that a pipe (<(…)) still is
 * (setting-file.ts readBoundedFile). Refused with CONFIG_INVALID naming the file.
 */
export function readDataFile(path: string): string {
  try {
    return readBoundedFile(path, MAX_REQUEST_FILE_BYTES).toString('utf8');
  } catch (err) {
    if (!(err instanceof UnreadableFile)) throw err;
    throw new ChioError('CONFIG_INVALID', `${path}: cannot be read (${err.reason})`, { cause: err.cause });
  }
}

/** Read one JSON or YAML document (YAML is a superset), bounded in size and aliases. */
export function parseDataText(text: string, where: string): unknown {
  if (text.length > MAX_REQUEST_FILE_BYTES) throw new ChioError('CONFIG_INVALID', `${where}: larger than ${MAX_REQUEST_FILE_BYTES} bytes`);
  try {
    return parseYaml(text, { maxAliasCount: 100 });
  } catch (err) {
    throw new ChioError('CONFIG_INVALID', `${where}: ${yamlErrorReason(err)}`);
  }
}

/** Parse a CheckRequest written as protobuf JSON or YAML into the form the pipeline reads. */
export function parseCheckRequestText(text: string, where: string): CheckRequest {
  const value = parseDataText(text, where);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ChioError('CONFIG_INVALID', `${where}: not a CheckRequest object`);
  return toProtoNames(value, '') as CheckRequest;
}

function toProtoNames(value: unknown, field: string): unknown {
  if (Array.isArray(value)) return value.map((v) => toProtoNames(v, field));
  if (typeof value !== 'object' || value === null) return field === 'time' && typeof value === 'string' ? toTimestamp(value) : value;
  if (MAP_FIELDS.has(field)) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => {
    const name = k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    return [name, toProtoNames(v, name)];
  }));
}

function toTimestamp(text: string): { seconds: number; nanos: number } | string {
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? text : { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 };
}

/**
 * Decide `request` against `policies` as a Check would be, without storing anything. `now` is
 * the clock capability tokens are checked against (default: the real one).
 */
export async function evaluateRequest(policies: PolicySet, request: CheckRequest, defaultVerdict: 'allow' | 'deny' = 'deny', now?: () => number): Promise<PolicyEvaluation> {
  let internal: unknown;
  const pipeline = new DecisionPipeline({ policies: () => policies, mode: 'enforce', defaultVerdict, onInternalError: (err) => (internal = err), ...(now ? { now } : {}) });
  const decision = await pipeline.decide(request, Date.now() + 5_000);
  if (internal !== undefined) throw internal;
  return toEvaluation(decision);
}

function toEvaluation(decision: Decision): PolicyEvaluation {
  const policyDetails = decision.evidence.find((e) => e.guard === 'Policy')?.details ?? {};
  const response = decision.policyResponse;
  const pairs = (list: ReadonlyArray<{ key: string; value: string }> | undefined) => Object.fromEntries((list ?? []).map((h) => [h.key, h.value]));
  const deny = decision.verdict === 'deny' ? decision : undefined;
  return {
    verdict: decision.verdict,
    ...(deny ? { guard: deny.guard, reason: deny.reason } : {}),
    httpStatus: decision.httpStatus,
    ...(typeof policyDetails.policy === 'string' ? { policy: policyDetails.policy } : {}),
    ...(typeof policyDetails.rule === 'string' ? { rule: policyDetails.rule } : {}),
    headersToAdd: deny ? {} : pairs(response?.headers),
    // What the Check answer removes (authz/response): the capability header and Chio's unset headers always, too.
    headersToRemove: deny ? [] : headersToRemoveOnAllow(decision),
    responseHeadersToAdd: deny ? {} : pairs(response?.responseHeaders),
    ...(!deny && response?.queryParametersToSet?.length ? { queryParametersToSet: pairs(response.queryParametersToSet) } : {}),
    ...(!deny && response?.queryParametersToRemove?.length ? { queryParametersToRemove: [...response.queryParametersToRemove] } : {}),
    ...(deny && response?.body ? { body: response.body } : {}),
  };
}

export function formatEvaluation(e: PolicyEvaluation): string {
  const lines = [`${e.verdict.toUpperCase()} (http ${e.httpStatus})${e.guard ? ` guard ${e.guard}` : ''}`];
  if (e.reason) lines.push(`  reason: ${e.reason}`);
  if (e.policy) lines.push(`  decided by: ${e.policy}${e.rule ? ` ${e.rule}` : ''}`);
  for (const [k, v] of Object.entries(e.headersToAdd)) lines.push(`  + request header ${k}: ${v}`);
  for (const k of e.headersToRemove) lines.push(`  - request header ${k}`);
  for (const [k, v] of Object.entries(e.responseHeadersToAdd)) lines.push(`  + response header ${k}: ${v}`);
  for (const [k, v] of Object.entries(e.queryParametersToSet ?? {})) lines.push(`  + query parameter ${k}=${v}`);
  for (const k of e.queryParametersToRemove ?? []) lines.push(`  - query parameter ${k}`);
  if (e.body) lines.push(`  body: ${e.body}`);
  // What the policies said, escaped line by line (terminal.ts): a body may hold newlines.
  return lines.map(forTerminal).join('\n');
}
