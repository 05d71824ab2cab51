import { describe, expect, it } from 'vitest';
import { compileAssertionTree, evaluateAssertionTree } from '../../../../src/policy/kyverno/assertion-tree.js';
import { lowerAsGo, upperAsGo } from '../../../../src/policy/kyverno/jmespath-functions.js';

/** The result of one JMESPath expression evaluated on `value` (short results: the failure reason shows 64 characters). */
function evaluate(expression: string, value: unknown): unknown {
  // to_string of a one-element list: any result comes back as JSON in a leaf that never matches.
  const verdict = evaluateAssertionTree(compileAssertionTree({ [`(to_string([${expression}]))`]: '__never__' }, 'test'), value);
  if (verdict.status !== 'fail') throw new Error(JSON.stringify(verdict));
  return (JSON.parse(JSON.parse(/got (.*)$/.exec(verdict.failures[0]!.reason)![1]!)) as unknown[])[0];
}

describe('kyverno-json JMESPath functions', () => {
  // kyverno-json runs go-jmespath, whose lower and upper are Go's strings.ToLower/ToUpper:
  // one code point to one code point by Unicode's simple case mapping. JavaScript's
  // toLowerCase/toUpperCase apply the full mapping (İ → i + U+0307, ß → SS, final sigma).
  describe('lower', () => {
    it('maps İ (U+0130) to i, as Go does, so a deny-list of lower-cased names still sees "admin"', () => {
      expect(evaluate('lower(@)', 'ADMİN')).toBe('admin');
      const tree = compileAssertionTree({ request: { http: { headers: { '(lower("x-user") == \'admin\')': false } } } }, 'test');
      const request = (user: string) => ({ request: { http: { headers: { 'x-user': user } } } });
      expect(evaluateAssertionTree(tree, request('alice'))).toEqual({ status: 'pass' });
      expect(evaluateAssertionTree(tree, request('ADMIN'))).toMatchObject({ status: 'fail' });
      expect(evaluateAssertionTree(tree, request('ADMİN'))).toMatchObject({ status: 'fail' });
    });

    it('lowers a final capital sigma to σ, not ς', () => {
      expect(evaluate('lower(@)', 'ΟΔΟΣ')).toBe('οδοσ');
    });

    it('lowers ASCII and other letters as before', () => {
      expect(evaluate('lower(@)', 'Hello-WORLD Ǆ K')).toBe('hello-world ǆ k');
    });
  });

  describe('upper', () => {
    it('keeps letters without a one-to-one uppercase (ß, ﬁ, ŉ) as Go does', () => {
      expect(evaluate('upper(@)', 'straße')).toBe('STRAßE');
      expect(evaluate('upper(@)', 'ﬁle')).toBe('ﬁLE');
      expect(evaluate('upper(@)', 'ŉ')).toBe('ŉ');
    });

    it('maps Greek letters with ypogegrammeni to their one-code-point capitals', () => {
      expect(evaluate('upper(@)', 'ᾳᾀ')).toBe('ᾼᾈ');
      expect(evaluate('upper(@)', 'ᾼ')).toBe('ᾼ');
    });

    it('uppers ASCII and other letters as before', () => {
      expect(evaluate('upper(@)', 'get ǆ ı')).toBe('GET Ǆ I');
    });
  });

  // kyverno-json registers Kyverno's own functions after go-jmespath's, so Kyverno's replace is
  // the one it runs: exactly four arguments, Go's strings.Replace(text, old, new, int(count)),
  // the first `count` occurrences found left to right in the text, never in a replacement, and
  // every occurrence for a negative count.
  describe('replace', () => {
    it('replaces occurrences of the subject only, not text an earlier replacement made', () => {
      expect(evaluate("replace(@, '/./', '/', `5`)", '/public/././x')).toBe('/public/./x');
      expect(evaluate("replace(@, 'ab', 'a', `2`)", 'abb')).toBe('ab');
      expect(evaluate("replace(@, 'a', 'aa', `2`)", 'aXa')).toBe('aaXaa');
      // The library re-scanned after each replacement: this sorted the text one swap at a time.
      const swapped = compileAssertionTree({ "(replace(@, 'ab', 'ba', `-1`))": 'ba'.repeat(1_000) }, 'test');
      expect(evaluateAssertionTree(swapped, 'ab'.repeat(1_000))).toEqual({ status: 'pass' });
    });

    it('a normalising allow-list keeps denying what kyverno-json denies', () => {
      const tree = compileAssertionTree({ "(replace(@, '/./', '/', `5`))": '/public/x' }, 'test');
      expect(evaluateAssertionTree(tree, '/public/./x')).toEqual({ status: 'pass' });
      expect(evaluateAssertionTree(tree, '/public/././x')).toMatchObject({ status: 'fail' });
    });

    it('matches an empty old string before each character and at the end', () => {
      expect(evaluate("replace(@, '', '-', `-1`)", 'abc')).toBe('-a-b-c-');
      expect(evaluate("replace(@, '', '-', `2`)", 'aé')).toBe('-a-é');
      expect(evaluate("replace(@, '', '-', `-1`)", '')).toBe('-');
    });

    it('replaces the first count occurrences, or none for zero', () => {
      expect(evaluate("replace(@, '-', '', `1`)", 'a-b-c')).toBe('ab-c');
      expect(evaluate("replace(@, '-', '+', `0`)", 'a-b-c')).toBe('a-b-c');
      expect(evaluate("replace(@, 'x', 'y', `1000000000`)", 'abc')).toBe('abc');
    });

    // Chio read a negative count as an error, which denied every request a policy written
    // for kyverno-json checked with replace(..., `-1`), its documented way to say "all".
    it('replaces every occurrence for a negative count, as kyverno-json does for `-1`', () => {
      expect(evaluate("replace(@, '-', '+', `-1`)", 'a-b-c')).toBe('a+b+c');
      expect(evaluate("replace(@, '-', '+', `-7`)", 'a-b-c')).toBe('a+b+c');
      const tree = compileAssertionTree({ "(replace(@, '-', '+', `-1`))": 'a+b+c' }, 'test');
      expect(evaluateAssertionTree(tree, 'a-b-c')).toEqual({ status: 'pass' });
    });

    it('cuts a fractional count toward zero, as Go\'s int() does', () => {
      expect(evaluate("replace(@, '-', '+', `1.9`)", 'a-b-c')).toBe('a+b-c');
      expect(evaluate("replace(@, '-', '+', `-0.5`)", 'a-b-c')).toBe('a-b-c');
      expect(evaluate("replace(@, '-', '+', `-1.5`)", 'a-b-c')).toBe('a+b+c');
      expect(evaluate("replace(@, '-', '+', to_number('inf'))", 'a-b-c')).toBe('a+b+c');
    });

    // Go's int(NaN) is the lowest int on amd64 (every occurrence) and 0 on arm64 (none).
    it('is an error for a count that is not a number (NaN), which kyverno-json reads by CPU', () => {
      const tree = compileAssertionTree({ "(replace(@, '-', '+', to_number('NaN')))": 'a-b-c' }, 'test');
      expect(evaluateAssertionTree(tree, 'a-b-c')).toMatchObject({ status: 'error' });
    });

    it('is refused at load with other than four arguments, as kyverno-json refuses the call', () => {
      expect(() => compileAssertionTree({ "(replace(@, '-', '+'))": 'a' }, 'test')).toThrow("test: (replace(@, '-', '+')): replace() takes 4 arguments in kyverno-json, not 3");
      expect(() => compileAssertionTree({ a: { "(length(replace(@, '-', '+', `1`, `2`)))": 1 } }, 'test')).toThrow('a.(length(replace(@, \'-\', \'+\', `1`, `2`))): replace() takes 4 arguments in kyverno-json, not 5');
    });
  });

  // Kyverno's split, which wins in kyverno-json: exactly two arguments, Go's strings.Split.
  describe('split', () => {
    it('splits at every separator', () => {
      expect(evaluate("split(@, ',')", 'a,b,,c')).toEqual(['a', 'b', '', 'c']);
      expect(evaluate("split(@, ',')[-1]", '10.0.0.9,10.0.0.1')).toBe('10.0.0.1');
      expect(evaluate("split(@, ';')", 'a,b')).toEqual(['a,b']);
    });

    // go-jmespath's split gave none: length(split(h, ',')) == `0` held for an empty header here.
    it('splits an empty text into one empty piece, as Go\'s strings.Split does', () => {
      expect(evaluate("split(@, ',')", '')).toEqual(['']);
      expect(evaluate("length(split(@, ','))", '')).toBe(1);
    });

    it('splits on an empty separator by character, not by UTF-16 unit, and an empty text into none', () => {
      expect(evaluate("split(@, '')", 'a😀')).toEqual(['a', '😀']);
      expect(evaluate("split(@, '')", '')).toEqual([]);
    });

    it('is refused at load with a count, which Kyverno\'s split does not take', () => {
      expect(() => compileAssertionTree({ "(split(@, ',', `1`))": ['a'] }, 'test')).toThrow('split() takes 2 arguments in kyverno-json, not 3');
      expect(() => compileAssertionTree({ '(split(@))': ['a'] }, 'test')).toThrow('split() takes 2 arguments in kyverno-json, not 1');
    });
  });

  // Kyverno's trim, which wins in kyverno-json: exactly two arguments, Go's strings.Trim.
  describe('trim', () => {
    it('trims the characters of the cutset from both ends', () => {
      expect(evaluate("trim(@, 'xy')", 'xyaxyx')).toBe('a');
      expect(evaluate("trim(@, '/')", '//a/b//')).toBe('a/b');
    });

    // The library's trimmed whitespace for an empty cutset, as for none.
    it('trims nothing for an empty cutset', () => {
      expect(evaluate("trim(@, '')", ' a ')).toBe(' a ');
    });

    // The library's regular expression compared UTF-16 units, so '😀' cut half of '😁'.
    it('compares whole characters, not UTF-16 units', () => {
      expect(evaluate("trim(@, '😀')", '😁a😁')).toBe('😁a😁');
      expect(evaluate("trim(@, '😀')", '😀a😀😀')).toBe('a');
    });

    it('is refused at load without a cutset, which Kyverno\'s trim requires', () => {
      expect(() => compileAssertionTree({ '(trim(@))': 'a' }, 'test')).toThrow('trim() takes 2 arguments in kyverno-json, not 1');
    });
  });

  // Kyverno's sum, which wins in kyverno-json: adds left to right from the first element.
  describe('sum', () => {
    it('adds numbers', () => {
      expect(evaluate('sum(@)', [1, 2, 3.5])).toBe(6.5);
      expect(evaluate('sum(@)', [0.1, 0.2, 0.3])).toBe(0.1 + 0.2 + 0.3);
    });

    // The library's summed [] to 0: (sum(sizes) <= `100`) held for a request with no sizes.
    it('is an error for an empty list, as Kyverno\'s is', () => {
      const tree = compileAssertionTree({ '(sum(@) <= `100`)': true }, 'test');
      expect(evaluateAssertionTree(tree, [])).toMatchObject({ status: 'error' });
      expect(evaluateAssertionTree(tree, [40, 50])).toEqual({ status: 'pass' });
    });

    it('gives a one-element list\'s element as it is, whatever its type', () => {
      expect(evaluate('sum(@)', ['100Mi'])).toBe('100Mi');
      expect(evaluate('sum(@)', [null])).toBe(null);
    });

    // Kyverno adds Kubernetes quantities ('1Gi') and Go durations ('1h') too; Chio does not, and
    // an error denies rather than answering otherwise. A mix of kinds is an error in both.
    it('is an error for more than one element that is not a number', () => {
      for (const list of [['1h', '30m'], ['1Gi', '1Mi'], [1, '2'], [1, true], [1, null]]) {
        const tree = compileAssertionTree({ '(sum(@))': 0 }, 'test');
        expect(evaluateAssertionTree(tree, list)).toMatchObject({ status: 'error' });
      }
    });

    it('is an error for what is not a list', () => {
      expect(evaluateAssertionTree(compileAssertionTree({ '(sum(@))': 0 }, 'test'), { a: 1 })).toMatchObject({ status: 'error' });
    });
  });

  // Kyverno's items, which wins in kyverno-json: items(value, keyName, valueName), each entry an
  // object; go-jmespath's items(object) gave [key, value] pairs.
  describe('items', () => {
    it('lists an object\'s entries as objects, in the order of the keys', () => {
      expect(evaluate("items(@, 'name', 'value')", { b: 1, a: { x: 2 } })).toEqual([{ name: 'a', value: { x: 2 } }, { name: 'b', value: 1 }]);
      const tree = compileAssertionTree({ "~.(items(request.headers, 'k', 'v'))": { '(starts_with(k, \'x-\'))': true } }, 'test');
      expect(evaluateAssertionTree(tree, { request: { headers: { 'x-a': '1', 'x-b': '2' } } })).toEqual({ status: 'pass' });
      expect(evaluateAssertionTree(tree, { request: { headers: { 'x-a': '1', host: 'h' } } })).toMatchObject({ status: 'fail' });
    });

    it('orders keys by code point, as Go orders UTF-8 bytes, not by UTF-16 unit', () => {
      expect(evaluate("items(@, 'k', 'v')[*].k", { '😀': 1, '\uff61': 2, b: 3 })).toEqual(['b', '\uff61', '😀']);
    });

    it('lists an array\'s elements with their index', () => {
      expect(evaluate("items(@, 'i', 'v')", ['x', 'y'])).toEqual([{ i: 0, v: 'x' }, { i: 1, v: 'y' }]);
    });

    it('keeps the value when the two names are the same', () => {
      expect(evaluate("items(@, 'k', 'k')", { a: 1 })).toEqual([{ k: 1 }]);
    });

    it('is an error for a value that is neither object nor array, or a name that is not a string', () => {
      expect(evaluateAssertionTree(compileAssertionTree({ "(items(@, 'k', 'v'))": [] }, 'test'), 'text')).toMatchObject({ status: 'error' });
      expect(evaluateAssertionTree(compileAssertionTree({ "(items(@, 'k', `1`))": [] }, 'test'), { a: 1 })).toMatchObject({ status: 'error' });
    });

    it('is refused at load with go-jmespath\'s single argument', () => {
      expect(() => compileAssertionTree({ '(items(@))': [] }, 'test')).toThrow('items() takes 3 arguments in kyverno-json, not 1');
    });
  });

  describe('lowerAsGo and upperAsGo', () => {
    it('map every code point to exactly one code point, as a simple case mapping does', () => {
      const expanding: string[] = [];
      for (let cp = 0; cp <= 0x10ffff; cp++) {
        if (cp >= 0xd800 && cp <= 0xdfff) continue;
        const c = String.fromCodePoint(cp);
        if ([...lowerAsGo(c)].length !== 1 || [...upperAsGo(c)].length !== 1) expanding.push(cp.toString(16));
      }
      expect(expanding).toEqual([]);
    });

    it('map a code point the same alone and inside a text', () => {
      const text = 'aΣ ßİx ᾳ ΟΔΟΣ ﬁ';
      expect(lowerAsGo(text)).toBe([...text].map(lowerAsGo).join(''));
      expect(upperAsGo(text)).toBe([...text].map(upperAsGo).join(''));
    });
  });
});
