import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MAX_ANSWER_MARGIN_MS, MIN_CLIENT_STORE_MS, CheckHandler, answerMarginMs, type ClientLink, type Decider, type ReceiptStore } from '../../../src/authz/check-handler.js';
import type { ReceiptTicket } from '../../../src/chain/ticket.js';
import type { Counter } from 'prom-client';
import { checksUnansweredTotal, decisionsTotal, receiptStoreFailuresTotal } from '../../../src/metrics.js';
import type { CheckResponse } from '../../../src/authz/wire.js';
import { allowed, denied, toReceiptDraft, type Decision, type DecisionFacts } from '../../../src/decision/decision.js';
import { GENESIS_PREV, type Receipt, type ReceiptDraft } from '../../../src/receipt/receipt.js';
import { kernelOf, signReceipt } from '../receipt/helpers.js';
import { capabilityToken, checkOf, pipelineOf, policySetOf, withCapability, NOW_MS } from '../decision/fixtures.js';
import { DEFAULT_CLOCK_SKEW_SECONDS } from '../../../src/time.js';

const KERNEL = kernelOf(5);
/** A counter's total over all its series. */
const count = async (counter: Counter) => (await counter.get()).values.reduce((n, v) => n + v.value, 0);
const TIMEOUT_MS = 150;
const FACTS: DecisionFacts = {
  shadow: false,
  policyHash: `sha256:${'5e'.repeat(32)}`,
  request: { method: 'POST', host: 'api.example', path: '/tools/run' },
  subject: {},
  evidence: [{ guard: 'Request', verdict: 'allow' }],
  credentialHeaders: [],
};
const ALLOW = allowed(FACTS);
const DENY = denied('Policy', { code: 'POLICY_DENIED', reason: 'denied by policy p' }, FACTS);
const SHADOW_DENY = denied('Policy', { code: 'POLICY_DENIED', reason: 'denied by policy p' }, { ...FACTS, shadow: true });

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(err: unknown): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

/** A decider that always decides `decision`, and records the deadlines it was given. */
function decider(decision: Decision): Decider & { deadlines: number[] } {
  const deadlines: number[] = [];
  return { deadlines, decide: async (_req, deadline) => (deadlines.push(deadline), decision) };
}

/**
 * A ticket the test settles, kept as the publisher keeps it: ack() stores the receipt unless it
 * was abandoned; abandon() is false once stored, else true (and a later ack() is a correction
 * owed, which the publisher makes and the handler never sees).
 */
interface HeldTicket extends ReceiptTicket {
  draft: ReceiptDraft;
  deadline: number;
  state: 'waiting' | 'stored' | 'abandoned' | 'refused' | 'undelivered';
  abandons: number;
  ack(receipt: Receipt): void;
  refuse(err: unknown): void;
}

function heldTicket(draft: ReceiptDraft, deadline: number): HeldTicket {
  const result = deferred<Receipt>();
  result.promise.catch(() => undefined);
  const ticket: HeldTicket = {
    draft, deadline, state: 'waiting', abandons: 0, stored: result.promise,
    ack(receipt) {
      if (ticket.state !== 'waiting') return;
      ticket.state = 'stored';
      result.resolve(receipt);
    },
    refuse(err) {
      if (ticket.state !== 'waiting') return;
      ticket.state = 'refused';
      result.reject(err);
    },
    abandon() {
      ticket.abandons += 1;
      if (ticket.state === 'stored') return false;
      ticket.refuse(new Error('abandoned'));
      if (ticket.state === 'refused') ticket.state = 'abandoned';
      return true;
    },
    undelivered() {
      if (ticket.state === 'stored') ticket.state = 'undelivered';
    },
  };
  return ticket;
}

/** A store whose every call waits for the test to settle it. */
function heldStore(): ReceiptStore & { calls: HeldTicket[] } {
  const calls: HeldTicket[] = [];
  return {
    calls,
    store: (draft, deadline) => {
      const ticket = heldTicket(draft, deadline);
      calls.push(ticket);
      return ticket;
    },
  };
}

