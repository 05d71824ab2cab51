import { describe, expect, it } from 'vitest';
import { toKyvernoInput } from '../../../../src/policy/kyverno/kyverno-input.js';

const request = {
  attributes: {
    request: {
      http: {
        method: 'GET',
        path: '/tools/./%6byv-secret;a?x=1',
        host: 'Admin.Example.com.:443',
        headers: { ':path': '/tools/./%6byv-secret;a?x=1', ':authority': 'Admin.Example.com.:443' },
      },
    },
  },
};

describe('toKyvernoInput', () => {
  describe('when given the normalised target', () => {
    const input = toKyvernoInput(request, { path: '/tools/kyv-secret?x=1', host: 'admin.example.com:443', headers: new Map(Object.entries(request.attributes.request.http.headers)) }) as any;

    it('shows policies the normalised path and host', () => {
      expect(input.request.http.path).toBe('/tools/kyv-secret?x=1');
      expect(input.request.http.host).toBe('admin.example.com:443');
    });

    it('keeps the raw spelling only in the pseudo-headers, for policies that ask for it', () => {
      expect(input.request.http.headers[':path']).toBe('/tools/./%6byv-secret;a?x=1');
      expect(input.request.http.headers[':authority']).toBe('Admin.Example.com.:443');
    });

    it('leaves an empty normal form out, as protojson leaves out empty fields', () => {
      const tcpLike = toKyvernoInput({ attributes: { request: { http: { method: 'GET', host: 'x' } } } }, { path: '', host: '', headers: new Map() }) as any;
      expect(tcpLike.request.http).toEqual({ method: 'GET' });
    });
  });

  describe('without a normalised target', () => {
    it('is the raw protobuf JSON', () => {
      const input = toKyvernoInput(request) as any;
      expect(input.request.http.path).toBe('/tools/./%6byv-secret;a?x=1');
    });
  });
});
