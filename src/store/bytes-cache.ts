/**
 * Byte arrays kept in memory by key, up to a total size; the least recently used go first.
 * For content that never changes under its key (a tile path, a stream sequence), so nothing
 * here expires.
 */
export class BytesCache<K> {
  private readonly entries = new Map<K, Uint8Array>();
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  /** The bytes under `key`, now the most recently used; undefined when not kept. */
  get(key: K): Uint8Array | undefined {
    const data = this.entries.get(key);
    if (data) {
      this.entries.delete(key);
      this.entries.set(key, data);
    }
    return data;
  }

  /** The bytes under `key` without making them recently used. */
  peek(key: K): Uint8Array | undefined {
    return this.entries.get(key);
  }

  set(key: K, data: Uint8Array): void {
    this.delete(key);
    this.entries.set(key, data);
    this.bytes += data.length;
    while (this.bytes > this.maxBytes && this.entries.size > 0) this.delete(this.entries.keys().next().value!);
  }

  /** Forget every entry. */
  clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }

  delete(key: K): void {
    const old = this.entries.get(key);
    if (!old) return;
    this.entries.delete(key);
    this.bytes -= old.length;
  }
}
