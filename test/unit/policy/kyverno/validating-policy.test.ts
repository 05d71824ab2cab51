import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadChioProtos } from '../../../../src/authz/proto.js';
import { compileValidatingPolicy, toKyvernoInput, validatingPolicySchema } from '../../../../src/policy/kyverno/validating-policy.js';
import type { CheckRequest } from '../../../../src/authz/wire.js';
import { ChioError } from '../../../../src/errors/index.js';

// The two policies of the kyverno-envoy-plugin Istio tutorial, as written there.
const TESTAPP_1 = parse(`
apiVersion: json.kyverno.io/v1alpha1
kind: ValidatingPolicy
metadata:
  name: test-policy
spec:
  rules:
    - name: deny-external-calls-testapp-1
      match:
        any:
        - request:
            http:
                host: 'testapp-1.demo.svc.cluster.local:8080'
      assert:
        all:
        - message: "The GET method is restricted to the /book path."
          check:
            request:
                http:
                    method: 'GET'
                    path: '/book'
`);
const TESTAPP_2 = parse(`
apiVersion: json.kyverno.io/v1alpha1
kind: ValidatingPolicy
metadata:
  name: test-policy
spec:
  rules:
    - name: deny-external-calls-testapp-2
      match:
        any:
        - request:
            http:
                host: 'testapp-2.demo.svc.cluster.local:8080'
      assert:
        all:
        - message: "The GET method is restricted to the /movies path."
          check:
            request:
                http:
                    method: 'GET'
                    path: '/movie'
`);

// The tutorial's example input: the AttributeContext of a GET /movie to testapp-2, in protobuf JSON.
const TUTORIAL_INPUT = {
  source: { address: { socketAddress: { address: '10.244.0.71', portValue: 33880 } } },
  destination: { address: { socketAddress: { address: '10.244.0.65', portValue: 8080 } } },
  request: {
    time: '2024-05-20T07:52:01.566887Z',
    http: {
      id: '5415544797791892902',
      method: 'GET',
      headers: {
        ':authority': 'testapp-2.demo.svc.cluster.local:8080',
        ':method': 'GET',
        ':path': '/movie',
        ':scheme': 'http',
        'user-agent': 'Wget',
        'x-forwarded-proto': 'http',
        'x-request-id': 'a3ad9f03-c9cd-4eab-97d1-83e90e0cee1b',
      },
      path: '/movie',
      host: 'testapp-2.demo.svc.cluster.local:8080',
      scheme: 'http',
      protocol: 'HTTP/1.1',
    },
  },
  metadataContext: {},
  routeMetadataContext: {},
};

/** The same request as Envoy sends it, in the snake_case object form Chio's gRPC server decodes. */
function tutorialCheckRequest(overrides: { method?: string; path?: string; host?: string } = {}): CheckRequest {
  const host = overrides.host ?? 'testapp-2.demo.svc.cluster.local:8080';
  const method = overrides.method ?? 'GET';
  const path = overrides.path ?? '/movie';
  return roundTrip({
    attributes: {
      source: { address: { socket_address: { address: '10.244.0.71', port_value: 33880 } } },
      destination: { address: { socket_address: { address: '10.244.0.65', port_value: 8080 } } },
      request: {
        time: { seconds: String(Date.parse('2024-05-20T07:52:01Z') / 1000), nanos: 566_887_000 },
        http: {
          id: '5415544797791892902',
          method,
          headers: { ':authority': host, ':method': method, ':path': path, ':scheme': 'http', 'user-agent': 'Wget', 'x-forwarded-proto': 'http', 'x-request-id': 'a3ad9f03-c9cd-4eab-97d1-83e90e0cee1b' },
          path,
          host,
          scheme: 'http',
          protocol: 'HTTP/1.1',
        },
      },
      metadata_context: {},
      route_metadata_context: {},
    },
  });
}

const check = (loadChioProtos().authorizationService as unknown as Record<string, { requestSerialize(v: unknown): Buffer; requestDeserialize(b: Buffer): unknown }>).Check!;

/** Encode and decode with the real protos: the exact object shape the Check handler receives. */
function roundTrip(request: unknown): CheckRequest {
  return check.requestDeserialize(check.requestSerialize(request)) as CheckRequest;
}

function policy(rules: unknown[]) {
  return { apiVersion: 'json.kyverno.io/v1alpha1', kind: 'ValidatingPolicy', metadata: { name: 'p' }, spec: { rules } };
}

