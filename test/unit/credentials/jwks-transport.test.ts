/**
 * A JWKS refetch over a kept-alive connection the issuer closed just as it was reused
 * (ECONNRESET, "other side closed"): it costs one more GET on a new connection, not the refresh.
 * Lost, it would deny a token signed with the issuer's new key until the next fetch may start
 * (minRefreshIntervalMs, 10 s by default).
 */
import { generateKeyPairSync } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { RemoteJwks, type RemoteJwksOptions } from '../../../src/credentials/jwks.js';
import { isChioError } from '../../../src/errors/index.js';
import { keepAliveAnswer, resettingServer } from '../../support/resetting-server.js';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

/** A JWKS of one Ed25519 key for each of `kids`. */
const jwksOf = (kids: string[]) =>
  JSON.stringify({ keys: kids.map((kid) => ({ ...generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' }), kid })) });

/** An issuer that serves the key `old` on its first request, `old` and `new` after (a rotation). */
async function rotatingIssuer(resets: (connection: number, request: number) => boolean) {
  let served = 0;
  const server = await resettingServer(() => keepAliveAnswer(200, jwksOf(++served === 1 ? ['old'] : ['old', 'new'])), resets);
  closers.push(server.close);
  return server;
}

/** The cache of `uri`, on a clock the test moves, so no wait stands between two fetches. */
function cacheOf(uri: string) {
  const clock = { now: 0 };
  const opts: RemoteJwksOptions = { fetchTimeoutMs: 5_000, cacheTtlMs: 60_000, minRefreshIntervalMs: 10_000, maxStaleMs: 3_600_000, now: () => clock.now, fetch };
  return { jwks: new RemoteJwks(`${uri}/jwks.json`, opts), clock };
}

const deadline = () => Date.now() + 5_000;
/** Lets fetch put the first connection back among its idle ones, as it has long done by a real refetch. */
const idle = () => new Promise((resolve) => setTimeout(resolve, 20));

describe('a JWKS refetch on a kept-alive connection reset as it is reused', () => {
  it('sends the GET once more, on a new connection, and finds the new key', async () => {
    const issuer = await rotatingIssuer((connection, request) => connection === 1 && request === 2);
    const { jwks, clock } = cacheOf(issuer.url);
    expect([...(await jwks.keysFor('old', deadline())).kids]).toEqual(['old']);
    await idle();
    clock.now += 10_000;
    expect([...(await jwks.keysFor('new', deadline())).kids]).toEqual(['old', 'new']);
    expect(issuer.log).toEqual(['connection 1 request 1: /jwks.json', 'connection 1 request 2: /jwks.json', 'connection 2 request 1: /jwks.json']);
  });

  it('sends it once more only: reset again, the fetch fails', async () => {
    const issuer = await rotatingIssuer((connection, request) => connection > 1 || request > 1);
    const { jwks, clock } = cacheOf(issuer.url);
    await jwks.keysFor('old', deadline());
    await idle();
    clock.now += 10_000;
    const err = await jwks.keysFor('new', deadline()).then(() => undefined, (e: unknown) => e);
    expect(isChioError(err, 'UNAVAILABLE')).toBe(true);
    expect(issuer.log).toEqual(['connection 1 request 1: /jwks.json', 'connection 1 request 2: /jwks.json', 'connection 2 request 1: /jwks.json']);
  });
});
