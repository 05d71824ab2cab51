/** A JSON logger whose every line a test reads back (src/log.ts, as the services log). */
import { Writable } from 'node:stream';
import type { Logger } from 'pino';
import { createLogger } from '../../src/log.js';

export interface CapturedLog {
  log: Logger;
  /** Every line written so far, as written. */
  lines: string[];
}

export function captureLog(level: string): CapturedLog {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter((l) => l.length > 0));
      done();
    },
  });
  return { log: createLogger(level, 'chio', { format: 'json', destination }), lines };
}
