/**
 * CheckResponse → protobuf bytes, written by hand: the answer to every Check, so it skips
 * protobufjs's fromObject (a message object built for every field, then encoded). Only the
 * fields ./wire.ts's CheckResponse holds are written, with Envoy's field numbers:
 *
 *   CheckResponse        status 1 (google.rpc.Status), denied_response 2, ok_response 3,
 *                        dynamic_metadata 4 (google.protobuf.Struct)
 *   google.rpc.Status    code 1 (int32), message 2
 *   DeniedHttpResponse   status 1 (envoy.type.v3.HttpStatus: code 1, an enum), headers 2, body 3
 *   OkHttpResponse       headers 2, headers_to_remove 5, response_headers_to_add 6,
 *                        query_parameters_to_set 7 (QueryParameter: key 1, value 2),
 *                        query_parameters_to_remove 8
 *   HeaderValueOption    header 1 (HeaderValue: key 1, value 2), append_action 3 (an enum),
 *                        keep_empty_value 4 (bool)
 *   Struct               fields 1: map<string, Value>, an entry being key 1, value 2
 *   Value                null_value 1, number_value 2 (double), string_value 3, bool_value 4,
 *                        struct_value 5, list_value 6 (ListValue: values 1)
 *
 * A unit test decodes what this writes with the protobufjs codec built from proto/ and holds it
 * equal to what protobufjs itself writes, for generated responses of every shape.
 */
import type { CheckResponse, HeaderValueOption, ProtoStruct, StructValue } from './wire.js';

const VARINT = 0;
const FIXED64 = 1;
const BYTES = 2;

class ProtoWriter {
  buf = Buffer.allocUnsafe(1024);
  pos = 0;

  private ensure(more: number): void {
    if (this.pos + more <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + more));
    this.buf.copy(bigger, 0, 0, this.pos);
    this.buf = bigger;
  }

  /** A varint of a non-negative safe integer, or of a negative int32 as its 64-bit two's complement (ten bytes). */
  varint(n: number): void {
    this.ensure(10);
    if (n < 0) {
      let big = BigInt.asUintN(64, BigInt(n));
      while (big >= 0x80n) {
        this.buf[this.pos++] = Number(big & 0x7fn) | 0x80;
        big >>= 7n;
      }
      this.buf[this.pos++] = Number(big);
      return;
    }
    while (n >= 0x80) {
      this.buf[this.pos++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    this.buf[this.pos++] = n;
  }

  tag(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  uint(field: number, n: number): void {
    this.tag(field, VARINT);
    this.varint(n);
  }

  double(field: number, x: number): void {
    this.tag(field, FIXED64);
    this.ensure(8);
    this.pos = this.buf.writeDoubleLE(x, this.pos);
  }

  string(field: number, s: string): void {
    const at = this.begin(field, s.length * 3);
    this.pos += this.buf.write(s, this.pos, 'utf8');
    this.end(at);
  }

  /**
   * Opens a length-delimited field (`room` bytes made sure of for its content) and returns
   * where its length goes, for end(): one byte is kept for the length, and the content moved up
   * when its length needs more (128 bytes or over). A pair of calls rather than a callback:
   * the answer to every Check writes a few dozen of these, and each callback was a closure.
   */
  begin(field: number, room = 0): number {
    this.tag(field, BYTES);
    this.ensure(room + 1);
    return this.pos++;
  }

  end(at: number): void {
    const length = this.pos - at - 1;
    if (length < 0x80) {
      this.buf[at] = length;
      return;
    }
    let bytes = 1;
    for (let n = length; n >= 0x80; n = Math.floor(n / 0x80)) bytes++;
    this.ensure(bytes - 1);
    this.buf.copyWithin(at + bytes, at + 1, this.pos);
    this.pos = at;
    this.varint(length);
    this.pos += length;
  }

  finish(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }
}

/** The protobuf bytes of `res` (a fresh buffer the caller owns). */
export function encodeCheckResponse(res: CheckResponse): Uint8Array {
  const w = new ProtoWriter();
  const status = w.begin(1);
  if (res.status.code !== 0) w.uint(1, res.status.code);
  if (res.status.message) w.string(2, res.status.message);
  w.end(status);
  const denied = res.denied_response;
  if (denied) {
    const response = w.begin(2);
    const httpStatus = w.begin(1);
    if (denied.status.code !== 0) w.uint(1, denied.status.code);
    w.end(httpStatus);
    for (const h of denied.headers) headerOption(w, 2, h);
    if (denied.body) w.string(3, denied.body);
    w.end(response);
  }
  const ok = res.ok_response;
  if (ok) {
    const response = w.begin(3);
    for (const h of ok.headers) headerOption(w, 2, h);
    for (const name of ok.headers_to_remove) w.string(5, name);
    for (const h of ok.response_headers_to_add) headerOption(w, 6, h);
    for (const p of ok.query_parameters_to_set ?? []) {
      const parameter = w.begin(7);
      if (p.key) w.string(1, p.key);
      if (p.value) w.string(2, p.value);
      w.end(parameter);
    }
    for (const name of ok.query_parameters_to_remove ?? []) w.string(8, name);
    w.end(response);
  }
  if (res.dynamic_metadata) {
    const metadata = w.begin(4);
    struct(w, res.dynamic_metadata);
    w.end(metadata);
  }
  return w.finish();
}

function headerOption(w: ProtoWriter, field: number, h: HeaderValueOption): void {
  const option = w.begin(field);
  const header = w.begin(1);
  if (h.header.key) w.string(1, h.header.key);
  if (h.header.value) w.string(2, h.header.value);
  w.end(header);
  if (h.append_action !== 0) w.uint(3, h.append_action);
  if (h.keep_empty_value) w.uint(4, 1);
  w.end(option);
}

function struct(w: ProtoWriter, s: ProtoStruct): void {
  for (const key of Object.keys(s.fields)) {
    const entry = w.begin(1);
    if (key) w.string(1, key);
    const value = w.begin(2);
    structValue(w, s.fields[key]!);
    w.end(value);
    w.end(entry);
  }
}

/** A Value's member is a oneof: written even when it holds its type's zero value. */
function structValue(w: ProtoWriter, v: StructValue): void {
  if ('nullValue' in v) w.uint(1, 0);
  else if ('numberValue' in v) w.double(2, v.numberValue);
  else if ('stringValue' in v) w.string(3, v.stringValue);
  else if ('boolValue' in v) w.uint(4, v.boolValue ? 1 : 0);
  else if ('structValue' in v) {
    const inner = w.begin(5);
    struct(w, v.structValue);
    w.end(inner);
  } else {
    const list = w.begin(6);
    for (const item of v.listValue.values) {
      const value = w.begin(1);
      structValue(w, item);
      w.end(value);
    }
    w.end(list);
  }
}
