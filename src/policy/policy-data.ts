/**
 * What a policy document may hold once its YAML is read: JSON data, and not too much of it.
 * The YAML library also makes sets (`!!set`), ordered maps (`!!omap`), bytes (`!!binary`),
 * dates (`!!timestamp`), NaN and ±Infinity (`.nan`, `.inf`, `1e400`). The set's hash is taken
 * over JSON, in which these become something else (a set `{}`, NaN `null`), while the policy
 * enforced holds the value itself: `x-ok: !!set { y }` checked nothing and allowed, under the
 * hash of `!!set { z }`, and the set archived under that hash said something else again.
 */
import { MAX_JCS_DEPTH } from '../receipt/jcs.js';

/** Containers nest at most this deep in a document: the set around it adds two (jcs.ts bounds the whole). */
export const MAX_POLICY_DOCUMENT_DEPTH = MAX_JCS_DEPTH - 2;

/** Why a document cannot be a policy: too large, or not data at a field (`spec.rules.0`; '' for the document itself). */
export type NotPolicyData = { kind: 'too-large' } | { kind: 'not-data'; field: string; why: string };
const TOO_LARGE: NotPolicyData = { kind: 'too-large' };

/**
 * Undefined when `value` (a document as the YAML library made it) is JSON data nested at most
 * MAX_POLICY_DOCUMENT_DEPTH deep and about `budget` bytes as JSON at most (strings counted by
 * length, plus punctuation; an aliased node each time it appears, stopping once over); else
 * the first thing that is not, with its field.
 */
export function findNotPolicyData(value: unknown, budget: number): NotPolicyData | undefined {
  let left = budget;
  const walk = (v: unknown, field: string, depth: number): NotPolicyData | undefined => {
    const at = (key: string) => (field === '' ? key : `${field}.${key}`);
    if (typeof v === 'string') {
      left -= v.length + 2;
      // Half a character has no UTF-8 form: the set could not be hashed (jcs.ts), and would be refused without its file named.
      if (!v.isWellFormed()) return { kind: 'not-data', field, why: 'a string holding half a character (a lone surrogate escape)' };
    } else if (typeof v === 'number') {
      if (!Number.isFinite(v)) return { kind: 'not-data', field, why: 'not a finite number' };
      left -= String(v).length;
    } else if (typeof v === 'boolean' || v === null) {
      left -= 5;
    } else if (Array.isArray(v) || isPlainObject(v)) {
      if (depth > MAX_POLICY_DOCUMENT_DEPTH) return { kind: 'not-data', field, why: `nested deeper than ${MAX_POLICY_DOCUMENT_DEPTH}` };
      left -= 2;
      for (const [key, item] of Object.entries(v)) {
        left -= key.length + 4;
        if (!key.isWellFormed()) return { kind: 'not-data', field: at(key), why: 'a key holding half a character (a lone surrogate escape)' };
        if (left < 0) return TOO_LARGE;
        const found = walk(item, at(key), depth + 1);
        if (found) return found;
      }
    } else {
      return { kind: 'not-data', field, why: notDataWhy(v) };
    }
    return left < 0 ? TOO_LARGE : undefined;
  };
  return walk(value, '', 1);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/** What a YAML tag made of a value that is no JSON, in the words of its tag. */
function notDataWhy(v: unknown): string {
  if (v instanceof Set) return 'a set (!!set): write a list';
  if (v instanceof Map) return 'an ordered map (!!omap, !!pairs): write a mapping or a list';
  if (v instanceof Uint8Array) return 'bytes (!!binary): write the text';
  if (v instanceof Date) return 'a timestamp (!!timestamp): write it as a quoted string';
  return `not JSON data (${typeof v})`;
}
