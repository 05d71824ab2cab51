/**
 * A TCP proxy between an HTTP/2 client and a plain-text server that hands the client what the
 * server sends `delayMs` late: a network round trip, so that a client can open a stream after
 * the server's GOAWAY left and before it reads it. It also reads the server's frames as they
 * pass (type and payload), so that a test can see which GOAWAYs were sent.
 */
import { createServer, connect, type Socket } from 'node:net';

export interface ServerFrame {
  type: number;
  payload: Buffer;
}

/** HTTP/2 frame types (RFC 9113 §6). */
export const SETTINGS = 0x4;
export const PING = 0x6;
export const GOAWAY = 0x7;
/** last-stream-id of a GOAWAY frame's payload. */
export const lastStreamId = (frame: ServerFrame) => frame.payload.readUInt32BE(0) & 0x7fffffff;

/** A 'data' listener for a socket a server writes HTTP/2 to: each whole frame handed to `onFrame`. */
export function frameReader(onFrame: (frame: ServerFrame) => void): (data: Buffer) => void {
  let pending = Buffer.alloc(0);
  return (data) => {
    pending = Buffer.concat([pending, data]);
    // A frame: 3-byte length, type, flags, 4-byte stream id, then its payload.
    while (pending.length >= 9 && pending.length >= 9 + pending.readUIntBE(0, 3)) {
      const length = pending.readUIntBE(0, 3);
      onFrame({ type: pending[3]!, payload: pending.subarray(9, 9 + length) });
      pending = pending.subarray(9 + length);
    }
  };
}

export interface DelayProxy {
  port: number;
  /** Every frame the server sent, in order, as the proxy read it (before the delay). */
  frames: ServerFrame[];
  close(): void;
}

export function delayProxy(serverPort: number, delayMs: number): Promise<DelayProxy> {
  const frames: ServerFrame[] = [];
  const pairs = new Set<Socket>();
  const proxy = createServer((client) => {
    const server = connect(serverPort, '127.0.0.1');
    pairs.add(client).add(server);
    client.on('error', () => server.destroy());
    server.on('error', () => client.destroy());
    client.on('data', (d) => server.write(d));
    server.on('data', frameReader((frame) => frames.push(frame)));
    server.on('data', (d: Buffer) => setTimeout(() => client.writable && client.write(d), delayMs));
    client.on('close', () => server.destroy());
    server.on('close', () => setTimeout(() => client.destroy(), delayMs));
  });
  return new Promise((resolve) => {
    proxy.listen(0, '127.0.0.1', () =>
      resolve({
        port: (proxy.address() as { port: number }).port,
        frames,
        close: () => {
          for (const s of pairs) s.destroy();
          proxy.close();
        },
      }),
    );
  });
}
