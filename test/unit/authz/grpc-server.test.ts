import { connect, type ClientHttp2Session, type Settings } from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_CHECK_REQUEST_ELEMENTS, MAX_CONCURRENT_STREAMS, MAX_HEADER_LIST_BYTES, startGrpcServer, type RunningGrpcServer } from '../../../src/authz/grpc-server.js';
import { frameMessage } from '../../../src/authz/grpc-protocol.js';
import type { CheckHandler } from '../../../src/authz/check-handler.js';

/** A field of wire type 2 (length-delimited) holding `body`. */
function field(n: number, body: Uint8Array): Buffer {
  const length: number[] = [];
  for (let v = body.length; ; v >>>= 7) {
    if (v < 128) {
      length.push(v);
      break;
    }
    length.push((v & 127) | 128);
  }
  return Buffer.concat([Buffer.from([(n << 3) | 2, ...length]), body]);
}

/** A CheckRequest whose http.header_map holds `n` empty HeaderValues (two bytes each). */
function emptyHeaders(n: number): Buffer {
  const headers = Buffer.alloc(2 * n);
  for (let i = 0; i < headers.length; i += 2) headers[i] = 0x0a;
  return field(1, field(4, field(2, field(13, headers))));
}

/** grpc-status of one Check sent as these bytes over raw HTTP/2. */
async function checkStatus(port: number, message: Uint8Array): Promise<{ status: number; message: string }> {
  const session: ClientHttp2Session = connect(`http://127.0.0.1:${port}`);
  session.on('error', () => undefined);
  try {
    return await new Promise((resolve, reject) => {
      const stream = session.request({ ':method': 'POST', ':path': '/envoy.service.auth.v3.Authorization/Check', 'content-type': 'application/grpc' });
      let headers: Record<string, unknown> = {};
      stream.on('response', (h) => (headers = { ...h }));
      stream.on('trailers', (t) => (headers = { ...headers, ...t }));
      stream.on('error', reject);
      stream.resume();
      stream.on('close', () => resolve({ status: Number(headers['grpc-status']), message: decodeURIComponent(String(headers['grpc-message'] ?? '')) }));
      stream.end(frameMessage(message));
    });
  } finally {
    session.close();
  }
}

describe('startGrpcServer', () => {
  let server: RunningGrpcServer;
  let handled = 0;
  beforeAll(async () => {
    const handler = {
      check: async () => {
        handled++;
        return { status: { code: 7 } };
      },
    } as unknown as CheckHandler;
    server = await startGrpcServer({ bind: '127.0.0.1', port: 0, handler, ready: () => undefined });
  });
  afterAll(() => server.stop());

  const settingsSeenByAClient = async (): Promise<Settings> => {
    const session: ClientHttp2Session = connect(`http://127.0.0.1:${server.port}`);
    try {
      return await new Promise<Settings>((resolve, reject) => {
        session.once('remoteSettings', resolve);
        session.once('error', reject);
      });
    } finally {
      session.close();
    }
  };

  describe('when a CheckRequest would decode to too many objects', () => {
    it('refuses it RESOURCE_EXHAUSTED before decoding: 4 MiB of empty headers once decoded to 640 MB', async () => {
      const before = handled;
      const refused = await checkStatus(server.port, emptyHeaders(2_000_000));
      expect(refused.status).toBe(8);
      expect(refused.message).toContain(`more than ${MAX_CHECK_REQUEST_ELEMENTS}`);
      expect(handled).toBe(before);
      // Up to the bound it is decoded and handled (the guards then deny past 512 headers).
      expect((await checkStatus(server.port, emptyHeaders(MAX_CHECK_REQUEST_ELEMENTS - 5))).status).toBe(0);
      expect(handled).toBe(before + 1);
    });

    it('answers INTERNAL to bytes that are no CheckRequest, as grpc-js does', async () => {
      const before = handled;
      expect(await checkStatus(server.port, Buffer.from([0x0a, 0x05, 0x22]))).toEqual({ status: 13, message: 'Error deserializing request' });
      expect(handled).toBe(before);
    });
  });

  describe('when a client connects', () => {
    it('advertises a bounded number of concurrent streams and a bounded header list', async () => {
      const settings = await settingsSeenByAClient();
      expect(settings.maxConcurrentStreams).toBe(MAX_CONCURRENT_STREAMS);
      expect(settings.maxHeaderListSize).toBe(MAX_HEADER_LIST_BYTES);
    });
  });
});
