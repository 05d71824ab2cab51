/**
 * Kyverno's own JMESPath functions whose names JMESPath builtins also have (kyverno-json
 * pkg/jp/kyverno/functions.go). kyverno-json registers them after go-jmespath's, and the later
 * entry wins (./jmespath-table.ts): these are the ones its policies run, with Kyverno's
 * arguments and meaning. Each is one pass over its arguments, linear in their size.
 */
import { TYPE_ARRAY, TYPE_OBJECT, TYPE_STRING, type JSONValue } from '@jmespath-community/jmespath';
import { registerAsKyvernoJson } from './jmespath-table.js';
import { compareCodePoints } from '../../text.js';

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

// trim(text, cutset): the library's took no cutset (whitespace), read an empty one as none, and
// compared UTF-16 units, so trim('😁a', '😀') cut half of the '😁'.
registerAsKyvernoJson('trim', ([text, cutset]) => trimAsGo(text as string, cutset as string), [{ types: [TYPE_STRING] }, { types: [TYPE_STRING] }]);

/** Go's strings.Trim: `text` without the code points of `cutset` at either end; as is for an empty cutset. */
export function trimAsGo(text: string, cutset: string): string {
  const cut = new Set(cutset);
  let start = 0;
  let end = text.length;
  for (let c = firstCodePoint(text, start); start < end && cut.has(c); c = firstCodePoint(text, start)) start += c.length;
  for (let c = lastCodePoint(text, end); end > start && cut.has(c); c = lastCodePoint(text, end)) end -= c.length;
  return text.slice(start, end);
}

/** The code point that starts at `start` in `text` (a surrogate pair, or one unit). */
function firstCodePoint(text: string, start: number): string {
  return start < text.length ? String.fromCodePoint(text.codePointAt(start)!) : '';
}

/** The code point that ends at `end` in `text` (a surrogate pair, or one unit). */
function lastCodePoint(text: string, end: number): string {
  const low = text.charCodeAt(end - 1);
  const high = end >= 2 ? text.charCodeAt(end - 2) : 0;
  return low >= 0xdc00 && low <= 0xdfff && high >= 0xd800 && high <= 0xdbff ? text.slice(end - 2, end) : text.slice(end - 1, end);
}

// sum(list): the library's summed [] to 0, so (sum(sizes) <= `100`) held for a request with no
// sizes that kyverno-json denies, and refused a one-element list of another type.
registerAsKyvernoJson('sum', ([list]) => sumAsKyverno(list as JSONValue[]), [{ types: [TYPE_ARRAY] }]);

/**
 * Kyverno's sum: an error for an empty list; the element of a one-element list as it is; else
 * the elements added left to right from the first. Kyverno adds Kubernetes quantities ('1Gi')
 * and Go durations ('1h') as well as numbers; Chio only numbers, and any other element is an
 * error (a mix of kinds is one in Kyverno too), which denies.
 */
export function sumAsKyverno(list: JSONValue[]): JSONValue {
  if (list.length === 0) throw new Error('sum(): at least one element in the array is required');
  if (list.length === 1) return list[0]!;
  let total = 0;
  for (const [i, item] of list.entries()) {
    if (typeof item !== 'number') throw new Error('sum(): only numbers are added (Kyverno also adds quantities and durations, which Chio does not)');
    total = i === 0 ? item : total + item;
  }
  return total;
}

// items(value, keyName, valueName): go-jmespath's and the library's took an object alone and
// gave [key, value] pairs, in the object's order.
registerAsKyvernoJson('items', ([value, keyName, valueName]) => itemsAsKyverno(value as JSONValue, keyName as string, valueName as string), [{ types: [TYPE_OBJECT, TYPE_ARRAY] }, { types: [TYPE_STRING] }, { types: [TYPE_STRING] }]);

/**
 * Kyverno's items: an object's entries as { [keyName]: key, [valueName]: value } in the order of
 * the keys (Go's sort.Strings, by UTF-8 bytes: code point order), an array's elements with their
 * index as the key. When the two names are the same the value is kept, as in Go's map literal.
 */
export function itemsAsKyverno(value: JSONValue, keyName: string, valueName: string): JSONValue[] {
  // A computed key makes an own property even for '__proto__'.
  const entry = (key: string | number, item: JSONValue) => ({ [keyName]: key, [valueName]: item });
  if (Array.isArray(value)) return value.map((item, i) => entry(i, item));
  const object = value as Record<string, JSONValue>;
  return Object.keys(object).sort(compareCodePoints).map((key) => entry(key, object[key]!));
}
