/**
 * The words of gRPC over HTTP/2 (PROTOCOL-HTTP2) that ./grpc-unary.ts speaks: status codes, the
 * length-prefixed message, `grpc-timeout` and `grpc-message`. Pure: no sockets, no timers.
 */

/** The gRPC status codes this server answers with (grpc/status.h). */
export const GrpcStatus = {
  OK: 0,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
} as const;

/** Thrown by a handler to answer with a gRPC status instead of a message. */
export class GrpcCallError extends Error {
  constructor(
    readonly code: number,
    readonly details: string,
  ) {
    super(details);
  }
}

/** Bytes before each message: a compressed flag and a 4-byte big-endian length. */
export const PREFIX_BYTES = 5;

/** Longest grpc-message sent: a status's details are for people, and a header has limits. */
export const MAX_STATUS_MESSAGE_CHARS = 256;

/** Longest grpc-timeout value, in digits (PROTOCOL-HTTP2: "TimeoutValue → positive integer as ASCII string of at most 8 digits"). */
const GRPC_TIMEOUT = /^(\d{1,8})([HMSmun])$/;
const GRPC_TIMEOUT_UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1_000, m: 1, u: 1e-3, n: 1e-6 };

/** A grpc-timeout header's value in ms: undefined when there is none, NaN when it is malformed. */
export function parseGrpcTimeout(value: string | string[] | undefined): number | undefined {
  if (value === undefined) return undefined;
  const match = typeof value === 'string' ? GRPC_TIMEOUT.exec(value) : null;
  return match ? Number(match[1]) * GRPC_TIMEOUT_UNIT_MS[match[2]!]! : NaN;
}

/** grpc-message is percent-encoded UTF-8: visible ASCII but '%' travels as is. */
export function encodeGrpcMessage(text: string): string {
  if (/^[\x20-\x24\x26-\x7e]*$/.test(text)) return text;
  let out = '';
  for (const b of Buffer.from(text, 'utf8')) out += b >= 0x20 && b <= 0x7e && b !== 0x25 ? String.fromCharCode(b) : `%${b < 16 ? '0' : ''}${b.toString(16).toUpperCase()}`;
  return out;
}

/** A Length-Prefixed-Message of `message`, uncompressed. */
export function frameMessage(message: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(PREFIX_BYTES + message.length);
  frame[0] = 0;
  frame.writeUInt32BE(message.length, 1);
  frame.set(message, PREFIX_BYTES);
  return frame;
}
