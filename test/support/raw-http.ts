/**
 * HTTP/1.1 over a bare socket (node:net), for what fetch will not send: malformed requests,
 * oversized heads, requests that stop half-way. The bytes go out as written.
 */
import { connect } from 'node:net';

export interface RawAnswer {
  /** Everything the server wrote before the connection closed, as latin1 text. */
  text: string;
  /** The first answer's head (status line and fields) and what follows it. */
  head: string;
  body: string;
  /** Whether the client saw a reset rather than a clean close. */
  reset: boolean;
}

/**
 * Writes `request` to 127.0.0.1:`port` (and `then` once the first bytes of the answer have
 * come, when given) and reads until the server closes the connection. Gives up after `waitMs`,
 * closing it itself.
 */
export function rawExchange(port: number, request: string | Uint8Array, opts: { then?: string; waitMs?: number } = {}): Promise<RawAnswer> {
  return new Promise((resolve) => {
    let text = '';
    let reset = false;
    const socket = connect(port, '127.0.0.1', () => socket.write(request));
    const giveUp = setTimeout(() => socket.destroy(), opts.waitMs ?? 10_000);
    socket.on('data', (d: Buffer) => {
      if (text === '' && opts.then !== undefined) socket.write(opts.then);
      text += d.toString('latin1');
    });
    socket.on('error', (err: NodeJS.ErrnoException) => (reset ||= err.code === 'ECONNRESET'));
    socket.on('close', () => {
      clearTimeout(giveUp);
      const end = text.indexOf('\r\n\r\n');
      resolve({ text, head: end < 0 ? text : text.slice(0, end), body: end < 0 ? '' : text.slice(end + 4), reset });
    });
  });
}
