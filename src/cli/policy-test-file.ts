/**
 * The `chio policy test` file format (docs/policies.md, "Testing policies"). A test file is
 * YAML named `*.test.yaml` (or `.yml`), kept beside the policies or in their `tests/` folder:
 *
 *   policies: [../policies]        # optional: files or folders, relative to this file
 *                                  #   (default: the directory `chio policy test` was given)
 *   keyDir: keys                   # optional: where issuerKeyFiles are read (default CHIO_KEY_DIR)
 *   now: 2025-06-01T12:00:00Z      # optional: the clock tokens are checked against
 *   tests:
 *   - name: POST /tools/hello with a token is allowed
 *     now: 2025-06-02T12:00:00Z    # optional, this case only
 *     request:                     # the `chio policy eval` flags …
 *       method: POST
 *       path: /tools/hello
 *       host: tools.chio.local
 *       headers: { x-chio-capability-token: "…" }
 *       bearerFile: agent.token    # optional: `authorization: Bearer <the file's text>`
 *       principal: spiffe://cluster.local/ns/default/sa/app
 *     # … or a CheckRequest in protobuf JSON/YAML (an object with `attributes`),
 *     # or the name of a file holding one (a string)
 *     expect:
 *       verdict: allow             # required; the rest optional and compared when given
 *       guard: Policy
 *       status: 200
 *       reason: exact text
 *       body: exact text
 *       policy: name
 *       rule: spec.validations[0]
 *       headers: { x-validated-by: chio }        # request headers added (these at least)
 *       removedHeaders: [authorization]           # request headers removed (these at least)
 *       responseHeaders: { x-added: yes }         # response headers added (these at least)
 *       queryParameters: { tenant: blue }         # query parameters set (these at least)
 *       removedQueryParameters: [debug]           # query parameters removed (these at least)
 *
 * Unknown fields are refused, so a misspelt expectation is an error rather than a test that
 * checks nothing. Errors name the file, the case and the field.
 */
import { dirname, resolve } from 'node:path';
import { parseYaml as parseYamlText, yamlErrorReason } from '../yaml-documents.js';
import { z } from 'zod';
import { ChioError } from '../errors/index.js';
import { readRegularFile, UnreadableFile } from '../setting-file.js';
import { buildCheckRequest } from './envoy-request.js';
import { MAX_REQUEST_FILE_BYTES, parseCheckRequestText } from './policy-eval.js';
import type { CheckRequest } from '../authz/wire.js';

/** A test file larger than this is refused. */
export const MAX_TEST_FILE_BYTES = 1024 * 1024;
export const MAX_TEST_CASES = 1000;

const text = z.string().min(1).max(4096);
const timestamp = z.string().refine((t) => !Number.isNaN(Date.parse(t)), 'must be an RFC 3339 time like 2025-06-01T12:00:00Z');
const stringMap = z.record(z.string().max(256), z.string().max(8192));

const shortRequestSchema = z.strictObject({
  method: z.string().min(1).max(32).default('GET'),
  path: z.string().min(1).max(8192).default('/'),
  host: z.string().min(1).max(1024).default('tools.chio.local'),
  headers: stringMap.default({}),
  bearerFile: text.optional(),
  principal: text.optional(),
  sourceAddress: text.optional(),
  destinationAddress: text.optional(),
});

const expectSchema = z.strictObject({
  verdict: z.enum(['allow', 'deny']),
  guard: z.enum(['Request', 'Capability', 'Jwt', 'Policy', 'Internal']).optional(),
  status: z.number().int().min(100).max(599).optional(),
  reason: z.string().max(8192).optional(),
  body: z.string().max(65536).optional(),
  policy: text.optional(),
  rule: text.optional(),
  headers: stringMap.optional(),
  removedHeaders: z.array(z.string().max(256)).max(256).optional(),
  responseHeaders: stringMap.optional(),
  queryParameters: stringMap.optional(),
  removedQueryParameters: z.array(z.string().max(2048)).max(256).optional(),
});

const caseSchema = z.strictObject({
  name: text,
  now: timestamp.optional(),
  request: z.union([text, z.record(z.string(), z.unknown())]),
  expect: expectSchema,
});

const fileSchema = z.strictObject({
  policies: z.union([text, z.array(text).min(1).max(64)]).optional(),
  keyDir: text.optional(),
  now: timestamp.optional(),
  tests: z.array(z.unknown()).min(1, 'a test file needs at least one case').max(MAX_TEST_CASES),
});

export type Expectation = z.infer<typeof expectSchema>;

export interface TestCase {
  name: string;
  /** ms since the epoch, or undefined for the real clock. */
  now: number | undefined;
  request: CheckRequest;
  expect: Expectation;
}

