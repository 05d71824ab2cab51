/**
 * How far an export is: on a terminal a progress bar (cli-progress, which redraws one line,
 * rate-limits redraws and restores the cursor), otherwise plain lines a log collector keeps —
 * one every PLAIN_PROGRESS_INTERVAL_MS and one at the end.
 */
import cliProgress from 'cli-progress';

/** Least time between two plain progress lines. */
export const PLAIN_PROGRESS_INTERVAL_MS = 5_000;

export interface Progress {
  update(read: number, total: number): void;
  stop(): void;
}

export function createProgress(stream: NodeJS.WriteStream, now: () => number = Date.now): Progress {
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar({ stream, format: 'export [{bar}] {percentage}% | {value}/{total} leaves | {eta_formatted} left', hideCursor: true }, cliProgress.Presets.shades_classic);
    let started = false;
    return {
      update(read, total) {
        if (!started) bar.start(total, 0);
        started = true;
        bar.update(read);
      },
      stop() {
        if (started) bar.stop();
        started = false;
      },
    };
  }
  let last = -Infinity;
  let unwritten: [number, number] | undefined;
  const line = ([read, total]: [number, number]) => stream.write(`export: ${read}/${total} leaves read (${total === 0 ? 100 : Math.floor((read * 100) / total)}%)\n`);
  return {
    update(read, total) {
      unwritten = [read, total];
      if (now() - last < PLAIN_PROGRESS_INTERVAL_MS) return;
      last = now();
      line(unwritten);
      unwritten = undefined;
    },
    stop: () => unwritten && line(unwritten),
  };
}
