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
});
