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

  // go-jmespath's replace is Go's strings.Replace: the first `count` occurrences (all without a
  // count), found left to right in the subject, never in what a replacement inserted.
  describe('replace', () => {
    it('replaces occurrences of the subject only, not text an earlier replacement made', () => {
      expect(evaluate("replace(@, '/./', '/', `5`)", '/public/././x')).toBe('/public/./x');
      expect(evaluate("replace(@, 'ab', 'a', `2`)", 'abb')).toBe('ab');
      expect(evaluate("replace(@, 'a', 'aa', `2`)", 'aXa')).toBe('aaXaa');
      // The library re-scanned after each replacement: this sorted the text one swap at a time.
      const swapped = compileAssertionTree({ "(replace(@, 'ab', 'ba', `1000000000`))": 'ba'.repeat(1_000) }, 'test');
      expect(evaluateAssertionTree(swapped, 'ab'.repeat(1_000))).toEqual({ status: 'pass' });
    });

    it('a normalising allow-list keeps denying what kyverno-json denies', () => {
      const tree = compileAssertionTree({ "(replace(@, '/./', '/', `5`))": '/public/x' }, 'test');
      expect(evaluateAssertionTree(tree, '/public/./x')).toEqual({ status: 'pass' });
      expect(evaluateAssertionTree(tree, '/public/././x')).toMatchObject({ status: 'fail' });
    });

    it('matches an empty old string before each character and at the end', () => {
      expect(evaluate("replace(@, '', '-')", 'abc')).toBe('-a-b-c-');
      expect(evaluate("replace(@, '', '-', `2`)", 'aé')).toBe('-a-é');
      expect(evaluate("replace(@, '', '-')", '')).toBe('-');
    });

    it('replaces the first count occurrences, or all, or none for zero', () => {
      expect(evaluate("replace(@, '-', '+')", 'a-b-c')).toBe('a+b+c');
      expect(evaluate("replace(@, '-', '', `1`)", 'a-b-c')).toBe('ab-c');
      expect(evaluate("replace(@, '-', '+', `0`)", 'a-b-c')).toBe('a-b-c');
      expect(evaluate("replace(@, 'x', 'y', `1000000000`)", 'abc')).toBe('abc');
    });

    // kyverno's own replace wins in kyverno-json, and there `-1` means every occurrence. Chio
    // does not read it so (docs/policies.md): an error, which denies, never a guess that allows.
    it('is an error for a negative count such as kyverno\'s `-1`, so the rule denies', () => {
      const tree = compileAssertionTree({ "(replace(@, '-', '+', `-1`))": 'a+b+c' }, 'test');
      expect(evaluateAssertionTree(tree, 'a-b-c')).toMatchObject({ status: 'error' });
    });
  });

  // go-jmespath's split: [] for an empty subject, else Go's strings.SplitN(subject, sep, count + 1).
  describe('split', () => {
    it('adds no empty last piece when the count is more than the separators', () => {
      expect(evaluate("split(@, ',', `5`)", 'a,b')).toEqual(['a', 'b']);
      expect(evaluate("split(@, ',', `5`)[-1]", '10.0.0.9,10.0.0.1')).toBe('10.0.0.1');
      expect(evaluate("split(@, ',', `1`)", 'a,b,c')).toEqual(['a', 'b,c']);
      expect(evaluate("split(@, ',', `0`)", 'a,b')).toEqual(['a,b']);
    });

    it('splits an empty subject into no pieces', () => {
      expect(evaluate("length(split(@, ','))", '')).toBe(0);
    });

    it('splits on an empty separator by character, not by UTF-16 unit', () => {
      expect(evaluate("split(@, '')", 'a😀')).toEqual(['a', '😀']);
      expect(evaluate("split(@, '', `1`)", 'a😀b')).toEqual(['a', '😀b']);
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
