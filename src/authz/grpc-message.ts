/**
 * Reading a unary call's one request message off its HTTP/2 stream (./grpc-unary.ts), within
 * the bounds its server sets: a Length-Prefixed-Message (compressed flag, 4-byte big-endian
 * length, the protobuf bytes), and nothing after it.
 *
 * Memory is what a hostile client aims at here, so a message holds only what has come:
 *
 *   - the prefix alone decides whether a message of its length may be read at all
 *     (`announce`); what it announces is not held, since 16 prefixes announcing 4 MiB each,
 *     80 bytes, held a whole 64 MiB budget for 10 s;
 *   - the message fills one buffer, grown as its bytes come (at most twice what has come,
 *     never past its length), and the growth is held against the budget (`hold`); frames of
 *     a byte each hold their bytes, not a buffer object each, which cost a message sent so
 *     about 140 times its size;
 *   - what is kept is copied out of the DATA it came in, which Node hands as a view into the
 *     whole socket read (64 KiB, other streams' bytes too): a call that sent 1 byte held 64 KiB
 *     for its read timeout, counted as 1; a message whole in one frame is copied once.
 */
import type { ServerHttp2Stream, OutgoingHttpHeaders } from 'node:http2';
import { GrpcStatus, PREFIX_BYTES } from './grpc-protocol.js';

/** One call from its headers until its stream closes, as its server keeps it. */
export interface Call {
  since: number;
  /** Its message is still arriving. */
  reading: boolean;
  /** Bytes it holds against the server's budget until it is answered or its stream closes: its message, then what decoding it builds. */
  held: number;
  /**
   * Its request is with its handler, which keeps it until it answers: what it holds then goes
   * back once it is answered, not when its stream closes. A client that reset each call as soon
   * as it had sent it left its decoded request in a running handler, counted by nothing.
   */
  handling?: boolean;
}

/** Answer the call with a gRPC status and read nothing more of it. */
export type Refuse = (stream: ServerHttp2Stream, code: number, details: string, headers?: OutgoingHttpHeaders) => void;

/** What reading a message needs of its server: its bounds, and how it refuses a call. */
export interface Reading {
  /** Undefined when a message of `bytes` may be read at all, else why not. */
  announce(call: Call, bytes: number): string | undefined;
  /** Undefined when the call may hold `bytes` more until its stream closes, else why not. */
  hold(call: Call, bytes: number): string | undefined;
  refuse: Refuse;
}

/**
 * Read `stream`'s one message and hand its bytes to `received` once the client has ended the
 * stream; refuse the call (through `reading`) at the first thing wrong: a compressed message,
 * one too large or over the budget, more than one message, none, or one cut short.
 */
export function readRequestMessage(stream: ServerHttp2Stream, encoding: string | string[] | undefined, call: Call, reading: Reading, received: (bytes: Buffer) => void): void {
  /** The prefix while it comes in pieces. */
  let head: Buffer | undefined;
  /** The message: a copy of the frame it came in whole, or a buffer grown as it fills. */
  let body: Buffer | undefined;
  let filled = 0;
  let expected = -1;
  let total = 0;
  stream.on('data', (chunk: Buffer) => {
    total += chunk.length;
    if (expected < 0) {
      head = head ? Buffer.concat([head, chunk]) : chunk;
      if (head.length < PREFIX_BYTES) {
        head = own(head);
        return;
      }
      if (head[0] !== 0) {
        if (encoding === undefined || encoding === 'identity') return reading.refuse(stream, GrpcStatus.INTERNAL, 'compressed flag set on a message without grpc-encoding');
        return reading.refuse(stream, GrpcStatus.UNIMPLEMENTED, `grpc-encoding ${String(encoding)} is not accepted`, { 'grpc-accept-encoding': 'identity' });
      }
      expected = head.readUInt32BE(1);
      const tooLarge = reading.announce(call, expected);
      if (tooLarge) return reading.refuse(stream, GrpcStatus.RESOURCE_EXHAUSTED, tooLarge);
      chunk = head.subarray(PREFIX_BYTES);
      head = undefined;
      if (chunk.length === expected) {
        const refused = reading.hold(call, expected);
        if (refused) return reading.refuse(stream, GrpcStatus.RESOURCE_EXHAUSTED, refused);
        body = own(chunk);
        filled = expected;
        return;
      }
    }
    if (total > PREFIX_BYTES + expected) return reading.refuse(stream, GrpcStatus.INTERNAL, 'more than one request message in a unary call');
    if (chunk.length === 0) return;
    const room = body?.length ?? 0;
    if (filled + chunk.length > room) {
      const size = Math.min(expected, Math.max(2 * room, filled + chunk.length, 4096));
      const refused = reading.hold(call, size - room);
      if (refused) return reading.refuse(stream, GrpcStatus.RESOURCE_EXHAUSTED, refused);
      const grown = Buffer.allocUnsafe(size);
      body?.copy(grown, 0, 0, filled);
      body = grown;
    }
    chunk.copy(body!, filled);
    filled += chunk.length;
  });
  stream.once('end', () => {
    call.reading = false;
    if (expected < 0) return reading.refuse(stream, GrpcStatus.INTERNAL, 'no request message in a unary call');
    if (filled < expected) return reading.refuse(stream, GrpcStatus.INTERNAL, 'the request message was cut short');
    const bytes = body!.subarray(0, filled);
    body = undefined;
    received(bytes);
  });
}

/**
 * `bytes` in a buffer of their own. Node hands a stream's DATA as a view into the buffer of the
 * whole socket read it came in (64 KiB, other streams' bytes too): a view kept held all of it,
 * while the call was counted only its own bytes.
 */
function own(bytes: Buffer): Buffer {
  const copy = Buffer.allocUnsafeSlow(bytes.length);
  bytes.copy(copy);
  return copy;
}
