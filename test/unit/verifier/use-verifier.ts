/** The verifier's routes on a loopback HTTP server, over a test store, for one describe. */
import { afterAll, beforeAll } from 'vitest';
import { verifierRoutes } from '../../../src/verifier/api.js';
import { startHttpServer, type RunningHttpServer } from '../../../src/http.js';
import { createLogger } from '../../../src/log.js';
import { newEd25519SignerKey } from '../../../src/tlog/index.js';
import { kernelOf } from '../receipt/helpers.js';
import type { StoreContext } from '../store/nats.js';
import type { KernelKeys } from '../../../src/receipt/kernel-trust.js';

export const ORIGIN = 'chio.test/verifier';
export const logKey = newEd25519SignerKey(ORIGIN, new Uint8Array(32).fill(6));
export const kernel = kernelOf(7);

export interface TestVerifier {
  get(path: string, init?: RequestInit): Promise<Response>;
  post(path: string, body: string, contentType?: string): Promise<Response>;
}

/** `exportKey`: the verifier key of export.pub, as a key directory that has one gives it; `kernelKeys`: the trust set, else `kernel` alone. */
export function useVerifier(store: StoreContext, opts: { exportKey?: string; kernelKeys?: KernelKeys } = {}): TestVerifier & { readonly port: number } {
  let http: RunningHttpServer | undefined;
  beforeAll(async () => {
    const routes = verifierRoutes({ js: store.js, jsm: store.jsm, resources: store.resources, logKey: logKey.verifierKey, kernelKeys: [kernel.verifierKey], ...opts });
    http = await startHttpServer({ bind: '127.0.0.1', port: 0, log: createLogger('silent'), ready: () => undefined, routes });
  });
  afterAll(() => http?.stop());
  const url = (path: string) => `http://127.0.0.1:${http!.port}${path}`;
  return {
    get port() {
      return http!.port;
    },
    get: (path, init) => fetch(url(path), init),
    post: (path, body, contentType = 'application/json') => fetch(url(path), { method: 'POST', body, headers: { 'content-type': contentType } }),
  };
}
