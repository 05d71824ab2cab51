/**
 * The static module graph of an entry file: every file reachable through import, export … from,
 * import type and import(), following relative specifiers (a `.js` specifier in a `.ts` file
 * names the `.ts` source, as NodeNext has it) and bare ones into node_modules through each
 * package's `exports` (conditions `import`, then `default`) or `main`.
 *
 * Type-only imports are followed too: they vanish from the JavaScript, but a type that pulls in a
 * Node-only module would still drag @types/node into a browser user's compilation.
 */
import { existsSync, readFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import ts from 'typescript';

export interface ModuleGraph {
  /** Absolute paths of every file reached, the entry first. */
  files: string[];
  /** Imports of a Node builtin (`node:…` or a bare builtin name such as `fs`), with the importer. */
  builtins: Array<{ file: string; specifier: string }>;
  /** Bare imports that could not be resolved to a file (a broken walk must not pass silently). */
  unresolved: Array<{ file: string; specifier: string }>;
}

export function moduleGraph(entry: string): ModuleGraph {
  const graph: ModuleGraph = { files: [], builtins: [], unresolved: [] };
  const seen = new Set<string>();
  const queue = [resolve(entry)];
  for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
    if (seen.has(file)) continue;
    seen.add(file);
    graph.files.push(file);
    for (const specifier of importsOf(file)) {
      if (isBuiltin(specifier)) {
        graph.builtins.push({ file, specifier });
        continue;
      }
      const target = specifier.startsWith('.') ? resolveRelative(file, specifier) : resolvePackage(file, specifier);
      if (target === undefined) graph.unresolved.push({ file, specifier });
      else queue.push(target);
    }
  }
  return graph;
}

function importsOf(file: string): string[] {
  return ts.preProcessFile(readFileSync(file, 'utf8'), true, true).importedFiles.map((f) => f.fileName);
}

function resolveRelative(from: string, specifier: string): string | undefined {
  const target = resolve(dirname(from), specifier);
  const candidates = from.endsWith('.ts') ? [target.replace(/\.js$/, '.ts'), target] : [target, `${target}.js`, join(target, 'index.js')];
  return candidates.find((c) => existsSync(c));
}

function resolvePackage(from: string, specifier: string): string | undefined {
  const parts = specifier.split('/');
  const nameLength = specifier.startsWith('@') ? 2 : 1;
  const name = parts.slice(0, nameLength).join('/');
  const subpath = ['.', ...parts.slice(nameLength)].join('/');
  const root = packageRoot(from, name);
  if (root === undefined) return undefined;
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports?: unknown; main?: string };
  const target = manifest.exports !== undefined ? exportTarget(manifest.exports, subpath) : subpath === '.' ? (manifest.main ?? 'index.js') : subpath;
  if (target === undefined) return undefined;
  const file = join(root, target);
  return existsSync(file) ? file : undefined;
}

function packageRoot(from: string, name: string): string | undefined {
  for (let dir = dirname(from); ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}

function exportTarget(exports: unknown, subpath: string): string | undefined {
  const isSubpathMap = typeof exports === 'object' && exports !== null && Object.keys(exports).some((k) => k.startsWith('.'));
  const entry = isSubpathMap ? (exports as Record<string, unknown>)[subpath] : subpath === '.' ? exports : undefined;
  return conditionTarget(entry);
}

function conditionTarget(entry: unknown): string | undefined {
  if (typeof entry === 'string') return entry;
  if (typeof entry !== 'object' || entry === null) return undefined;
  const conditions = entry as Record<string, unknown>;
  return conditionTarget(conditions.import) ?? conditionTarget(conditions.default);
}

/** Node's globals that a browser lacks; a portable module must not reach for them. */
const NODE_GLOBALS = new Set(['Buffer', 'process', 'require', 'module', 'exports', '__dirname', '__filename', 'global', 'setImmediate']);

/** The Node globals `file` refers to (identifiers, not property names, comments or strings). */
export function nodeGlobalsIn(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const found = new Set<string>();
  const visit = (node: ts.Node): void => {
    if (ts.isIdentifier(node) && NODE_GLOBALS.has(node.text) && !isMemberName(node)) found.add(node.text);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return [...found];
}

function isMemberName(node: ts.Identifier): boolean {
  const parent = node.parent;
  const named = ts.isPropertyAccessExpression(parent) || ts.isPropertyAssignment(parent) || ts.isPropertySignature(parent) ||
    ts.isPropertyDeclaration(parent) || ts.isMethodDeclaration(parent) || ts.isMethodSignature(parent) ||
    ts.isExportSpecifier(parent) || ts.isImportSpecifier(parent);
  return named && (parent as { name?: ts.Node }).name === node;
}
