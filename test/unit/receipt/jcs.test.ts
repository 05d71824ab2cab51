import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { canonicalBytes, canonicalize, DEFAULT_MAX_JCS_BYTES, MAX_JCS_DEPTH, parseCanonical } from '../../../src/receipt/jcs.js';
import { isChioError } from '../../../src/errors/index.js';

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

function fromHex(hex: string): Uint8Array {
  const clean = hex.replace(/\s+/g, '');
  return Uint8Array.from(clean.match(/../g) ?? [], (b) => parseInt(b, 16));
}

/** The IEEE-754 binary64 value whose bits are `hex` (16 hex digits, big-endian). */
function float64(hex: string): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setBigUint64(0, BigInt(`0x${hex}`));
  return view.getFloat64(0);
}

/** The ChioError code `fn` throws; fails the test on success or on any other error. */
function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (isChioError(err)) return err.code;
    throw new Error(`expected a ChioError, got ${String(err)}`);
  }
  throw new Error('expected a ChioError, got none');
}

function nest(depth: number): unknown {
  let v: unknown = 0;
  for (let i = 0; i < depth; i++) v = i % 2 === 0 ? [v] : { k: v };
  return v;
}

// RFC 8785 §3.2.2 sample and its UTF-8 bytes from §3.2.4.
const RFC_SAMPLE_INPUT = String.raw`{
  "numbers": [333333333.33333329, 1E30, 4.50,
              2e-3, 0.000000000000000000000000001],
  "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
  "literals": [null, true, false]
}`;
const RFC_SAMPLE_OUTPUT = String.raw`{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}`;
const RFC_SAMPLE_HEX = `
  7b 22 6c 69 74 65 72 61 6c 73 22 3a 5b 6e 75 6c 6c 2c 74 72
  75 65 2c 66 61 6c 73 65 5d 2c 22 6e 75 6d 62 65 72 73 22 3a
  5b 33 33 33 33 33 33 33 33 33 2e 33 33 33 33 33 33 33 2c 31
  65 2b 33 30 2c 34 2e 35 2c 30 2e 30 30 32 2c 31 65 2d 32 37
  5d 2c 22 73 74 72 69 6e 67 22 3a 22 e2 82 ac 24 5c 75 30 30
  30 66 5c 6e 41 27 42 5c 22 5c 5c 5c 5c 5c 22 2f 22 7d`;

// RFC 8785 §3.2.3: property sorting by UTF-16 code units.
const RFC_SORTING_INPUT = String.raw`{
  "\u20ac": "Euro Sign",
  "\r": "Carriage Return",
  "\ufb33": "Hebrew Letter Dalet With Dagesh",
  "1": "One",
  "\ud83d\ude00": "Emoji: Grinning Face",
  "\u0080": "Control",
  "\u00f6": "Latin Small Letter O With Diaeresis"
}`;
const RFC_SORTING_OUTPUT =
  '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis",' +
  '"\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}';

// RFC 8785 Appendix B: IEEE-754 bits → canonical text.
const APPENDIX_B: ReadonlyArray<[string, string]> = [
  ['0000000000000000', '0'],
  ['8000000000000000', '0'],
  ['0000000000000001', '5e-324'],
  ['8000000000000001', '-5e-324'],
  ['7fefffffffffffff', '1.7976931348623157e+308'],
  ['ffefffffffffffff', '-1.7976931348623157e+308'],
  ['4340000000000000', '9007199254740992'],
  ['c340000000000000', '-9007199254740992'],
  ['4430000000000000', '295147905179352830000'],
  ['44b52d02c7e14af5', '9.999999999999997e+22'],
  ['44b52d02c7e14af6', '1e+23'],
  ['44b52d02c7e14af7', '1.0000000000000001e+23'],
  ['444b1ae4d6e2ef4e', '999999999999999700000'],
  ['444b1ae4d6e2ef4f', '999999999999999900000'],
  ['444b1ae4d6e2ef50', '1e+21'],
  ['3eb0c6f7a0b5ed8c', '9.999999999999997e-7'],
  ['3eb0c6f7a0b5ed8d', '0.000001'],
  ['41b3de4355555553', '333333333.3333332'],
  ['41b3de4355555554', '333333333.33333325'],
  ['41b3de4355555555', '333333333.3333333'],
  ['41b3de4355555556', '333333333.3333334'],
  ['41b3de4355555557', '333333333.33333343'],
  ['becbf647612f3696', '-0.0000033333333333333333'],
  ['43143ff3c1cb0959', '1424953923781206.2'],
];
// Appendix B's two entries with no canonical form.
const APPENDIX_B_INVALID = ['7fffffffffffffff', '7ff0000000000000'];

