/**
 * Cutting text to a bound. `slice` counts UTF-16 units, so a cut through a character outside the
 * Basic Multilingual Plane (an emoji) leaves half of it: a lone surrogate, which has no UTF-8 form.
 * A receipt holding one has no canonical JSON (RFC 8785 refuses it), so it could not be signed.
 * Pure: no I/O.
 */

/**
 * At most `max` UTF-16 units of `text`, never ending in half a surrogate pair, and with any lone
 * surrogate it held replaced by U+FFFD (a JSON-decoded claim may hold one).
 */
export function boundedText(text: string, max: number): string {
  let cut = text.length > max ? text.slice(0, max) : text;
  if (cut.length < text.length && isHighSurrogate(cut.charCodeAt(cut.length - 1))) cut = cut.slice(0, -1);
  return cut.isWellFormed() ? cut : cut.toWellFormed();
}

/**
 * `text` for a log line: whole up to `max` characters, else cut there and followed by its
 * length, so that a reader knows it was cut and by how much.
 */
export function textForLog(text: string, max: number): string {
  return text.length <= max ? text : `${boundedText(text, max)}… (${text.length} characters)`;
}

export function isHighSurrogate(unit: number): boolean {
  return unit >= 0xd800 && unit <= 0xdbff;
}

export function isLowSurrogate(unit: number): boolean {
  return unit >= 0xdc00 && unit <= 0xdfff;
}

/** Code points of `text`, as `for of` counts them: a surrogate pair is one, a lone surrogate one. */
export function codePointCount(text: string): number {
  let count = text.length;
  for (let i = 0; i < text.length - 1; i++) {
    if (isHighSurrogate(text.charCodeAt(i)) && isLowSurrogate(text.charCodeAt(i + 1))) {
      count--;
      i++;
    }
  }
  return count;
}

/** A UTF-16 unit moved so that surrogates (code points above U+FFFF) sort after U+E000–U+FFFF. */
function codePointRank(unit: number): number {
  if (unit >= 0xd800 && unit <= 0xdfff) return unit + 0x2000;
  return unit >= 0xe000 ? unit - 0x800 : unit;
}

/** A unit from U+D800 up: only where both strings hold one can UTF-16 order differ from code point order. */
const HIGH_UNIT = /[\ud800-\uffff]/;

/**
 * The order of `a` and `b` by code points (Go's and UTF-8's byte order), negative, 0 or
 * positive, where `<` compares UTF-16 units and puts U+FF61 after U+1F600.
 */
export function compareCodePoints(a: string, b: string): number {
  if (a === b) return 0;
  // JavaScript's comparison is native; a loop of charCodeAt went at ~2 ns a character of common prefix.
  if (!HIGH_UNIT.test(a) || !HIGH_UNIT.test(b)) return a < b ? -1 : 1;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}