const stored = (draft: ReceiptDraft): Receipt => signReceipt(draft, { chain: 'chain-h', seq: 1, prev: GENESIS_PREV }, KERNEL);
/** A store that stores every receipt at once. */
const storingStore = (): ReceiptStore => ({
  store: (draft, deadline) => {
    const ticket = heldTicket(draft, deadline);
    ticket.ack(stored(draft));
    return ticket;
  },
});
/** A store that refuses every receipt (the publish failed). */
const refusingStore = (): ReceiptStore => ({
  store: (draft, deadline) => {
    const ticket = heldTicket(draft, deadline);
    ticket.refuse(new Error('no responders'));
    return ticket;
  },
});

function handlerOf(pipeline: Decider, publisher: ReceiptStore, now: () => number = () => Date.now()): CheckHandler {
  return new CheckHandler({ pipeline, publisher, receiptTimeoutMs: TIMEOUT_MS, log: pino({ level: 'silent' }), now });
}

/** On a fake clock at 1 000 000 ms: start a Check of ALLOW against `store`; `answer()` is its answer once there is one. */
function checkOnFakeClock(store: ReceiptStore): { answer(): CheckResponse | undefined } {
  vi.useFakeTimers({ now: 1_000_000 });
  let answer: CheckResponse | undefined;
  void handlerOf(decider(ALLOW), store).check({}).then((r) => (answer = r));
  return { answer: () => answer };
}

/** Let every pending promise callback run. */
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));
const header = (r: CheckResponse, key: string) =>
  [...(r.ok_response?.headers ?? []), ...(r.denied_response?.headers ?? [])].find((h) => h.header.key === key)?.header.value;

afterEach(() => {
  vi.useRealTimers();
});

/** A client that goes when the test says so, as grpc-unary's UnaryCall tells it. */
function clientLink(): ClientLink & { go(): void } {
  let gone = false;
  const listeners: Array<() => void> = [];
  return {
    gone: () => gone,
    onGone: (listener) => listeners.push(listener),
    go() {
      gone = true;
      for (const l of listeners.splice(0)) l();
    },
  };
}

