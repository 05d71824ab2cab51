/** The explorer's chart data: which entry bundles hold the recent leaves, and the counts per minute. */
import { describe, expect, it } from 'vitest';
import { bundlesForRecentLeaves, countDecisions, CHART_LEAVES, CHART_MINUTES } from '../../../src/explorer/decisions.js';
import { utf8 } from '../../../src/encoding.js';
import { parseTilePath } from '../../../src/tlog/index.js';
import { chainOf, kernelOf } from '../receipt/helpers.js';
import { receiptBytes } from '../../../src/receipt/receipt.js';

const entry = (id: string, time: string, verdict: string, extra: Record<string, unknown> = {}) => utf8(JSON.stringify({ id, time, decision: { verdict }, ...extra }));

describe('bundlesForRecentLeaves', () => {
  it('reads nothing of an empty tree', () => {
    expect(bundlesForRecentLeaves(0)).toEqual([]);
  });

  it('reads the one partial bundle of a small tree', () => {
    expect(bundlesForRecentLeaves(1)).toEqual([{ path: 'tile/entries/000.p/1', width: 1, skip: 0 }]);
    expect(bundlesForRecentLeaves(256)).toEqual([{ path: 'tile/entries/000', width: 256, skip: 0 }]);
  });

  it('reads the last CHART_LEAVES leaves of a larger tree, skipping the older part of the first bundle', () => {
    const size = 300_000 + 20;
    const bundles = bundlesForRecentLeaves(size);
    const first = size - CHART_LEAVES;
    expect(bundles[0]).toEqual({ path: 'tile/entries/x001/167', width: 256, skip: first - 1167 * 256 });
    expect(bundles.at(-1)).toEqual({ path: 'tile/entries/x001/171.p/244', width: 244, skip: 0 });
    // Exactly CHART_LEAVES entries, each bundle a canonical C2SP path of its width.
    expect(bundles.reduce((n, b) => n + b.width - b.skip, 0)).toBe(CHART_LEAVES);
    for (const b of bundles) expect(parseTilePath(b.path).width).toBe(b.width);
  });
});

describe('countDecisions', () => {
  it('counts allow and deny per minute, oldest minute first', () => {
    const counts = countDecisions([
      entry('a', '2025-03-01T10:01:59.999Z', 'deny'),
      entry('b', '2025-03-01T10:00:00.000Z', 'allow'),
      entry('c', '2025-03-01T10:00:30.000Z', 'deny'),
      entry('d', '2025-03-01T10:01:00.000Z', 'allow'),
      entry('e', '2025-03-01T10:00:59.000Z', 'allow'),
    ]);
    expect(counts).toEqual({
      minutes: [{ minute: '2025-03-01T10:00', allow: 2, deny: 1, shadowDeny: 0 }, { minute: '2025-03-01T10:01', allow: 1, deny: 1, shadowDeny: 0 }],
      leaves: 5,
      unreadable: 0,
    });
  });

  it('counts real receipts as the ledger stores them', () => {
    const receipts = chainOf(3, kernelOf(90));
    expect(countDecisions(receipts.map(receiptBytes)).minutes).toEqual([{ minute: '2025-01-01T00:00', allow: 3, deny: 0, shadowDeny: 0 }]);
  });

  it('shows the quiet minutes between decisions as zeros', () => {
    const counts = countDecisions([entry('a', '2025-03-01T23:59:10Z', 'allow'), entry('b', '2025-03-02T00:02:00Z', 'deny')]);
    expect(counts.minutes.map((m) => [m.minute, m.allow, m.deny])).toEqual([
      ['2025-03-01T23:59', 1, 0], ['2025-03-02T00:00', 0, 0], ['2025-03-02T00:01', 0, 0], ['2025-03-02T00:02', 0, 1],
    ]);
  });

  it('counts a corrected receipt as its correction only', () => {
    const counts = countDecisions([entry('a', '2025-03-01T10:00:00Z', 'allow'), entry('b', '2025-03-01T10:00:01Z', 'deny', { corrects: 'a' })]);
    expect(counts.minutes).toEqual([{ minute: '2025-03-01T10:00', allow: 0, deny: 1, shadowDeny: 0 }]);
  });

  it('counts a shadow-mode receipt as answered, allow, and its would-be deny apart', () => {
    const counts = countDecisions([
      entry('a', '2025-03-01T10:00:00Z', 'deny', { decision: { verdict: 'deny', shadow: true } }),
      entry('b', '2025-03-01T10:00:01Z', 'allow', { decision: { verdict: 'allow', shadow: true } }),
      entry('c', '2025-03-01T10:00:02Z', 'deny', { decision: { verdict: 'deny', shadow: false } }),
      // Only `true` is shadow mode: anything else in a served entry is a verdict that was enforced.
      entry('d', '2025-03-01T10:00:03Z', 'deny', { decision: { verdict: 'deny', shadow: 'true' } }),
    ]);
    expect(counts.minutes).toEqual([{ minute: '2025-03-01T10:00', allow: 2, deny: 2, shadowDeny: 1 }]);
  });

  it('counts a corrected shadow-mode receipt as its correction only', () => {
    const counts = countDecisions([
      entry('a', '2025-03-01T10:00:00Z', 'deny', { decision: { verdict: 'deny', shadow: true } }),
      entry('b', '2025-03-01T10:00:01Z', 'deny', { corrects: 'a' }),
    ]);
    expect(counts.minutes).toEqual([{ minute: '2025-03-01T10:00', allow: 0, deny: 1, shadowDeny: 0 }]);
  });

  it('keeps the latest CHART_MINUTES minutes', () => {
    const entries = Array.from({ length: CHART_MINUTES + 5 }, (_, i) => entry(`r${i}`, new Date(Date.UTC(2025, 0, 1, 0, i)).toISOString(), 'allow'));
    const { minutes } = countDecisions(entries);
    expect(minutes).toHaveLength(CHART_MINUTES);
    expect(minutes[0]!.minute).toBe('2025-01-01T00:05');
  });

  it.each([
    ['bytes that are not UTF-8', new Uint8Array([0xff, 0xfe])],
    ['text that is not JSON', utf8('{')],
    ['JSON that is not an object', utf8('[1]')],
    ['a verdict that is neither', entry('x', '2025-03-01T10:00:00Z', 'maybe')],
    ['a time that is not RFC 3339 UTC', entry('x', '2025-03-01 10:00', 'allow')],
    ['a time that is no date', entry('x', '2025-13-45T10:00:00Z', 'allow')],
    ['no id', utf8(JSON.stringify({ time: '2025-03-01T10:00:00Z', decision: { verdict: 'allow' } }))],
  ])('counts %s as unreadable, not as a decision', (_, bytes) => {
    expect(countDecisions([bytes, entry('ok', '2025-03-01T10:00:00Z', 'deny')])).toEqual({ minutes: [{ minute: '2025-03-01T10:00', allow: 0, deny: 1, shadowDeny: 0 }], leaves: 2, unreadable: 1 });
  });
});
