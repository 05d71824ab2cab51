/**
 * Credentials in a request header, found at least wherever Envoy's jwt_authn finds them. A
 * repeated header reaches Chio as one value joined with ',' (decision/check-input.ts), as
 * Envoy's extractor joins it too; Envoy finds the prefix's first occurrence (in its case) and
 * takes the first run of base64url characters and dots after it, skipping anything else, ','
 * included. Chio reads that token, and what follows the prefix in each joined value: it must
 * find every credential Envoy or an upstream would. One it overlooks (a second `authorization` line after a Basic one, say) is neither verified nor
 * removed, and reaches the upstream. It also takes a value that starts with the prefix in
 * another case (auth schemes are case-insensitive, RFC 9110 §11.1), as it always has, and with
 * tabs or several blanks where the prefix ends in a space (`Bearer<TAB><jwt>`): upstreams that
 * split on whitespace read that as a Bearer, and capabilityBearers already does.
 *
 * Tokens (JWTs, capability tokens) hold no ','.
 */

/**
 * Blanks between a scheme and its token: every character JavaScript's \s takes (what
 * capabilityBearers always took: tab, space, no-break space, the Unicode spaces, U+FEFF…) and
 * NEL (U+0085), which Go's unicode.IsSpace takes too. An upstream splitting on whitespace
 * (strings.Fields, split(/\s+/)) reads `Bearer<NBSP><jwt>` as a Bearer; so must Chio, or the JWT
 * there is neither verified nor removed.
 */
const LEADING_BLANK = /^[\s\u0085]/;
const CAPABILITY_BEARER = /^[\s\u0085]*Bearer[\s\u0085]+([^\s\u0085]+)[\s\u0085]*$/i;

function isBlank(ch: string): boolean {
  return ch === '\u0085' || ch.trim() === '';
}

/** `text` without the blanks at either end: String.trim's (which are \s) and NEL; linear, no regex. */
function trimBlanks(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && isBlank(text[start]!)) start++;
  while (end > start && isBlank(text[end - 1]!)) end--;
  return text.slice(start, end);
}

/**
 * What follows `prefix` in each of the values joined in `header`, trimmed; every non-empty
 * value when `prefix` is empty. Values without the prefix hold no credential of this location.
 */
export function valuesAfterPrefix(header: string | undefined, prefix: string): string[] {
  if (header === undefined) return [];
  const found: string[] = [];
  const lower = prefix.toLowerCase();
  // `Bearer ` matches `Bearer` and any run of blanks (space, tab, NBSP…) at a value's start.
  const scheme = prefix.trimEnd().toLowerCase();
  const blankEnded = scheme !== '' && scheme !== lower;
  for (const part of header.split(',')) {
    const value = trimBlanks(part);
    if (prefix === '') {
      if (value !== '') found.push(value);
    } else if (value.slice(0, prefix.length).toLowerCase() === lower) {
      found.push(trimBlanks(value.slice(prefix.length)));
    } else if (blankEnded && value.slice(0, scheme.length).toLowerCase() === scheme && LEADING_BLANK.test(value.slice(scheme.length))) {
      found.push(trimBlanks(value.slice(scheme.length)));
    } else {
      const at = part.indexOf(prefix);
      if (at >= 0) found.push(trimBlanks(part.slice(at + prefix.length)));
    }
  }
  // And Envoy's own reading of the joined value: the first run of base64url characters and dots
  // after the prefix's first occurrence, past any other character, ',' too. `Bearer ,<jwt>`
  // holds no token value by value, yet Envoy verifies that JWT (and rejects it if forged).
  const envoys = prefix === '' ? undefined : envoyToken(header, prefix);
  if (envoys !== undefined && !found.includes(envoys)) found.push(envoys);
  return found;
}

const JWT_CHARACTERS = /[A-Za-z0-9_.-]+/;

function envoyToken(header: string, prefix: string): string | undefined {
  const at = header.indexOf(prefix);
  return at < 0 ? undefined : JWT_CHARACTERS.exec(header.slice(at + prefix.length))?.[0];
}

/**
 * The Chio capability tokens in an `authorization` header: each joined value that is exactly
 * `Bearer <token>` (any case, any blank after the scheme) with no dot in the token (a JWT has
 * two). Anchored at the value's start: Chio's own format has no Envoy spelling to follow, and
 * another scheme's parameters (a Digest `username="the bearer of news"`) are not a token.
 */
export function capabilityBearers(header: string | undefined): string[] {
  if (header === undefined) return [];
  const found: string[] = [];
  for (const part of header.split(',')) {
    const token = CAPABILITY_BEARER.exec(part)?.[1];
    if (token !== undefined && !token.includes('.')) found.push(token);
  }
  return found;
}
