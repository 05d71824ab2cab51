/**
 * What decoding a protobuf request would build, counted from its bytes before any of it is
 * decoded: the objects protobufjs would make (one per message, map entry and repeated value).
 *
 * Why: a message's size does not bound its decoded size. Two bytes (`0a 00`) are one empty
 * HeaderValue, which protobufjs with `defaults: true` decodes to an object of about 320 bytes;
 * a 4 MiB CheckRequest of them decoded to 640 MB and 3 s of CPU, and twelve at once ended the
 * process (out of heap). The guards' bounds (512 headers, decision/check-input.ts) only apply
 * once the whole message is decoded: too late.
 *
 * The count walks the bytes exactly as protobufjs's generated decoder reads them, with its own
 * Reader: the same tag and length reads, the same reader method per field type (a known field
 * is read by its declared type whatever its wire type says), the same skip of unknown fields and
 * the same nesting limit. A walk that read the bytes any other way (by wire type, say) could be
 * told one story while the decoder is told another, and count nothing of what gets built.
 * Strings and bytes are stepped over rather than read, as their readers would step (a string
 * read from a Buffer stops at the end of its message; bytes throw past it): reading them cost
 * as much as decoding. Nothing is allocated per element but protobufjs's own long reads.
 *
 * Fields that build nothing (a singular string written a million times) still cost the decoder
 * a step each, so the fields read are bounded too.
 */
import protobuf from 'protobufjs';

/** How each known field of a message type is read: by number. */
export interface MessageShape {
  readonly fields: ReadonlyMap<number, FieldShape>;
}

export type FieldShape =
  /** Message, singular or repeated: one object per occurrence (a later singular one replaces the first, but both are built). */
  | { readonly kind: 'message'; readonly shape: MessageShape }
  /** map<key, value>: one entry per occurrence; `value` is a message shape or a reader method. */
  | { readonly kind: 'map'; readonly key: ReaderMethod; readonly value: MessageShape | ReaderMethod }
  /** Scalar, string or bytes; repeated ones add one value per occurrence (packed: per value read). */
  | { readonly kind: 'scalar'; readonly repeated: boolean; readonly read: ReaderMethod; readonly packable: boolean };

/** A protobufjs Reader method that reads one value of a scalar type. */
type ReaderMethod = 'double' | 'float' | 'int32' | 'uint32' | 'sint32' | 'fixed32' | 'sfixed32' | 'int64' | 'uint64' | 'sint64' | 'fixed64' | 'sfixed64' | 'bool' | 'string' | 'bytes';

export type MessageCost =
  | { readonly ok: true; readonly elements: number; readonly fields: number }
  | { readonly ok: false; readonly reason: 'malformed' | 'too-many-elements' | 'too-many-fields' };

export interface MessageLimits {
  /** Objects decoding may build: messages, map entries, repeated values. */
  maxElements: number;
  /** Fields (tags) decoding may read, at every depth. */
  maxFields: number;
}

/**
 * The objects decoding `bytes` as a message of `shape` would build, or why it must not be
 * decoded: `malformed` where protobufjs would throw (out of range, a bad wire type, nested past
 * its recursion limit), `too-many-elements` or `too-many-fields` past a limit (the walk stops
 * there). `bytes` must be what the decoder is given, a Buffer or not: the two are read apart.
 */
export function measureMessage(bytes: Uint8Array, shape: MessageShape, limits: MessageLimits): MessageCost {
  const walk = new Walk(protobuf.Reader.create(bytes), limits);
  try {
    walk.message(shape, undefined, 0);
  } catch (err) {
    if (err === TOO_MANY_ELEMENTS) return { ok: false, reason: 'too-many-elements' };
    if (err === TOO_MANY_FIELDS) return { ok: false, reason: 'too-many-fields' };
    return { ok: false, reason: 'malformed' };
  }
  return { ok: true, elements: walk.elements, fields: walk.fields };
}

/** Thrown, and caught above, to stop a walk at a bound. */
const TOO_MANY_ELEMENTS = Symbol('too many elements');
const TOO_MANY_FIELDS = Symbol('too many fields');

/** Reader types whose repeated fields protobufjs reads packed when the wire type is 2. */
const PACKABLE = new Set<string>(['double', 'float', 'int32', 'uint32', 'sint32', 'fixed32', 'sfixed32', 'int64', 'uint64', 'sint64', 'fixed64', 'sfixed64', 'bool']);

class Walk {
  elements = 0;
  fields = 0;
  /** BufferReader.string stops at the end of its message where Reader.bytes throws. */
  private readonly stringsClamp: boolean;

  constructor(
    private readonly r: protobuf.Reader,
    private readonly limits: MessageLimits,
  ) {
    this.stringsClamp = r instanceof protobuf.BufferReader;
  }

  private count(): void {
    if (++this.elements > this.limits.maxElements) throw TOO_MANY_ELEMENTS;
  }

