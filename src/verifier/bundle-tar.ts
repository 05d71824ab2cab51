/**
 * A compliance bundle posted to POST /v1/verify as a tar of its directory (`tar -C DIR -cf - .`),
 * read into memory as hostile input, the way `chio verify-export` lists a directory: only
 * regular files and the folders `./` and `policies/`; each file's name one a bundle has
 * (`manifest.json` or `./manifest.json`; no `..`, no absolute path), given once, at most
 * MAX_BUNDLE_FILES of them, and none past its own bound (export-steps.ts). A link, a device, a
 * FIFO or any other entry is refused before anything is checked, and so is a file's content
 * past its bound, before it is held. The tar format is tar-stream's to parse, not ours.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { extract, type Extract, type Header } from 'tar-stream';
import { ChioError } from '../errors/index.js';
import type { BundleArchive } from '../verify/bundle-report.js';
import { MAX_BUNDLE_FILES, POLICIES_DIR, RECEIPTS_FILE } from '../verify/export-format.js';
import { boundOfBundleFile, type BundleReader } from '../verify/export-steps.js';
import { blocksRefusal, endOfEntry } from './tar-blocks.js';

/** receipts.jsonl is handed over in chunks this large, with a turn of the event loop between them. */
const RECEIPTS_CHUNK_BYTES = 256 * 1024;
/**
 * The body is handed to the parser in pieces this large, with a turn of the event loop between
 * them: parsing 64 MiB of headers (131,000 folder entries, or empty blocks it skips) held the
 * loop 2 s at once, and no other request of the verifier was answered meanwhile.
 */
const TAR_CHUNK_BYTES = 256 * 1024;
/** An entry name is quoted in a refusal up to this many characters. */
const MAX_QUOTED_NAME = 200;

/** The body is not a tar at all (400), as opposed to a tar that is no bundle (a report). */
export class NotATar extends ChioError {
  constructor(why: string) {
    super('MALFORMED', `the body is not a tar archive (${why}); make one with: tar -C DIR -cf - .`);
  }
}

/**
 * The bundle in the tar `body`; a refusal (with the entry it names) for a tar that holds
 * anything else. Throws NotATar when `body` does not parse as a tar or holds no entry.
 */
export async function readBundleTar(body: Uint8Array): Promise<BundleArchive> {
  const files = new Map<string, Uint8Array>();
  const parser = extract();
  void feed(parser, body);
  let entries = 0;
  // Where the entry before ended: what lies between it and the next entry's header is checked too.
  let end = 0;
  try {
    for await (const entry of parser) {
      entries++;
      const why = blocksRefusal(body, end, entry.offset, entry.header) ?? refusal(entry.header, files);
      if (why !== undefined) {
        parser.destroy();
        const where = quote(entry.header.name);
        return { refused: new ChioError('BUNDLE_INVALID', `${where}: ${why}`), where };
      }
      end = endOfEntry(entry.offset, entry.header);
      if (entry.header.type === 'directory') {
        entry.resume();
        continue;
      }
      const path = bundlePath(entry.header.name);
      const chunks: Uint8Array[] = [];
      let size = 0;
      for await (const chunk of entry as AsyncIterable<Uint8Array>) {
        size += chunk.length;
        // The header said no more; a parser that gave more is not believed.
        if (size > entry.header.size) throw new NotATar(`${quote(entry.header.name)} holds more than its header says`);
        chunks.push(chunk);
      }
      files.set(path, concat(chunks, size));
    }
  } catch (err) {
    if (err instanceof NotATar) throw err;
    throw new NotATar(err instanceof Error ? err.message : 'it does not parse');
  }
  if (entries === 0) throw new NotATar('it holds no entry');
  return { reader: memoryReader(files) };
}

/** Writes `body` to `parser` piece by piece, each once the one before is parsed; stops when the parser is destroyed. */
async function feed(parser: Extract, body: Uint8Array): Promise<void> {
  const parsed = () => new Promise<void>((resolve) => {
    const done = () => {
      parser.off('drain', done).off('close', done);
      resolve();
    };
    parser.on('drain', done).on('close', done);
  });
  for (let at = 0; at < body.length; at += TAR_CHUNK_BYTES) {
    if (parser.destroyed) return;
    if (!parser.write(body.subarray(at, at + TAR_CHUNK_BYTES))) await parsed();
    await nextTurn();
  }
  if (!parser.destroyed) parser.end(undefined);
}

/** Why the entry `header` is no part of a bundle, or undefined when it may be. */
function refusal(header: Header, files: ReadonlyMap<string, Uint8Array>): string | undefined {
  const path = bundlePath(header.name);
  if (header.type === 'directory') {
    return path === '' || path === '.' || path === POLICIES_DIR ? undefined : `a folder that is no part of a bundle (only ${POLICIES_DIR}/ is)`;
  }
  if (header.type !== 'file') return `a ${header.type} entry, not a plain file (a bundle holds only files and the ${POLICIES_DIR}/ folder)`;
  // tar-stream calls it a file, GNU tar extracts it as a folder.
  if (header.name.endsWith('/')) return 'a file whose name ends in /, which tar extracts as a folder';
  const bound = boundOfBundleFile(path);
  if (bound === undefined) return 'no file of a bundle (manifest.json, manifest.sig, checkpoint, receipts.jsonl, consistency.json, policies/<hex>.json)';
  if (files.has(path)) return 'given twice';
  if (files.size >= MAX_BUNDLE_FILES + 2) return `the bundle holds more than ${MAX_BUNDLE_FILES} files`;
  if (header.size > bound) return `${header.size} bytes, over ${bound}`;
  return undefined;
}

/** A tar entry's name as a bundle path: `./` in front and `/` behind are the tar's, not the path's. */
function bundlePath(name: string): string {
  const path = name.startsWith('./') ? name.slice(2) : name;
  return path.endsWith('/') ? path.slice(0, -1) : path;
}

function quote(name: string): string {
  return name.length > MAX_QUOTED_NAME ? `${name.slice(0, MAX_QUOTED_NAME)}…` : name;
}

function concat(chunks: readonly Uint8Array[], size: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

function memoryReader(files: ReadonlyMap<string, Uint8Array>): BundleReader {
  const get = (path: string) => {
    const bytes = files.get(path);
    if (!bytes) throw new ChioError('BUNDLE_INVALID', `${path}: missing from the bundle`);
    return bytes;
  };
  return {
    paths: [...files.keys()],
    read(path, max) {
      const bytes = get(path);
      if (bytes.length > max) throw new ChioError('BUNDLE_INVALID', `${path}: ${bytes.length} bytes, over ${max}`);
      return bytes;
    },
    async *receipts() {
      const bytes = get(RECEIPTS_FILE);
      for (let at = 0; at < bytes.length; at += RECEIPTS_CHUNK_BYTES) {
        // Checking a large file takes seconds: other requests are answered in between.
        if (at > 0) await nextTurn();
        yield bytes.subarray(at, at + RECEIPTS_CHUNK_BYTES);
      }
    },
  };
}