describe('CheckHandler.check', () => {
  describe('when the client goes before its answer', () => {
    it('abandons a receipt not stored yet, at once: never answered from, corrected should it be stored', async () => {
      const store = heldStore();
      const client = clientLink();
      const pending = handlerOf(decider(ALLOW), store).check({}, undefined, client);
      await flush();
      client.go();
      await flush();
      // At once, not at the deadline 150 ms later.
      expect(store.calls[0]!.state).toBe('abandoned');
      const answer = await pending;
      expect(answer.denied_response?.status.code).toBe(503);
    });

    it('takes nothing a gone-listener is called with for a receipt: only the PubAck hands one over', async () => {
      const store = heldStore();
      const listeners: Array<(value?: unknown) => void> = [];
      // A link that calls its listeners with a value (an event object, say): no stored receipt.
      const client: ClientLink = { gone: () => false, onGone: (listener) => void listeners.push(listener as (value?: unknown) => void) };
      const pending = handlerOf(decider(ALLOW), store).check({}, undefined, client);
      await flush();
      for (const l of listeners) l(stored(store.calls[0]!.draft));
      const answer = await pending;
      expect(store.calls[0]!.state).toBe('abandoned');
      expect(answer.denied_response?.status.code).toBe(503);
    });

    it('hands back as undelivered a receipt stored before it went, to be corrected', async () => {
      const store = heldStore();
      const client = clientLink();
      const pending = handlerOf(decider(ALLOW), store).check({}, undefined, client);
      await flush();
      store.calls[0]!.ack(stored(store.calls[0]!.draft));
      client.go();
      const answer = await pending;
      expect(store.calls[0]!.state).toBe('undelivered');
      expect(answer.denied_response?.status.code).toBe(503);
    });

    it('signs nothing for a client gone while it was decided', async () => {
      const store = heldStore();
      const client = clientLink();
      client.go();
      const answer = await handlerOf(decider(ALLOW), store).check({}, undefined, client);
      expect(store.calls).toEqual([]);
      expect(answer.denied_response?.status.code).toBe(503);
    });

    it('counts the Check as unanswered, not as a decision nor a store failure', async () => {
      const before = { unanswered: await count(checksUnansweredTotal), decisions: await count(decisionsTotal), failures: await count(receiptStoreFailuresTotal) };
      const store = heldStore();
      const client = clientLink();
      const pending = handlerOf(decider(ALLOW), store).check({}, undefined, client);
      await flush();
      client.go();
      await pending;
      expect(await count(checksUnansweredTotal)).toBe(before.unanswered + 1);
      expect(await count(decisionsTotal)).toBe(before.decisions);
      expect(await count(receiptStoreFailuresTotal)).toBe(before.failures);
    });

    it('leaves a receipt alone when the client stays', async () => {
      const store = heldStore();
      const client = clientLink();
      const pending = handlerOf(decider(ALLOW), store).check({}, undefined, client);
      await flush();
      store.calls[0]!.ack(stored(store.calls[0]!.draft));
      expect((await pending).status.code).toBe(0);
      expect(store.calls[0]!.state).toBe('stored');
    });
  });

  describe('when the decision is allow', () => {
    it('does not answer before the receipt is stored, then answers allow naming that receipt', async () => {
      const store = heldStore();
      let answer: CheckResponse | undefined;
      const pending = handlerOf(decider(ALLOW), store).check({}).then((r) => (answer = r));
      await flush();
      expect(store.calls).toHaveLength(1);
      expect(answer).toBeUndefined();
      const receipt = stored(store.calls[0]!.draft);
      store.calls[0]!.ack(receipt);
      await pending;
      expect(answer?.status.code).toBe(0);
      expect(header(answer!, 'x-chio-receipt-id')).toBe(receipt.id);
    });

    it('hands the store the decision as toReceiptDraft makes it, stamped with the clock', async () => {
      const store = heldStore();
      const now = Date.UTC(2025, 0, 2, 3, 4, 5, 678);
      void handlerOf(decider(ALLOW), store, () => now).check({});
      await flush();
      expect(store.calls[0]!.draft).toEqual(toReceiptDraft(ALLOW, '2025-01-02T03:04:05.678Z'));
    });

    it('gives deciding two thirds of the receipt budget and storing all of it', async () => {
      const store = heldStore();
      const pipeline = decider(ALLOW);
      const now = 1_000_000;
      void handlerOf(pipeline, store, () => now).check({});
      await flush();
      expect(pipeline.deadlines).toEqual([now + 100]);
      expect(store.calls[0]!.deadline).toBe(now + TIMEOUT_MS);
    });
  });

  describe('when the decision is deny', () => {
    it('answers the deny with the stored receipt id', async () => {
      const answer = await handlerOf(decider(DENY), storingStore()).check({});
      expect(answer.denied_response?.status.code).toBe(403);
      expect(header(answer, 'x-chio-denial-guard')).toBe('Policy');
      expect(header(answer, 'x-chio-receipt-id')).toMatch(/^[0-9a-f]{64}$/);
    });
  });

  describe.each([
    ['allow', ALLOW],
    ['deny', DENY],
    ['shadow deny', SHADOW_DENY],
  ] as const)('when the receipt of the %s decision cannot be stored', (_name, decision) => {
    it('answers deny, guard ReceiptLedger, HTTP 503, no receipt id', async () => {
      const answer = await handlerOf(decider(decision), refusingStore()).check({});
      expect(answer.status.code).toBe(7);
      expect(answer.ok_response).toBeUndefined();
      expect(answer.denied_response?.status.code).toBe(503);
      expect(header(answer, 'x-chio-denial-guard')).toBe('ReceiptLedger');
      expect(header(answer, 'x-chio-receipt-id')).toBeUndefined();
    });
  });

  describe('when the receipt is not stored by the deadline', () => {
    it('answers 503 ReceiptLedger at the deadline, not before, having abandoned the receipt', async () => {
      const store = heldStore();
      const check = checkOnFakeClock(store);
      await vi.advanceTimersByTimeAsync(TIMEOUT_MS - 1);
      expect(check.answer()).toBeUndefined();
      expect(store.calls[0]!.abandons).toBe(0);
      await vi.advanceTimersByTimeAsync(1);
      expect(check.answer()?.denied_response?.status.code).toBe(503);
      expect(header(check.answer()!, 'x-chio-denial-guard')).toBe('ReceiptLedger');
      expect(header(check.answer()!, 'x-chio-receipt-id')).toBeUndefined();
      // The publisher was told: the receipt is abandoned, and a PubAck for it now is a correction owed.
      expect(store.calls[0]!.state).toBe('abandoned');
    });

    it('stays 503 when the receipt is stored after the answer', async () => {
      const store = heldStore();
      const check = checkOnFakeClock(store);
      await vi.advanceTimersByTimeAsync(TIMEOUT_MS);
      store.calls[0]!.ack(stored(store.calls[0]!.draft));
      await vi.advanceTimersByTimeAsync(1);
      expect(check.answer()?.denied_response?.status.code).toBe(503);
      expect(store.calls[0]!.state).toBe('abandoned');
    });
  });

  describe("when the client's own deadline (grpc-timeout) comes before the receipt deadline", () => {
    it('gives deciding and storing their shares of the time to it, less the margin for the way back', async () => {
      const store = heldStore();
      const pipeline = decider(ALLOW);
      const now = 1_000_000;
      void handlerOf(pipeline, store, () => now).check({}, now + 100);
      await flush();
      expect(pipeline.deadlines).toEqual([now + 53]);
      expect(store.calls[0]!.deadline).toBe(now + 100 - MAX_ANSWER_MARGIN_MS);
    });

    it('keeps a quarter of a short client time as the margin, at most MAX_ANSWER_MARGIN_MS, and none of a time already past', () => {
      expect(answerMarginMs(8)).toBe(2);
      expect(answerMarginMs(80)).toBe(MAX_ANSWER_MARGIN_MS);
      expect(answerMarginMs(10_000)).toBe(MAX_ANSWER_MARGIN_MS);
      expect(answerMarginMs(-5)).toBe(0);
    });

    it('answers 503 ReceiptLedger while the client still waits, having abandoned the receipt', async () => {
      vi.useFakeTimers({ now: 1_000_000 });
      const store = heldStore();
      let answer: CheckResponse | undefined;
      void handlerOf(decider(ALLOW), store).check({}, 1_000_000 + 100).then((r) => (answer = r));
      await vi.advanceTimersByTimeAsync(100 - MAX_ANSWER_MARGIN_MS - 1);
      expect(answer).toBeUndefined();
      await vi.advanceTimersByTimeAsync(1);
      expect(answer?.denied_response?.status.code).toBe(503);
      expect(header(answer!, 'x-chio-denial-guard')).toBe('ReceiptLedger');
      expect(store.calls[0]!.state).toBe('abandoned');
    });

    it('signs nothing, and answers 503 ReceiptLedger at once, when the client leaves less than MIN_CLIENT_STORE_MS', async () => {
      const store = heldStore();
      const now = 1_000_000;
      const answer = await handlerOf(decider(ALLOW), store, () => now).check({}, now + MIN_CLIENT_STORE_MS);
      expect(store.calls).toHaveLength(0);
      expect(answer.denied_response?.status.code).toBe(503);
      expect(header(answer, 'x-chio-denial-guard')).toBe('ReceiptLedger');
    });

    // ChioReceiptLedgerDenials must see these denials (deploy/observability/chio-alerts.test.yaml).
    it('counts that answer as a ReceiptLedger denial, though no store failed', async () => {
      const receiptLedgerDenials = async () => (await decisionsTotal.get()).values.filter((v) => v.labels.guard === 'ReceiptLedger').reduce((n, v) => n + v.value, 0);
      const before = { denials: await receiptLedgerDenials(), failures: await count(receiptStoreFailuresTotal) };
      const now = 1_000_000;
      await handlerOf(decider(ALLOW), heldStore(), () => now).check({}, now + MIN_CLIENT_STORE_MS);
      expect(await receiptLedgerDenials()).toBe(before.denials + 1);
      expect(await count(receiptStoreFailuresTotal)).toBe(before.failures);
    });

    it('keeps its own deadline when the client gives it longer', async () => {
      const store = heldStore();
      const now = 1_000_000;
      void handlerOf(decider(ALLOW), store, () => now).check({}, now + 10 * TIMEOUT_MS);
      await flush();
      expect(store.calls[0]!.deadline).toBe(now + TIMEOUT_MS);
    });
  });

  describe('when Checks wait together, a later one with a shorter grpc-timeout', () => {
    it('answers each 503 at its own deadline, the later one first, on one timer', async () => {
      vi.useFakeTimers({ now: 1_000_000 });
      const store = heldStore();
      const handler = handlerOf(decider(ALLOW), store);
      const answers: Array<[string, number]> = [];
      void handler.check({}).then(() => answers.push(['first', Date.now()]));
      await vi.advanceTimersByTimeAsync(10);
      void handler.check({}, Date.now() + 100).then(() => answers.push(['second', Date.now()]));
      await vi.advanceTimersByTimeAsync(0);
      expect(store.calls).toHaveLength(2);
      expect(vi.getTimerCount()).toBe(1);
      await vi.advanceTimersByTimeAsync(TIMEOUT_MS);
      expect(answers).toEqual([['second', 1_000_000 + 10 + 100 - MAX_ANSWER_MARGIN_MS], ['first', 1_000_000 + TIMEOUT_MS]]);
      expect(store.calls.map((c) => c.state)).toEqual(['abandoned', 'abandoned']);
      expect(vi.getTimerCount()).toBe(0);
    });
  });

  describe('when the receipt is stored in time', () => {
    it('answers allow without abandoning it', async () => {
      const store = heldStore();
      const check = checkOnFakeClock(store);
      await vi.advanceTimersByTimeAsync(TIMEOUT_MS - 1);
      store.calls[0]!.ack(stored(store.calls[0]!.draft));
      await vi.advanceTimersByTimeAsync(0);
      expect(check.answer()?.status.code).toBe(0);
      await vi.advanceTimersByTimeAsync(TIMEOUT_MS);
      expect(store.calls[0]!.abandons).toBe(0);
    });
  });

  describe('when the PubAck is handled at the deadline, before the handler gets to abandon', () => {
    it('answers allow from the stored receipt, since abandon() says it is stored', async () => {
      vi.useFakeTimers({ now: 1_000_000 });
      const store = heldStore();
      const handler = handlerOf(decider(ALLOW), {
        store: (draft, deadline) => {
          const ticket = store.store(draft, deadline) as HeldTicket;
          // The ack is handled just before abandon(): `stored` has not yet told the handler.
          const abandon = ticket.abandon;
          ticket.abandon = () => (ticket.ack(stored(draft)), abandon());
          return ticket;
        },
      });
      let answer: CheckResponse | undefined;
      void handler.check({}).then((r) => (answer = r));
      await vi.advanceTimersByTimeAsync(TIMEOUT_MS);
      expect(store.calls[0]!.abandons).toBe(1);
      expect(answer?.status.code).toBe(0);
      expect(header(answer!, 'x-chio-receipt-id')).toBe(stored(store.calls[0]!.draft).id);
    });
  });

  describe('when the decision is a shadow deny and its receipt is stored', () => {
    it('answers allow with x-chio-shadow-verdict: deny, and the receipt records the deny with shadow: true', async () => {
      const store = heldStore();
      const pending = handlerOf(decider(SHADOW_DENY), store).check({});
      await flush();
      expect(store.calls[0]!.draft.decision).toEqual({ verdict: 'deny', guard: 'Policy', reason: 'denied by policy p', http_status: 403, shadow: true });
      store.calls[0]!.ack(stored(store.calls[0]!.draft));
      const answer = await pending;
      expect(answer.status.code).toBe(0);
      expect(header(answer, 'x-chio-shadow-verdict')).toBe('deny');
    });
  });
});

