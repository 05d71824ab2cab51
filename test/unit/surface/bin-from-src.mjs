// Module hooks (node:module register) that load what bin/chio.js imports from dist/ from its
// source in src/ instead, so that the real bin file runs under tsx without `npm run build`.
export async function resolve(specifier, context, nextResolve) {
  const built = context.parentURL?.endsWith('/bin/chio.js') ? /^\.\.\/dist\/(.+)\.js$/.exec(specifier) : null;
  return nextResolve(built ? `../src/${built[1]}.ts` : specifier, context);
}
