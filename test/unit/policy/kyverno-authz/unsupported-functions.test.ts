/**
 * A policy written for kyverno-authz that calls a function Chio's CEL does not have is refused
 * when it loads, naming the file, the policy, the field and the function.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPolicySet } from '../../../../src/policy/policy-set.js';
import { compile, policy } from '../../../support/cel-policies.js';

const gate = (expression: string) => policy(`  variables:
  - name: token
    expression: object.attributes.request.http.headers[?"x-tenant-token"].orValue("")
  validations:
  - expression: >-
      ${expression}
`, 'tenant-gate');

describe('a call to a function Chio does not have', () => {
  it('is refused at load naming file, document, policy, field and function', () => {
    const dir = mkdtempSync(join(tmpdir(), 'chio-unsupported-'));
    writeFileSync(join(dir, 'tenants.yaml'), gate('math.greatest([size(variables.token), 3]) > 10 ? null : envoy.Denied(403).Response()'));
    expect(() => loadPolicySet(dir, join(dir, 'keys'))).toThrow(
      `tenants.yaml document 1: ValidatingPolicy tenant-gate: field spec.validations[0].expression: math.greatest is not supported by Chio (kyverno-authz has it from cel-go's math extension)`,
    );
  });

  it.each([
    ['math.greatest(size(variables.token), 3) > 10 ? null : envoy.Denied(403).Response()', "math.greatest is not supported by Chio (kyverno-authz has it from cel-go's math extension)"],
    ['math.abs(size(variables.token)) > 3 ? null : envoy.Denied(403).Response()', "math.abs is not supported by Chio (kyverno-authz has it from cel-go's math extension)"],
    ['"tenant-%s".format([variables.token]) == "" ? envoy.Denied(403).Response() : null', "format is not supported by Chio (kyverno-authz has it from cel-go's strings extension)"],
    ['jwt.Decode(variables.token, "secret").claims.role == "admin" ? null : envoy.Denied(403).Response()', "jwt.Decode is not supported by Chio (kyverno-authz has it from kyverno-authz's jwt library"],
    ['url("https://" + variables.token).getHost() == "a" ? null : envoy.Denied(403).Response()', "url is not supported by Chio (kyverno-authz has it from the Kubernetes URL library)"],
    ['strings.quote(variables.token) == "a" ? null : envoy.Denied(403).Response()', "strings.quote is not supported by Chio (kyverno-authz has it from cel-go's strings extension)"],
    ['tenants.lookup(variables.token) ? null : envoy.Denied(403).Response()', 'tenants.lookup is not supported by Chio'],
  ])('%s', (expression, message) => {
    expect(() => compile(gate(expression))).toThrow(message);
  });

  it('names the function inside a comprehension, not the variable it binds', () => {
    expect(() => compile(gate('variables.token.split(",").exists(t, "%s".format([t]) == "c") ? null : envoy.Denied(403).Response()'))).toThrow(/: format is not supported/);
  });

  it('names no function when the type error is another (a function Chio has, wrongly called)', () => {
    expect(() => compile(gate('["a"].exists(k, k.startsWith(1)) ? null : envoy.Denied(403).Response()'))).toThrow(/found no matching overload for 'string\.startsWith\(int\)'/);
  });

  it('says that building a message by its type name is not supported, and what to write', () => {
    expect(() => compile(gate('envoy.Allowed().WithQueryParam(envoy.config.core.v3.QueryParameter{key: "tenant", value: variables.token}).Response()'))).toThrow(
      'field spec.validations[0].expression: building a message by its type name (envoy.config.core.v3.QueryParameter{…}) is not supported by Chio: write envoy.QueryParam(key, value)',
    );
  });
});