describe('CheckHandler.drain', () => {
  describe('when no Check is in flight', () => {
    it('resolves at once', async () => {
      await expect(handlerOf(decider(ALLOW), storingStore()).drain()).resolves.toBeUndefined();
    });
  });

  describe('when several callers drain while a Check is in flight', () => {
    it('resolves every one of them once the Check is answered, and not before', async () => {
      const store = heldStore();
      const handler = handlerOf(decider(ALLOW), store);
      const check = handler.check({});
      await flush();
      const drained: number[] = [];
      const waits = [1, 2, 3].map((n) => handler.drain().then(() => drained.push(n)));
      await flush();
      expect(drained).toEqual([]);
      store.calls[0]!.ack(stored(store.calls[0]!.draft));
      await check;
      await flush();
      expect(drained.sort()).toEqual([1, 2, 3]);
      await Promise.all(waits);
    });
  });

  describe('when Checks come and go between drains', () => {
    it('waits for the Checks in flight at each drain', async () => {
      const store = heldStore();
      const handler = handlerOf(decider(ALLOW), store);
      for (let round = 0; round < 2; round++) {
        const check = handler.check({});
        await flush();
        let done = false;
        const wait = handler.drain().then(() => (done = true));
        await flush();
        expect(done).toBe(false);
        store.calls[round]!.ack(stored(store.calls[round]!.draft));
        await check;
        await wait;
        expect(done).toBe(true);
      }
    });
  });
});

