/**
 * Counting what decoding a CheckRequest builds, before decoding it (src/authz/message-cost.ts).
 * The count is only worth anything if it reads the bytes as the decoder does: the property test
 * holds it against proto-loader's own decode (the one authz uses) over arbitrary wire bytes of
 * the CheckRequest's field numbers, with wrong wire types, bad lengths and deep nesting.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadChioProtos } from '../../../src/authz/proto.js';
import { measureMessage, type MessageShape } from '../../../src/authz/message-cost.js';

const { authorizationService, checkRequestShape } = loadChioProtos();
const check = authorizationService.Check!;
const decode = (bytes: Buffer) => check.requestDeserialize(bytes) as Record<string, unknown>;
const encode = (request: object) => check.requestSerialize(request);

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 127) {
    out.push((n & 127) | 128);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}
/** At most `maxElements` objects, and fields without bound. */
const elements = (maxElements: number) => ({ maxElements, maxFields: Number.MAX_SAFE_INTEGER });

const field = (n: number, body: Uint8Array) => Buffer.concat([Buffer.from([...varint((n << 3) | 2), ...varint(body.length)]), body]);

describe('measureMessage', () => {
  it('counts a CheckRequest from Envoy: one per message, map entry and repeated value', () => {
    const request = {
      attributes: {
        source: { address: { socket_address: { address: '10.0.0.1', port_value: 4711 } }, principal: 'spiffe://cluster.local/ns/a/sa/b' },
        request: { http: { method: 'GET', path: '/x', host: 'h', headers: { a: '1', b: '2', c: '3' }, header_map: { headers: [{ key: 'k', value: 'v' }, { key: 'l', value: 'w' }] } } },
        context_extensions: { x: 'y' },
      },
    };
    // CheckRequest, AttributeContext, source Peer, Address, SocketAddress, Request, HttpRequest,
    // 3 headers, HeaderMap, 2 HeaderValues, 1 context extension.
    expect(measureMessage(encode(request), checkRequestShape, elements(1_000))).toMatchObject({ ok: true, elements: 14 });
  });

  it('stops at the bound: 2,000,000 empty headers in 4 MiB are refused at once, not decoded to 640 MB', () => {
    const headers = Buffer.alloc(4_000_000);
    for (let i = 0; i < headers.length; i += 2) headers[i] = 0x0a;
    const request = field(1, field(4, field(2, field(13, headers))));
    expect(measureMessage(request, checkRequestShape, elements(16_384))).toEqual({ ok: false, reason: 'too-many-elements' });
    // 16,379 headers and the five messages around them are within it.
    const fewer = field(1, field(4, field(2, field(13, headers.subarray(0, 2 * 16_379)))));
    expect(measureMessage(fewer, checkRequestShape, elements(16_384))).toMatchObject({ ok: true, elements: 16_384 });
  });

  it('stops at the bound on fields read, which build nothing but cost a step each: raw_body written 2,000,000 times', () => {
    const rawBodies = Buffer.alloc(4_000_000);
    for (let i = 0; i < rawBodies.length; i += 2) rawBodies[i] = (12 << 3) | 2;
    const request = field(1, field(4, field(2, rawBodies)));
    expect(measureMessage(request, checkRequestShape, { maxElements: 16_384, maxFields: 65_536 })).toEqual({ ok: false, reason: 'too-many-fields' });
    expect(measureMessage(request.subarray(0, 100), checkRequestShape, { maxElements: 16_384, maxFields: 65_536 })).toEqual({ ok: false, reason: 'malformed' });
  });

  it('counts the fields inside an unknown group too, as the decoder steps through each', () => {
    const inner = Buffer.alloc(200_000);
    for (let i = 0; i < inner.length; i += 2) inner[i] = 0x08;
    // Field 15 as a group: start (wire type 3), 100,000 varint fields, end (wire type 4).
    const group = Buffer.concat([Buffer.from([(15 << 3) | 3]), inner, Buffer.from([(15 << 3) | 4])]);
    expect(() => decode(group)).not.toThrow();
    expect(measureMessage(group, checkRequestShape, { maxElements: 16_384, maxFields: 65_536 })).toEqual({ ok: false, reason: 'too-many-fields' });
    // A group of 500 fields: its start, the 500 and its end are counted.
    const small = Buffer.concat([group.subarray(0, 1_001), Buffer.from([(15 << 3) | 4])]);
    expect(measureMessage(small, checkRequestShape, { maxElements: 16_384, maxFields: 65_536 })).toMatchObject({ ok: true, fields: 502 });
  });

  it('reads a known field by its declared type, whatever its wire type says, as the decoder does', () => {
    // header_map (13) sent with wire type 0: the decoder still reads a length and a HeaderMap.
    const headerMap = Buffer.from([0x0a, 0x00, 0x0a, 0x00, 0x0a, 0x00]);
    const http = Buffer.from([(13 << 3) | 0, headerMap.length, ...headerMap]);
    const request = field(1, field(4, field(2, http)));
    expect((decode(request) as any).attributes.request.http.header_map.headers).toHaveLength(3);
    expect(measureMessage(request, checkRequestShape, elements(1_000))).toMatchObject({ ok: true, elements: 8 });
  });

  it('calls malformed what the decoder refuses: a length past the end, nesting past 100', () => {
    const cut = field(1, field(4, Buffer.from([0x12, 0x05, 0x0a])));
    expect(() => decode(cut)).toThrow();
    expect(measureMessage(cut, checkRequestShape, elements(1_000))).toEqual({ ok: false, reason: 'malformed' });
    // google.protobuf.Value.listValue (6) → ListValue.values (1) → Value …, 120 deep in metadata.
    let value = Buffer.alloc(0);
    for (let i = 0; i < 60; i++) value = field(6, field(1, value));
    const deep = field(1, field(11, field(1, Buffer.concat([field(1, Buffer.from('m')), field(2, field(1, Buffer.concat([field(1, Buffer.from('k')), field(2, value)])))]))));
    expect(() => decode(deep)).toThrow(/depth/);
    expect(measureMessage(deep, checkRequestShape, elements(1_000_000))).toEqual({ ok: false, reason: 'malformed' });
  });

  it('agrees with the decoder on arbitrary wire bytes: never fewer objects than it builds, malformed only where it throws', () => {
    // Wire bytes over the field numbers CheckRequest's types use, any wire type, nested.
    const { node } = fc.letrec<{ node: number[] }>((tie) => ({
      node: fc.array(
        fc.oneof(
          { depthSize: 'small', withCrossShrink: true },
          fc.tuple(fc.integer({ min: 1, max: 13 }), fc.integer({ min: 0, max: 7 }), fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 6 })).map(([n, wire, bytes]) => [...varint((n << 3) | wire), ...bytes]),
          fc.tuple(fc.integer({ min: 1, max: 13 }), tie('node')).map(([n, body]) => [...varint((n << 3) | 2), ...varint(body.length), ...body]),
        ),
        { maxLength: 6 },
      ).map((parts) => parts.flat()),
    }));
    const shapes = [checkRequestShape, ...nested(checkRequestShape)];
    fc.assert(
      fc.property(node, fc.integer({ min: 0, max: 4 }), (body, depth) => {
        // Wrap the arbitrary bytes at a few real depths, so that they land in deep types too.
        let bytes = Buffer.from(body);
        const path = [1, 4, 2, 13].slice(0, depth);
        for (const n of path.reverse()) bytes = field(n, bytes);
        const cost = measureMessage(bytes, checkRequestShape, elements(1_000_000));
        let decoded: Record<string, unknown> | undefined;
        let threw = false;
        try {
          decoded = decode(bytes);
        } catch {
          threw = true;
        }
        if (!cost.ok) {
          expect(cost.reason).toBe('malformed');
          expect(threw, 'measured malformed, decoded').toBe(true);
        } else if (decoded) expect(objects(decoded)).toBeLessThanOrEqual(cost.elements);
      }),
      { numRuns: 3_000 },
    );
    expect(shapes.length).toBeGreaterThan(10);
  });
});

/** Every shape a shape reaches. */
function nested(shape: MessageShape, seen = new Set<MessageShape>()): MessageShape[] {
  for (const field of shape.fields.values()) {
    const child = field.kind === 'message' ? field.shape : field.kind === 'map' && typeof field.value !== 'string' ? field.value : undefined;
    if (child && !seen.has(child)) {
      seen.add(child);
      nested(child, seen);
    }
  }
  return [...seen];
}

/**
 * Objects and array values in a decoded tree: every message and every non-empty map's object
 * is one, every repeated value one (or its objects); bytes and strings none. `measureMessage`
 * counts at least this: a map's entries, each at least one, stand for its object.
 */
function objects(value: unknown): number {
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return 0;
  if (Array.isArray(value)) return value.reduce((n: number, v) => n + Math.max(1, objects(v)), 0);
  // A map's object with no entry (defaults: true makes one for every map field) builds nothing counted.
  if (Object.keys(value).length === 0) return 0;
  let n = 1;
  for (const v of Object.values(value)) n += objects(v);
  return n;
}
