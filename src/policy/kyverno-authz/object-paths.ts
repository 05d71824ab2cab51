/**
 * What the load checks know of an expression's paths from `object` (the CheckRequest): which
 * fields a node reads, and the uint fields compared with an int or a double, which cel-go
 * refuses (see uintAgainstSigned).
 */
import { celPathKind } from '../kyverno/kyverno-input.js';
import { walkAst, type AstNode } from './cel-bounds.js';

/**
 * The fields from `object` that `n` reads (`object.a.b` is [a, b]), through a variable in
 * `variables` that is such a path itself; undefined when `n` is no such path.
 */
export function objectPath(n: any, variables: ReadonlyMap<string, string[]>): string[] | undefined {
  if (n?.op === 'id' && n.args === 'object') return [];
  if (n?.op !== '.' || !Array.isArray(n.args) || typeof n.args[1] !== 'string') return undefined;
  if (n.args[0]?.op === 'id' && n.args[0].args === 'variables') return variables.get(n.args[1]);
  const head = objectPath(n.args[0], variables);
  return head && [...head, n.args[1] as string];
}

type CheckedNode = AstNode & { checkedType?: { name?: string } };

const SIGNED = /^(int|double)$/;
/** What `in` looks through: a list of ints or doubles, or a map keyed by them. */
const SIGNED_CONTAINER = /^(list<(int|double)>|map<(int|double),)/;

/**
 * Why the expression is refused, if it compares a uint field of `object` (`port_value`, a
 * pipe's `mode`) with an int or a double: `port_value == 22`, `port_value in [22, 23]`. In
 * kyverno-authz cel-go types `object` by the Envoy proto, where these are uint32, and refuses
 * such a policy when it loads (no overload of == for uint and int); cel-js, which sees them as
 * dyn, would run it, and a policy that works here must also load there. Only comparisons
 * whose uint side is written out from `object` (or a variable that is such a path) are seen;
 * the others compare by value at run time (cel-run-guards.ts compareNumbersByValue).
 */
export function uintAgainstSigned(ast: AstNode, variables: ReadonlyMap<string, string[]>): string | undefined {
  for (const node of walkAst(ast)) {
    if ((node.op !== '==' && node.op !== '!=' && node.op !== 'in') || !Array.isArray(node.args)) continue;
    const [left, right] = node.args as [CheckedNode, CheckedNode];
    const pairs: Array<[CheckedNode, CheckedNode, RegExp]> =
      node.op === 'in' ? [[left, right, SIGNED_CONTAINER]] : [[left, right, SIGNED], [right, left, SIGNED]];
    for (const [field, other, signed] of pairs) {
      const path = objectPath(field, variables);
      if (!path || celPathKind(path) !== 'uint' || !signed.test(other.checkedType?.name ?? '')) continue;
      const written = ['object', ...path].join('.');
      const type = other.checkedType!.name!;
      const conversion = `${type.includes('double') ? 'double' : 'int'}(${path.at(-1)})`;
      return `${written} is a uint (uint32 in Envoy's proto), as in kyverno-authz, where ${node.op === 'in' ? 'looking it up in' : 'comparing it with'} a ${type} is a type error: write the number as a uint (${exampleOf(other)}u), or convert the field (${conversion})`;
    }
  }
  return undefined;
}

/** The first number written in `n` (`22` of `[22, 23]`), for the message; 22 when there is none. */
function exampleOf(n: AstNode): string {
  for (const v of walkAst(n)) {
    if (v.op === 'value' && (typeof v.args === 'bigint' || typeof v.args === 'number') && v.args >= 0) return String(Math.trunc(Number(v.args)));
  }
  return '22';
}