describe('CheckHandler log lines', () => {
  const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
  const linesOf = async (decision: Decision, store: ReceiptStore) => {
    const lines: Array<Record<string, unknown>> = [];
    const log = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    await new CheckHandler({ pipeline: decider(decision), publisher: store, receiptTimeoutMs: TIMEOUT_MS, log }).check({});
    return lines;
  };

  it("carry the Check's traceparent when its request had one", async () => {
    const traced = allowed({ ...FACTS, request: { ...FACTS.request, traceparent: TRACEPARENT } });
    expect(await linesOf(traced, storingStore())).toEqual([expect.objectContaining({ msg: 'check answered', traceparent: TRACEPARENT })]);
    const lines = await linesOf(traced, refusingStore());
    expect(lines.map((l) => [l.msg, l.traceparent])).toEqual([
      ['receipt not stored; denied (ReceiptLedger)', TRACEPARENT],
      ['check answered', TRACEPARENT],
    ]);
  });

  it('say a flood of receipts not stored once, then how many more (log-throttle.ts), by the drain at the latest', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const handler = new CheckHandler({ pipeline: decider(ALLOW), publisher: refusingStore(), receiptTimeoutMs: TIMEOUT_MS, log });
    await Promise.all(Array.from({ length: 200 }, () => handler.check({})));
    expect(lines.map((l) => [l.msg, l.err])).toEqual([['receipt not stored; denied (ReceiptLedger)', 'Error: no responders']]);
    await handler.drain();
    expect(lines.map((l) => l.msg)).toEqual(['receipt not stored; denied (ReceiptLedger)', expect.stringMatching(/^receipt not stored; denied \(ReceiptLedger\) … and 199 more in the last \d\.\d s$/)]);
    expect(lines[1]).toMatchObject({ level: 40, suppressed: 199, last: { err: 'Error: no responders' } });
  });

  it('leave the field out when it had none', async () => {
    const [line] = await linesOf(ALLOW, storingStore());
    expect(line).toMatchObject({ msg: 'check answered' });
    expect(line).not.toHaveProperty('traceparent');
  });
});

