/**
 * `chio check` when its Check gets no answer: the message names the --addr it tried and what
 * to look at (is Chio running, is that its gRPC port, TLS), as `chio prove` names the verifier
 * it could not reach, instead of grpc-js's "14 UNAVAILABLE: … Resolution note: ".
 */
import * as grpc from '@grpc/grpc-js';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { isChioError } from '../../../src/errors/index.js';
import { findFreePort } from '../../../src/nats/server.js';
import { chio } from '../../support/chio-cli.js';

/** What `chio check args…` was refused with. */
async function refusal(...args: string[]): Promise<Error> {
  try {
    await chio('check', '--method', 'POST', '--path', '/tools/hello', ...args);
  } catch (err) {
    return err as Error;
  }
  throw new Error('chio check answered');
}

describe('chio check without an answer', () => {
  let http: Server;
  let httpAddr: string;
  let grpcServer: grpc.Server;
  let grpcAddr: string;

  beforeAll(async () => {
    // Chio's own HTTP ports (/health, /metrics) are HTTP/1: what --addr 9090 reaches.
    http = createServer((_req, res) => res.end('{"status":"ok"}'));
    await new Promise<void>((done) => http.listen(0, '127.0.0.1', done));
    httpAddr = `127.0.0.1:${(http.address() as AddressInfo).port}`;
    // A gRPC server that serves something else (another service on a mesh port).
    grpcServer = new grpc.Server();
    const port = await new Promise<number>((done, fail) =>
      grpcServer.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? fail(err) : done(p))),
    );
    grpcAddr = `127.0.0.1:${port}`;
  });

  afterAll(async () => {
    await new Promise<void>((done) => http.close(() => done()));
    grpcServer.forceShutdown();
  });

  it('names the address, the setting and `chio up` when nothing listens there', async () => {
    const addr = `127.0.0.1:${await findFreePort()}`;
    const err = await refusal('--addr', addr);
    expect(isChioError(err) && err.code).toBe('UNAVAILABLE');
    expect(err.message).toMatch(new RegExp(`^cannot reach --addr ${addr} \\(.*ECONNREFUSED.*\\): is Chio running, is that Chio's authz gRPC port \\(CHIO_GRPC_PORT`));
    expect(err.message).toContain('`chio up` prints the --addr to use');
    expect(err.message).not.toContain('Resolution note');
  });

  it('says so when --addr is an HTTP port, not the gRPC one', async () => {
    const err = await refusal('--addr', httpAddr);
    expect(isChioError(err) && err.code).toBe('UNAVAILABLE');
    expect(err.message).toMatch(new RegExp(`^cannot reach --addr ${httpAddr} .*authz gRPC port`));
  });

  it('says so when a gRPC server there does not serve ext_authz', async () => {
    const err = await refusal('--addr', grpcAddr);
    expect(isChioError(err) && err.code).toBe('UNAVAILABLE');
    expect(err.message).toMatch(new RegExp(`^--addr ${grpcAddr} answered, but not as Envoy's ext_authz service .*: give Chio's authz gRPC port`));
  });

  // grpc-js took the whole URL for a host name: "Name resolution failed for target dns:http://…";
  // and it dials a target without a port on 443: `--addr localhost` tried 127.0.0.1:443.
  it.each([
    ['http://127.0.0.1:9091', 'host:port, without http:// (--addr 127.0.0.1:9091)'],
    ['HTTP://127.0.0.1:9091/', 'host:port, without http:// (--addr 127.0.0.1:9091)'],
    ['https://authz.example:443', 'host:port, without https:// (--addr authz.example:443 --tls-ca <ca.pem>)'],
    ['localhost', 'host:port, with the port (--addr localhost:9091)'],
    ['127.0.0.1', 'host:port, with the port (--addr 127.0.0.1:9091)'],
    ['[::1]', 'host:port, with the port (--addr [::1]:9091)'],
  ])('refuses --addr %s, a URL or a host without a port, with the host:port to give', async (addr, why) => {
    let said = '';
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((said += String(chunk)), true));
    try {
      // The parser's refusal ends the process (exit 1, as for any option it refuses), which vitest reports as thrown.
      await refusal('--addr', addr);
    } finally {
      stderr.mockRestore();
    }
    expect(said).toContain(`error: option '--addr <host:port>' argument '${addr}' is invalid. ${why}`);
  });
});
