/**
 * Text from elsewhere (a bundle's file names, a manifest's origin, an error quoting either)
 * made safe to print: control characters, line and paragraph separators, bidirectional marks,
 * overrides and isolates, and zero-width characters are written as \u{…} escapes. Printed raw, a file named "x\r…: OK" could overwrite
 * the line before it and fake a verdict, and an escape sequence could restyle the terminal.
 * Pure: the escape is the same wherever it is printed.
 */
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]/gu;

export function forTerminal(text: string): string {
  return text.replace(UNPRINTABLE, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`);
}
