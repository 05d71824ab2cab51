import { describe, expect, it } from 'vitest';
import { toCheckInput } from '../../../src/decision/check-input.js';
import { buildCheckRequest } from '../../../src/cli/envoy-request.js';
import { MIN_SECRET_CHARS, REDACTED, redactRequestSecrets } from '../../../src/decision/reason-redaction.js';

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
    const i = input('/', { 'x-user': 'opaque-handle-4c7e' });
    expect(redactRequestSecrets('user opaque-handle-4c7e', i, ['x-user'])).toBe('user [redacted]');
    expect(redactRequestSecrets('user opaque-handle-4c7e', i)).toBe('user opaque-handle-4c7e');
  });
  it('redacts a JWT (JWS or JWE) in any header, alone or as a part, and leaves what only begins like one', () => {
    const jws = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl';
    const jwe = 'eyJhbGciOiJSU0EtT0FFUCJ9.a2V5.aXY.Y2lwaGVy.dGFn';
    const i = input('/', { 'x-amzn-oidc-data': jws, 'x-forwarded': `for=1.2.3.4; id=${jwe}`, 'x-name': 'eyJust-a-name.v2' });
    expect(redactRequestSecrets(`oidc ${jws} id ${jwe} name eyJust-a-name.v2`, i)).toBe('oidc [redacted] id [redacted] name eyJust-a-name.v2');
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
  it('redacts the reason as the request made it, never inside its own [redacted] marks', () => {
    const i = input('/', { cookie: 'sid=k0000001; x=redact' });
    expect(redactRequestSecrets('sid k0000001', i)).toBe('sid [redacted]');
  });
  it('redacts the whole of two secrets that overlap in the reason', () => {
    const i = input('/', { 'x-api-key': 'AAAAAAAABBBBBBBB,BBBBBBBBCCCCCCCC' });
    expect(redactRequestSecrets('key AAAAAAAABBBBBBBBCCCCCCCC', i)).toBe('key [redacted]');
  });
  it('never grows a reason past one mark per secret-sized piece, whatever pieces of [redacted] the request sends', () => {
    // Replaced one after the other, each secret matched inside the marks the ones before left:
    // a 1.7 kB header of such pieces made a 1 kB reason 31 million characters (11 s of CPU).
    const marks = `${REDACTED}${REDACTED}`;
    const pieces = new Set(Array.from({ length: marks.length - MIN_SECRET_CHARS + 1 }, (_, n) => marks.slice(n, n + MIN_SECRET_CHARS)));
    const i = input('/', { 'x-api-key': ['k0000001', ...pieces].join(',') });
    const reason = 'key k0000001 '.repeat(70);
    expect(redactRequestSecrets(reason, i)).toBe('key [redacted] '.repeat(70));
  });
});
