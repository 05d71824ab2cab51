/** cel-go's encoders extension (base64.encode, base64.decode) in policies written as for kyverno-authz. */
import { describe, expect, it } from 'vitest';
import { answerOf, compile, policy, request } from '../../../support/cel-policies.js';

// Basic credentials: the user name before the colon, decoded from the authorization header.
const BASIC_USER = compile(policy(`  variables:
  - name: credentials
    expression: object.attributes.request.http.headers[?"authorization"].orValue("Basic ").substring(6)
  - name: user
    expression: string(base64.decode(variables.credentials)).split(":")[0]
  validations:
  - expression: >-
      variables.user == "alice"
        ? envoy.Allowed().WithHeader("x-user-b64", base64.encode(bytes(variables.user))).Response()
        : envoy.Denied(401).WithHeader("www-authenticate", "Basic").Response()
`));
const basic = (credentials: string) => BASIC_USER.evaluate(request({ authorization: `Basic ${credentials}` }));

describe('base64.decode', () => {
  it('decodes standard base64, padded or not, skipping CR and LF as Go does', () => {
    for (const credentials of ['YWxpY2U6czNjcmV0', 'YWxpY2U6cw==', 'YWxpY2U6cw', 'YWxpY2U6\r\ncw==']) {
      expect(answerOf(basic(credentials)), credentials).toMatchObject({ verdict: 'allow' });
    }
    expect(answerOf(basic(Buffer.from('bob:pw').toString('base64')))).toMatchObject({ verdict: 'deny', status: 401 });
  });
  it.each(['YWxpY2U6cw=', 'YWxpY2U6c', 'YWxp Y2U6', 'YWxpY2U6_w', 'YW=xpY2U6'])('refuses %j as an evaluation error, which Node alone would decode', (credentials) => {
    expect(basic(credentials)).toMatchObject({ kind: 'error', failurePolicy: 'Fail' });
  });
});

describe('base64.encode', () => {
  it('encodes bytes as standard padded base64', () => {
    expect(answerOf(basic(Buffer.from('alice:x').toString('base64')))).toMatchObject({ headers: [{ key: 'x-user-b64', value: 'YWxpY2U=' }] });
  });
});

describe('the string budget', () => {
  it('counts what decode reads and builds: a 60 KB header decoded for each of 1,024 parts is a limit error', () => {
    const p = compile(policy(`  validations:
  - expression: >-
      object.attributes.request.http.headers["x-parts"].split(",").exists(part,
        size(base64.decode(object.attributes.request.http.headers["x-blob"])) == 0) ? null : envoy.Denied(403).Response()
`));
    const outcome = p.evaluate(request({ 'x-parts': ','.repeat(1023), 'x-blob': 'QUFB'.repeat(15_000) }));
    expect(outcome).toMatchObject({ kind: 'error', limit: true, message: expect.stringMatching(/string functions scanned more than/) });
  });
});
