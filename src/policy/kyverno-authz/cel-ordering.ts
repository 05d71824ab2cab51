/**
 * CEL's ordering of the comparable types (cel-go common/types, each type's Compare), which the
 * list functions that sort or pick (./k8s-lists.ts, ./cel-lists.ts) compare with:
 *
 *   int, uint, double   by exact value, against each other too (an int past 2^53 is not the
 *                       double next to it); NaN cannot be ordered (an error, as Chio's `<`)
 *   string              by code point, as Go compares UTF-8 (JavaScript's `<` compares UTF-16
 *                       units, which puts U+FFFF after U+10000)
 *   bytes               byte by byte, a prefix first
 *   bool                false before true
 *   timestamp, duration by the instant or length
 *
 * Anything else (a list, a map, a message, null) and two values of different kinds (other than
 * numbers) cannot be ordered: an evaluation error, as cel-go's "no such overload".
 */
import { EvaluationError } from '@marcbachmann/cel-js';
import { Duration, UnsignedInt } from '@marcbachmann/cel-js/evaluator';
import { compareCodePoints } from '../../text.js';

export type Ordering = -1 | 0 | 1;

const noSuchOverload = (message: string) => new EvaluationError({ code: 'no_such_overload', message } as never);
const sign = (d: number | bigint): Ordering => (d < 0 ? -1 : d > 0 ? 1 : 0);

/** The kind a value is ordered as, undefined when it cannot be ordered. */
export function orderKindOf(v: unknown): string | undefined {
  if (typeof v === 'number' || typeof v === 'bigint' || v instanceof UnsignedInt) return 'number';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'bool';
  if (v instanceof Uint8Array) return 'bytes';
  if (v instanceof Date) return 'timestamp';
  if (v instanceof Duration) return 'duration';
  return undefined;
}

/** -1, 0 or 1 as `a` is before, with or after `b`; throws when the two cannot be ordered. */
export function compareCel(a: unknown, b: unknown): Ordering {
  const kind = orderKindOf(a);
  if (kind === undefined || kind !== orderKindOf(b)) throw noSuchOverload('no such overload: values of these types cannot be ordered');
  switch (kind) {
    case 'number':
      return compareNumbers(numberOf(a), numberOf(b));
    case 'string':
      return sign(compareCodePoints(a as string, b as string));
    case 'bool':
      return sign(Number(a) - Number(b));
    case 'bytes':
      return compareBytes(a as Uint8Array, b as Uint8Array);
    case 'timestamp':
      return sign((a as Date).getTime() - (b as Date).getTime());
    default: {
      const [x, y] = [a as Duration, b as Duration];
      return x.seconds !== y.seconds ? sign(x.seconds - y.seconds) : sign(x.nanos - y.nanos);
    }
  }
}

const numberOf = (v: unknown): number | bigint => (v instanceof UnsignedInt ? v.valueOf() : (v as number | bigint));

function compareNumbers(x: number | bigint, y: number | bigint): Ordering {
  if (Number.isNaN(x) || Number.isNaN(y)) throw new EvaluationError({ code: 'nan_ordering', message: 'NaN values cannot be ordered' } as never);
  if (typeof x === typeof y) return x < y ? -1 : x > y ? 1 : 0;
  return typeof x === 'bigint' ? compareIntToDouble(x, y as number) : (-compareIntToDouble(y as bigint, x as number) as Ordering);
}

/** Exact: `i` against the floor of `d`, then the fraction decides a tie. */
function compareIntToDouble(i: bigint, d: number): Ordering {
  if (d === Number.POSITIVE_INFINITY) return -1;
  if (d === Number.NEGATIVE_INFINITY) return 1;
  const floor = BigInt(Math.floor(d));
  if (i !== floor) return i < floor ? -1 : 1;
  return d > Math.floor(d) ? -1 : 0;
}

function compareBytes(a: Uint8Array, b: Uint8Array): Ordering {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return sign(a[i]! - b[i]!);
  return sign(a.length - b.length);
}
