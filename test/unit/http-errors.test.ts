import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TimeoutError, NoRespondersError } from '@nats-io/transport-node';
import { startHttpServer, type RunningHttpServer } from '../../src/http.js';
import { createLogger } from '../../src/log.js';

// A route that throws what a failed NATS read throws, and one that throws a plain fault.
let http: RunningHttpServer;
beforeAll(async () => {
  http = await startHttpServer({
    bind: '127.0.0.1', port: 0, log: createLogger('silent'), ready: () => undefined,
    routes: [
      (_req, _res, url) => {
        if (url.pathname === '/timeout') throw new TimeoutError();
        if (url.pathname === '/no-responders') throw new NoRespondersError('$JS.API.STREAM.MSG.GET.X');
        if (url.pathname === '/electing') throw Object.assign(new Error('jetstream is not enabled'), { name: 'JetStreamNotEnabled' });
        if (url.pathname === '/fault') throw new TypeError('x is undefined');
        return false;
      },
    ],
  });
});
afterAll(() => http.stop());

const get = (path: string) => fetch(`http://127.0.0.1:${http.port}${path}`);

describe('an HTTP handler that fails', () => {
  it('answers 503 with Retry-After when NATS cannot answer now (timeout, no responders, leader election)', async () => {
    for (const path of ['/timeout', '/no-responders', '/electing']) {
      const res = await get(path);
      expect(res.status, path).toBe(503);
      expect(res.headers.get('retry-after')).toBe('1');
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(await res.json()).toEqual({ error: 'the store is unavailable; try again shortly', code: 'UNAVAILABLE' });
    }
  });

  it('answers 500 without the message for any other fault', async () => {
    const res = await get('/fault');
    expect(res.status).toBe(500);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await res.json()).toEqual({ error: 'internal error', code: 'INTERNAL' });
  });
});
