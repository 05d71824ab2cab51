/**
 * Credentials in a request header, found as Envoy's jwt_authn finds them. A repeated header
 * reaches Chio as one value joined with ',' (decision/check-input.ts); Envoy looks at each value
 * on its own and takes what follows the prefix wherever in the value it stands. Chio must find
 * every credential Envoy or an upstream would: one it overlooks (a second `authorization` line
 * after a Basic one, say) is neither verified nor removed, and reaches the upstream.
 *
 * Tokens (JWTs, capability tokens) hold no ','. The prefix is matched without regard to case
 * (auth schemes are case-insensitive, RFC 9110 §11.1), which finds more than Envoy, never less.
 */

const prefixPatterns = new Map<string, RegExp>();

function patternOf(prefix: string): RegExp {
  let pattern = prefixPatterns.get(prefix);
  if (!pattern) {
    pattern = new RegExp(prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'i');
    // Prefixes come from configuration, so few; the bound only keeps a reload loop from growing this.
    if (prefixPatterns.size >= 256) prefixPatterns.clear();
    prefixPatterns.set(prefix, pattern);
  }
  return pattern;
}

/**
 * What follows `prefix` in each of the values joined in `header`, trimmed; every non-empty
 * value when `prefix` is empty. Values without the prefix hold no credential of this location.
 */
export function valuesAfterPrefix(header: string | undefined, prefix: string): string[] {
  if (header === undefined) return [];
  const found: string[] = [];
  const pattern = prefix === '' ? undefined : patternOf(prefix);
  for (const part of header.split(',')) {
    if (!pattern) {
      const value = part.trim();
      if (value !== '') found.push(value);
      continue;
    }
    const match = pattern.exec(part);
    if (match) found.push(part.slice(match.index + match[0].length).trim());
  }
  return found;
}
