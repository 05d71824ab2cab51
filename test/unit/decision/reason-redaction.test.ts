import { describe, expect, it } from 'vitest';
import { toCheckInput } from '../../../src/decision/check-input.js';
import { buildCheckRequest } from '../../../src/cli/envoy-request.js';
import { redactRequestSecrets } from '../../../src/decision/reason-redaction.js';

const input = (path: string, headers: Record<string, string> = {}) => toCheckInput(buildCheckRequest({ method: 'GET', host: 'h.example', path, headers }));

describe('redactRequestSecrets', () => {
  it('redacts a query value quoted alone, as sent and decoded', () => {
    const i = input('/cb?code=4%2F0AbCdEf&state=xyz');
    expect(redactRequestSecrets('code 4%2F0AbCdEf or 4/0AbCdEf refused', i)).toBe('code [redacted] or [redacted] refused');
  });
  it('redacts one cookie of several, and the token after an auth scheme', () => {
    const i = input('/', { cookie: 'theme=dark; sid=s3ss10n-id-42', 'x-auth-token': 'Token tok-123456789' });
    expect(redactRequestSecrets('sid s3ss10n-id-42, token tok-123456789', i)).toBe('sid [redacted], token [redacted]');
  });
  it("redacts a header a JWT rule reads, whatever its name", () => {
    const i = input('/', { 'x-user': 'eyJhbGciOi.payload.sig' });
    expect(redactRequestSecrets('user eyJhbGciOi.payload.sig', i, ['x-user'])).toBe('user [redacted]');
    expect(redactRequestSecrets('user eyJhbGciOi.payload.sig', i)).toBe('user eyJhbGciOi.payload.sig');
  });
  it('redacts the start of a secret a bound cut the reason at', () => {
    const i = input('/', { 'x-api-key': 'sk_live_abcdefghijklmnop' });
    expect(redactRequestSecrets('bad key sk_live_abcdef', i)).toBe('bad key [redacted]');
  });
  it('leaves short values, plain headers and the path', () => {
    const i = input('/items?page=2&debug=true', { 'x-tenant': 'acme-corp', 'x-api-key': 'short' });
    expect(redactRequestSecrets('page 2 of /items for acme-corp (short, true)', i)).toBe('page 2 of /items for acme-corp (short, true)');
  });
  it('redacts within a cookie of thousands of parts (the most a request holds)', () => {
    const cookie = Array.from({ length: 5000 }, (_, n) => `c${n}=v${String(n).padStart(6, '0')}`).join('; ');
    const i = input('/', { cookie });
    expect(redactRequestSecrets('c4999=v004999 and v000001', i)).toBe('c4999=[redacted] and [redacted]');
  });
});
