/**
 * Answering one gRPC call on its HTTP/2 stream: a message with OK trailers, or a Trailers-Only
 * status. Each writes at most once: a stream already answered, closed or destroyed is left alone.
 */
import * as http2 from 'node:http2';
import type { ServerHttp2Stream } from 'node:http2';
import { GrpcCallError, GrpcStatus, MAX_STATUS_MESSAGE_CHARS, encodeGrpcMessage, frameMessage } from './grpc-protocol.js';
import type { UnaryMethod } from './grpc-unary.js';

const { NGHTTP2_CANCEL } = http2.constants;

const RESPONSE_HEADERS = Object.freeze({
  ':status': 200,
  'content-type': 'application/grpc+proto',
  'grpc-accept-encoding': 'identity',
});
const OK_TRAILERS = Object.freeze({ 'grpc-status': '0' });

export function answerMessage(stream: ServerHttp2Stream, method: UnaryMethod<any, any>, response: unknown): void { // eslint-disable-line @typescript-eslint/no-explicit-any
  if (stream.destroyed || stream.closed || stream.headersSent) return;
  let frame: Buffer;
  try {
    frame = frameMessage(method.encode(response as never));
  } catch {
    return answerStatus(stream, GrpcStatus.INTERNAL, 'Error serializing response');
  }
  stream.respond(RESPONSE_HEADERS, { waitForTrailers: true });
  stream.once('wantTrailers', () => stream.sendTrailers(OK_TRAILERS));
  stream.end(frame);
}

export function answerError(stream: ServerHttp2Stream, err: unknown): void {
  if (err instanceof GrpcCallError) answerStatus(stream, err.code, err.details);
  else answerStatus(stream, GrpcStatus.INTERNAL, 'internal error');
}

/** A Trailers-Only answer: one HEADERS frame with the status, ending the stream. */
export function answerStatus(stream: ServerHttp2Stream, code: number, details: string, headers: http2.OutgoingHttpHeaders = {}): void {
  const message = encodeGrpcMessage(details.length > MAX_STATUS_MESSAGE_CHARS ? `${details.slice(0, MAX_STATUS_MESSAGE_CHARS)}…` : details);
  respondOnce(stream, { ':status': 200, 'content-type': 'application/grpc+proto', ...headers, 'grpc-status': String(code), 'grpc-message': message });
}

export function respondOnce(stream: ServerHttp2Stream, headers: http2.OutgoingHttpHeaders): void {
  if (stream.destroyed || stream.closed || stream.headersSent) return;
  try {
    stream.respond(headers, { endStream: true });
  } catch {
    stream.close(NGHTTP2_CANCEL);
  }
}
