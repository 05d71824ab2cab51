/**
 * What POST /v1/verify's JSON bodies may hold of a verifier, all requests together: each is
 * bounded (1 MiB), and so is their sum, so that many clients each sending most of a body and
 * then nothing more cannot hold a connection limit's worth of megabytes.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpServer, type RunningHttpServer } from '../../../src/http.js';
import { createLogger } from '../../../src/log.js';
import { newEd25519SignerKey } from '../../../src/tlog/index.js';
import { MAX_VERIFY_BODIES_HELD_BYTES, MAX_VERIFY_BODY_BYTES, verifyRoute } from '../../../src/verifier/verify-route.js';

const logKey = newEd25519SignerKey('chio.test/verify-limits', new Uint8Array(32).fill(6));
let http: RunningHttpServer | undefined;
const sockets: Socket[] = [];

beforeAll(async () => {
  http = await startHttpServer({ bind: '127.0.0.1', port: 0, log: createLogger('silent'), ready: () => undefined, routes: [verifyRoute({ logKey: logKey.verifierKey, kernelKeys: [] })] });
});
afterAll(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await http?.stop();
});

/** A connection that sends all of a 1 MiB JSON body but its last byte; resolves once it is sent. */
function stalledUpload(port: number): Promise<Socket> {
  const body = Buffer.alloc(MAX_VERIFY_BODY_BYTES - 1, ' ');
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(`POST /v1/verify HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${MAX_VERIFY_BODY_BYTES}\r\n\r\n`);
      socket.write(body, () => resolve(socket));
    });
    socket.on('error', () => undefined);
    sockets.push(socket);
  });
}

/** A request of 64 KiB: more than what the stalled uploads leave of the bound. */
const post = () => fetch(`http://127.0.0.1:${http!.port}/v1/verify`, { method: 'POST', body: `{"receipt":{}}${' '.repeat(64 * 1024)}`, headers: { 'content-type': 'application/json' } });

describe('POST /v1/verify with JSON bodies held open', () => {
  it('answers 503 with Retry-After once the bodies held together pass their bound, and 200 again once they are gone', async () => {
    const uploads = Math.ceil(MAX_VERIFY_BODIES_HELD_BYTES / (MAX_VERIFY_BODY_BYTES - 1));
    await Promise.all(Array.from({ length: uploads }, () => stalledUpload(http!.port)));
    // The server reads what the sockets sent at its own pace: ask until it has.
    let res = await post();
    for (let i = 0; i < 50 && res.status !== 503; i++) {
      await new Promise((r) => setTimeout(r, 100));
      res = await post();
    }
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(((await res.json()) as { code: string }).code).toBe('UNAVAILABLE');
    for (const s of sockets.splice(0)) s.destroy();
    await expect.poll(async () => (await post()).status, { timeout: 5_000 }).toBe(200);
  }, 30_000);
});
