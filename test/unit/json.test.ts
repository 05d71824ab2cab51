/**
 * parseJsonText: JSON.parse, refusing an object that names a member twice, however the names
 * are spelled or spaced, at any depth; never a string value taken for a name.
 */
import { describe, expect, it } from 'vitest';
import { parseJsonText } from '../../src/json.js';
import { expectCode } from './receipt/helpers.js';

describe('parseJsonText', () => {
  it.each([
    ['{"a":1,"b":{"a":2},"c":[{"a":3},{"a":4}]}', { a: 1, b: { a: 2 }, c: [{ a: 3 }, { a: 4 }] }],
    ['{"a":"b","b":"a:"}', { a: 'b', b: 'a:' }],
    ['{"a":"\\"b\\\\","b":["b","b"]}', { a: '"b\\', b: ['b', 'b'] }],
    ['{\n  "a" : {},\n  "b"\t:\r\n[]\n}\n', { a: {}, b: [] }],
    ['["a","a",{"a":1}]', ['a', 'a', { a: 1 }]],
    ['"a"', 'a'],
  ])('reads %j as JSON.parse does when no object names a member twice', (text, value) => {
    expect(parseJsonText(text)).toEqual(value);
  });

  it.each([
    ['at the top', '{"a":1,"a":1}'],
    ['deep inside', '{"x":[{"y":{"a":1,"b":2,"a":3}}]}'],
    ['spelled with an escape', '{"a":1,"\\u0061":2}'],
    ['with space before the colon', '{"a" :1,\n"a"\n  :2}'],
    ['after a value that is an object', '{"a":{"a":1},"b":2,"a":3}'],
  ])('refuses a member named twice %s with MALFORMED', (_where, text) => {
    expectCode(() => parseJsonText(text), 'MALFORMED');
  });

  it('refuses what is not JSON with MALFORMED', () => {
    expectCode(() => parseJsonText('{"a":1,}'), 'MALFORMED');
  });
});
