import { describe, expect, it } from 'vitest';
import { matchesExportFilter } from '../../../src/verify/export-format.js';
import type { Receipt } from '../../../src/receipt/receipt.js';

const at = (time: string) => ({ time, decision: { verdict: 'allow' }, request: { host: 'h' } }) as unknown as Receipt;

describe('matchesExportFilter', () => {
  it('compares times to the nanosecond, not to the millisecond Date.parse keeps', () => {
    const receipt = at('2025-01-01T00:00:31.000Z');
    expect(matchesExportFilter(receipt, { since: '2025-01-01T00:00:31.0005Z' })).toBe(false);
    expect(matchesExportFilter(receipt, { since: '2025-01-01T00:00:31Z' })).toBe(true);
    expect(matchesExportFilter(receipt, { until: '2025-01-01T00:00:31.0005Z' })).toBe(true);
    expect(matchesExportFilter(receipt, { until: '2025-01-01T00:00:31.000Z' })).toBe(false);
    // Offsets are instants too.
    expect(matchesExportFilter(receipt, { since: '2025-01-01T01:00:31+01:00' })).toBe(true);
  });

  it('matches nothing when a time is not RFC 3339: never everything', () => {
    expect(matchesExportFilter(at('2025-01-01T00:00:31.000Z'), { since: 'yesterday' })).toBe(false);
    expect(matchesExportFilter(at('yesterday'), { since: '2025-01-01T00:00:00Z' })).toBe(false);
  });
});
