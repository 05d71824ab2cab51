/**
 * The JMESPath functions Chio defines as kyverno-json does, with the number of arguments each
 * takes. kyverno-json (pkg/jp/functions.go) builds one table from go-jmespath's functions, then
 * its own (wildcard, at, concat, json_parse), then Kyverno's (pkg/jp/kyverno): a later entry
 * replaces an earlier one of the same name, so Kyverno's replace, split, trim, sum and items are
 * the ones its policies run, not the JMESPath builtins the library here defines.
 *
 * go-jmespath checks a call's argument count only when it runs the call, and the error denies.
 * A call's argument count is written in the expression, so a call kyverno-json would refuse is
 * refused when the policy loads instead (arityRefusal), rather than denying every request.
 */
import { register, type InputSignature } from '@jmespath-community/jmespath';

type KyvernoJsonFunction = Parameters<typeof register>[1];

/** Least and most arguments of each function registered here. */
const ARITY = new Map<string, { least: number; most: number }>();

/** Register `fn` under `name`, replacing the library's function of that name, with its arity. */
export function registerAsKyvernoJson(name: string, fn: KyvernoJsonFunction, signature: InputSignature[]): void {
  const result = register(name as string, fn, signature, { override: true });
  if (!result.success) throw new Error(`registering ${name}(): ${result.message}`);
  const least = signature.filter((arg) => arg.optional !== true).length;
  ARITY.set(name, { least, most: signature.some((arg) => arg.variadic === true) ? Infinity : signature.length });
}

/** Why kyverno-json refuses a call of `name` with `count` arguments, or null when it takes them. */
export function arityRefusal(name: string, count: number): string | null {
  const arity = ARITY.get(name);
  if (arity === undefined || (count >= arity.least && count <= arity.most)) return null;
  const takes = arity.least === arity.most ? `${arity.least}` : arity.most === Infinity ? `at least ${arity.least}` : `${arity.least} to ${arity.most}`;
  return `${name}() takes ${takes} argument${takes === '1' ? '' : 's'} in kyverno-json, not ${count}`;
}
