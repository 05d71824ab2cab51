/** Parsing and shape checks for attacker-controlled JSON, shared by every parser. Pure. */
import { ChioError } from './errors/index.js';

/** True for a JSON object: not null, not an array. */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * True when a string anywhere in `value` (a JSON.parse result), member names included, holds a
 * lone surrogate: `"\ud83d"` is valid JSON text that decodes to half a character, which has no
 * UTF-8 form (I-JSON, RFC 7493 §2.1), so nothing holding it can be signed as canonical JSON.
 * Walked without recursion: a value nested thousands deep must not overflow the stack.
 */
export function holdsLoneSurrogate(value: unknown): boolean {
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const v = pending.pop();
    if (typeof v === 'string') {
      if (!v.isWellFormed()) return true;
    } else if (Array.isArray(v)) {
      for (const item of v) pending.push(item);
    } else if (typeof v === 'object' && v !== null) {
      for (const [key, member] of Object.entries(v)) {
        if (!key.isWellFormed()) return true;
        pending.push(member);
      }
    }
  }
  return false;
}

/**
 * JSON.parse(text), refusing an object that names a member twice: JSON.parse keeps the last
 * one, a person reading the text sees the first, so the same bytes would say two things (RFC
 * 8259 §4 leaves it to each reader). Throws ChioError('MALFORMED').
 */
export function parseJsonText(text: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new ChioError('MALFORMED', 'not JSON', { cause });
  }
  const twice = memberNamedTwice(text);
  if (twice !== undefined) throw new ChioError('MALFORMED', `an object names member ${JSON.stringify(twice)} twice`);
  return value;
}

/** In JSON text (valid: JSON.parse took it), the first member name an object holds twice. */
function memberNamedTwice(text: string): string | undefined {
  // The names seen in each object open around the current place; undefined for an array.
  const open: Array<Set<string> | undefined> = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '{') open.push(new Set());
    else if (c === '[') open.push(undefined);
    else if (c === '}' || c === ']') open.pop();
    else if (c === '"') {
      let end = i + 1;
      while (text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      let next = end + 1;
      while (text[next] === ' ' || text[next] === '\t' || text[next] === '\n' || text[next] === '\r') next++;
      const names = open.at(-1);
      // A string in an object is a name when a colon follows it; compared decoded ("\u0061" is "a").
      if (names !== undefined && text[next] === ':') {
        const name = JSON.parse(text.slice(i, end + 1)) as string;
        if (names.has(name)) return name;
        names.add(name);
      }
      i = end;
    }
  }
  return undefined;
}
