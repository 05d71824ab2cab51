import { connect, type ClientHttp2Session, type Settings } from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_CONCURRENT_STREAMS, MAX_HEADER_LIST_BYTES, startGrpcServer, type RunningGrpcServer } from '../../../src/authz/grpc-server.js';
import type { CheckHandler } from '../../../src/authz/check-handler.js';

describe('startGrpcServer', () => {
  let server: RunningGrpcServer;
  beforeAll(async () => {
    const handler = { check: async () => ({ status: { code: 7 } }) } as unknown as CheckHandler;
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

  describe('when a client connects', () => {
    it('advertises a bounded number of concurrent streams and a bounded header list', async () => {
      const settings = await settingsSeenByAClient();
      expect(settings.maxConcurrentStreams).toBe(MAX_CONCURRENT_STREAMS);
      expect(settings.maxHeaderListSize).toBe(MAX_HEADER_LIST_BYTES);
    });
  });
});
