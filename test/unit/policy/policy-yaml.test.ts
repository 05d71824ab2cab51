/**
 * Policy files as hostile YAML: what the YAML library makes of a file that is no plain JSON
 * data (tags, special floats, deep nesting) must be refused, naming the file, the document and
 * the field, and never hashed or enforced as something other than what was written.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPolicySet } from '../../../src/policy/policy-set.js';
import { generateKeys } from '../../../src/keys.js';
import { ChioError } from '../../../src/errors/index.js';

/** A json.kyverno.io policy whose assert checks the header x-ok against `value` (YAML text). */
const checkingHeader = (value: string) => `apiVersion: json.kyverno.io/v1alpha1
kind: ValidatingPolicy
metadata:
  name: p
spec:
  rules:
    - name: r
      assert:
        all:
          - message: denied
            check:
              request:
                http:
                  headers:
                    x-ok: ${value}
`;

const keyDir = (() => {
  const dir = mkdtempSync(join(tmpdir(), 'chio-py-keys-'));
  generateKeys(dir, 'chio.local/receipts');
  return dir;
})();

function load(text: string) {
  const dir = mkdtempSync(join(tmpdir(), 'chio-py-'));
  mkdirSync(join(dir, 'policies'));
  writeFileSync(join(dir, 'policies', 'bad.yaml'), text);
  return () => loadPolicySet(join(dir, 'policies'), keyDir);
}

describe('loadPolicySet on hostile YAML', () => {
  describe('when a value is no JSON data', () => {
    // JSON.stringify made each of these something else in the hash (a set {}, NaN null) while
    // the policy held the value itself: `!!set {x}` checked nothing and allowed, under the hash
    // of `!!set {y}`.
    it.each([
      ['a set (!!set)', '!!set { x }', 'a set'],
      ['an ordered map (!!omap)', '!!omap [ { a: 1 } ]', 'an ordered map'],
      ['bytes (!!binary)', '!!binary eWVz', 'bytes'],
      ['a timestamp (!!timestamp)', '!!timestamp 2001-12-14', 'a timestamp'],
      ['NaN (.nan)', '.nan', 'not a finite number'],
      ['infinity (.inf)', '-.inf', 'not a finite number'],
      ['a number too large for a double (1e400)', '1e400', 'not a finite number'],
    ])('refuses %s, naming file, document and field', (_what, value, why) => {
      const loading = load(checkingHeader(value));
      expect(loading).toThrow(ChioError);
      expect(loading).toThrow(`bad.yaml document 1: field spec.rules.0.assert.all.0.check.request.http.headers.x-ok: ${why}`);
    });
  });

  // Keys become strings: toJS made `[a, b]` "[ a, b ]" (and warned on stderr), `1.0` "1", `~` "".
  describe('when a key would be read as other text than was written', () => {
    it.each([
      ['a list', '{ ? [a, b] : 1 }', 'a key that is a list or a mapping is not read as written (write a string)'],
      ['a mapping', '{ ? { a: 1 } : 1 }', 'a key that is a list or a mapping is not read as written (write a string)'],
      ['an alias', '{ &k a: 1, *k : 2 }', 'a key that is an alias (*k) is not read as written (write the key)'],
      ['1.0', '{ 1.0: a }', 'key "1.0" would be read as "1" (quote it)'],
      ['0x10', '{ 0x10: a }', 'key "0x10" would be read as "16" (quote it)'],
      ['~', '{ ~: a }', 'key "~" would be read as "" (quote it)'],
      ['empty', '{ ? : a }', 'an empty key (write one)'],
      // Chio read a key named <<, which no request has; Kubernetes and kyverno merge.
      ['a merge key', '{ <<: { a: 1 } }', 'a merge key (<<): YAML 1.2 reads a key named <<, YAML 1.1 (Kubernetes) merges (write the keys out)'],
    ])('refuses %s as a key, naming file, document and line', (_what, value, why) => {
      expect(load(checkingHeader(value))).toThrow(`bad.yaml document 1: ${why} at line 15, column`);
    });

    it('refuses a merge key in a file that says %YAML 1.1 (where it merges) as well', () => {
      expect(load(`%YAML 1.1\n---\n${checkingHeader('{ <<: { a: 1 } }')}`)).toThrow('bad.yaml document 1: a merge key (<<): YAML 1.2 reads a key named <<, YAML 1.1 (Kubernetes) merges (write the keys out) at line 17, column');
    });

    it('takes keys read as written: strings, quoted or not, and plain 80 and true', () => {
      expect(load(checkingHeader('{ a: 1, "1.0": 2, 80: 3, true: 4, "<<": 5 }'))().documents).toBe(1);
    });
  });

  // The library only warned, and read the value as if untagged: `x-ok: !mytag yes` was "yes".
  describe('when the YAML says something Chio does not read', () => {
    it.each([
      ['a tag of its own', checkingHeader('!mytag yes'), 'Unresolved tag: !mytag at line 15, column'],
      ['a js tag', checkingHeader('!!js/function "f"'), 'Unresolved tag: tag:yaml.org,2002:js/function at line 15, column'],
      ['an unknown directive', `%FOO bar\n---\n${checkingHeader('yes')}`, 'Unknown directive %FOO at line 1, column 1'],
      ['another YAML version', `%YAML 1.3\n---\n${checkingHeader('yes')}`, 'Unsupported YAML version 1.3 at line 1, column'],
    ])('refuses %s, naming file, document and line', (_what, text, why) => {
      expect(load(text)).toThrow(`bad.yaml document 1: ${why}`);
    });
  });

  it('refuses nesting deeper than the set can be hashed, naming the file', () => {
    const deep = `${'{ a: '.repeat(100)}1${' }'.repeat(100)}`;
    expect(load(checkingHeader(deep))).toThrow(/bad\.yaml document 1: field spec\.rules\.0\.assert\.all\.0\.check\.request\.http\.headers\.x-ok(\.a)+: nested deeper than 62/);
  });

  it('still takes plain JSON data: strings, numbers, booleans and null', () => {
    for (const value of ['yes', '"2001-12-14"', '12', '1.5', 'true', 'null', '[a, 1]', '{ a: b }']) {
      expect(load(checkingHeader(value))().documents).toBe(1);
    }
  });
});
