/**
 * The hand-written CheckResponse encoder against protobufjs, the codec @grpc/proto-loader
 * builds from proto/: what the one writes, the other reads back as it reads its own bytes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeCheckResponse } from '../../../src/authz/check-response-codec.js';
import { loadChioProtos } from '../../../src/authz/proto.js';
import { toCheckResponse, toUnstoredResponse } from '../../../src/authz/response.js';
import type { CheckResponse, HeaderValueOption, ProtoStruct, StructValue } from '../../../src/authz/wire.js';
import type { Decision, PolicyResponse } from '../../../src/decision/decision.js';
import type { Receipt } from '../../../src/receipt/receipt.js';

const check = loadChioProtos().authorizationService.Check!;
const viaProtobufjs = (res: CheckResponse) => check.responseDeserialize(check.responseSerialize(res) as Buffer);
const viaHand = (res: CheckResponse) => check.responseDeserialize(Buffer.from(encodeCheckResponse(res)));

const text = fc.string({ unit: 'binary', maxLength: 40 });
const header: fc.Arbitrary<HeaderValueOption> = fc.record(
  {
    header: fc.record({ key: text, value: text }),
    append_action: fc.integer({ min: 0, max: 3 }),
    keep_empty_value: fc.boolean(),
  },
  { requiredKeys: ['header', 'append_action'] },
);
const headers = fc.array(header, { maxLength: 6 });

const { value: structValue } = fc.letrec<{ value: StructValue; struct: ProtoStruct }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant({ nullValue: 0 as const }),
    fc.double().map((numberValue) => ({ numberValue })),
    text.map((stringValue) => ({ stringValue })),
    fc.boolean().map((boolValue) => ({ boolValue })),
    tie('struct').map((s) => ({ structValue: s as ProtoStruct })),
    fc.array(tie('value'), { maxLength: 4 }).map((values) => ({ listValue: { values: values as StructValue[] } })),
  ),
  struct: fc.dictionary(text, tie('value'), { maxKeys: 4 }).map((fields) => ({ fields: fields as Record<string, StructValue> })),
}));
const struct = fc.dictionary(text, structValue, { maxKeys: 5 }).map((fields): ProtoStruct => ({ fields }));

const response: fc.Arbitrary<CheckResponse> = fc.record(
  {
    status: fc.record({ code: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), message: text }, { requiredKeys: ['code'] }),
    ok_response: fc.record(
      {
        headers,
        headers_to_remove: fc.array(text, { maxLength: 4 }),
        response_headers_to_add: headers,
        query_parameters_to_set: fc.array(fc.record({ key: text, value: text }), { maxLength: 4 }),
        query_parameters_to_remove: fc.array(text, { maxLength: 4 }),
      },
      { requiredKeys: ['headers', 'headers_to_remove', 'response_headers_to_add'] },
    ),
    denied_response: fc.record({ status: fc.record({ code: fc.integer({ min: 0, max: 599 }) }), headers, body: fc.string({ unit: 'binary', maxLength: 300 }) }),
    dynamic_metadata: struct,
  },
  { requiredKeys: ['status'] },
);

describe('encodeCheckResponse', () => {
  it('writes what protobufjs reads back as it reads its own encoding, for responses of every shape', () => {
    fc.assert(
      fc.property(response, (res) => {
        expect(viaHand(res)).toEqual(viaProtobufjs(res));
      }),
      { numRuns: 2_000 },
    );
  });

  it('gets lengths of 128 bytes and over right, up to messages of several hundred kilobytes', () => {
    for (const size of [127, 128, 129, 16_383, 16_384, 300_000]) {
      const res: CheckResponse = { status: { code: 7, message: 'é'.repeat(size) }, denied_response: { status: { code: 403 }, headers: [], body: 'b'.repeat(size) } };
      expect(viaHand(res), `${size}`).toEqual(viaProtobufjs(res));
    }
  });

  it('writes a negative int32 as ten bytes, byte for byte as protobufjs (decoders would also take five)', () => {
    const res: CheckResponse = { status: { code: -1 } };
    expect(Buffer.from(encodeCheckResponse(res)).toString('hex')).toBe(Buffer.from(check.responseSerialize(res) as Buffer).toString('hex'));
    expect(encodeCheckResponse(res)).toHaveLength(13);
  });

  it('encodes the answers response.ts gives, allow and deny, as protobufjs does', () => {
    const receipt = { id: 'a'.repeat(64) } as Receipt;
    const base = { policyHash: `sha256:${'b'.repeat(64)}`, shadow: false, credentialHeaders: ['authorization'], request: {}, subject: {}, evidence: [] };
    const policyResponse: PolicyResponse = {
      headers: [{ key: 'x-user', value: 'ü' }, { key: 'x-empty', value: '', keepEmptyValue: true }],
      headersToRemove: [],
      responseHeaders: [],
      queryParametersToSet: [{ key: 'tenant', value: 'red' }],
      queryParametersToRemove: ['debug'],
      metadata: { team: 'red', n: 2, ok: true, tags: ['a', null] },
    };
    const allow = { ...base, verdict: 'allow', policyResponse } as unknown as Decision;
    const deny = { ...base, verdict: 'deny', guard: 'Capability', code: 'CAPABILITY_EXPIRED', reason: 'capability is expired', httpStatus: 401 } as unknown as Decision;
    for (const res of [toCheckResponse(allow, receipt), toCheckResponse(deny, receipt), toUnstoredResponse(deny)]) expect(viaHand(res)).toEqual(viaProtobufjs(res));
  });
});
