/**
 * Kyverno's own JMESPath functions whose names JMESPath builtins also have (kyverno-json
 * pkg/jp/kyverno/functions.go). kyverno-json registers them after go-jmespath's, and the later
 * entry wins (./jmespath-table.ts): these are the ones its policies run, with Kyverno's
 * arguments and meaning. Each is one pass over its arguments, linear in their size.
 */
import { TYPE_STRING } from '@jmespath-community/jmespath';
import { registerAsKyvernoJson } from './jmespath-table.js';

// split(text, sep): the library's and go-jmespath's took a count and split an empty text into
// no pieces, so length(split(h, ',')) == `0` held for an empty header that kyverno-json reads
// as one empty piece.
registerAsKyvernoJson('split', ([text, sep]) => splitAsGo(text as string, sep as string), [{ types: [TYPE_STRING] }, { types: [TYPE_STRING] }]);

/**
 * Go's strings.Split: the pieces between every occurrence of `sep`, one empty piece for an empty
 * text; an empty `sep` splits between code points (Go: between UTF-8 sequences), none for an
 * empty text.
 */
export function splitAsGo(text: string, sep: string): string[] {
  return sep === '' ? [...text] : text.split(sep);
}
