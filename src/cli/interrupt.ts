/**
 * A one-shot command stopped by a signal (Ctrl-C, a Job's SIGTERM, a closed terminal) that must
 * undo what it started rather than die half-way: the first signal aborts, so that the command
 * cleans up and ends with the status a shell gives a process killed by that signal (128 + its
 * number: 130 for SIGINT); a second one ends the process at once.
 */
import { constants } from 'node:os';

const INTERRUPTS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

export interface Interrupt {
  /** Aborted at the first signal. */
  readonly signal: AbortSignal;
  /** The signal that came, if one did. */
  received(): NodeJS.Signals | undefined;
  /** Stop catching the signals. */
  dispose(): void;
}

/** The exit status of a process ended by `signal`, as shells report it. */
export function exitStatusOf(signal: NodeJS.Signals): number {
  return 128 + constants.signals[signal];
}

/** Catch SIGINT, SIGTERM and SIGHUP until dispose(); `onFirst` runs at the first, after the abort. */
export function catchInterrupts(onFirst: (signal: NodeJS.Signals) => void = () => undefined): Interrupt {
  const abort = new AbortController();
  let received: NodeJS.Signals | undefined;
  const handle = (signal: NodeJS.Signals) => {
    if (received !== undefined) process.exit(exitStatusOf(signal));
    received = signal;
    abort.abort(signal);
    onFirst(signal);
  };
  for (const signal of INTERRUPTS) process.on(signal, handle);
  return {
    signal: abort.signal,
    received: () => received,
    dispose: () => {
      for (const signal of INTERRUPTS) process.off(signal, handle);
    },
  };
}
