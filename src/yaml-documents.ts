/**
 * YAML documents as the yaml library parses them, with a duplicate key in a mapping an error,
 * found in one pass. The library's own check (uniqueKeys) compares each key with every other
 * key of its mapping: a 1 MiB policy file of 90,000 keys took some 45 s to parse, on the
 * thread that answers Checks, and a reload every 10 s parsed it again.
 */
import { isScalar, parseAllDocuments, visit, YAMLParseError, type Document } from 'yaml';

/** Every document of `text`; a document with a duplicate key has it among its errors. */
export function parseYamlDocuments(text: string): Document.Parsed[] {
  const parsed = parseAllDocuments(text, { uniqueKeys: false });
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
            doc.errors.push(new YAMLParseError([at[0], at[1]], 'DUPLICATE_KEY', `Map keys must be unique (${JSON.stringify(String(id)).slice(0, 64)} is there twice)`));
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
