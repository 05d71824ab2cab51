/**
 * CPU µs per Check spent waiting for the receipt (issue #8): the Check handler with a fixed
 * decision and a store whose PubAcks come a turn of the loop later, in batches, as a lane's
 * do; IN_FLIGHT Checks wait at once, each on its receipt deadline. Nothing is signed, decided
 * or sent: what is left is the handler's own work, where a timer per Check (setTimeout +
 * clearTimeout + Promise.race) cost 0.6–0.9 µs against one shared timer (deadline-timers.ts).
 *
 *   tsx bench/receipt-deadline-cpu.ts
 *   DEADLINE_CHECKS=50000 DEADLINE_ROUNDS=10 tsx bench/receipt-deadline-cpu.ts
 *   DEADLINE_BASELINE=src/authz/check-handler-before.ts tsx bench/receipt-deadline-cpu.ts
 *
 * With DEADLINE_BASELINE (another CheckHandler module, e.g. an older check-handler.ts copied
 * beside this one) both run in this process, in paired rounds whose order alternates, and the
 * table gives each one's median and in how many rounds the current one was lower.
 * DEADLINE_CLIENT_MS gives every other Check that grpc-timeout (ms): deadlines out of order.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { CheckHandler } from '../src/authz/check-handler.js';
import { allowed, type Decision } from '../src/decision/decision.js';
import type { Receipt, ReceiptDraft } from '../src/receipt/receipt.js';
import type { ReceiptTicket } from '../src/chain/ticket.js';

const CHECKS = Number(process.env.DEADLINE_CHECKS ?? 40_000);
const ROUNDS = Number(process.env.DEADLINE_ROUNDS ?? 10);
const IN_FLIGHT = Number(process.env.DEADLINE_IN_FLIGHT ?? 200);
const CLIENT_MS = process.env.DEADLINE_CLIENT_MS ? Number(process.env.DEADLINE_CLIENT_MS) : undefined;
const RECEIPT_TIMEOUT_MS = 150;

type Handler = Pick<CheckHandler, 'check'>;
type HandlerClass = new (opts: ConstructorParameters<typeof CheckHandler>[0]) => Handler;

const DECISION: Decision = allowed({
  shadow: false,
  policyHash: `sha256:${'5e'.repeat(32)}`,
  request: { method: 'POST', host: 'api.example', path: '/tools/run' },
  subject: {},
  evidence: [{ guard: 'Request', verdict: 'allow' }],
  credentialHeaders: [],
});

/** A store whose PubAcks all come on the next turn of the loop, as one batch. */
function batchingStore(): { store(draft: ReceiptDraft): ReceiptTicket } {
  let batch: Array<() => void> = [];
  let n = 0;
  const ackBatch = () => {
    const acks = batch;
    batch = [];
    for (const ack of acks) ack();
  };
  return {
    store(draft) {
      let ack!: () => void;
      const stored = new Promise<Receipt>((res) => (ack = () => res(Object.assign({ id: (n++).toString(16).padStart(64, '0') }, draft) as unknown as Receipt)));
      if (batch.length === 0) setImmediate(ackBatch);
      batch.push(ack);
      return { stored, abandon: () => false, undelivered: () => undefined };
    },
  };
}

function handlerOf(Handler: HandlerClass): Handler {
  return new Handler({ pipeline: { decide: async () => DECISION }, publisher: batchingStore(), receiptTimeoutMs: RECEIPT_TIMEOUT_MS, log: pino({ level: 'silent' }) });
}

/** CPU µs per Check for CHECKS Checks, IN_FLIGHT at a time. */
async function cpuPerCheck(handler: Handler): Promise<number> {
  let started = 0;
  const before = process.cpuUsage();
  const runner = async (lane: number) => {
    while (started < CHECKS) {
      started += 1;
      const client = CLIENT_MS !== undefined && (started + lane) % 2 === 0 ? Date.now() + CLIENT_MS : undefined;
      await handler.check({}, client);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, (_, lane) => runner(lane)));
  const used = process.cpuUsage(before);
  return (used.user + used.system) / CHECKS;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const arms: Array<[string, HandlerClass]> = [['current', CheckHandler]];
  const baseline = process.env.DEADLINE_BASELINE;
  if (baseline) {
    const mod = (await import(pathToFileURL(resolve(baseline)).href)) as { CheckHandler: HandlerClass };
    arms.push(['baseline', mod.CheckHandler]);
  }
  const handlers = arms.map(([name, cls]) => [name, handlerOf(cls)] as const);
  // Warm-up: every arm once, so the JIT has seen each before it is measured.
  for (const [, handler] of handlers) await cpuPerCheck(handler);
  const results = new Map<string, number[]>(arms.map(([name]) => [name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? handlers : [...handlers].reverse();
    for (const [name, handler] of order) results.get(name)!.push(await cpuPerCheck(handler));
  }
  console.log(`${CHECKS} Checks × ${ROUNDS} rounds, ${IN_FLIGHT} in flight${CLIENT_MS !== undefined ? `, every other with grpc-timeout ${CLIENT_MS} ms` : ''}; CPU µs per Check`);
  for (const [name, xs] of results) console.log(`${name.padEnd(9)} median ${median(xs).toFixed(2)}  rounds ${xs.map((x) => x.toFixed(2)).join(' ')}`);
  const current = results.get('current')!;
  const base = results.get('baseline');
  if (base) {
    const lower = current.filter((x, i) => x < base[i]!).length;
    console.log(`current lower in ${lower} of ${ROUNDS} rounds; median of paired differences ${median(current.map((x, i) => x - base[i]!)).toFixed(2)} µs`);
  }
}

await main();
