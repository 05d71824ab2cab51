/**
 * The path policies match on. Envoy under Istio normalises paths before ext_authz (RFC 3986
 * dot segments, backslashes, merged slashes), but a CheckRequest is attacker-controlled and
 * upstream servers are lenient, so Chio normalises again and matches what an upstream would
 * route — never the raw string:
 *
 *   1. drop the query and fragment;
 *   2. an encoded slash or backslash (%2F, %5C) is refused: Envoy and upstreams disagree on it;
 *   3. percent-encoded unreserved characters are decoded (%2e → '.', %41 → 'A'); other escapes
 *      are kept, upper-cased;
 *   4. backslashes become slashes;
 *   5. `;params` are cut from every segment (Tomcat & co. route /admin;x=1 as /admin);
 *   6. dot segments are removed (RFC 3986 §5.2.4) and repeated slashes merged.
 *
 * Matching stays case-sensitive, as in Istio: /TOOLS is not /tools.
 */
import { ChioError } from '../errors/index.js';

const UNRESERVED = /[A-Za-z0-9\-._~]/;

/** The normalised path of a request target; throws ChioError('MALFORMED') when it is refused. */
export function normalizePath(target: string): string {
  const raw = target.split(/[?#]/, 1)[0] ?? '';
  if (raw !== '' && !raw.startsWith('/')) throw new ChioError('MALFORMED', 'path does not start with /');
  if (/%(2f|5c)/i.test(raw)) throw new ChioError('MALFORMED', 'path has an encoded slash');
  const decoded = raw.replace(/%([0-9a-fA-F]{2})?/g, (match, hex: string | undefined) => {
    if (hex === undefined) throw new ChioError('MALFORMED', 'path has a malformed percent-escape');
    const ch = String.fromCharCode(parseInt(hex, 16));
    return UNRESERVED.test(ch) ? ch : `%${hex.toUpperCase()}`;
  });
  const segments = decoded.replace(/\\/g, '/').split('/').map((s) => s.split(';', 1)[0]!);
  const out: string[] = [];
  for (const segment of segments) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') out.pop();
    else out.push(segment);
  }
  const trailing = segments.length > 1 && ['', '.', '..'].includes(segments[segments.length - 1]!);
  return `/${out.join('/')}${trailing && out.length > 0 ? '/' : ''}`;
}
