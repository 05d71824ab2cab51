/**
 * The answer to a request Node's HTTP parser refuses before any route sees it ('clientError'):
 * a head over Node's 16 KiB, a request line or chunked body that is not HTTP, a request that
 * did not arrive within its timeouts. Node's own answer is a bare status line, without the JSON
 * error and the `nosniff` every other Chio answer has; this one is a JSON error as sendError
 * writes it, its text fixed per code, so nothing the client sent (err.rawPacket) is ever echoed.
 */
import { STATUS_CODES, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { statusOf, type ChioErrorCode } from './errors/index.js';

interface Refusal {
  code: ChioErrorCode;
  message: string;
}

/** What a parser or timeout error is answered with; undefined: the connection is just closed. */
function refusalOf(err: NodeJS.ErrnoException, maxHeaderSize: number): Refusal | undefined {
  switch (err.code) {
    // The client is gone: there is no one to answer.
    case 'ECONNRESET':
    case 'EPIPE':
      return undefined;
    case 'HPE_HEADER_OVERFLOW':
      return { code: 'HEADERS_TOO_LARGE', message: `a request line and header fields over ${maxHeaderSize} bytes` };
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return { code: 'TOO_LARGE', message: 'chunk extensions over 16 KiB' };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { code: 'REQUEST_TIMEOUT', message: 'the request did not arrive in time' };
    default:
      return { code: 'MALFORMED', message: 'not a valid HTTP/1.1 request' };
  }
}

/** The whole HTTP/1.1 answer, head and body, as sendError would write it with `connection: close`. */
function rawAnswer({ code, message }: Refusal): string {
  const status = statusOf(code).http;
  const body = JSON.stringify({ error: message, code });
  return `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n` +
    'content-type: application/json\r\n' +
    `content-length: ${Buffer.byteLength(body)}\r\n` +
    'cache-control: no-store\r\n' +
    'x-content-type-options: nosniff\r\n' +
    'connection: close\r\n\r\n' + body;
}

/** Answers `server`'s client errors as above, in place of Node's bare status lines. */
export function answerClientErrors(server: Server, maxHeaderSize: number, log: Logger): void {
  // The answers begun on each connection and not finished: a pipelined request's refusal must
  // not be written into the middle of one.
  const underway = new WeakMap<Socket, Set<ServerResponse>>();
  server.prependListener('request', (req, res: ServerResponse) => {
    const socket = req.socket;
    const answers = underway.get(socket) ?? new Set<ServerResponse>();
    underway.set(socket, answers);
    answers.add(res);
    res.once('close', () => answers.delete(res));
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    const refusal = refusalOf(err, maxHeaderSize);
    const writing = [...(underway.get(socket) ?? [])].some((res) => res.headersSent);
    if (refusal === undefined || writing || !socket.writable) return void socket.destroy();
    log.debug({ code: err.code }, 'HTTP request refused by the parser');
    // As Node does: what is written goes out before the close, and the rest of the request is
    // not read.
    socket.write(rawAnswer(refusal));
    socket.destroy();
  });
}
