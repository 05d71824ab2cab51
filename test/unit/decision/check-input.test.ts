import { describe, expect, it } from 'vitest';
import { toCheckInput } from '../../../src/decision/check-input.js';

describe('toCheckInput', () => {
  const http = (id: string, headers: Record<string, string>) => ({ attributes: { request: { http: { id, method: 'GET', path: '/', host: 'a.example', headers } } } });

  it('takes the request id from x-request-id when Envoy left `id` empty (proto3 decodes an unset id as "")', () => {
    expect(toCheckInput(http('', { 'x-request-id': 'from-header' })).requestId).toBe('from-header');
  });

  it('prefers the id Envoy set', () => {
    expect(toCheckInput(http('envoy-id', { 'x-request-id': 'from-header' })).requestId).toBe('envoy-id');
    expect(toCheckInput(http('', {})).requestId).toBe('');
  });

  it.each([
    ['NUL', '\u0000'], ['CR', '\r'], ['LF', '\n'], ['VT (Bearer<VT>token reads as a token to a split() upstream)', '\u000b'], ['FF', '\u000c'], ['ESC', '\u001b'], ['DEL', '\u007f'],
  ])('refuses a header value with %s in it', (_name, c) => {
    expect(() => toCheckInput(http('', { authorization: `Bearer${c}eyJhbGciOiJub25lIn0.e30.` }))).toThrow(expect.objectContaining({ code: 'REQUEST_MALFORMED', message: 'a header has an empty name or a control character' }));
  });

  it('takes a header value with a tab, spaces and non-ASCII text (RFC 9110 field-value)', () => {
    expect(toCheckInput(http('', { 'x-a': 'a\tb c', 'x-b': 'café' })).headers.get('x-a')).toBe('a\tb c');
  });

  // The reasons and docs/api.md say bytes: counted as UTF-16 units, 16,384 × 'é' was 32 KiB of path taken.
  it('counts its bounds in UTF-8 bytes, as its reasons say', () => {
    const refused = (req: unknown) => () => toCheckInput(req as Parameters<typeof toCheckInput>[0]);
    const path = `/${'é'.repeat(8192)}`;
    expect(refused({ attributes: { request: { http: { method: 'GET', path, host: 'a.example' } } } })).toThrow('path longer than 16384 bytes');
    expect(refused(http('', { 'x-a': 'é'.repeat(50_000) }))).toThrow('headers larger than 98304 bytes');
    expect(refused({ attributes: { source: { principal: `spiffe://${'é'.repeat(600)}` }, request: { http: { method: 'GET', path: '/', host: 'a.example' } } } })).toThrow('source principal longer than 1024 bytes');
    expect(toCheckInput({ attributes: { request: { http: { method: 'GET', path: `/${'é'.repeat(8191)}`, host: 'a.example' } } } }).rawPath.length).toBe(8192);
  });
});