const hostIs = (host: string) => ({ request: { http: { host } } });
const methodIs = (method: string) => ({ request: { http: { method } } });
const ALWAYS = { all: [{ check: { request: {} } }] };

function compileError(doc: unknown): ChioError {
  try {
    compileValidatingPolicy(doc);
  } catch (err) {
    expect(err).toBeInstanceOf(ChioError);
    expect((err as ChioError).code).toBe('CONFIG_INVALID');
    return err as ChioError;
  }
  throw new Error('expected a CONFIG_INVALID error');
}

describe('toKyvernoInput', () => {
  describe('when given the tutorial request as Envoy sends it', () => {
    it('produces the tutorial\'s example JSON exactly', () => {
      expect(JSON.parse(JSON.stringify(toKyvernoInput(tutorialCheckRequest())))).toStrictEqual(TUTORIAL_INPUT);
    });
  });

  describe('when fields need the protobuf JSON mapping', () => {
    it('renders int64 as a string, bytes as base64, enums by name and Struct as JSON', () => {
      const input = toKyvernoInput(
        roundTrip({
          attributes: {
            source: { address: { socket_address: { protocol: 1, address: '::1', port_value: 53 } }, labels: { app: 'a' } },
            request: { http: { size: '42', raw_body: Buffer.from('hi'), header_map: { headers: [{ key: 'k', raw_value: Buffer.from('v') }] } } },
            context_extensions: { virtual_host: 'vh' },
            metadata_context: { filter_metadata: { 'envoy.jwt': { fields: { sub: { stringValue: 'alice' }, n: { numberValue: 0 }, ok: { boolValue: false }, none: { nullValue: 0 }, l: { listValue: { values: [{ structValue: { fields: { x: { numberValue: 1 } } } }] } } } } } },
          },
        }),
      );
      expect(JSON.parse(JSON.stringify(input))).toStrictEqual({
        source: { address: { socketAddress: { protocol: 'UDP', address: '::1', portValue: 53 } }, labels: { app: 'a' } },
        request: { http: { size: '42', rawBody: 'aGk=', headerMap: { headers: [{ key: 'k', rawValue: 'dg==' }] } } },
        contextExtensions: { virtual_host: 'vh' },
        metadataContext: { filterMetadata: { 'envoy.jwt': { sub: 'alice', n: 0, ok: false, none: null, l: [{ x: 1 }] } } },
      });
    });

    it('is {} for a request without attributes, and has no request.http for a TCP check', () => {
      expect(toKyvernoInput(undefined)).toEqual({});
      expect(toKyvernoInput(roundTrip({}))).toEqual({});
      expect(JSON.parse(JSON.stringify(toKyvernoInput(roundTrip({ attributes: { source: { principal: 'spiffe://a' } } }))))).toStrictEqual({ source: { principal: 'spiffe://a' } });
    });

    it('keeps header names such as __proto__ and constructor as plain data', () => {
      // JSON.parse makes __proto__ an own property, as a decoded protobuf map does.
      const sent = JSON.parse('{"__proto__": "x", "constructor": "y"}') as Record<string, string>;
      const input = toKyvernoInput({ attributes: { request: { http: { headers: sent } } } });
      const headers = (input.request as { http: { headers: Record<string, string> } }).http.headers;
      expect(Object.keys(headers)).toEqual(['__proto__', 'constructor']);
      expect(Object.getPrototypeOf(headers)).toBeNull();
      const p = compileValidatingPolicy(policy([{ name: 'r', assert: { all: [{ check: { request: { http: { headers: JSON.parse('{"__proto__": "x"}') } } } }] } }]));
      expect(p.evaluate(input)).toMatchObject({ verdict: 'allow' });
    });
  });

  describe('when the request is hostile', () => {
    it('refuses a huge header map with MALFORMED', () => {
      const headers = Object.fromEntries(Array.from({ length: 100_000 }, (_, i) => [`h${i}`, 'v']));
      expect(() => toKyvernoInput({ attributes: { request: { http: { headers } } } })).toThrow(expect.objectContaining({ code: 'MALFORMED' }));
    });

    it('refuses deeply nested metadata with MALFORMED', () => {
      let value: unknown = { stringValue: 'x' };
      for (let i = 0; i < 10_000; i++) value = { structValue: { fields: { a: value } } };
      const req = { attributes: { metadata_context: { filter_metadata: { f: { fields: { a: value } } } } } } as unknown as CheckRequest;
      expect(() => toKyvernoInput(req)).toThrow(expect.objectContaining({ code: 'MALFORMED' }));
    });

    it('refuses an out-of-range timestamp with MALFORMED', () => {
      const req = { attributes: { request: { time: { seconds: '99999999999999', nanos: 0 } } } } as unknown as CheckRequest;
      expect(() => toKyvernoInput(req)).toThrow(expect.objectContaining({ code: 'MALFORMED' }));
    });
  });
});

