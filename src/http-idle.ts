/**
 * When an HTTP connection on which nothing has moved is closed. Node's own rule (server.timeout
 * with no 'timeout' listener) closes a socket once its write queue has not moved for the idle
 * time, but the queue moves only when the kernel's send buffer has room for more: a client that
 * reads steadily but slowly, or pauses between sips, lets the kernel's buffers fill and the
 * queue stand still, and lost the answer's tail (a 300 ms idle time gave a client reading
 * 16 MiB at 3 MB/s 7.3 MiB of it; 30 s cut a reader slower than about 200 KB/s).
 *
 * The rule here: once nothing has moved for the idle time,
 * - a connection with no answer bytes waiting in the process is closed, as before. Whatever the
 *   kernel already holds for it is still delivered after the close (then FIN), so a slow reader
 *   of that part loses nothing, and the socket and buffers are given back;
 * - a connection with answer bytes waiting is kept while the client is no further behind than a
 *   reader at `minReadBytesPerSecond` would be: the bytes sent since the connection last had
 *   nothing waiting (when its request came) may take that long, and the idle time on top. It is
 *   looked at again each idle time after, and closed once past that. A client that stops reading
 *   altogether is so cut off at most the idle time twice plus the answer's size at that rate
 *   after its request; one that reads at the rate or faster gets the whole answer.
 * The kernel's drain cannot be seen from here (only the process's write queue), which is why the
 * bound is a rate over the whole answer and not a watch on progress.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';

/** The slowest a client may take an answer on average: 16 KiB/s, a 128 kbit/s link. */
export const MIN_READ_BYTES_PER_SECOND = 16 * 1024;

interface Delivery {
  /** When the connection last had no answer bytes waiting and a request came. */
  since: number;
  /** socket.bytesWritten then. */
  sentBefore: number;
}

/** Applies the rule above to `server`'s connections. */
export function boundIdleConnections(server: Server, idleMs: number, minReadBytesPerSecond: number): void {
  const deliveries = new WeakMap<Socket, Delivery>();
  // Before the request listener, which may write the whole answer before it returns.
  server.prependListener('request', (req: IncomingMessage) => {
    const socket = req.socket;
    // A request pipelined behind an answer still waiting keeps that answer's start: the client
    // owes both answers' bytes from then, and cannot reset its clock by asking again.
    if (socket.writableLength === 0) deliveries.set(socket, { since: Date.now(), sentBefore: socket.bytesWritten });
  });
  server.timeout = idleMs;
  // A listener stops Node destroying the socket itself: from here on this decides.
  server.on('timeout', (socket: Socket) => {
    const delivery = deliveries.get(socket);
    if (socket.writableLength === 0 || delivery === undefined) return socket.destroy();
    const owed = socket.bytesWritten - delivery.sentBefore;
    if (Date.now() >= delivery.since + idleMs + (owed * 1000) / minReadBytesPerSecond) return socket.destroy();
    // Node's timer has fired and is re-armed only by movement: look again after the idle time.
    socket.setTimeout(idleMs);
  });
}
