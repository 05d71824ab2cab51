/**
 * YAML documents as the yaml library parses them, with a duplicate key in a mapping an error,
 * found in one pass. The library's own check (uniqueKeys) compares each key with every other
 * key of its mapping: a 1 MiB policy file of 90,000 keys took some 45 s to parse, on the
 * thread that answers Checks, and a reload every 10 s parsed it again.
 * And a YAML error told in one line.
 */
import { isScalar, LineCounter, parseAllDocuments, visit, YAMLError, YAMLParseError, type Document } from 'yaml';

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

/** Every document of `text`; a document with a duplicate key has it among its errors. */
export function parseYamlDocuments(text: string): Document.Parsed[] {
  const lines = new LineCounter();
  const parsed = parseAllDocuments(text, { uniqueKeys: false, lineCounter: lines });
  const docs = Array.isArray(parsed) ? parsed : [];
  for (const doc of docs) {
    if (doc.errors.length > 0) continue;
    visit(doc, {
      Map(_, map) {
        // As the library's uniqueKeys: scalar keys by value, other keys (aliases, collections) by node.
        const seen = new Set<unknown>();
        for (const { key } of map.items) {
          const id = isScalar(key) ? key.value : key;
          if (seen.has(id)) {
            const at = (isScalar(key) ? key.range : undefined) ?? map.range ?? [0, 0];
            const { line, col } = lines.linePos(at[0]);
            doc.errors.push(new YAMLParseError([at[0], at[1]], 'DUPLICATE_KEY', `Map keys must be unique (${JSON.stringify(String(id)).slice(0, 64)} is there twice) at line ${line}, column ${col}`));
            return visit.BREAK;
          }
          seen.add(id);
        }
        return undefined;
      },
    });
  }
  return docs;
}
