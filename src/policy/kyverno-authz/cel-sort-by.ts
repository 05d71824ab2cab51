/**
 * cel-go's `<list>.sortBy(e, key)` (ext/lists.go), a macro: `key` is evaluated with `e` bound
 * to each element, then the list is sorted by those keys (./cel-lists.ts sortByKeys). cel-go
 * expands it to `cel.bind(l, list, l.@sortByAssociatedKeys(l.map(e, key)))`; here it is a
 * cel-js macro that does the same in one step: the list evaluated once, `key` type-checked
 * with `e` of the list's element type and required to be of a comparable type (or `dyn`).
 *
 * It uses what cel-js's own `cel.bind` and comprehensions use (lib/macros.js, operators.js):
 * `ctx.forkWithVariable` when checking, `iterCtx.reuse(ctx).setIterValue(v, ev)` per element
 * when evaluating. Its cost is estimated as a comprehension's (./cel-bounds.ts COMPREHENSIONS):
 * `key` runs once per element.
 */
import { EvaluationError, ParseError, type Environment } from '@marcbachmann/cel-js';
import { COMPARABLE_TYPES } from './k8s-lists.js';

/** The parts of cel-js's checker, evaluator, type and context a macro is given (cel-js 8). */
interface CelType {
  kind: string;
  name: string;
  valueType?: CelType;
}
interface Context {
  forkWithVariable(name: string, type: CelType): Context;
  reuse(parent: Context): Context;
  setIterValue(value: unknown, ev: Evaluator): Context;
}
interface Checker {
  check(node: unknown, ctx: Context): CelType;
  createError(code: string, message: string, node: unknown): Error;
}
interface Evaluator {
  run(node: unknown, ctx: Context): unknown;
}
interface MacroNode {
  op: string;
  args: unknown;
}

interface SortByMacro {
  receiver: MacroNode;
  iterVar: string;
  key: MacroNode;
  keyCtx?: Context;
  async: false;
  typeCheck(chk: Checker, m: SortByMacro, ctx: Context): CelType;
  evaluate(ev: Evaluator, m: SortByMacro, ctx: Context): unknown;
}

function typeCheck(chk: Checker, m: SortByMacro, ctx: Context): CelType {
  const listType = chk.check(m.receiver, ctx);
  if (listType.kind !== 'list' && listType.kind !== 'dyn') {
    throw chk.createError('invalid_argument', `sortBy can only be applied to a list, got '${listType.name}'`, m.receiver);
  }
  m.keyCtx = ctx.forkWithVariable(m.iterVar, listType.kind === 'list' ? listType.valueType! : listType);
  const keyType = chk.check(m.key, m.keyCtx);
  // `param`: the element type of `[]`, not known yet.
  if (keyType.kind !== 'dyn' && keyType.kind !== 'param' && !COMPARABLE_TYPES.includes(keyType.name)) {
    throw chk.createError('invalid_argument', `sortBy key must be of a comparable type, got '${keyType.name}'`, m.key);
  }
  return listType;
}

/** Adds the `sortBy` macro to `env`, sorting with `sortByKeys(list, keys)`. */
export function registerSortBy(env: Environment, sortByKeys: (list: readonly unknown[], keys: readonly unknown[]) => unknown[]): void {
  const evaluate = (ev: Evaluator, m: SortByMacro, ctx: Context): unknown => {
    const list = ev.run(m.receiver, ctx);
    if (!Array.isArray(list)) throw new EvaluationError({ code: 'invalid_argument', message: 'sortBy can only be applied to a list' } as never);
    const keyCtx = m.keyCtx!.reuse(ctx);
    const keys = list.map((v) => ev.run(m.key, keyCtx.setIterValue(v, ev)));
    return sortByKeys(list, keys);
  };
  const expand = ({ args, receiver }: { args: MacroNode[]; receiver: MacroNode }): SortByMacro => {
    const [iterVar, key] = args as [MacroNode, MacroNode];
    if (iterVar.op !== 'id' || typeof iterVar.args !== 'string') throw new ParseError({ code: 'invalid_macro_argument', message: 'sortBy(var, key) invalid iteration variable' } as never);
    return { receiver, iterVar: iterVar.args, key, async: false, typeCheck, evaluate };
  };
  env.registerFunction('list.sortBy(ast, ast): list<dyn>', expand as never);
}
