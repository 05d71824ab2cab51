/**
 * `requestPrincipals` patterns and `request.auth.principal` conditions, matched as Istio does:
 * not against the string `<iss>/<sub>`, but against the JWT's `iss` and `sub` claims apart.
 * Istio cuts each pattern at its last `/` (an issuer may be a URL, a subject is taken to hold no
 * `/`) and matches each side on its own; under a `*` each claim must be there and non-empty.
 *
 * Read as one string, `https://idp.example/*` took the tokens of the issuer
 * `https://idp.example/partner`, an exact principal took a token of a shorter issuer whose
 * subject spelled the rest, and `*` (notRequestPrincipals `*`: "require a JWT") took a
 * verified token without a subject, which Istio treats as no principal at all.
 */

/** The claims a request principal is read from; sub is absent when the token has none. */
export interface PrincipalClaims {
  iss: string;
  sub: string | undefined;
}

type Side = (value: string | undefined) => boolean;

const present: Side = (v) => v !== undefined && v !== '';
const exact = (want: string): Side => (v) => v === want;
const prefix = (want: string): Side => (v) => v !== undefined && v.startsWith(want);
const suffix = (want: string): Side => (v) => v !== undefined && v.endsWith(want);

/** Whether one pattern matches the principal (Istio's requestPrincipalGenerator, case by case). */
export function matchRequestPrincipal(pattern: string, claims: PrincipalClaims): boolean {
  const at = pattern.lastIndexOf('/');
  const cut = at >= 0;
  const iss = cut ? pattern.slice(0, at) : pattern;
  const sub = cut ? pattern.slice(at + 1) : '';
  let matchIss: Side;
  let matchSub: Side;
  if (pattern === '*') {
    [matchIss, matchSub] = [present, present];
  } else if (pattern.startsWith('*')) {
    // Istio reads a leading `*` first: `*/*` is any issuer with the subject `*` itself.
    if (cut) [matchIss, matchSub] = [iss === '*' ? present : suffix(iss.slice(1)), exact(sub)];
    else [matchIss, matchSub] = [present, suffix(pattern.slice(1))];
  } else if (pattern.endsWith('*')) {
    if (cut) [matchIss, matchSub] = [exact(iss), sub === '*' ? present : prefix(sub.slice(0, -1))];
    else [matchIss, matchSub] = [prefix(pattern.slice(0, -1)), present];
  } else {
    [matchIss, matchSub] = [exact(iss), exact(sub)];
  }
  return matchIss(claims.iss) && matchSub(claims.sub);
}

/** A (values, notValues) pair against the principal of a verified JWT, or of none. */
export function matchPrincipalField(values: readonly string[] | undefined, not: readonly string[] | undefined, claims: PrincipalClaims | undefined): boolean {
  const any = (patterns: readonly string[]) => claims !== undefined && patterns.some((p) => matchRequestPrincipal(p, claims));
  if (values && !any(values)) return false;
  return !(not && any(not));
}
