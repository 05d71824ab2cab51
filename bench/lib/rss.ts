/** Resident memory of another process, as the kernel counts it (Linux /proc). */
import { readFileSync } from 'node:fs';

/** VmRSS of process `pid` in bytes, or undefined once it has gone. */
export function rssOf(pid: number): number | undefined {
  try {
    const kib = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kib === undefined ? undefined : Number(kib) * 1024;
  } catch {
    return undefined;
  }
}
