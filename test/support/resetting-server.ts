/**
 * A raw HTTP/1.1 server (node:net) that can reset a connection as a request comes in, before
 * any byte of an answer: what a client sees when a server closes an idle kept-alive connection
 * just as the client reuses it (ECONNRESET, "other side closed"). node:http cannot be told to.
 */
import { createServer, type AddressInfo, type Socket } from 'node:net';

export interface ResettingServer {
  url: string;
  /** Each request as `connection N request M: <path>`, in the order they came. */
  log: string[];
  close(): Promise<void>;
}

/** An answer the client keeps its connection open after (content-length, keep-alive). */
export const keepAliveAnswer = (status: number, body: string) =>
  `HTTP/1.1 ${status} X\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: keep-alive\r\n\r\n${body}`;

/**
 * Answers request `request` of connection `connection` (both from 1) with `answer`'s bytes, or
 * resets the connection when `resets` holds for it.
 */
export async function resettingServer(
  answer: (connection: number, request: number) => string,
  resets: (connection: number, request: number) => boolean,
): Promise<ResettingServer> {
  const log: string[] = [];
  let connections = 0;
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    const connection = ++connections;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let head = '';
    let requests = 0;
    socket.on('data', (chunk) => {
      head += String(chunk);
      while (head.includes('\r\n\r\n')) {
        const [request] = head.split('\r\n\r\n', 1);
        head = head.slice(request!.length + 4);
        requests++;
        log.push(`connection ${connection} request ${requests}: ${request!.split(' ')[1]}`);
        if (resets(connection, requests)) return void socket.resetAndDestroy();
        socket.write(answer(connection, requests));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    log,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