  /** The next tag, counted. */
  private tag(): number {
    if (++this.fields > this.limits.maxFields) throw TOO_MANY_FIELDS;
    return this.r.uint32();
  }

  /** Past an unknown field, as `r.skipType` steps, but counting the fields inside a group. */
  private pastUnknown(wireType: number, depth: number): void {
    if (wireType !== 3) {
      this.r.skipType(wireType, depth);
      return;
    }
    if (depth > protobuf.Reader.recursionLimit) throw new Error('maximum nesting depth exceeded');
    for (let inner = this.tag() & 7; inner !== 4; inner = this.tag() & 7) this.pastUnknown(inner, depth + 1);
  }

  /** Narrow the reader to its next `length` bytes, as the decoder does; returns where they end. */
  private narrow(length: number): number {
    const end = this.r.pos + length;
    if (end > this.r.len) throw new RangeError('index out of range');
    this.r.len = end;
    return end;
  }

  /** Leave a narrowed region, which must have been read to its `end`, for the enclosing one's. */
  private widen(end: number, outerEnd: number): void {
    if (this.r.pos !== end) throw new RangeError('index out of range');
    this.r.len = outerEnd;
  }

  /** Past one value, as `r[method]()` would read it. */
  private read(method: ReaderMethod): void {
    const r = this.r;
    if (method === 'string') {
      const length = r.uint32();
      if (this.stringsClamp) r.pos = Math.min(r.pos + length, r.len);
      else r.skip(length);
    } else if (method === 'bytes') r.skip(r.uint32());
    else r[method]();
  }

  /** As the generated `decode(r, l, undefined, n)`: `length` undefined for the outermost message. */
  message(shape: MessageShape, length: number | undefined, depth: number): void {
    const r = this.r;
    if (depth > protobuf.Reader.recursionLimit) throw new Error('maximum nesting depth exceeded');
    this.count();
    const outerEnd = r.len;
    const end = length === undefined ? r.len : this.narrow(length);
    while (r.pos < end) {
      const tag = this.tag();
      const field = shape.fields.get(tag >>> 3);
      if (field === undefined) this.pastUnknown(tag & 7, depth);
      else if (field.kind === 'message') this.message(field.shape, r.uint32(), depth + 1);
      else if (field.kind === 'map') this.mapEntry(field, depth);
      else this.scalar(field, tag);
    }
    if (length !== undefined) this.widen(end, outerEnd);
  }

  private mapEntry(field: Extract<FieldShape, { kind: 'map' }>, depth: number): void {
    const r = this.r;
    this.count();
    const outerEnd = r.len;
    const end = this.narrow(r.uint32());
    while (r.pos < end) {
      const tag = this.tag();
      switch (tag >>> 3) {
        case 1:
          this.read(field.key);
          break;
        case 2:
          if (typeof field.value === 'string') this.read(field.value);
          else this.message(field.value, r.uint32(), depth + 1);
          break;
        default:
          this.pastUnknown(tag & 7, depth);
      }
    }
    this.widen(end, outerEnd);
  }

  private scalar(field: Extract<FieldShape, { kind: 'scalar' }>, tag: number): void {
    const r = this.r;
    if (!field.repeated) {
      this.read(field.read);
      return;
    }
    if (field.packable && (tag & 7) === 2) {
      const outerEnd = r.len;
      const end = this.narrow(r.uint32());
      while (r.pos < end) {
        this.read(field.read);
        this.count();
      }
      this.widen(end, outerEnd);
      return;
    }
    this.read(field.read);
    this.count();
  }
}

/**
 * The shape of a protobufjs message type and of every type it reaches (Struct and Value reach
 * each other: one shape each, shared). Throws for a group-encoded (delimited) field, which no
 * Envoy proto has and this walk does not read.
 */
export function shapeOf(type: protobuf.Type, seen = new Map<protobuf.Type, MessageShape>()): MessageShape {
  const known = seen.get(type);
  if (known) return known;
  const fields = new Map<number, FieldShape>();
  const shape: MessageShape = { fields };
  seen.set(type, shape);
  for (const field of type.fieldsArray) {
    field.resolve();
    if (field.delimited) throw new Error(`${type.fullName}.${field.name} is group-encoded`);
    const resolved = field.resolvedType;
    const value: MessageShape | ReaderMethod = resolved instanceof protobuf.Type ? shapeOf(resolved, seen) : resolved instanceof protobuf.Enum ? 'int32' : (field.type as ReaderMethod);
    if (field instanceof protobuf.MapField) fields.set(field.id, { kind: 'map', key: field.keyType as ReaderMethod, value });
    else if (typeof value !== 'string') fields.set(field.id, { kind: 'message', shape: value });
    else fields.set(field.id, { kind: 'scalar', repeated: field.repeated, read: value, packable: PACKABLE.has(value) });
  }
  return shape;
}
