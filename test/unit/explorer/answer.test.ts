/** The answer the explorer says a Check was given: allow for a shadow-mode receipt, whatever it records. */
import { describe, expect, it } from 'vitest';
import { answeredVerdict, describeDecision } from '../../../src/explorer/answer.js';

describe('answeredVerdict', () => {
  it('is the verdict of an enforced decision', () => {
    expect(answeredVerdict({ verdict: 'allow', shadow: false })).toBe('allow');
    expect(answeredVerdict({ verdict: 'deny', shadow: false })).toBe('deny');
  });

  it('is allow for a shadow-mode decision, which records the would-be verdict', () => {
    expect(answeredVerdict({ verdict: 'deny', shadow: true })).toBe('allow');
    expect(answeredVerdict({ verdict: 'allow', shadow: true })).toBe('allow');
  });

  it('takes only `true` as shadow mode, and no verdict as none', () => {
    expect(answeredVerdict({ verdict: 'deny', shadow: 'true' })).toBe('deny');
    expect(answeredVerdict({ verdict: 'maybe', shadow: true })).toBeUndefined();
    expect(answeredVerdict(undefined)).toBeUndefined();
  });
});

describe('describeDecision', () => {
  it('says a deny with its status and guard, as chio prove does', () => {
    expect(describeDecision({ verdict: 'deny', http_status: 503, guard: 'ReceiptLedger' })).toBe('deny 503 by ReceiptLedger');
    expect(describeDecision({ verdict: 'allow', http_status: 200 })).toBe('allow');
    expect(describeDecision({ verdict: 'deny' })).toBe('deny');
    expect(describeDecision({})).toBe('(no verdict)');
  });
});
