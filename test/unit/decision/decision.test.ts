import { describe, expect, it } from 'vitest';
import { allowed, denied, MAX_REASON_CHARS, toReceiptDraft, type Decision, type DecisionFacts } from '../../../src/decision/decision.js';
import type { ChioErrorCode } from '../../../src/errors/index.js';
import { STATUS } from '../../../src/errors/status.js';

const FACTS: DecisionFacts = {
  shadow: false,
  policyHash: `sha256:${'5e'.repeat(32)}`,
  request: { method: 'POST', host: 'api.example', path: '/tools/run' },
  subject: { subject: 'agent-1', credential_sha256: 'ab'.repeat(32) },
  evidence: [{ guard: 'Request', verdict: 'allow' }],
  credentialHeaders: ['authorization'],
};
const TIME = '2025-01-01T00:00:00.000Z';

describe('the HTTP status of a decision', () => {
  describe('when given each kind of decision', () => {
    it.each([
      ['allow', 200, allowed(FACTS)],
      ['deny, forbidden (POLICY_NO_MATCH)', 403, denied('Policy', { code: 'POLICY_NO_MATCH', reason: 'no ALLOW policy matched' }, FACTS)],
      ['deny, unauthenticated (CAPABILITY_EXPIRED)', 401, denied('Capability', { code: 'CAPABILITY_EXPIRED', reason: 'capability is expired' }, FACTS)],
      ['deny, Internal (DECISION_FAILED)', 403, denied('Internal', { code: 'DECISION_FAILED', reason: 'internal error' }, FACTS)],
      ['shadow deny (the would-be status)', 403, denied('Policy', { code: 'POLICY_DENIED', reason: 'no' }, { ...FACTS, shadow: true })],
    ] as const)('answers %s with %i', (_name, status, decision) => {
      expect(decision.httpStatus).toBe(status);
    });
  });

  describe('when a guard denies with any code the table names a guard for', () => {
    const denials = (Object.keys(STATUS) as ChioErrorCode[]).filter((code) => STATUS[code].guard !== undefined);

    it.each(denials)('%s takes its HTTP status from the status table', (code) => {
      expect(denied(STATUS[code].guard!, { code, reason: 'r' }, FACTS).httpStatus).toBe(STATUS[code].http);
    });
  });
});

describe('denied', () => {
  describe('when the reason is longer than MAX_REASON_CHARS', () => {
    it('cuts it', () => {
      const d = denied('Policy', { code: 'POLICY_DENIED', reason: 'x'.repeat(1000) }, FACTS);
      expect(d.reason).toBe('x'.repeat(MAX_REASON_CHARS));
    });
  });
});

describe('toReceiptDraft', () => {
  describe('when the decision is allow', () => {
    it('records verdict, http_status 200 and shadow, and no guard or reason', () => {
      expect(toReceiptDraft(allowed(FACTS), TIME)).toEqual({
        time: TIME,
        request: FACTS.request,
        subject: FACTS.subject,
        decision: { verdict: 'allow', http_status: 200, shadow: false },
        evidence: FACTS.evidence,
        policy_hash: FACTS.policyHash,
      });
    });
  });

  describe('when the decision is deny', () => {
    it('records the guard, the client reason and the code’s HTTP status, never the code or the credential headers', () => {
      const draft = toReceiptDraft(denied('Capability', { code: 'CAPABILITY_REVOKED', reason: 'capability is revoked' }, FACTS), TIME);
      expect(draft.decision).toEqual({ verdict: 'deny', guard: 'Capability', reason: 'capability is revoked', http_status: 401, shadow: false });
      expect(JSON.stringify(draft)).not.toContain('CAPABILITY_REVOKED');
      expect(JSON.stringify(draft)).not.toContain('"authorization"');
    });
  });

  describe('when the decision is a shadow deny', () => {
    it('records the would-be deny with shadow: true', () => {
      const d: Decision = denied('Policy', { code: 'POLICY_NO_MATCH', reason: 'no ALLOW policy matched' }, { ...FACTS, shadow: true });
      expect(toReceiptDraft(d, TIME).decision).toEqual({ verdict: 'deny', guard: 'Policy', reason: 'no ALLOW policy matched', http_status: 403, shadow: true });
    });
  });
});
