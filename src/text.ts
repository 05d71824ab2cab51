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

function isHighSurrogate(unit: number): boolean {
  return unit >= 0xd800 && unit <= 0xdbff;
}