describe('the time a receipt records', () => {
  it('is the instant the credentials were judged at: an allow at the edge of expiry is not recorded after it', async () => {
    const expiresAt = NOW_MS / 1000 + 3600;
    // The last millisecond a capability is valid at (now - skew < expires_at), then 20 ms of
    // deciding (a JWKS fetch for a JWT beside it, a busy loop) before the receipt is made.
    const lastValidMs = (expiresAt + DEFAULT_CLOCK_SKEW_SECONDS) * 1000 - 1;
    let clock = lastValidMs;
    const { pipeline } = pipelineOf(policySetOf(), { now: () => clock });
    const slow: Decider = { decide: async (req, deadline) => { const d = await pipeline.decide(req, deadline); clock += 20; return d; } };
    const store = heldStore();
    const handler = handlerOf(slow, store, () => clock);
    void handler.check(checkOf({ headers: withCapability(capabilityToken({ expires_at: expiresAt })) }));
    await flush();
    const draft = store.calls[0]!.draft;
    expect(draft.decision.verdict).toBe('allow');
    expect(Date.parse(draft.time)).toBe(lastValidMs);
    // By the capability's own rule, valid at the time recorded.
    expect(Math.floor(Date.parse(draft.time) / 1000) - DEFAULT_CLOCK_SKEW_SECONDS).toBeLessThan(expiresAt);
  });
});
