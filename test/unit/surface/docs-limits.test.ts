/**
 * The limits the docs state — sizes, counts, timeouts, bounds a client cannot raise — are the
 * constants the code enforces: each claim below is the doc's sentence written from the constant,
 * and must be found, word for word, in its section. A changed constant (or a reworded bound)
 * then fails here until the page says the new value.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_HELD_BYTES, DEFAULT_CALL_TIMEOUT_MS, DEFAULT_IDLE_TIMEOUT_MS, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_OPEN_CALLS, DEFAULT_READ_TIMEOUT_MS, PEER_SHARE_OF_OPEN_CALLS } from '../../../src/authz/grpc-unary.js';
import { DECODED_ELEMENT_BYTES, MAX_CHECK_REQUEST_BYTES, MAX_CHECK_REQUEST_ELEMENTS, MAX_CHECK_REQUEST_FIELDS, MAX_CONCURRENT_STREAMS, MAX_HEADER_LIST_BYTES } from '../../../src/authz/grpc-server.js';
import { MAX_STALL_WINDOW_MS } from '../../../src/authz/loop-clock.js';
import { MAX_ANSWER_MARGIN_MS, MIN_CLIENT_STORE_MS } from '../../../src/authz/check-handler.js';
import { STOP_GRACE_MS } from '../../../src/authz/workers.js';
import { maxHeaderSize } from 'node:http';
import { HEADERS_TIMEOUT_MS, IDLE_SOCKET_MS, MAX_HEADER_FIELDS, MAX_HTTP_CONNECTIONS, REQUEST_TIMEOUT_MS } from '../../../src/http.js';
import { MIN_READ_BYTES_PER_SECOND } from '../../../src/http-idle.js';
import { LATEST_REUSE_MS } from '../../../src/verifier/checkpoint-source.js';
import { MAX_PENDING_SCAN, SCAN_REUSE_MS } from '../../../src/verifier/tail-search.js';
import { TAIL_READ_GIVE_UP_MS } from '../../../src/store/receipts.js';
import { NATS_MAX_PINGS_OUT, NATS_PING_INTERVAL_MS } from '../../../src/nats/connection.js';
import { MAX_POLICY_HEADERS, MAX_POLICY_QUERY_PARAMETERS, MAX_QUERY_TEXT_CHARS } from '../../../src/policy/kyverno-authz/policy-answer.js';
import { BUNDLE_BUSY_RETRY_SECONDS, MAX_VERIFY_BODIES_HELD_BYTES, MAX_VERIFY_BODY_BYTES, MAX_VERIFY_BUNDLE_BYTES, MAX_VERIFY_BUNDLES_HELD_BYTES } from '../../../src/verifier/verify-route.js';
import { MAX_ARCHIVED_POLICY_BYTES, MAX_BUNDLE_FILES, MAX_MANIFEST_BYTES, MAX_MANIFEST_SIG_BYTES } from '../../../src/verify/export-format.js';
import { MAX_CONSISTENCY_BYTES } from '../../../src/verify/export-bundle.js';
import { CORRECTION_REACH } from '../../../src/verify/bundle-corrections.js';
import { MAX_NOTE_SIZE } from '../../../src/tlog/note.js';
import { MAX_RECEIPT_BYTES } from '../../../src/receipt/receipt.js';
import { MAX_HEADER_BYTES, MAX_HEADERS, MAX_HOST_BYTES, MAX_METHOD_BYTES, MAX_PATH_BYTES } from '../../../src/decision/check-input.js';
import { MAX_TOKEN_CHARS } from '../../../src/credentials/capability.js';
import { MAX_JWT_BYTES, MAX_JWTS_PER_REQUEST } from '../../../src/credentials/jwt-rules.js';
import { DEFAULT_CACHE_TTL_MS, DEFAULT_FETCH_TIMEOUT_MS, DEFAULT_MIN_REFRESH_INTERVAL_MS } from '../../../src/credentials/jwt.js';
import { DEFAULT_VERIFICATION_CACHE_SIZE } from '../../../src/credentials/verification-cache.js';
import { DEFAULT_LEASE_TTL_MS } from '../../../src/store/ledger-lease.js';
import { LANE_FILL } from '../../../src/chain/lanes.js';
import { DRAIN_SETTLE_MS } from '../../../src/chain/publisher.js';
import { MAX_KERNEL_KEYS_FILE_BYTES } from '../../../src/kernel-keys.js';
import { MAX_TRUSTED_KERNEL_KEYS } from '../../../src/receipt/kernel-trust.js';
import { RELOAD_POLL_MS } from '../../../src/policy/policy-watcher.js';
import { MAX_MATCHED_CHARS, MAX_SCANNED_CHARS } from '../../../src/policy/kyverno-authz/cel-bounds.js';
import { MAX_POLICY_EVALUATION_MS } from '../../../src/policy/check-clock.js';
import { MAX_POLICY_DOCUMENT_DEPTH } from '../../../src/policy/policy-data.js';
import { DEFAULT_EVALUATION_STEPS } from '../../../src/policy/kyverno/assertion-tree.js';
import { MAX_BUILT_CHARS } from '../../../src/policy/kyverno/jmespath-bounds.js';
import { MAX_COMPILE_UNITS } from '../../../src/policy/kyverno-authz/re2-patterns.js';
import { MAX_LINE_REASON_LENGTH, MAX_REASON_LENGTH } from '../../../src/store/quarantine.js';
import { MAX_RECEIPTS_PER_MESSAGE } from '../../../src/store/receipt-message.js';
import { section } from './doc-text.js';

const n = (v: number) => v.toLocaleString('en-US');
const kib = (bytes: number) => `${bytes / 1024} KiB`;
const mib = (bytes: number) => `${bytes / 1024 / 1024} MiB`;
const s = (ms: number) => `${ms / 1000} s`;
const kiChars = (chars: number) => `${chars / 1024} Ki characters`;
const miChars = (chars: number) => `${chars / 1024 / 1024} Mi characters`;

const CLAIMS: Array<{ page: string; heading: string; level?: number; says: string[] }> = [
  {
    page: 'docs/receipts.md', heading: 'Lifecycle', says: [
      `| its reason, one line, at most ${MAX_REASON_LENGTH} characters |`, `the reason at most ${MAX_LINE_REASON_LENGTH} characters`,
      `(more than ${MAX_RECEIPTS_PER_MESSAGE} lines, or an empty line among several)`,
    ],
  },
  {
    page: 'docs/export.md', heading: 'Checking a bundle', says: [
      `only the lines of the last ${CORRECTION_REACH} \`seq\`s`, `or more than ${CORRECTION_REACH} seqs before it on its`,
    ],
  },
  {
    page: 'docs/api.md', heading: 'The Check (Envoy ext_authz v3, gRPC)', says: [
      `at most ${mib(MAX_CHECK_REQUEST_BYTES)}`,
      `${s(DEFAULT_READ_TIMEOUT_MS)} from the request's headers`,
      `at most ${n(MAX_CHECK_REQUEST_ELEMENTS)} messages, map entries and repeated values, and ${n(MAX_CHECK_REQUEST_FIELDS)} fields`,
      `| ${mib(DEFAULT_MAX_HELD_BYTES)}: each call`, `then ${DECODED_ELEMENT_BYTES} per object`,
      `at most ${s(MAX_STALL_WINDOW_MS)}, from when it began`,
      `${s(DEFAULT_CALL_TIMEOUT_MS)} from its headers to its answer's last byte`,
      `| ${MAX_CONCURRENT_STREAMS}, advertised in HTTP/2`,
      `| ${n(DEFAULT_MAX_OPEN_CALLS)} (each costs`, `may hold ${n(DEFAULT_MAX_OPEN_CALLS / PEER_SHARE_OF_OPEN_CALLS)};`,
      `| ${kib(MAX_HEADER_LIST_BYTES)}, advertised in HTTP/2`,
      `at most ${n(DEFAULT_MAX_CONNECTIONS)} open at once`, `no call open for ${DEFAULT_IDLE_TIMEOUT_MS / 60_000} minutes`,
      `at most ${MAX_ANSWER_MARGIN_MS} ms, for the answer's way`, `leaves under ${MIN_CLIENT_STORE_MS} ms to store a receipt`,
      `\`more than ${MAX_HEADERS} headers\`, \`headers larger than ${MAX_HEADER_BYTES} bytes\``,
      `for \`path\` (${MAX_PATH_BYTES}), \`host\` (${MAX_HOST_BYTES}), \`method\` (${MAX_METHOD_BYTES})`,
      `\`Jwt is too large\` (over ${kib(MAX_JWT_BYTES)})`, `(two different JWTs that both verify, or more than ${MAX_JWTS_PER_REQUEST})`,
    ],
  },
  {
    page: 'docs/api.md', heading: 'Verifier (HTTP)', says: [
      `the latest checkpoint for ${LATEST_REUSE_MS} ms`,
      `headers must arrive within ${s(HEADERS_TIMEOUT_MS)} and the whole request within ${s(REQUEST_TIMEOUT_MS)}`,
      `nothing moves for ${s(IDLE_SOCKET_MS)}`, `at most ${n(MAX_HTTP_CONNECTIONS)} connections are open at once`,
      `a reader at ${kib(MIN_READ_BYTES_PER_SECOND)}/s would need`, `and ${s(IDLE_SOCKET_MS)} on top`,
      `keeps up ${kib(MIN_READ_BYTES_PER_SECOND)}/s on average`, `closed at most ${s(IDLE_SOCKET_MS)} after`,
      `(a 1 MiB answer left unread: within ${(1 << 20) / MIN_READ_BYTES_PER_SECOND + (2 * IDLE_SOCKET_MS) / 1000} s)`,
      `more than ${MAX_HEADER_FIELDS} header fields is refused`, `"more than ${MAX_HEADER_FIELDS} header fields"`,
      `request line and header fields come to more than ${kib(maxHeaderSize)}`,
      `more than ${MAX_PENDING_SCAN} stored receipts wait`, `answers every lookup for ${SCAN_REUSE_MS} ms`,
      `has not finished ${s(TAIL_READ_GIVE_UP_MS)} after it began`,
      `at most ${mib(MAX_VERIFY_BODY_BYTES)} (\`413 TOO_LARGE\``, `hold ${mib(MAX_VERIFY_BODIES_HELD_BYTES)} together`,
      `at most ${n(MAX_BUNDLE_FILES)} files`,
      `(\`manifest.json\` ${mib(MAX_MANIFEST_BYTES)}, \`manifest.sig\` ${kib(MAX_MANIFEST_SIG_BYTES)}, \`checkpoint\` ${mib(MAX_NOTE_SIZE)}, a policy file ${mib(MAX_ARCHIVED_POLICY_BYTES)}, \`consistency.json\` ${mib(MAX_NOTE_SIZE)} + ${kib(MAX_CONSISTENCY_BYTES - MAX_NOTE_SIZE)})`,
      `RFC 8785 form, at most ${kib(MAX_RECEIPT_BYTES)}`,
      `the tar is at most ${mib(MAX_VERIFY_BUNDLE_BYTES)}`, `\`Retry-After: ${BUNDLE_BUSY_RETRY_SECONDS}\``,
      `the bundles being read or checked hold at\nmost ${mib(MAX_VERIFY_BUNDLES_HELD_BYTES)} together`,
    ],
  },
  { page: 'docs/api.md', heading: 'Other error codes', level: 3, says: [`${mib(MAX_VERIFY_BODY_BYTES)} of JSON, ${mib(MAX_VERIFY_BUNDLE_BYTES)} of bundle`, `an HTTP port takes (${MAX_HEADER_FIELDS})`, `header fields over ${kib(maxHeaderSize)}`] },
  {
    page: 'docs/transport-security.md', heading: 'Bounds a client cannot raise', says: [
      `| CheckRequest message | ${mib(MAX_CHECK_REQUEST_BYTES)} |`,
      `| ${n(MAX_CHECK_REQUEST_ELEMENTS)}; ${n(MAX_CHECK_REQUEST_FIELDS)}, counted before decoding |`,
      `${DECODED_ELEMENT_BYTES} per decoded object) | ${mib(DEFAULT_MAX_HELD_BYTES)} |`,
      `| ${n(DEFAULT_MAX_OPEN_CALLS)}; ${n(DEFAULT_MAX_OPEN_CALLS / PEER_SHARE_OF_OPEN_CALLS)} |`,
      `| ${kib(MAX_HEADER_LIST_BYTES)}, ${MAX_CONCURRENT_STREAMS} |`,
      `| ${MAX_HEADERS} headers, ${kib(MAX_HEADER_BYTES)} in all |`,
      `| ${kib(MAX_PATH_BYTES)}, ${kib(MAX_HOST_BYTES)}, ${MAX_METHOD_BYTES} bytes |`,
      `| capability token | ${kib(MAX_TOKEN_CHARS)} |`, `| JWT | ${kib(MAX_JWT_BYTES)}, one per request (up to ${MAX_JWTS_PER_REQUEST} different ones are verified, to name one that fails) |`,
      `| verified capability tokens cached | ${n(DEFAULT_VERIFICATION_CACHE_SIZE)}, least recently used`,
      `| verified JWTs cached | ${n(DEFAULT_VERIFICATION_CACHE_SIZE)}, least recently used`,
      `(${s(DEFAULT_FETCH_TIMEOUT_MS)} for the fetch itself, one fetch per ${s(DEFAULT_MIN_REFRESH_INTERVAL_MS)} per URI)`,
    ],
  },
  { page: 'docs/policies.md', heading: 'Files', says: [`nested at most ${MAX_POLICY_DOCUMENT_DEPTH} deep`] },
  {
    // The budget of kyverno-json policies is one Check's, all its policies together; the clock is shared with the CEL policies.
    page: 'docs/policies.md', heading: 'ValidatingPolicy (kyverno-json)', says: [
      `may not build a string of more than ${miChars(MAX_BUILT_CHARS)}`,
      `A Check's trees take at most ${n(DEFAULT_EVALUATION_STEPS)} steps together`,
      `the ValidatingPolicies of a Check, both kinds, may run for at most ${MAX_POLICY_EVALUATION_MS} ms together`,
    ],
  },
  {
    // The run-time budgets of CEL policies are one Check's, all its policies together.
    page: 'docs/policies.md', heading: 'ValidatingPolicy (kyverno-authz, CEL)', says: [
      `\`matches\`, \`find\` and \`findAll\` may scan at most ${kiChars(MAX_MATCHED_CHARS)} in one Check`,
      `may cost at most ${n(MAX_COMPILE_UNITS)} units in one Check`,
      `may scan at most ${miChars(MAX_SCANNED_CHARS)} together in one Check`,
      `at most ${n(MAX_QUERY_TEXT_CHARS)} characters each`,
      `more than ${MAX_POLICY_HEADERS} headers to add, to remove or to add`, `or more than ${MAX_POLICY_QUERY_PARAMETERS} query parameters to set or to remove`,
      `the ValidatingPolicies of a Check, both kinds, may run for at most ${MAX_POLICY_EVALUATION_MS} ms together`,
    ],
  },
  {
    page: 'docs/operations.md', heading: 'Health', says: [
      `a PING every ${s(NATS_PING_INTERVAL_MS)} and takes the connection for\ndead when ${NATS_MAX_PINGS_OUT} are unanswered`,
    ],
  },
  {
    page: 'docs/configuration.md', heading: 'Settings', says: [`after the ${s(DEFAULT_LEASE_TTL_MS)} lease TTL`],
  },
  {
    page: 'docs/configuration.md', heading: 'Processes and ports', says: [
      `takes ${s(DRAIN_SETTLE_MS)}`, `with fewer than ${LANE_FILL} receipts waiting`, `killed after ${s(STOP_GRACE_MS)}`,
    ],
  },
  { page: 'docs/configuration.md', heading: 'Keys', says: [`at most ${MAX_TRUSTED_KERNEL_KEYS} keys and ${kib(MAX_KERNEL_KEYS_FILE_BYTES)}`] },
  {
    page: 'docs/configuration.md', heading: 'Metrics', says: [
      `past its ${DEFAULT_CACHE_TTL_MS / 60_000} minutes`, `no answer within ${s(DEFAULT_FETCH_TIMEOUT_MS)}`, `every ${s(RELOAD_POLL_MS)}`,
    ],
  },
];

describe('limits stated in the docs', () => {
  for (const { page, heading, level, says } of CLAIMS) {
    it(`${page}, ${heading}: says each bound as the code has it`, () => {
      // Line breaks in the page are spaces to a reader.
      const text = section(page, heading, level).replace(/\s*\n\s*/g, ' ');
      expect(says.filter((claim) => !text.includes(claim.replace(/\s*\n\s*/g, ' ')))).toEqual([]);
    });
  }
});
