import { describe, expect, it } from 'vitest';
import { PassThrough } from 'node:stream';
import { createLogger, type LogFormat } from '../../src/log.js';

/** Log one record with a credential in it through a logger of `format` on a stream that is (or is not) a terminal. */
function logOnce(format: LogFormat | undefined, isTTY: boolean): string {
  const destination = Object.assign(new PassThrough(), { isTTY });
  let out = '';
  destination.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const log = createLogger('info', 'chio', { ...(format ? { format } : {}), destination });
  log.info({ headers: { authorization: 'Bearer secret-token', 'proxy-authorization': 'Basic secret-proxy', 'x-api-key': 'secret-key' }, receipt_id: 'abc' }, 'check answered');
  log.flush();
  return out;
}

describe('createLogger', () => {
  it('writes JSON lines in json format, credentials redacted', () => {
    const line = logOnce('json', true);
    const record = JSON.parse(line);
    expect(record).toMatchObject({ msg: 'check answered', receipt_id: 'abc', name: 'chio', headers: { authorization: '[redacted]', 'proxy-authorization': '[redacted]', 'x-api-key': '[redacted]' } });
  });

  it('writes readable lines in pretty format, credentials redacted there too', () => {
    const text = logOnce('pretty', false);
    expect(text.startsWith('{')).toBe(false);
    expect(text).toMatch(/INFO.*check answered/);
    expect(text).toContain('receipt_id: "abc"');
    expect(text).not.toMatch(/secret-(token|proxy|key)/);
  });

  it('picks pretty on a terminal and JSON elsewhere when the format is auto (the default)', () => {
    expect(() => JSON.parse(logOnce(undefined, false))).not.toThrow();
    expect(logOnce('auto', true)).toMatch(/INFO.*check answered/);
  });
});
