/**
 * pino logs with credentials redacted wherever they could appear (SPEC §1): tokens,
 * Authorization, cookies, private keys. Code never logs a credential on purpose; this is
 * the net under it.
 *
 * Format (CHIO_LOG_FORMAT): `json` is one JSON object per line, for log collectors; `pretty` is
 * one readable line per record (pino-pretty), for people; `auto` (the default) is pretty when
 * standard output is a terminal and JSON otherwise, so a container or a pipe gets JSON.
 */
import { pino, type Logger } from 'pino';
import { PinoPretty } from 'pino-pretty';

const REDACT = [
  'authorization', '*.authorization', 'headers.authorization', '*.headers.authorization',
  "headers['proxy-authorization']", "*.headers['proxy-authorization']", "headers['x-api-key']", "*.headers['x-api-key']",
  'cookie', '*.cookie', 'headers.cookie', '*.headers.cookie', "headers['set-cookie']",
  'token', '*.token', 'capability_token', '*.capability_token', "headers['x-chio-capability-token']", "*.headers['x-chio-capability-token']",
  'signerKey', '*.signerKey', 'privateKey', '*.privateKey', 'seed', '*.seed', 'password', '*.password', 'pass', '*.pass',
];

export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export interface LoggerOptions {
  format?: LogFormat;
  /** Where lines go (standard output by default); `auto` asks whether it is a terminal. */
  destination?: NodeJS.WritableStream & { isTTY?: boolean };
}

export function createLogger(level: string, name = 'chio', options: LoggerOptions = {}): Logger {
  const destination = options.destination ?? process.stdout;
  const pretty = options.format === 'pretty' || ((options.format ?? 'auto') === 'auto' && destination.isTTY === true);
  const settings = { name, level, redact: { paths: REDACT, censor: '[redacted]' } };
  // Prettified in this thread (sync), not in a transport worker: a log line is never lost at exit.
  if (pretty) return pino(settings, PinoPretty({ destination, sync: true, colorize: destination.isTTY === true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }));
  return options.destination ? pino(settings, options.destination) : pino(settings);
}