describe('compileValidatingPolicy', () => {
  describe('when evaluating the tutorial policies', () => {
    const testapp1 = compileValidatingPolicy(TESTAPP_1);
    const testapp2 = compileValidatingPolicy(TESTAPP_2);
    const to = (host: string, method: string, path: string) => toKyvernoInput(tutorialCheckRequest({ host: `${host}.demo.svc.cluster.local:8080`, method, path }));

    it('allows GET /book to testapp-1', () => {
      expect(testapp1.evaluate(to('testapp-1', 'GET', '/book'))).toEqual({ matched: true, rule: 'deny-external-calls-testapp-1', verdict: 'allow' });
    });

    it('denies GET /movie to testapp-1 with the policy\'s message', () => {
      expect(testapp1.evaluate(to('testapp-1', 'GET', '/movie'))).toMatchObject({
        matched: true,
        rule: 'deny-external-calls-testapp-1',
        verdict: 'deny',
        message: 'The GET method is restricted to the /book path.',
        failures: [{ path: 'request.http.path', reason: 'expected "/book", got "/movie"' }],
      });
    });

    it('denies POST /book to testapp-1', () => {
      expect(testapp1.evaluate(to('testapp-1', 'POST', '/book'))).toMatchObject({ verdict: 'deny', message: 'The GET method is restricted to the /book path.' });
    });

    it('allows GET /movie to testapp-2, on the converted request and on the tutorial JSON', () => {
      const allowed = { matched: true, rule: 'deny-external-calls-testapp-2', verdict: 'allow' };
      expect(testapp2.evaluate(to('testapp-2', 'GET', '/movie'))).toEqual(allowed);
      expect(testapp2.evaluate(TUTORIAL_INPUT)).toEqual(allowed);
    });

    it('does not match a request to another host, nor a TCP check', () => {
      expect(testapp1.evaluate(to('testapp-2', 'GET', '/movie'))).toEqual({ matched: false });
      expect(testapp2.evaluate(to('other', 'DELETE', '/'))).toEqual({ matched: false });
      expect(testapp1.evaluate(toKyvernoInput(roundTrip({ attributes: { source: { principal: 'a' } } })))).toEqual({ matched: false });
    });
  });

  describe('when match has any and all', () => {
    const input = toKyvernoInput(tutorialCheckRequest({ host: 'a', method: 'GET' }));
    it.each([
      ['any: one tree holds', { any: [hostIs('b'), hostIs('a')] }, true],
      ['any: no tree holds', { any: [hostIs('b'), hostIs('c')] }, false],
      ['all: every tree holds', { all: [hostIs('a'), methodIs('GET')] }, true],
      ['all: one tree fails', { all: [hostIs('a'), methodIs('POST')] }, false],
      ['any and all: both hold', { any: [hostIs('a')], all: [methodIs('GET')] }, true],
      ['any and all: all fails', { any: [hostIs('a')], all: [methodIs('POST')] }, false],
      ['any and all: any fails', { any: [hostIs('b')], all: [methodIs('GET')] }, false],
    ])('%s', (_, match, matched) => {
      expect(compileValidatingPolicy(policy([{ name: 'r', match, assert: ALWAYS }])).evaluate(input).matched).toBe(matched);
    });
  });

  describe('when a rule has exclude', () => {
    it('does not apply to an excluded request', () => {
      const p = compileValidatingPolicy(policy([{ name: 'r', match: { any: [hostIs('a')] }, exclude: { any: [{ request: { http: { headers: { 'user-agent': 'Wget' } } } }] }, assert: { all: [{ check: methodIs('POST') }] } }]));
      expect(p.evaluate(toKyvernoInput(tutorialCheckRequest({ host: 'a' })))).toEqual({ matched: false });
      expect(p.evaluate({ request: { http: { host: 'a', method: 'GET', headers: {} } } })).toMatchObject({ verdict: 'deny' });
    });
  });

  describe('when a rule uses assert.any', () => {
    const p = compileValidatingPolicy(
      policy([{ name: 'reads', assert: { any: [{ message: 'only GET or HEAD', check: methodIs('GET') }, { message: 'second', check: methodIs('HEAD') }] } }]),
    );
    it('allows when one check holds', () => {
      expect(p.evaluate({ request: { http: { method: 'HEAD' } } })).toEqual({ matched: true, rule: 'reads', verdict: 'allow' });
    });

    it('denies with the first failing message when none holds', () => {
      expect(p.evaluate({ request: { http: { method: 'PUT' } } })).toMatchObject({ verdict: 'deny', message: 'only GET or HEAD' });
    });
  });

  describe('when checks use projections and foreach', () => {
    const p = compileValidatingPolicy(
      policy([
        {
          name: 'headers',
          assert: {
            all: [
              { message: 'headers required', check: { request: { http: { '(length(headers) > `0`)': true } } } },
              { message: 'no header over 64 bytes', check: { request: { http: { '~.(values(headers))': { '(length(@) <= `64`)': true } } } } },
              { message: 'internal host only', check: { request: { http: { "(wildcard('*.svc.cluster.local:*', host))": true } } } },
            ],
          },
        },
      ]),
    );
    it('allows the tutorial request', () => {
      expect(p.evaluate(TUTORIAL_INPUT)).toMatchObject({ verdict: 'allow' });
    });

    it('denies with the failing assertion\'s message', () => {
      expect(p.evaluate({ request: { http: { headers: {}, host: 'x.svc.cluster.local:80' } } })).toMatchObject({ verdict: 'deny', message: 'headers required' });
      expect(p.evaluate({ request: { http: { headers: { a: 'x'.repeat(65) }, host: 'x.svc.cluster.local:80' } } })).toMatchObject({ message: 'no header over 64 bytes' });
      expect(p.evaluate({ request: { http: { headers: { a: 'x' }, host: 'example.com' } } })).toMatchObject({ message: 'internal host only' });
    });
  });

  describe('when a policy has several rules', () => {
    const p = compileValidatingPolicy(
      policy([
        { name: 'books', match: { any: [{ request: { http: { path: '/book' } } }] }, assert: { all: [{ check: methodIs('GET') }] } },
        { name: 'anything', assert: ALWAYS },
      ]),
    );
    it('denies when any applying rule fails, with a generated message naming the rule', () => {
      expect(p.evaluate({ request: { http: { path: '/book', method: 'POST' } } })).toMatchObject({
        matched: true,
        rule: 'books',
        verdict: 'deny',
        message: 'denied by ValidatingPolicy p rule books',
      });
    });

    it('allows by the first applying rule otherwise', () => {
      expect(p.evaluate({ request: { http: { path: '/book', method: 'GET' } } })).toEqual({ matched: true, rule: 'books', verdict: 'allow' });
      expect(p.evaluate({ request: { http: { path: '/movie' } } })).toEqual({ matched: true, rule: 'anything', verdict: 'allow' });
    });
  });

  describe('when a tree cannot be evaluated', () => {
    it('denies (fail closed) in match and in assert', () => {
      const typeMismatch = { request: { http: { method: 5 } } };
      const inMatch = compileValidatingPolicy(policy([{ name: 'm', match: { any: [typeMismatch] }, assert: ALWAYS }]));
      const inAssert = compileValidatingPolicy(policy([{ name: 'a', assert: { all: [{ message: 'x', check: typeMismatch }] } }]));
      const input = { request: { http: { method: 'GET' } } };
      expect(inMatch.evaluate(input)).toMatchObject({ verdict: 'deny', message: 'ValidatingPolicy p rule m could not be evaluated', failures: [{ path: 'request.http.method' }] });
      expect(inAssert.evaluate(input)).toMatchObject({ verdict: 'deny', message: 'ValidatingPolicy p rule a could not be evaluated' });
    });

    it('denies quickly when the input is too big to check', () => {
      const p = compileValidatingPolicy(policy([{ name: 'r', assert: { all: [{ check: { '~.items': { '(@ >= `0`)': true } } }] } }]));
      const started = Date.now();
      expect(p.evaluate({ items: Array.from({ length: 1_000_000 }, (_, i) => i) })).toMatchObject({ verdict: 'deny' });
      expect(Date.now() - started).toBeLessThan(5000);
    });
  });

  describe('when the document is malformed', () => {
    it.each([
      ['a wrong apiVersion', { ...policy([]), apiVersion: 'kyverno.io/v1' }, 'apiVersion'],
      ['an unknown spec field', { ...policy([]), spec: { rules: [], extra: 1 } }, 'spec'],
      ['a rule field Chio does not support', policy([{ name: 'r', context: [], assert: ALWAYS }]), 'spec.rules.0'],
      ['a rule without assert', policy([{ name: 'r' }]), 'spec.rules.0.assert'],
      ['an empty match', policy([{ name: 'r', match: {}, assert: ALWAYS }]), 'spec.rules.0.match'],
      ['an empty assert', policy([{ name: 'r', assert: { all: [] } }]), 'spec.rules.0.assert'],
      ['a check that is not an object', policy([{ name: 'r', assert: { all: [{ check: [1] }] } }]), 'spec.rules.0.assert.all.0.check'],
      ['a rule name over 63 characters', policy([{ name: 'r'.repeat(64), assert: ALWAYS }]), 'spec.rules.0.name'],
      ['a duplicate rule name', policy([{ name: 'r', assert: ALWAYS }, { name: 'r', assert: ALWAYS }]), 'spec.rules.1.name'],
    ])('refuses %s', (_, doc, field) => {
      expect(compileError(doc).message).toContain(`field ${field}`);
      expect(validatingPolicySchema.safeParse(doc).success).toBe(false);
    });

    it('refuses a bad JMESPath expression, naming the rule, the list and the key', () => {
      const err = compileError(policy([{ name: 'r', assert: { all: [{ check: { request: { '(length(@) >)': true } } }] } }]));
      expect(err.message).toContain('ValidatingPolicy p: spec.rules[0].assert.all[0].check: request.(length(@) >): bad JMESPath expression');
    });

    it('refuses a tree over the size bounds', () => {
      let deep: unknown = 'x';
      for (let i = 0; i < 40; i++) deep = { a: deep };
      expect(compileError(policy([{ name: 'r', match: { any: [deep as object] }, assert: ALWAYS }])).message).toContain('spec.rules[0].match.any[0]');
    });
  });
});

