/**
 * Log lines a fault or a client can bring once per Check, over real gRPC and a real
 * nats-server (docs/operations.md): each is logged at once the first time, then counted in at
 * most a summary a second (src/log-throttle.ts), and the counts add up once the service stops.
 *
 *   - A decision pipeline that throws on every Check (here the revocation lookup, standing for
 *     any dependency, or a bug a request shape reaches again and again): an error, throttled.
 *   - A client that resets its Checks just as their receipts are stored: each receipt is
 *     corrected, and the two lines about each correction (owed, stored) stay one per receipt,
 *     by design; the line about the client having gone is throttled. The window between a
 *     receipt's PubAck and its answer is a few microtasks, too short to reset a call in on
 *     purpose; so the test holds each stored receipt back from its Check until the server has
 *     seen the client go, and resets the call once the receipt is stored.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { startTestNats, tempDir, type TestNats } from '../support/nats.js';
import { startTestChio, testConfig, type TestChio } from '../support/chio.js';
import { captureLog, type CapturedLog } from '../support/log-capture.js';
import { sendCheck } from '../../src/cli/check.js';
import { buildCheckRequest } from '../../src/cli/envoy-request.js';
import { demoToken } from '../../src/up.js';
import { loadChioProtos } from '../../src/authz/proto.js';
import { RevocationList } from '../../src/credentials/revocations.js';
import { ReceiptLanes } from '../../src/chain/lanes.js';
import { CheckHandler } from '../../src/authz/check-handler.js';
import { MAX_LOGGED_ERROR_CHARS } from '../../src/authz/service.js';
import type { ReceiptTicket } from '../../src/chain/ticket.js';

const CHECKS = 30;
/** The first line, and at most a summary a second: the Checks take well under a few seconds. */
const MAX_LINES = 1 + 4;

let nats: TestNats | undefined;
let chio: TestChio | undefined;
let captured: CapturedLog;

afterEach(async () => {
  vi.restoreAllMocks();
  await chio?.stop();
  chio = undefined;
  await nats?.cleanup();
  nats = undefined;
});

/** Each test its own nats-server: a log of other keys is not this one's to extend. */
async function start(chain: string): Promise<TestChio> {
  captured = captureLog('info');
  nats = await startTestNats();
  chio = await startTestChio(testConfig(tempDir(`chio-${chain}-`), nats.current.url, { CHIO_CHAIN_ID: chain }), { log: captured.log });
  return chio;
}

/** Stop the services, so that every count not yet said is said. */
async function stop(): Promise<void> {
  vi.restoreAllMocks();
  await chio!.stop();
  chio = undefined;
}

interface Line {
  level: number;
  msg: string;
  err?: string;
  suppressed?: number;
}

const linesOf = (msg: string): Line[] => captured.lines.map((l) => JSON.parse(l) as Line).filter((l) => l.msg.startsWith(msg));

/** Lines logged, plus those counted in summaries. */
const counted = (lines: Line[]): number => lines.reduce((sum, l) => sum + (l.suppressed ?? 1), 0);

const capabilityCheck = (token: string) => buildCheckRequest({ method: 'POST', path: '/tools/x', host: 'h', headers: { 'x-chio-capability-token': token } });

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 1_000 && !done(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(done(), 'waited 10 s').toBe(true);
}

