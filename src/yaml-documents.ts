/**
 * YAML documents as the yaml library parses them, with a duplicate key in a mapping an error,
 * found in one pass. The library's own check (uniqueKeys) compares each key with every other
 * key of its mapping: a 1 MiB policy file of 90,000 keys took some 45 s to parse, on the
 * thread that answers Checks, and a reload every 10 s parsed it again. A key that would be
 * read as other text than was written (misreadKey) is an error too, as is a warning.
 * And a YAML error told in one line.
 */
import { isAlias, isCollection, isScalar, LineCounter, parseAllDocuments, parseDocument, visit, YAMLError, YAMLParseError, type Document, type ErrorCode, type YAMLMap } from 'yaml';

/**
 * A YAML error as one line: what and where (`… at line 6, column 1`). The library's message
 * goes on with the lines of the file it points at, which may hold a secret (a NATS password in
 * a config file, a capability token in a policy test file) and, printed escaped as one line
 * (`\u{a}spec:\u{a}\u{9}action…`), could not be read anyway.
 */
export function yamlErrorReason(err: unknown): string {
  if (err instanceof YAMLError) return err.message.split('\n', 1)[0]!.replace(/:$/, '');
  return err instanceof Error ? err.message : String(err);
}

/** Every document of `text`; a document with a duplicate or misread key, or a warning, has it among its errors. */
export function parseYamlDocuments(text: string): Document.Parsed[] {
  const lines = new LineCounter();
  const parsed = parseAllDocuments(text, { uniqueKeys: false, lineCounter: lines, logLevel: 'error' });
  const docs = Array.isArray(parsed) ? parsed : [];
  for (const doc of docs) checkDocument(doc, lines, false);
  return docs;
}

/**
 * The one document of `text` as JavaScript, for the YAML files that are not policies (the
 * config file, kernels.yaml, test, request and payload files), with merge keys (`<<`) merged
 * when `merge` is set. Throws the first YAMLError (yamlErrorReason tells it): one the parser
 * found, a duplicate or misread key, a warning, too many aliases. Never prints: the library's
 * parse() printed each warning with the line it was on (`natsPass: !secret hunter2`) to stderr.
 */
export function parseYaml(text: string, options: { maxAliasCount: number; merge?: boolean }): unknown {
  const lines = new LineCounter();
  const merge = options.merge ?? false;
  const doc = parseDocument(text, { uniqueKeys: false, lineCounter: lines, merge, logLevel: 'error' });
  checkDocument(doc, lines, merge);
  if (doc.errors.length > 0) throw doc.errors[0];
  return doc.toJS({ maxAliasCount: options.maxAliasCount });
}

/**
 * Add to `doc`'s errors its warnings (YAML Chio does not read as written: a tag it does not
 * know, `!mytag yes` read as if untagged; a directive or YAML version it does not know), then,
 * found in one pass, its first duplicate or misread key.
 */
function checkDocument(doc: Document.Parsed, lines: LineCounter, merge: boolean): void {
  const atKey = (key: unknown, map: YAMLMap, code: ErrorCode, what: string) => {
    const at = (isScalar(key) || isCollection(key) || isAlias(key) ? key.range : undefined) ?? map.range ?? [0, 0];
    const { line, col } = lines.linePos(at[0]);
    return new YAMLParseError([at[0], at[1]], code, `${what} at line ${line}, column ${col}`);
  };
  doc.errors.push(...doc.warnings);
  if (doc.errors.length > 0) return;
  visit(doc, {
    Map(_, map) {
      // Scalar keys by value (misreadKey refuses any other kind of key).
      const seen = new Set<unknown>();
      for (const { key } of map.items) {
        const misread = misreadKey(key, merge);
        if (misread !== undefined) {
          doc.errors.push(atKey(key, map, 'NON_STRING_KEY', misread));
          return visit.BREAK;
        }
        const id = isScalar(key) ? key.value : key;
        if (seen.has(id)) {
          doc.errors.push(atKey(key, map, 'DUPLICATE_KEY', `Map keys must be unique (${JSON.stringify(String(id)).slice(0, 64)} is there twice)`));
          return visit.BREAK;
        }
        seen.add(id);
      }
      return undefined;
    },
  });
}

/**
 * Why a mapping key would be read as other text than was written, or undefined. Keys become
 * strings: a list or mapping as its YAML text (`[ a, b ]`), an alias as whatever it points at,
 * `1.0` as "1", `0x10` as "16", `null` and `~` as "". Quoted, a key is read as written.
 * A merge key (`<<`) is read two ways: YAML 1.2 (Chio, unless a file says `%YAML 1.1`) takes
 * it for a key named `<<`, YAML 1.1 (Kubernetes, kyverno) merges the mapping it names; in an
 * open tree (a kyverno check) the policy would test a field no request has. Where a file is
 * read with `merge` set (policy test files), it merges.
 */
function misreadKey(key: unknown, merge: boolean): string | undefined {
  if (isCollection(key)) return 'a key that is a list or a mapping is not read as written (write a string)';
  if (isAlias(key)) return `a key that is an alias (*${key.source}) is not read as written (write the key)`;
  if (!isScalar(key)) return undefined;
  const written = key.source ?? '';
  if (written === '<<' && key.type === 'PLAIN' && merge) return undefined;
  if (written === '<<' && key.type === 'PLAIN') return 'a merge key (<<): YAML 1.2 reads a key named <<, YAML 1.1 (Kubernetes) merges (write the keys out)';
  if (typeof key.value === 'string') return undefined;
  if (written === '') return 'an empty key (write one)';
  if (key.value !== null && String(key.value) === written) return undefined;
  return `key ${JSON.stringify(written.slice(0, 64))} would be read as ${JSON.stringify(key.value === null ? '' : String(key.value))} (quote it)`;
}
