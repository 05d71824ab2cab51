import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpServer } from '../../src/http.js';
import { startGrpcServer } from '../../src/authz/grpc-server.js';
import type { CheckHandler } from '../../src/authz/check-handler.js';
import { ChioError, statusOf } from '../../src/errors/index.js';

// A second `chio up` (or any program) on a default port: Node's own "listen EADDRINUSE: address
// already in use 127.0.0.1:9092" names neither the setting nor what to do.
describe('a port that is taken', () => {
  let taken: Server;
  let port: number;
  beforeAll(async () => {
    taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', () => resolve()));
    port = (taken.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => taken.close(() => resolve())));

  it('an HTTP port: names its setting and how to choose another, a configuration error (exit 2)', async () => {
    const err = await startHttpServer({ bind: '127.0.0.1', port, log: pino({ level: 'silent' }), ready: () => undefined, portSetting: 'CHIO_LEDGER_PORT' }).catch((e) => e);
    expect(err).toBeInstanceOf(ChioError);
    expect(err.code).toBe('CONFIG_INVALID');
    expect(statusOf(err.code).exit).toBe(2);
    expect(err.message).toBe(`CHIO_LEDGER_PORT: port ${port} on 127.0.0.1 is already in use (another program, or another chio, listens there); set CHIO_LEDGER_PORT to a free port, or 0 for any free port`);
  });

  it('the gRPC port too', async () => {
    const handler = { check: async () => ({ status: { code: 0 } }) } as unknown as CheckHandler;
    const err = await startGrpcServer({ bind: '127.0.0.1', port, handler, ready: () => undefined, portSetting: 'CHIO_GRPC_PORT' }).catch((e) => e);
    expect(err).toBeInstanceOf(ChioError);
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toMatch(/^CHIO_GRPC_PORT: port \d+ on 127\.0\.0\.1 is already in use .*set CHIO_GRPC_PORT to a free port, or 0 for any free port$/);
  });
});
