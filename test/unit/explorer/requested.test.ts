/** What the explorer's messages name: the path the browser requested, resolved against the page's address. */
import { describe, expect, it } from 'vitest';
import { describeAnswer, requestedPath } from '../../../src/explorer/requested.js';

describe('requestedPath', () => {
  it("names the verifier's path when the page is the verifier's root", () => {
    expect(requestedPath('v1/keys', 'http://127.0.0.1:9093/?id=ab')).toBe('/v1/keys');
  });

  describe('when a gateway serves the verifier under a prefix', () => {
    it('names the path under the prefix, which is what the browser asked the gateway for', () => {
      expect(requestedPath('v1/keys', 'https://gw.example/chio/?id=ab&log_key=x')).toBe('/chio/v1/keys');
      expect(requestedPath('tile/entries/000.p/3', 'https://gw.example/a/chio/')).toBe('/a/chio/tile/entries/000.p/3');
    });

    it('names the path outside the prefix when the page was opened without its trailing slash', () => {
      expect(requestedPath('checkpoint', 'https://gw.example/chio')).toBe('/checkpoint');
    });
  });

  it('keeps a query the page asked with', () => {
    expect(requestedPath('v1/receipts/ab?x=1', 'https://gw.example/chio/')).toBe('/chio/v1/receipts/ab?x=1');
  });
});

describe('describeAnswer', () => {
  it('says the request as the browser made it, its status and the error the answer gave', () => {
    expect(describeAnswer('v1/keys', 'https://gw.example/chio/', { status: 502 })).toBe('GET /chio/v1/keys answered 502');
    expect(describeAnswer('v1/receipts/ab', 'https://gw.example/chio/', { status: 404, body: { error: 'no receipt ab' } })).toBe('GET /chio/v1/receipts/ab answered 404: no receipt ab');
  });

  it('leaves out an error that is not text', () => {
    expect(describeAnswer('checkpoint', 'http://h/', { status: 500, body: { error: { nested: 1 } } })).toBe('GET /checkpoint answered 500');
    expect(describeAnswer('checkpoint', 'http://h/', { status: 500, body: null })).toBe('GET /checkpoint answered 500');
  });
});
