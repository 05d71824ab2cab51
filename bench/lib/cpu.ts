/**
 * CPU time of a process and its descendants (every thread), from /proc: what a Check costs the
 * machine, whichever process spends it. Linux only; NaN elsewhere.
 */
import { readFileSync, readdirSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat's times (USER_HZ: 100 on Linux). */
const TICKS = 100;

function stat(pid: number): { ppid: number; seconds: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after "(comm) ": state ppid … utime (14th field) stime (15th) cutime cstime: the
    // last two hold the children it has reaped, so a worker that exited mid-run still counts.
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(f[1]), seconds: (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / TICKS };
  } catch {
    return undefined;
  }
}

/** CPU seconds spent so far by `pid` and every process under it (live, or reaped by it). */
export function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  let procs: Array<[number, { ppid: number; seconds: number }]>;
  try {
    procs = readdirSync('/proc').filter((d) => /^\d+$/.test(d)).flatMap((d) => {
      const s = stat(Number(d));
      return s ? [[Number(d), s] as [number, { ppid: number; seconds: number }]] : [];
    });
  } catch {
    return NaN;
  }
  const children = new Map<number, number[]>();
  for (const [p, s] of procs) children.set(s.ppid, [...(children.get(s.ppid) ?? []), p]);
  const seconds = new Map(procs.map(([p, s]) => [p, s.seconds]));
  if (!seconds.has(pid)) return NaN;
  let total = 0;
  for (const todo = [pid]; todo.length > 0; ) {
    const p = todo.pop()!;
    total += seconds.get(p) ?? 0;
    todo.push(...(children.get(p) ?? []));
  }
  return total;
}
