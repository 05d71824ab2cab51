/**
 * Text from elsewhere (a bundle's file names, a manifest's origin, an error quoting either, a
 * receipt on the explorer page) made safe to print: control characters (Cc), line and paragraph
 * separators (Zl, Zp), every format character (Cf: bidirectional marks, overrides and isolates,
 * zero-width characters, the word joiner, soft hyphen, invisible operators, tag characters) and
 * lone surrogates (Cs) are written as \u{…} escapes. Printed raw, a file named "x\r…: OK" could
 * overwrite the line before it and fake a verdict, an escape sequence could restyle the
 * terminal, and "a\u2060d\u00adm\u{e0061}in" reads "admin". The whole categories, not a list
 * of code points: a list missed the word joiner and the tag characters, which draw nothing.
 * Pure: the escape is the same wherever it is printed.
 */
const UNPRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/gu;

export function forTerminal(text: string): string {
  return text.replace(UNPRINTABLE, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`);
}
