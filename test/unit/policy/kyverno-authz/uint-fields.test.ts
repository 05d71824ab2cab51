/**
 * The CheckRequest's uint32 fields (SocketAddress.port_value, Pipe.mode) are CEL `uint`, as in
 * kyverno-authz, whose cel-go environment types `object` by the Envoy proto: a policy written
 * for kyverno (`port_value in [22u, 23u]`) must match here, and one cel-go refuses to load
 * (`port_value == 22`, uint against int) is refused here too, saying to write `22u`.
 */
import { describe, expect, it } from 'vitest';
import { toCelCheckRequest } from '../../../../src/policy/kyverno/kyverno-input.js';
import { evaluateCelPolicies } from '../../../../src/policy/kyverno-authz/verdicts.js';
import { buildCheckRequest } from '../../../../src/cli/envoy-request.js';
import { answerOf, compile, policy } from '../../../support/cel-policies.js';

const PORT = 'object.attributes.destination.address.socket_address.port_value';

/** `object` for a GET from `source` to `destination` (host:port). */
const to = (destination: string, source = '10.0.0.2:51234') =>
  toCelCheckRequest(buildCheckRequest({ method: 'GET', path: '/', host: 'svc.example.com', sourceAddress: source, destinationAddress: destination }));

/** Allows when `condition` holds, denies when it does not. */
const gate = (condition: string, variables = '') =>
  compile(policy(`${variables}  validations:
  - expression: >-
      (${condition}) ? envoy.Allowed().Response() : envoy.Denied(403).Response()
`));

describe('uint fields of the CheckRequest', () => {
  it('a DENY on port_value in [22u, 23u] denies a Check to port 22 and lets 8080 through', () => {
    const deny = compile(policy(`  validations:
  - expression: >-
      ${PORT} in [22u, 23u] ? envoy.Denied(403).WithBody("no ssh").Response() : null
`, 'no-ssh'));
    expect(evaluateCelPolicies([deny], to('10.0.0.3:22')).deny).toMatchObject({ policy: 'no-ssh' });
    expect(evaluateCelPolicies([deny], to('10.0.0.3:23')).deny).toMatchObject({ policy: 'no-ssh' });
    expect(evaluateCelPolicies([deny], to('10.0.0.3:8080')).deny).toBeUndefined();
  });

  it.each([
    [`${PORT} == 22u`, true],
    [`${PORT} != 22u`, false],
    [`22u == ${PORT}`, true],
    [`type(${PORT}) == uint`, true],
    [`${PORT} < 1024`, true],
    [`${PORT} >= 1024u`, false],
    [`int(${PORT}) == 22`, true],
    [`dyn(${PORT}) == 22`, true],
    [`[22, 23].exists(p, p == int(${PORT}))`, true],
    ['object.attributes.source.address.pipe.mode == 0u', true],
  ])('to port 22, %s is %s', (condition, expected) => {
    expect(answerOf(gate(condition).evaluate(to('10.0.0.3:22')))).toMatchObject({ verdict: expected ? 'allow' : 'deny' });
  });

  it.each([
    `${PORT} == 22`,
    `${PORT} != 22`,
    `22 == ${PORT}`,
    `${PORT} in [22, 23]`,
    `${PORT} == 22.0`,
    `${PORT} in [22.0]`,
    'object.attributes.source.address.pipe.mode == 0',
  ])('%s is refused when the policy loads, as cel-go refuses uint against int or double, saying to write a uint', (condition) => {
    expect(() => gate(condition)).toThrow(/is a uint[^]*\(\d+u\)/);
  });

  it('is refused through a variable that is the path, too', () => {
    expect(() => gate('variables.port in [22, 23]', `  variables:\n  - name: port\n    expression: ${PORT}\n`)).toThrow(/port_value is a uint[^]*22u/);
    expect(answerOf(gate('variables.port in [22u, 23u]', `  variables:\n  - name: port\n    expression: ${PORT}\n`).evaluate(to('10.0.0.3:22')))).toMatchObject({ verdict: 'allow' });
  });

  it('compares messages holding ports field by field, the ports by value', () => {
    const same = gate('object.attributes.source.address == object.attributes.destination.address');
    expect(answerOf(same.evaluate(to('10.0.0.3:22', '10.0.0.3:22')))).toMatchObject({ verdict: 'allow' });
    expect(answerOf(same.evaluate(to('10.0.0.3:22', '10.0.0.3:23')))).toMatchObject({ verdict: 'deny' });
  });

  it('puts a port into metadata as a number', () => {
    const p = compile(policy(`  validations:
  - expression: >-
      envoy.Allowed().Response().WithMetadata({"port": ${PORT}})
`));
    expect(answerOf(p.evaluate(to('10.0.0.3:22')))).toMatchObject({ verdict: 'allow', metadata: { port: 22 } });
  });
});
