/**
 * CheckResponse → protobuf bytes, written by hand: the answer to every Check, so it skips
 * protobufjs's fromObject (a message object built for every field, then encoded). Only the
 * fields ./wire.ts's CheckResponse holds are written, with Envoy's field numbers:
 *
 *   CheckResponse        status 1 (google.rpc.Status), denied_response 2, ok_response 3,
 *                        dynamic_metadata 4 (google.protobuf.Struct)
 *   google.rpc.Status    code 1 (int32), message 2
 *   DeniedHttpResponse   status 1 (envoy.type.v3.HttpStatus: code 1, an enum), headers 2, body 3
 *   OkHttpResponse       headers 2, headers_to_remove 5, response_headers_to_add 6
 *   HeaderValueOption    header 1 (HeaderValue: key 1, value 2), append_action 3 (an enum)
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
    this.tag(field, BYTES);
    this.delimited(s.length * 3, () => {
      this.pos += this.buf.write(s, this.pos, 'utf8');
    });
  }

  message(field: number, write: () => void): void {
    this.tag(field, BYTES);
    this.delimited(0, write);
  }

  /**
   * Length-delimited content written by `write`, its length before it: one byte is kept for the
   * length, and the content moved up when its length needs more (128 bytes or over).
   */
  private delimited(room: number, write: () => void): void {
    this.ensure(room + 1);
    const at = this.pos++;
    write();
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
  w.message(1, () => {
    if (res.status.code !== 0) w.uint(1, res.status.code);
    if (res.status.message) w.string(2, res.status.message);
  });
  const denied = res.denied_response;
  if (denied) {
    w.message(2, () => {
      w.message(1, () => {
        if (denied.status.code !== 0) w.uint(1, denied.status.code);
      });
      for (const h of denied.headers) w.message(2, () => headerOption(w, h));
      if (denied.body) w.string(3, denied.body);
    });
  }
  const ok = res.ok_response;
  if (ok) {
    w.message(3, () => {
      for (const h of ok.headers) w.message(2, () => headerOption(w, h));
      for (const name of ok.headers_to_remove) w.string(5, name);
      for (const h of ok.response_headers_to_add) w.message(6, () => headerOption(w, h));
    });
  }
  if (res.dynamic_metadata) {
    const metadata = res.dynamic_metadata;
    w.message(4, () => struct(w, metadata));
  }
  return w.finish();
}

function headerOption(w: ProtoWriter, h: HeaderValueOption): void {
  w.message(1, () => {
    if (h.header.key) w.string(1, h.header.key);
    if (h.header.value) w.string(2, h.header.value);
  });
  if (h.append_action !== 0) w.uint(3, h.append_action);
}

function struct(w: ProtoWriter, s: ProtoStruct): void {
  for (const key of Object.keys(s.fields)) {
    const value = s.fields[key]!;
    w.message(1, () => {
      if (key) w.string(1, key);
      w.message(2, () => structValue(w, value));
    });
  }
}

/** A Value's member is a oneof: written even when it holds its type's zero value. */
function structValue(w: ProtoWriter, v: StructValue): void {
  if ('nullValue' in v) w.uint(1, 0);
  else if ('numberValue' in v) w.double(2, v.numberValue);
  else if ('stringValue' in v) w.string(3, v.stringValue);
  else if ('boolValue' in v) w.uint(4, v.boolValue ? 1 : 0);
  else if ('structValue' in v) w.message(5, () => struct(w, v.structValue));
  else w.message(6, () => {
    for (const item of v.listValue.values) w.message(1, () => structValue(w, item));
  });
}
