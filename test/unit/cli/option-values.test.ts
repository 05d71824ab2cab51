import { describe, expect, it } from 'vitest';
import { parseWorkers } from '../../../src/cli/option-values.js';

describe('parseWorkers (chio authz --workers)', () => {
  it('takes a whole number from 1 to 16', () => {
    expect(parseWorkers('4')).toBe(4);
    expect(parseWorkers('16')).toBe(16);
  });

  // Number() made 0x2 two, 1e1 ten and " 3 " three, where CHIO_AUTHZ_WORKERS refuses each:
  // a typo silently became a count of processes.
  it.each(['0x2', '1e1', '0b11', '', ' ', '2.0', '0', '17'])('refuses %j', (text) => {
    expect(() => parseWorkers(text)).toThrow('a whole number from 1 to 16');
  });
});
