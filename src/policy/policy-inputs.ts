/**
 * What a policy set was loaded from: every file read (policy files, issuerKeyFiles, jwksFiles)
 * with the SHA-256 of the bytes read. A set is a function of these bytes alone, so a reload
 * that finds the same files listed and every one of them byte for byte as it was needs no parse:
 * the 10 s backstop poll otherwise parsed and compiled the whole set on the thread that answers
 * Checks (seconds for a large set), every time, to learn that nothing changed.
 */
import { sha256Hex } from '../crypto/sha256.js';
import { readRegularFile } from '../setting-file.js';

export class PolicyInputs {
  /** SHA-256 hex of each file's bytes, by the path it was read from. */
  readonly #files = new Map<string, { digest: string; maxBytes: number }>();

  /** `path` was read, with at most `maxBytes`, and held `bytes`. */
  record(path: string, bytes: Uint8Array, maxBytes: number): void {
    this.#files.set(path, { digest: sha256Hex(bytes), maxBytes });
  }

  /**
   * Whether every file still holds what it held (read as the load read it). Any doubt (a file
   * gone, unreadable, refused) is a change: the full load then says what is wrong.
   */
  unchanged(): boolean {
    for (const [path, { digest, maxBytes }] of this.#files) {
      try {
        if (sha256Hex(readRegularFile(path, maxBytes)) !== digest) return false;
      } catch {
        return false;
      }
    }
    return true;
  }
}
