/**
 * The path policies match on. Envoy under Istio normalises paths before ext_authz (RFC 3986
 * dot segments, backslashes, merged slashes), but a CheckRequest is attacker-controlled and
 * upstream servers are lenient, so Chio normalises again and matches what an upstream would
 * route — never the raw string:
 *
 *   1. set the query and fragment aside;
 *   2. an encoded slash or backslash (%2F, %5C) is refused: Envoy and upstreams disagree on it;
 *      so is an encoded control character (%00, %0A…), as a raw one is, and a leading `//`
 *      (or `/\`), which a URL parser reads as an authority;
 *   3. each character gets one spelling: escapes of unreserved characters, of the sub-delims
 *      other than `;` and `*`, and of `:` and `@` are decoded (%2e → '.', %3A → ':'), since an
 *      upstream decodes them to the same path (`;` starts params, `*` is the patterns'
 *      wildcard); other escapes are kept, upper-cased; a character a path holds only escaped
 *      (non-ASCII, space, `"`, `*`…) is escaped as UTF-8, as Envoy's normalize_path writes it
 *      (é → %C3%A9);
 *   4. backslashes become slashes;
 *   5. `;params` are cut from every segment (Tomcat & co. route /admin;x=1 as /admin) and set
 *      aside: receipts record them only as a hash, since they can carry session ids; a `.` or
 *      `..` with params (`..;x`) is refused: a dot segment to Tomcat, a name to Envoy and Go;
 *   6. dot segments are removed (RFC 3986 §5.2.4) and repeated slashes merged; a `..` that
 *      would remove an empty segment (`/a//../b`) is refused: the two orders disagree on it;
 *      so is a path they leave starting with `//` (`/.//evil`), as a raw one is (step 2).
 *
 * Matching stays case-sensitive, as in Istio: /TOOLS is not /tools.
 */
import { ChioError } from '../errors/index.js';

