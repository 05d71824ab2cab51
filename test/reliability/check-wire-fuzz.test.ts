/**
 * Arbitrary bytes as the message of a gRPC Check call, to the real server with a real NATS:
 * random bytes, well-formed CheckRequests with hostile fields (encoded by the protos' own
 * codec), and those cut, flipped or followed by garbage. Every call gets a CheckResponse that
 * decodes, or a gRPC status the server chose (never a dropped connection or an UNKNOWN from an
 * escaped exception); the process stays up (an uncaught error would fail this file), and a
 * real Check is still allowed afterwards. Seeds are printed by fast-check on failure
 * (FUZZ_SEED replays one); FUZZ_RUNS raises the number of runs.
 */
import * as grpc from '@grpc/grpc-js';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestNats, tempDir, type TestNats } from '../support/nats.js';
import { startTestChio, testConfig, type TestChio } from '../support/chio.js';
import { loadChioProtos, AUTHORIZATION_SERVICE } from '../../src/authz/proto.js';
import { buildCheckRequest } from '../../src/cli/envoy-request.js';
import { sendCheck } from '../../src/cli/check.js';
import { demoToken } from '../../src/up.js';
import { GrpcStatus } from '../../src/authz/grpc-protocol.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 120);
const SEED = process.env.FUZZ_SEED === undefined ? 20260422 : Number(process.env.FUZZ_SEED);
const CHECK = `/${AUTHORIZATION_SERVICE}/Check`;

let nats: TestNats;
let chio: TestChio;
let client: grpc.Client;
const method = loadChioProtos().packageDefinition[AUTHORIZATION_SERVICE] as unknown as Record<'Check', grpc.MethodDefinition<object, object>>;

beforeAll(async () => {
  nats = await startTestNats();
  chio = await startTestChio(testConfig(tempDir('chio-wire-fuzz-'), nats.current.url));
  client = new grpc.Client(chio.grpcAddr, grpc.credentials.createInsecure());
});

afterAll(async () => {
  client?.close();
  await chio?.stop();
  await nats?.cleanup();
});

/** Send `bytes` as the Check message as they are: the status and the response bytes. */
function call(bytes: Uint8Array): Promise<{ code: number; details: string; response?: Buffer }> {
  return new Promise((done) => {
    const raw = (b: Buffer) => b;
    client.makeUnaryRequest(CHECK, raw, raw, Buffer.from(bytes), { deadline: Date.now() + 10_000 }, (err, response) => {
      done(err ? { code: err.code, details: err.details } : { code: GrpcStatus.OK, details: '', response });
    });
  });
}

const text = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.tuple(fc.constantFrom('a', '😀', '€', '"'), fc.nat({ max: 3000 })).map(([c, n]) => c.repeat(n)),
);
/** A CheckRequest object with hostile fields, encoded by the codec the server decodes with. */
const encodedRequest = fc
  .record({
    method: fc.oneof(fc.constantFrom('GET', 'POST'), text), path: fc.oneof(fc.constantFrom('/tools/x', '/a?b#c'), text), host: fc.oneof(fc.constant('tools.chio.local'), text),
    headers: fc.dictionary(fc.oneof(fc.constantFrom('authorization', 'x-chio-capability-token', '__proto__', 'traceparent'), fc.string({ maxLength: 12 })), text, { maxKeys: 6 }),
    principal: text, port: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
  })
  .map((o) => {
    const request = buildCheckRequest({ method: o.method, path: o.path, host: o.host, headers: o.headers, principal: o.principal });
    request.attributes!.source!.address!.socket_address!.port_value = o.port;
    return new Uint8Array(method.Check.requestSerialize(request));
  });
const message = fc.oneof(
  fc.uint8Array({ maxLength: 512 }),
  encodedRequest,
  fc.tuple(encodedRequest, fc.nat(), fc.integer({ min: 0, max: 255 })).map(([bytes, at, xor]) => {
    const out = new Uint8Array(bytes);
    if (out.length > 0) out[at % out.length]! ^= xor;
    return out;
  }),
  fc.tuple(encodedRequest, fc.nat()).map(([bytes, cut]) => bytes.subarray(0, bytes.length === 0 ? 0 : cut % bytes.length)),
  fc.tuple(encodedRequest, fc.uint8Array({ minLength: 1, maxLength: 64 })).map(([bytes, tail]) => new Uint8Array([...bytes, ...tail])),
);

/**
 * The statuses the server answers a Check message with on purpose: OK (a deny travels in the
 * CheckResponse), INTERNAL for bytes that do not decode, RESOURCE_EXHAUSTED for ones that would
 * decode too large. UNKNOWN would be an exception that escaped, UNAVAILABLE a dropped call or
 * a receipt not stored in time, which a healthy NATS never causes.
 */
const CHOSEN = new Set<number>([GrpcStatus.OK, GrpcStatus.INTERNAL, GrpcStatus.RESOURCE_EXHAUSTED]);

describe('arbitrary bytes as a Check message', () => {
  it('each get a CheckResponse or a status the server chose, and the server keeps answering', async () => {
    await fc.assert(
      fc.asyncProperty(message, async (bytes) => {
        const answer = await call(bytes);
        expect(CHOSEN.has(answer.code), `status ${answer.code} ${answer.details}`).toBe(true);
        if (answer.code === GrpcStatus.OK) {
          const response = method.Check.responseDeserialize(answer.response!) as { denied_response?: { status?: { code?: number } } };
          // A 503 (ReceiptLedger): the decision's receipt could not be stored, with NATS up.
          expect(response.denied_response?.status?.code, JSON.stringify(response).slice(0, 300)).not.toBe(503);
        }
      }),
      { numRuns: RUNS, seed: SEED, verbose: 1 },
    );
    const token = demoToken(chio.config);
    const allowed = await sendCheck(chio.grpcAddr, buildCheckRequest({ method: 'POST', path: '/tools/hello', host: 'tools.chio.local', headers: { 'x-chio-capability-token': token } }));
    expect(allowed.verdict).toBe('allow');
  });
});
