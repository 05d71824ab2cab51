import { describe, expect, it } from 'vitest';
import { shapeProblem } from '../../../src/ledger/stream-anchor.js';

const created = '2026-12-01T18:00:00.000000000Z';

describe('shapeProblem: may the ledger read on from its cursor?', () => {
  it('yes, from a stream that reaches the cursor and holds everything past it (an empty new stream at cursor 0 too)', () => {
    expect(shapeProblem({ created, firstSeq: 1, lastSeq: 10 }, 10, created)).toBeUndefined();
    expect(shapeProblem({ created, firstSeq: 1, lastSeq: 12 }, 4)).toBeUndefined();
    expect(shapeProblem({ created, firstSeq: 0, lastSeq: 0 }, 0)).toBeUndefined();
    // Everything integrated, then (were it allowed) removed: the next message is the cursor's next.
    expect(shapeProblem({ created, firstSeq: 11, lastSeq: 10 }, 10)).toBeUndefined();
  });

  it('no, from a stream that ends before the cursor', () => {
    expect(shapeProblem({ created, firstSeq: 1, lastSeq: 9 }, 10)).toMatch(/ends at sequence 9, before 10/);
  });

  it('no, from a stream whose messages past the cursor were removed before they were integrated', () => {
    expect(shapeProblem({ created, firstSeq: 12, lastSeq: 20 }, 10)).toMatch(/messages 11 to 11 were removed/);
  });

  it('no, from a stream made again since it was first read, even one that reaches past the cursor', () => {
    expect(shapeProblem({ created: '2026-12-01T18:05:00Z', firstSeq: 1, lastSeq: 50 }, 10, created)).toMatch(/made again/);
  });
});