// Found by a review against kyverno-json (go-jmespath, pkg/engine/assert): each an allow where
// kyverno-json denies.
describe('compileValidatingPolicy where kyverno-json denies', () => {
  const policyOf = (rules: string) => compileValidatingPolicy(parse(`
apiVersion: json.kyverno.io/v1alpha1
kind: ValidatingPolicy
metadata: { name: review }
spec:
  rules:
${rules}`));
  const req = (headers: Record<string, string>, method = 'GET') => ({ request: { http: { method, host: 'api.local', path: '/x', headers } } });

  describe('to_number reads a string as Go strconv.ParseFloat does, null otherwise', () => {
    const limit = policyOf(`
  - name: amount-limit
    assert:
      all:
      - message: amount over limit
        check:
          request:
            http:
              headers:
                (to_number("x-amount") <= \`100\`): true
`);
    it.each(['', '   ', '0x10', '0b1', '\t7\n', '1e400', '1_0'])('denies x-amount=%j', (amount) => {
      expect(limit.evaluate(req({ 'x-amount': amount }))).toMatchObject({ verdict: 'deny' });
    });
    it.each(['7', '+7', '-1e2', '.5', '100', '1E1'])('allows x-amount=%j', (amount) => {
      expect(limit.evaluate(req({ 'x-amount': amount }))).toMatchObject({ verdict: 'allow' });
    });
  });

  describe('past 16 failures, evaluation goes on and still finds an error', () => {
    const p = policyOf(`
  - name: restrict-writes
    match:
      all:
      - request:
          http:
            headers:
              ~.(values(@)): 'internal'
              x-port: 8080
    assert:
      all:
      - message: only GET
        check:
          request: { http: { method: GET } }
  - name: allow-rest
    assert:
      all:
      - check: { request: { http: { host: api.local } } }
`);
    const headers = (n: number) => ({ ...Object.fromEntries(Array.from({ length: n }, (_, i) => [`h${i}`, 'x'])), 'x-port': '8080' });
    it.each([14, 16, 40])('denies with %i failing headers before the one that errs', (n) => {
      expect(p.evaluate(req(headers(n), 'POST'))).toMatchObject({ verdict: 'deny' });
    });
  });
});