// RFC 8785 §3.2.2.3 number serialization, as ECMAScript literals.
const NUMBERS: ReadonlyArray<[number, string]> = [
  [1e21, '1e+21'],
  [1e20, '100000000000000000000'],
  [1e-7, '1e-7'],
  [0.000001, '0.000001'],
  [333333333.33333329, '333333333.3333333'],
  [9007199254740992, '9007199254740992'],
  [-0, '0'],
  [5e-324, '5e-324'],
  [4.5, '4.5'],
  [2e-3, '0.002'],
  [1e30, '1e+30'],
  [-1.5, '-1.5'],
];

// cyberphone/json-canonicalization testdata/{input,output}/*.json, byte for byte (the
// outputs' raw U+0080, U+007F and non-ASCII characters are written as JS escapes).
const CYBERPHONE: ReadonlyArray<{ name: string; input: string; output: string }> = [
  {
    name: 'arrays.json',
    input: '[\n  56,\n  {\n    "d": true,\n    "10": null,\n    "1": [ ]\n  }\n]',
    output: '[56,{"1":[],"10":null,"d":true}]',
  },
  {
    name: 'french.json',
    input:
      '{\n  "peach": "This sorting order",\n  "p\u00e9ch\u00e9": "is wrong according to French",\n' +
      '  "p\u00eache": "but canonicalization MUST",\n  "sin":   "ingnore locale"\n}\n',
    output:
      '{"peach":"This sorting order","p\u00e9ch\u00e9":"is wrong according to French",' +
      '"p\u00eache":"but canonicalization MUST","sin":"ingnore locale"}',
  },
  {
    name: 'structures.json',
    input: String.raw`{
  "1": {"f": {"f": "hi","F": 5} ,"\n": 56.0},
  "10": { },
  "": "empty",
  "a": { },
  "111": [ { } ],
  "A": { }
}`,
    output: String.raw`{"":"empty","1":{"\n":56,"f":{"F":5,"f":"hi"}},"10":{},"111":[{}],"A":{},"a":{}}`,
  },
  {
    name: 'unicode.json',
    input: String.raw`{
  "Unnormalized Unicode":"\u1e0d\u0307"
}
`,
    output: '{"Unnormalized Unicode":"\u1e0d\u0307"}',
  },
  {
    name: 'values.json',
    input: String.raw`{
  "numbers": [1E30, 4.50, 333333333.33333329, 2e-3, 0.000000000000000000000000001],
  "escaping": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
  "literals": [null, true, false]
}`,
    output: String.raw`{"escaping":"€$\u000f\nA'B\"\\\\\"/","literals":[null,true,false],"numbers":[1e+30,4.5,333333333.3333333,0.002,1e-27]}`,
  },
  {
    name: 'weird.json',
    input: String.raw`{
  "\u20ac": "Euro Sign",
  "1": "One",
  "\u0080": "Control\u007f",
  "\ud83d\ude02": "Smiley",
  "\u00f6": "Latin Small Letter O With Diaeresis",
  "\ufb33": "Hebrew Letter Dalet With Dagesh",
  "</script>": "Browser Challenge"
}
`,
    output:
      '{"1":"One","</script>":"Browser Challenge","\u0080":"Control\u007f",' +
      '"\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign","\ud83d\ude02":"Smiley",' +
      '"\ufb33":"Hebrew Letter Dalet With Dagesh"}',
  },
];