/** What an escape is decoded to: unreserved, and the sub-delims, `:` and `@` but `;` and `*` (step 3). */
const DECODED = /[A-Za-z0-9\-._~!$&'()+,=:@]/;
/**
 * An escape, or a character a path does not hold as it is (it holds unreserved characters, the
 * sub-delims but `*`, `:` and `@`, and `/`, `\\` and `;`, which steps 2–5 handle). Only these
 * are visited: a plain path is one scan, not one callback per character.
 */
const TO_NORMALISE = /%([0-9a-fA-F]{2})?|[^A-Za-z0-9\-._~!$&'()+,=:@%/\\;]/gu;

/** A request target split into what policies match and what was set aside. */
export interface NormalisedTarget {
  /** The normalised path: what every policy kind and grant matches. */
  path: string;
  /** The path as sent, without query and fragment. */
  rawPath: string;
  /** `?query` as sent ('' when none), up to any fragment. */
  query: string;
  /** `?query#fragment` as sent: everything after the path, recorded only as a hash. */
  suffix: string;
  /** The `;params` cut from the segments, concatenated in order ('' when none). */
  params: string;
}

/**
 * A path pattern (Istio's forms: exact, `prefix*`, `*suffix`, or `*`) in the form request
 * paths are matched in, so that a pattern matches every spelling of what it names: its escapes
 * as step 3 leaves them, unreserved characters decoded and the rest upper-cased (`%7Eadmin` is
 * `~admin`, `report%3bdraft` is `report%3Bdraft`). Throws ChioError('CONFIG_INVALID') for a
 * pattern that no normalised path can match, rather than keep a rule that silently never
 * applies (a DENY that denies nothing): an encoded slash or control character, a backslash, `;`, `?` or `#`, a dot
 * segment or an empty one, an exact or prefix pattern not starting with `/`, and Istio's path
 * templates (`{*}`, `{**}`) or a `*` anywhere but at one end, which Chio does not expand.
 */
export function normalizePathPattern(pattern: string): string {
  if (pattern === '*') return pattern;
  const refuse = (why: string) => new ChioError('CONFIG_INVALID', `path pattern ${JSON.stringify(pattern)} ${why}`);
  const lead = pattern.startsWith('*') ? '*' : '';
  const trail = !lead && pattern.endsWith('*') ? '*' : '';
  const core = pattern.slice(lead.length, pattern.length - trail.length);
  if (/[{}]/.test(core)) throw refuse('is an Istio path template ({*}, {**}), which Chio does not expand');
  if (core.includes('*')) throw refuse('has a * inside: a pattern is exact, prefix*, *suffix or *');
  if (!lead && !core.startsWith('/')) throw refuse('does not start with / or *: no request path would match it');
  if (/[\\;?#]/.test(core)) throw refuse('has a backslash, ; ? or #, which a normalised path never holds');
  if (/%(2f|5c)/i.test(core)) throw refuse('has an encoded slash, which a request is refused for');
  const escaped = normalEscapes(core, refuse);
  // Whole segments only: the first of a *suffix and the last of a prefix* are parts of one.
  const segments = escaped.split('/');
  const whole = segments.slice(lead ? 1 : 0, trail ? -1 : undefined);
  if (whole.some((s) => s === '.' || s === '..')) throw refuse('has a dot segment, which a normalised path never holds');
  if (segments.slice(1, -1).some((s) => s === '')) throw refuse('has an empty segment (//), which a normalised path never holds');
  return `${lead}${escaped}${trail}`;
}

/** Normalise a request target (steps above); throws ChioError('REQUEST_MALFORMED') when it is refused. */
export function normalizeTarget(target: string): NormalisedTarget {
  const cut = target.search(/[?#]/);
  const raw = cut < 0 ? target : target.slice(0, cut);
  const suffix = cut < 0 ? '' : target.slice(cut);
  const query = suffix.startsWith('?') ? suffix.split('#', 1)[0]! : '';
  const refuse = (why: string) => new ChioError('REQUEST_MALFORMED', `path ${why}`);
  if (raw !== '' && !raw.startsWith('/')) throw refuse('does not start with /');
  if (/%(2f|5c)/i.test(raw)) throw refuse('has an encoded slash');
  // A network-path reference to a URL parser (Node's `new URL(req.url, base)`, any WHATWG one):
  // //evil/admin is host `evil`, path /admin there, and /evil/admin once slashes are merged.
  // Envoy forwards it unmerged under Istio's default BASE, so a DENY of /admin was walked around.
  if (/^[/\\]{2}/.test(raw)) throw refuse('starts with //, which a URL parser reads as a host');
  // No path at all (a CONNECT's): none, not `/`, which an ALLOW of `/` alone would have let through.
  if (raw === '') return { path: '', rawPath: raw, query, suffix, params: '' };
  const decoded = normalEscapes(raw, refuse);
  let params = '';
  const sent = decoded.replace(/\\/g, '/').split('/');
  const segments = sent.map((s) => {
    const at = s.indexOf(';');
    if (at < 0) return s;
    // `..;x` is a dot segment only to Tomcat and its kind; Envoy's normalize_path, Go and
    // Express keep it, and route /admin/..;x/secret under /admin/ where Chio read /secret. No
    // one reading is safe for every upstream: refused, as an encoded slash is.
    if (/^\.\.?$/.test(s.slice(0, at))) throw refuse('has a dot segment with ;params, which upstreams disagree on');
    params += s.slice(at);
    return s.slice(0, at);
  });
  // An empty segment (`//`, or `;x` once cut) is merged away, but to Envoy's normalize_path (RFC
  // 3986 first, merge_slashes after) it is a segment a `..` removes: /admin//../secret is
  // /admin/secret there and /secret to Tomcat, Go and nginx. Kept as '' until a `..` reaches it,
  // which is refused; ignored, Chio read /secret and a DENY of /admin/* was walked around.
  // Indices into `segments`, so that what Envoy keeps (`;x`, cut here) stays told from `//`.
  const out: number[] = [];
  for (let i = 1; i < segments.length; i++) {
    if (segments[i] === '.') continue;
    if (segments[i] !== '..') out.push(i);
    else if (out.length > 0 && segments[out.pop()!] === '') throw refuse('has a .. after an empty segment, which upstreams disagree on');
  }
  // Dot segments can leave a leading `//` the raw path did not have: Envoy's normalize_path
  // writes /.//evil/admin (or /..//, /a/..//) as //evil/admin, which a URL parser reads as host
  // `evil`, path /admin; merged, Chio read /evil/admin and a DENY of /admin was walked around.
  const first = out[0];
  if (first !== undefined && sent[first] === '' && first < sent.length - 1) throw refuse('starts with // once dot segments are removed, which a URL parser reads as a host');
  const trailing = segments.length > 1 && ['', '.', '..'].includes(segments[segments.length - 1]!);
  const names = out.map((i) => segments[i]!).filter((s) => s !== '');
  const path = `/${names.join('/')}${trailing && names.length > 0 ? '/' : ''}`;
  return { path, rawPath: raw, query, suffix, params };
}

/**
 * Step 3: one spelling per character. Escapes of DECODED characters are decoded, the others
 * upper-cased; a malformed one is refused. Any other character matched is escaped: `é` and
 * `%C3%A9`, ` ` and `%20`, `*` and `%2A` are each one path, as an upstream decodes them.
 */
function normalEscapes(text: string, refuse: (why: string) => ChioError): string {
  return text.replace(TO_NORMALISE, (ch, hex: string | undefined) => {
    if (ch === '%' && hex === undefined) throw refuse('has a malformed percent-escape');
    if (hex === undefined) return escape(ch, refuse);
    const code = parseInt(hex, 16);
    // Refused as a raw one is (check-input.ts): an upstream decodes it, and some cut the path there.
    if (code < 0x20 || code === 0x7f) throw refuse('has an encoded control character');
    const decoded = String.fromCharCode(code);
    return DECODED.test(decoded) ? decoded : `%${hex.toUpperCase()}`;
  });
}

/** A character's UTF-8 escapes, upper-cased (encodeURIComponent leaves `*` as it is). */
function escape(ch: string, refuse: (why: string) => ChioError): string {
  if (ch === '*') return '%2A';
  try {
    return encodeURIComponent(ch);
  } catch {
    throw refuse('is not valid UTF-8');
  }
}

/** The normalised path of a request target; throws ChioError('REQUEST_MALFORMED') when it is refused. */
export function normalizePath(target: string): string {
  return normalizeTarget(target).path;
}
