import { describe, expect, it } from 'vitest';
import { routeOf } from '../../../src/verifier/request-metrics.js';

describe('routeOf', () => {
  it.each([
    ['/checkpoint', 'checkpoint'],
    [`/v1/receipts/${'a'.repeat(64)}`, 'receipt'],
    [`/v1/receipts/${'a'.repeat(64)}/proof`, 'proof'],
    ['/v1/receipts/not-an-id', 'receipt'],
    ['/v1/consistency', 'consistency'],
    ['/v1/keys', 'keys'],
    ['/v1/policies/sha256:00', 'policy'],
    ['/v1/verify', 'verify'],
    ['/tile/0/000', 'tile'],
    ['/tile/entries/000.p/5', 'entries'],
    ['/', 'other'],
    ['/checkpoint/extra', 'other'],
    [`/${'x'.repeat(5000)}`, 'other'],
  ])('%s is %s', (path, route) => {
    expect(routeOf(path)).toBe(route);
  });

});
