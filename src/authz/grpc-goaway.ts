/**
 * The stop of one HTTP/2 connection in two GOAWAYs, as RFC 9113 §6.8 describes it: first a
 * GOAWAY naming stream 2^31-1 (open no more streams; every stream already sent will be
 * processed), then a PING, and once its ACK is back (so the client has read the GOAWAY, and
 * everything it sent before it has been read) the final GOAWAY naming the last stream processed.
 *
 * With only the final GOAWAY, a Check Envoy sent before it read it was refused (REFUSED_STREAM),
 * and Envoy, with no retry policy, denied the request it was checking.
 *
 * Why the first GOAWAY is written to the socket by hand: Node's `session.goaway()` goes through
 * nghttp2, which, once it has sent any GOAWAY, whatever stream it names, silently drops every
 * new stream (the client then waits for an answer until the final GOAWAY refuses it) and, with
 * no stream open, stops reading the socket, PING ACK included. nghttp2's own notice
 * (`nghttp2_submit_shutdown_notice`) is not reachable from Node. Written by hand, the frame
 * reaches the client and nghttp2 does not know of it: the PING, the final GOAWAY
 * (`session.close()`) and every stream in between are nghttp2's as always. The frame is whole
 * and goes out in one write, between nghttp2's own whole-frame writes (libuv keeps writes to a
 * socket in order).
 *
 * Only over plain text: a TLS socket handed to HTTP/2 encrypts one write at a time, and a write
 * of ours while nghttp2's is in progress would abort the process. A TLS connection gets the
 * final GOAWAY alone, as before.
 */
import type { Http2Session } from 'node:http2';
import type { Socket } from 'node:net';

/**
 * How long the final GOAWAY waits for the client to answer the PING that follows the first: some
 * hundred round trips of a cluster, yet short of the close grace, so that a client that never
 * answers (frozen, or one that ignores PINGs) does not hold the stop.
 */
export const DEFAULT_CLOSE_ROUND_TRIP_MS = 2_000;

/** GOAWAY (type 7) on stream 0, 8 bytes: last-stream-id 2^31-1, error code NO_ERROR. */
const NOTICE = Buffer.from([0, 0, 8, 0x7, 0, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0]);

/**
 * Stop `session` in two GOAWAYs when `socket` (its plain-text socket) is known, else in one;
 * resolves once the final one is sent (or the connection is gone), at most `boundMs` after.
 */
export function goAway(session: Http2Session, socket: Socket | undefined, boundMs: number): Promise<void> {
  if (session.closed || session.destroyed) return Promise.resolve();
  if (!socket) {
    session.close();
    return Promise.resolve();
  }
  return new Promise<void>((resolve) => {
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(bound);
      session.off('close', finish);
      session.off('localSettings', notify);
      if (!session.closed && !session.destroyed) session.close();
      resolve();
    };
    const bound = setTimeout(finish, boundMs);
    session.once('close', finish);
    const notify = () => {
      if (done || session.destroyed || !socket.writable) return finish();
      socket.write(NOTICE);
      // Answered after the client has read the GOAWAY before it; an error (the connection
      // went) or no room for another PING is no reason to wait.
      try {
        if (!session.ping(finish)) finish();
      } catch {
        finish();
      }
    };
    // The server's SETTINGS must be the first frame the client reads: a connection this new may
    // not have sent them yet, and their ACK says they were.
    if (session.pendingSettingsAck) session.once('localSettings', notify);
    else notify();
  });
}