describe('a decision pipeline that fails on every Check', () => {
  const FAILED = 'decision pipeline failed; denied (Internal)';

  it('is logged once, then counted, not once per Check', async () => {
    const running = await start('pipeline-failure');
    const token = demoToken(running.config);
    const lookup = vi.spyOn(RevocationList.prototype, 'isRevoked').mockImplementation(() => {
      throw new Error('revocation lookup broke');
    });
    for (let i = 0; i < CHECKS; i++) expect((await sendCheck(running.grpcAddr, capabilityCheck(token))).verdict).toBe('deny');
    expect(lookup).toHaveBeenCalledTimes(CHECKS);
    const during = linesOf(FAILED);
    expect(during[0], 'the first failure, at once, with its text').toMatchObject({ level: 50, msg: FAILED, err: 'Error: revocation lookup broke' });
    expect(during.length, 'lines while the Checks were denied').toBeLessThanOrEqual(MAX_LINES);
    await stop();
    for (const l of linesOf(FAILED)) expect(l.level, 'an error stays an error in its summary').toBe(50);
    expect(counted(linesOf(FAILED)), 'every failure logged or counted, once stopped').toBe(CHECKS);
  }, 60_000);

  it('logs its error text cut to a bound: an exception may quote the request whole', async () => {
    const running = await start('pipeline-failure-long');
    const token = demoToken(running.config);
    vi.spyOn(RevocationList.prototype, 'isRevoked').mockImplementation(() => {
      throw new Error(`bad value ${'x'.repeat(90_000)}`);
    });
    expect((await sendCheck(running.grpcAddr, capabilityCheck(token))).verdict).toBe('deny');
    const [first] = linesOf(FAILED);
    expect(first?.err?.startsWith('Error: bad value xxx')).toBe(true);
    expect(first!.err!.length).toBeLessThanOrEqual(MAX_LOGGED_ERROR_CHARS + 40);
    await stop();
  }, 60_000);
});

describe('a client that goes just as its receipt is stored, Check after Check', () => {
  const GONE = 'client gone before its answer; the receipt is corrected';
  const OWED = 'receipt stored after its Check was answered 503; correcting it';
  const CORRECTED = 'receipt corrected: stored, but answered deny 503 (ReceiptLedger)';

  it('gets each receipt corrected, and one line about it having gone, not one per Check', async () => {
    const running = await start('client-gone');
    const token = demoToken(running.config);
    let stored = deferred();
    let gone = deferred();
    const check = CheckHandler.prototype.check;
    vi.spyOn(CheckHandler.prototype, 'check').mockImplementation(function (this: CheckHandler, req, deadline, client) {
      client?.onGone(gone.resolve);
      return check.call(this, req, deadline, client);
    });
    const store = ReceiptLanes.prototype.store;
    vi.spyOn(ReceiptLanes.prototype, 'store').mockImplementation(function (this: ReceiptLanes, draft, deadline) {
      const ticket = store.call(this, draft, deadline);
      const [isStored, isGone] = [stored, gone];
      const held: ReceiptTicket = {
        stored: ticket.stored.then(async (receipt) => {
          isStored.resolve();
          await isGone.promise;
          return receipt;
        }),
        abandon: () => ticket.abandon(),
        undelivered: () => ticket.undelivered(),
      };
      return held;
    });
    const { authorizationClient } = loadChioProtos();
    const client = new authorizationClient(running.grpcAddr, grpc.credentials.createInsecure());
    try {
      for (let i = 1; i <= CHECKS; i++) {
        [stored, gone] = [deferred(), deferred()];
        const answered = new Promise<grpc.ServiceError | null>((resolve) => {
          const call = client.Check(capabilityCheck(token), (err: grpc.ServiceError | null) => resolve(err));
          void stored.promise.then(() => call.cancel());
        });
        expect((await answered)?.code, 'the client reset its call').toBe(grpc.status.CANCELLED);
        await until(() => linesOf(CORRECTED).length === i);
      }
    } finally {
      client.close();
    }
    // One line per corrected receipt, each naming it: what ties a 503 to its correction.
    expect(linesOf(OWED)).toHaveLength(CHECKS);
    expect(linesOf(CORRECTED)).toHaveLength(CHECKS);
    expect(linesOf(GONE).length, 'lines about a client gone, while it went Check after Check').toBeLessThanOrEqual(MAX_LINES);
    await stop();
    expect(counted(linesOf(GONE)), 'every client gone logged or counted, once stopped').toBe(CHECKS);
  }, 60_000);
});
