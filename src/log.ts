/**
 * pino JSON logs with credentials redacted wherever they could appear (SPEC §1): tokens,
 * Authorization, cookies, private keys. Code never logs a credential on purpose; this is
 * the net under it.
 */
import { pino, type Logger } from 'pino';

const REDACT = [
  'authorization', '*.authorization', 'headers.authorization', '*.headers.authorization',
  'cookie', '*.cookie', 'headers.cookie', '*.headers.cookie', "headers['set-cookie']",
  'token', '*.token', 'capability_token', '*.capability_token', "headers['x-chio-capability-token']", "*.headers['x-chio-capability-token']",
  'signerKey', '*.signerKey', 'privateKey', '*.privateKey', 'seed', '*.seed', 'password', '*.password', 'pass', '*.pass',
];

export function createLogger(level: string, name = 'chio'): Logger {
  return pino({ name, level, redact: { paths: REDACT, censor: '[redacted]' } });
}
