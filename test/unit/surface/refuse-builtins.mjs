// Module hooks (node:module register) for a Node that has no builtins to offer: any import of
// one, from any module loaded after registration, fails to resolve, as it would in a browser.
import { isBuiltin } from 'node:module';

export async function resolve(specifier, context, nextResolve) {
  if (isBuiltin(specifier)) throw new Error(`Node builtin ${specifier} imported by ${context.parentURL}`);
  return nextResolve(specifier, context);
}