describe('canonicalize', () => {
  describe('when given the RFC 8785 §3.2.2 sample', () => {
    it('produces the published canonical text', () => {
      expect(canonicalize(JSON.parse(RFC_SAMPLE_INPUT))).toBe(RFC_SAMPLE_OUTPUT);
    });

    it('produces the published UTF-8 bytes (§3.2.4)', () => {
      expect(canonicalBytes(JSON.parse(RFC_SAMPLE_INPUT))).toEqual(fromHex(RFC_SAMPLE_HEX));
    });
  });

  describe('when sorting properties (RFC 8785 §3.2.3)', () => {
    it('orders names by UTF-16 code units, not code points or locale', () => {
      expect(canonicalize(JSON.parse(RFC_SORTING_INPUT))).toBe(RFC_SORTING_OUTPUT);
    });

    it('does not depend on insertion order, at any depth', () => {
      const a = { b: 1, a: { d: [3, { y: 1, x: 2 }], c: null } };
      const b = { a: { c: null, d: [3, { x: 2, y: 1 }] }, b: 1 };
      expect(canonicalize(a)).toBe(canonicalize(b));
      expect(canonicalize(a)).toBe('{"a":{"c":null,"d":[3,{"x":2,"y":1}]},"b":1}');
    });

    it('keeps array order', () => {
      expect(canonicalize([3, 1, 2])).toBe('[3,1,2]');
    });
  });

  describe('when serializing numbers (RFC 8785 §3.2.2.3)', () => {
    it.each(NUMBERS)('writes %s as %s', (value, expected) => {
      expect(canonicalize(value)).toBe(expected);
    });

    it.each(APPENDIX_B)('writes the binary64 value %s as %s (Appendix B)', (hex, expected) => {
      expect(canonicalize(float64(hex))).toBe(expected);
    });
  });

  describe('when serializing strings (RFC 8785 §3.2.2.2)', () => {
    it('uses the short escapes for \\b \\t \\n \\f \\r and \\u00xx for other controls', () => {
      expect(canonicalize('\u0000\b\t\n\u000b\f\r\u001f')).toBe(String.raw`"\u0000\b\t\n\u000b\f\r\u001f"`);
    });

    it('escapes only the quote and the backslash among printable characters', () => {
      expect(canonicalize('"\\/<>\u007f\u2028\u2029')).toBe('"\\"\\\\/<>\u007f\u2028\u2029"');
    });

    it('writes non-ASCII characters as themselves, unnormalised', () => {
      expect(canonicalize('e\u0301 \u00e9 \ud83d\ude00')).toBe('"e\u0301 \u00e9 \ud83d\ude00"');
      expect(canonicalBytes('\u20ac')).toEqual(fromHex('22 e2 82 ac 22'));
    });
  });

  describe('when given the cyberphone/json-canonicalization testdata', () => {
    it.each(CYBERPHONE)('canonicalizes $name to its output file', ({ input, output }) => {
      expect(canonicalize(JSON.parse(input))).toBe(output);
    });
  });

  describe('when given plain data', () => {
    it('accepts objects without a prototype', () => {
      const o = Object.create(null) as Record<string, unknown>;
      o.b = 2;
      o.a = 1;
      expect(canonicalize(o)).toBe('{"a":1,"b":2}');
    });

    it('accepts the literals and empty containers', () => {
      expect(canonicalize([null, true, false, {}, [], ''])).toBe('[null,true,false,{},[],""]');
    });

    it(`accepts nesting ${MAX_JCS_DEPTH} containers deep`, () => {
      expect(() => canonicalize(nest(MAX_JCS_DEPTH))).not.toThrow();
    });

    it('accepts the same object twice when it is not a cycle', () => {
      const shared = { x: 1 };
      expect(canonicalize({ a: shared, b: [shared] })).toBe('{"a":{"x":1},"b":[{"x":1}]}');
    });
  });

  describe('when given any JSON value (fast-check)', () => {
    // The definition, spelled the slow way: members sorted by the default sort (UTF-16 code
    // units), every string as JSON.stringify quotes it. canonicalize takes shortcuts for small
    // objects and plain strings; they must not change a byte.
    const reference = (v: unknown): string => {
      if (Array.isArray(v)) return `[${v.map(reference).join(',')}]`;
      if (v !== null && typeof v === 'object') {
        const o = v as Record<string, unknown>;
        return `{${Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${reference(o[k])}`).join(',')}}`;
      }
      return JSON.stringify(v);
    };
    const wellFormed = (s: string) => s.isWellFormed();
    const key = fc.oneof(fc.string({ unit: 'binary', maxLength: 6 }).filter(wellFormed), fc.constantFrom('id', 'signature', 'seq', 'a', 'B', '_', '\u20ac', '\ud83d\ude00', '\ufb33'));
    const text = fc.oneof(fc.string({ unit: 'binary', maxLength: 12 }).filter(wellFormed), fc.string({ maxLength: 12 }), fc.constantFrom('"', '\\', '\u007f', '\u001f', ' ~'));
    const json = fc.letrec((tie) => ({
      value: fc.oneof({ depthSize: 'small' }, text, fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null), tie('array'), tie('object')),
      array: fc.array(tie('value'), { maxLength: 4 }),
      // Up to 24 members: both the insertion sort (16 or fewer) and the default sort.
      object: fc.dictionary(key, tie('value'), { maxKeys: 24 }),
    })).value;

    it('is the sorted, JSON.stringify-quoted text', () => {
      fc.assert(fc.property(json, (v) => {
        expect(canonicalize(v)).toBe(reference(v));
      }), { numRuns: 2000 });
    });

    it('sorts 1 to 24 member names as the default sort does', () => {
      fc.assert(fc.property(fc.uniqueArray(key, { minLength: 1, maxLength: 24 }), (names) => {
        const o = Object.fromEntries(names.map((n, i) => [n, i]));
        expect(canonicalize(o)).toBe(reference(o));
      }), { numRuns: 2000 });
    });
  });

  describe('when a value has no canonical form', () => {
    const cyclicObject: Record<string, unknown> = {};
    cyclicObject.self = cyclicObject;
    const cyclicArray: unknown[] = [];
    cyclicArray.push([cyclicArray]);
    const symbolKeyed = { a: 1, [Symbol('k')]: 2 };
    const holey = [1, , 3];
    class Point {
      x = 1;
    }

    it.each<[string, unknown]>([
      ['NaN', NaN],
      ['Infinity', Infinity],
      ['-Infinity', -Infinity],
      ['NaN inside an object', { n: NaN }],
      ['a lone high surrogate', '\ud800'],
      ['a lone low surrogate', 'a\udc00b'],
      ['swapped surrogates', '\ude00\ud83d'],
      ['a lone surrogate in a member name', { '\ud83d': 1 }],
      ['a bigint', 1n],
      ['undefined', undefined],
      ['an undefined member', { a: 1, b: undefined }],
      ['undefined in an array', [undefined]],
      ['a function', () => 1],
      ['a symbol', Symbol('s')],
      ['a symbol-keyed member', symbolKeyed],
      ['an array hole', holey],
      ['a Date', new Date(0)],
      ['a Map', new Map([['a', 1]])],
      ['a Set', new Set([1])],
      ['a boxed string', new String('x')],
      ['a class instance', new Point()],
      ['a Uint8Array', new Uint8Array([1])],
      ['a cyclic object', cyclicObject],
      ['a cyclic array', cyclicArray],
      [`nesting ${MAX_JCS_DEPTH + 1} deep`, nest(MAX_JCS_DEPTH + 1)],
    ])('throws JCS_UNSUPPORTED for %s', (_name, value) => {
      expect(codeOf(() => canonicalize(value))).toBe('JCS_UNSUPPORTED');
      expect(codeOf(() => canonicalBytes(value))).toBe('JCS_UNSUPPORTED');
    });

    it.each(APPENDIX_B_INVALID)('throws JCS_UNSUPPORTED for the binary64 value %s (Appendix B)', (hex) => {
      expect(codeOf(() => canonicalize(float64(hex)))).toBe('JCS_UNSUPPORTED');
    });
  });
});

describe('parseCanonical', () => {
  describe('when the input is canonical', () => {
    it('returns the value of the RFC 8785 sample', () => {
      expect(parseCanonical(fromHex(RFC_SAMPLE_HEX))).toEqual(JSON.parse(RFC_SAMPLE_INPUT));
    });

    it.each(CYBERPHONE)('returns the value of cyberphone $name output', ({ input, output }) => {
      expect(parseCanonical(utf8(output))).toEqual(JSON.parse(input));
    });

    it('round-trips what canonicalBytes produced', () => {
      const values: unknown[] = [
        null, 0, -1.5, 1e21, 5e-324, 'x', '', [], {}, RFC_SORTING_OUTPUT,
        { z: [1, { b: null, a: 'é' }], a: { '': true } },
        JSON.parse(RFC_SORTING_INPUT),
      ];
      for (const v of values) expect(parseCanonical(canonicalBytes(v))).toEqual(v);
    });

    it('accepts input exactly at the size bound', () => {
      const bytes = utf8('"abc"');
      expect(parseCanonical(bytes, bytes.length)).toBe('abc');
    });
  });

  describe('when numbers sit at the ECMAScript exponent thresholds (RFC 8785 §3.2.2.3)', () => {
    it('accepts the canonical forms on either side of 1e21 and 1e-6', () => {
      const text = '[100000000000000000000,1e+21,0.000001,1e-7,5e-7,-5e-324,1.7976931348623157e+308]';
      expect(parseCanonical(utf8(text))).toEqual([1e20, 1e21, 0.000001, 1e-7, 5e-7, -5e-324, 1.7976931348623157e308]);
    });

    it.each(['1e21', '1E+21', '1e+021', '1000000000000000000000', '0.0000005', '5E-7', '5e-07', '1e-7 ', '100000000000000000000.0', '1e20', '2e0', '9007199254740993'])(
      'throws MALFORMED for %s',
      (text) => {
        expect(codeOf(() => parseCanonical(utf8(text)))).toBe('MALFORMED');
      },
    );
  });

  describe('when the input is not canonical', () => {
    it.each<[string, string]>([
      ['leading whitespace', ' {}'],
      ['a trailing newline', '{}\n'],
      ['whitespace between tokens', '{"a": 1}'],
      ['unsorted members', '{"b":1,"a":2}'],
      ['a duplicate member', '{"a":1,"a":1}'],
      ['a duplicate member that collapses to canonical', '{"a":0,"a":1}'],
      ['a trailing zero', '1.0'],
      ['an exponent form where the plain form is canonical', '1E2'],
      ['an upper-case exponent', '1E+30'],
      ['negative zero', '-0'],
      ['a leading-zero fraction written long', '0.10'],
      ['an unnecessary unicode escape', '"\\u0041"'],
      ['an escaped solidus', '"\\/"'],
      ['an upper-case hex escape', '"\\u001F"'],
      ['a control escaped long where a short escape exists', '"\\u000a"'],
      ['a non-ASCII character escaped', '"\\u00e9"'],
      ['the RFC sample before canonicalization', RFC_SAMPLE_INPUT],
    ])('throws MALFORMED for %s', (_name, text) => {
      expect(codeOf(() => parseCanonical(utf8(text)))).toBe('MALFORMED');
    });

    it.each(CYBERPHONE)('throws MALFORMED for cyberphone $name input', ({ input }) => {
      expect(codeOf(() => parseCanonical(utf8(input)))).toBe('MALFORMED');
    });
  });

  describe('when the input is not JSON of a canonical value', () => {
    it.each<[string, string]>([
      ['empty input', ''],
      ['a truncated object', '{"a":1'],
      ['two values', 'null true'],
      ['a trailing comma', '[1,]'],
      ['a single-quoted string', "'a'"],
      ['NaN', 'NaN'],
      ['a number that overflows to Infinity', '1e400'],
      ['an escaped lone surrogate', '"\\ud800"'],
      ['an escaped surrogate pair in the wrong order', '"\\ude00\\ud83d"'],
      [`nesting ${MAX_JCS_DEPTH + 1} deep`, '['.repeat(MAX_JCS_DEPTH + 1) + ']'.repeat(MAX_JCS_DEPTH + 1)],
    ])('throws MALFORMED for %s', (_name, text) => {
      expect(codeOf(() => parseCanonical(utf8(text)))).toBe('MALFORMED');
    });

    it.each<[string, string]>([
      ['a byte-order mark', 'ef bb bf 7b 7d'],
      ['an invalid continuation byte', '22 c3 28 22'],
      ['an overlong encoding of "/"', '22 c0 af 22'],
      ['a UTF-8-encoded surrogate', '22 ed a0 80 22'],
      ['a truncated sequence', '22 e2 82 22'],
      ['a byte that never occurs in UTF-8', '22 ff 22'],
    ])('throws MALFORMED for %s', (_name, hex) => {
      expect(codeOf(() => parseCanonical(fromHex(hex)))).toBe('MALFORMED');
    });

    it('throws MALFORMED for input over the size bound', () => {
      expect(codeOf(() => parseCanonical(utf8('"abcd"'), 5))).toBe('MALFORMED');
      expect(codeOf(() => parseCanonical(new Uint8Array(DEFAULT_MAX_JCS_BYTES + 1)))).toBe('MALFORMED');
    });

    it('throws MALFORMED for something other than bytes', () => {
      expect(codeOf(() => parseCanonical('{}' as unknown as Uint8Array))).toBe('MALFORMED');
    });

    it('keeps the parser error as the cause', () => {
      try {
        parseCanonical(utf8('{'));
        expect.unreachable();
      } catch (err) {
        expect(isChioError(err, 'MALFORMED') && err.cause).toBeInstanceOf(SyntaxError);
      }
    });
  });
});
