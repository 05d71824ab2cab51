/**
 * Text from elsewhere (a bundle's file names, a manifest's origin, an error quoting either)
 * made safe to print: control characters, line and paragraph separators and bidirectional
 * overrides are written as \u{…} escapes. Printed raw, a file named "x\r…: OK" could overwrite
 * the line before it and fake a verdict, and an escape sequence could restyle the terminal.
 * Pure: the escape is the same wherever it is printed.
 */
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu;

export function forTerminal(text: string): string {
  return text.replace(UNPRINTABLE, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`);
}
