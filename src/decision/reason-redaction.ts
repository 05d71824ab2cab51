/**
 * A reason a policy writes at run time (a CEL policy's `.WithMessage(…)`) can quote the request:
 * `"api key " + headers["x-api-key"] + " may not " + path`, where CEL's path carries the query.
 * That reason is sent to the client and recorded in the receipt, which is signed, append-only
 * and public; the receipt itself never holds a header, the query or `;params` (SPEC §5,
 * docs/receipts.md), so a reason must not carry them in either. Before a policy's reason is
 * used, every secret-bearing value of the request in it is replaced by `[redacted]`:
 *
 *   - the query (`?…`, with and without its fragment) and each query parameter's value;
 *   - the `;params` cut from the path and each param's value;
 *   - the value of every header whose name says it carries a credential (authorization,
 *     proxy-authorization, cookie, x-api-key, x-auth-token, x-amz-security-token, …) and of
 *     each header a JWT rule reads, whole and in parts (`Basic <b64>`, `sid=<id>; theme=dark`);
 *   - every JWT in any other header: a load balancer's (AWS ALB's x-amzn-oidc-data) or a DPoP
 *     proof is a signed token all the same, and a header's name cannot be relied on to say so.
 *
 * Parts shorter than MIN_SECRET_CHARS are left: a reason that says `page 2` or `true` is not a
 * credential, and redacting every `2` would make it unreadable. A reason cut to a bound may end
 * inside a secret; a tail that begins one is redacted too. What else a reason quotes (a plain
 * header such as a tenant name, the normalised path) stays: the policy's author chose it.
 */
import type { CheckInput } from './check-input.js';

export const REDACTED = '[redacted]';
/** Shorter values and parts are not taken for secrets (see above). */
export const MIN_SECRET_CHARS = 6;

/** Header names that carry credentials by convention (RFC 9110 §11, cookies, API keys, tokens). */
const CREDENTIAL_HEADER = /auth|token|key|secret|session|cookie|passw|credential|signature|jwt|bearer/i;
/** A JWT in compact form (JWS: three parts, JWE: five), its header base64url JSON (`eyJ`). */
const COMPACT_JWT = /^eyJ[\w-]*(?:\.[\w-]*){2,4}$/;

/**
 * `text` with every secret-bearing value of `input` in it replaced by REDACTED. Every secret is
 * looked for in the text as the policy wrote it, and each run of text covered by one or more
 * (overlapping) secrets becomes one REDACTED. Never secret after secret over the text already
 * redacted: a request's pieces of `[redacted]` then matched inside the marks the ones before left,
 * each round making the text longer (a 1.7 kB header turned a 1 kB reason into 31 million
 * characters), and a secret overlapping one already replaced kept its uncovered half.
 */
export function redactRequestSecrets(text: string, input: CheckInput, jwtHeaders: readonly string[] = []): string {
  const secrets = requestSecrets(input, jwtHeaders);
  // coverEnd[i]: where the longest secret found at i ends (0: none starts there).
  const coverEnd = new Uint32Array(text.length + 1);
  for (const secret of secrets) {
    for (let at = text.indexOf(secret); at >= 0; at = text.indexOf(secret, at + 1)) coverEnd[at] = Math.max(coverEnd[at]!, at + secret.length);
  }
  const tail = cutTailStart(text, secrets);
  if (tail < text.length) coverEnd[tail] = text.length;
  let out = '';
  let from = 0;
  for (let at = 0; at < text.length; at++) {
    if (coverEnd[at]! <= at) continue;
    let end = coverEnd[at]!;
    for (let inside = at + 1; inside < end; inside++) end = Math.max(end, coverEnd[inside]!);
    out += `${text.slice(from, at)}${REDACTED}`;
    from = end;
    at = end - 1;
  }
  return out + text.slice(from);
}

/** The secret-bearing values of a request, longest first (a value before the parts inside it). */
export function requestSecrets(input: CheckInput, jwtHeaders: readonly string[] = []): string[] {
  const { suffix, query, params } = input.target;
  const found = new Set<string>([suffix, query, query.slice(1), params]);
  for (const pair of query.slice(1).split('&')) addValue(found, pair);
  for (const param of params.split(';')) addValue(found, param);
  const named = new Set(jwtHeaders.map((h) => h.toLowerCase()));
  for (const [name, value] of input.headers) {
    if (name.startsWith(':')) continue;
    const credential = CREDENTIAL_HEADER.test(name) || named.has(name);
    if (credential) found.add(value);
    for (const part of value.split(/[\s,;]+/)) {
      if (credential) addValue(found, part);
      else if (COMPACT_JWT.test(valueOf(part))) found.add(valueOf(part));
    }
  }
  return [...found].filter((s) => s.length >= MIN_SECRET_CHARS).sort((a, b) => b.length - a.length);
}

/** `name=value` or a bare value: the value. */
function valueOf(part: string): string {
  return part.slice(part.indexOf('=') + 1);
}

/** `name=value` or a bare value: the value, as sent and percent-decoded. */
function addValue(found: Set<string>, part: string): void {
  const value = valueOf(part);
  found.add(value);
  try {
    found.add(decodeURIComponent(value.replace(/\+/g, ' ')));
  } catch {
    // A malformed escape: the value as sent is enough.
  }
}

/**
 * Where a text that ends with the start of a secret (cut there by a bound) begins that tail, or
 * the text's length. Each secret is looked for by its first MIN_SECRET_CHARS characters only, so
 * a request of thousands of cookie parts costs one scan of the text per part, not one per part
 * and length.
 */
function cutTailStart(text: string, secrets: readonly string[]): number {
  let cut = text.length;
  for (const secret of secrets) {
    const head = secret.slice(0, MIN_SECRET_CHARS);
    for (let at = text.lastIndexOf(head); at >= 0 && text.length - at < secret.length; at = text.lastIndexOf(head, at - 1)) {
      if (secret.startsWith(text.slice(at)) && at < cut) cut = at;
      if (at === 0) break;
    }
  }
  return cut;
}
