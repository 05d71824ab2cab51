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
});