export interface TestFile {
  file: string;
  /** Absolute paths, or undefined for the directory under test. */
  policies: string[] | undefined;
  keyDir: string | undefined;
  cases: TestCase[];
}

/** Read and validate one test file; throws ChioError CONFIG_INVALID naming file, case and field. */
export function readTestFile(file: string): TestFile {
  const base = dirname(file);
  const raw = fileSchema.safeParse(parseYaml(readBounded(file, MAX_TEST_FILE_BYTES, file), file));
  if (!raw.success) throw fieldError(file, raw.error);
  const { policies, keyDir, now, tests } = raw.data;
  const fileNow = now === undefined ? undefined : Date.parse(now);
  return {
    file,
    policies: policies === undefined ? undefined : [policies].flat().map((p) => resolve(base, p)),
    keyDir: keyDir === undefined ? undefined : resolve(base, keyDir),
    cases: tests.map((value, i) => readCase(value, i, file, fileNow)),
  };
}

function readCase(value: unknown, i: number, file: string, fileNow: number | undefined): TestCase {
  const named = (value as { name?: unknown } | null)?.name;
  const where = `${file} case ${typeof named === 'string' ? JSON.stringify(named) : i + 1}`;
  const parsed = caseSchema.safeParse(value);
  if (!parsed.success) throw fieldError(where, parsed.error, '', value);
  const c = parsed.data;
  return { name: c.name, now: c.now === undefined ? fileNow : Date.parse(c.now), request: readRequest(c.request, dirname(file), where), expect: c.expect };
}

function readRequest(request: string | Record<string, unknown>, base: string, where: string): CheckRequest {
  if (typeof request === 'string') {
    const path = resolve(base, request);
    return parseCheckRequestText(readBounded(path, MAX_REQUEST_FILE_BYTES, `${where}: request`), `${where}: request ${request}`);
  }
  if ('attributes' in request) return parseCheckRequestText(JSON.stringify(request), `${where}: request`);
  const short = shortRequestSchema.safeParse(request);
  if (!short.success) throw fieldError(where, short.error, 'request.', request);
  const { bearerFile, headers, method, ...rest } = short.data;
  const bearer: Record<string, string> = bearerFile === undefined ? {} : { authorization: `Bearer ${readBounded(resolve(base, bearerFile), MAX_REQUEST_FILE_BYTES, `${where}: request.bearerFile`).trim()}` };
  return buildCheckRequest({ ...rest, method: method.toUpperCase(), headers: { ...headers, ...bearer } });
}

/**
 * The text of a file a test file names (or the test file itself), as policy files are read
 * (setting-file.ts): a plain file under `max` bytes, never a FIFO or a link to a device, which
 * a size taken by stat does not bound (a link to /dev/zero has size 0 and never ends).
 */
function readBounded(path: string, max: number, where: string): string {
  const prefix = where === path ? '' : `${where}: `;
  try {
    return readRegularFile(path, max).toString('utf8');
  } catch (err) {
    if (err instanceof UnreadableFile) throw new ChioError('CONFIG_INVALID', `${prefix}cannot read ${path}`, { cause: err });
    throw new ChioError('CONFIG_INVALID', `${prefix}${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

function parseYaml(source: string, where: string): unknown {
  try {
    return parseYamlText(source, { maxAliasCount: 100, merge: true });
  } catch (err) {
    throw new ChioError('CONFIG_INVALID', `${where}: ${yamlErrorReason(err)}`);
  }
}

/**
 * The first issue, naming its field: a misspelt key (first of all) by its own name (zod puts it on the object
 * that holds it, which would read "field (document)"), and a field that is not there as missing
 * (a union's "Invalid input" said nothing of that).
 */
function fieldError(where: string, error: z.ZodError, prefix = '', input?: unknown): ChioError {
  // A misspelt key first: it is why the field it was meant for is missing.
  const issue = error.issues.find((i) => i.code === 'unrecognized_keys') ?? error.issues[0]!;
  const unknownKey = issue.code === 'unrecognized_keys' ? issue.keys[0] : undefined;
  const path = unknownKey === undefined ? issue.path : [...issue.path, unknownKey];
  const absent = input !== undefined && unknownKey === undefined && valueAt(input, issue.path) === undefined;
  const message = unknownKey !== undefined ? 'unknown field' : absent ? 'missing' : issue.message;
  return new ChioError('CONFIG_INVALID', `${where}: field ${prefix}${path.join('.') || '(document)'}: ${message}`);
}

function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  return path.reduce<unknown>((v, key) => (v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[key] : undefined), value);
}
