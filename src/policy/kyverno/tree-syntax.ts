/**
 * The syntax of an assertion-tree key (and of a string leaf), read as kyverno-json reads it
 * (kyverno/kyverno-json pkg/core/expression/expression.go), in four steps on Go regexps:
 *
 *   foreach  `^~(\w+)?\.(.*)`             `~.x` iterates x; `~i.x` also binds $i
 *   binding  `(.*)\s*->\s*(\w+)$`         `x->name` binds the projection of x as $name
 *   escape   `^\\(.+)\\$`                 `\(x)\` is the plain field `(x)`
 *   engine   `^\((?:(\w+);)?(.+)\)$`      `(expr)` or `(jp;expr)` is a JMESPath expression
 *
 * Example: `~i.(values(headers))->all` iterates the values of `headers`, binding each index
 * as $i and the whole projection as $all.
 */

export interface Syntax {
  foreach: boolean;
  foreachName: string | null;
  binding: string | null;
  /** '' or 'jp' for JMESPath, as written; null for a plain field or literal. */
  engine: string | null;
  statement: string;
}

// Each step is linear in the text (Go's regexp is RE2; these must not backtrack).
const FOREACH = /^~(\w+)?\.(.*)$/;
const BINDING_NAME = /^\s*(\w+)$/;
const ESCAPE = /^\\(.+)\\$/;
const ENGINE = /^\((?:(\w+);)?(.+)\)$/;

/** Read `text` as kyverno-json's expression.Parse does: foreach, binding, then escape or engine. */
export function parseSyntax(text: string): Syntax {
  const out: Syntax = { foreach: false, foreachName: null, binding: null, engine: null, statement: text };
  const foreach = FOREACH.exec(out.statement);
  if (foreach) [out.foreach, out.foreachName, out.statement] = [true, foreach[1] ?? null, foreach[2] ?? ''];
  // `(.*)\s*->\s*(\w+)$`: only the last arrow can be followed by a bare name.
  const arrow = out.statement.lastIndexOf('->');
  const name = arrow < 0 ? null : BINDING_NAME.exec(out.statement.slice(arrow + 2));
  if (name && !out.statement.slice(0, arrow).includes('\n')) [out.binding, out.statement] = [name[1] ?? null, out.statement.slice(0, arrow).trimEnd()];
  const escaped = ESCAPE.exec(out.statement);
  const engine = escaped ? null : ENGINE.exec(out.statement);
  if (escaped) out.statement = escaped[1] ?? '';
  if (engine) [out.engine, out.statement] = [engine[1] ?? '', engine[2] ?? ''];
  return out;
}

// Go's `.` stops at \n only: its `~.` keeps the text before one, its binding the text after the
// last one. JavaScript's `.` stops at \r, U+2028 and U+2029 as well.
const LINE_BREAK = /[\n\r\u2028\u2029]/;
// Go's \s is [\t\n\f\r ]; JavaScript's adds \v, U+00A0, U+FEFF and the Unicode spaces.
const NOT_GO_SPACE = /[^\S\t\n\f\r ]/;

/**
 * Why kyverno-json's Go regexps would read `key` otherwise than parseSyntax, or null when the
 * two agree. Such a key is refused when the policy loads rather than read one way or the other:
 * a check kyverno-json applies and denies by must not be skipped here, nor the reverse.
 */
export function divergentKeyReason(key: string): string | null {
  const lineBreak = LINE_BREAK.exec(key);
  if (lineBreak) return `a line break (${codePoint(lineBreak[0])}): kyverno-json reads a key across lines otherwise`;
  const arrow = key.lastIndexOf('->');
  const binds = arrow >= 0 && BINDING_NAME.test(key.slice(arrow + 2));
  // Go's greedy `(.*)` leaves `\s*` nothing: `(expr) -> m` is the plain field "(expr) ".
  if (binds && /\s/.test(key.charAt(arrow - 1))) return 'whitespace before -> (kyverno-json keeps it in the field or expression): write x->name';
  const foreign = binds ? NOT_GO_SPACE.exec(key.slice(arrow + 2)) : null;
  if (foreign) return `whitespace after -> that kyverno-json does not read as whitespace (${codePoint(foreign[0])}), so it binds nothing`;
  return null;
}

/** `U+00A0`: a character named without printing it (it may be a line break). */
export function codePoint(char: string): string {
  return `U+${(char.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
}
