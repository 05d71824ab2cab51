/**
 * `chio authz --workers N`: one authz per core. Node runs JavaScript on one core per process,
 * and a Check's work (decision, JCS, an Ed25519 signature) is CPU, so a machine with more
 * cores than one needs more processes. They share the gRPC port (node:cluster hands each
 * incoming connection to a worker in turn) and each writes its own receipt chains:
 * `<chain id>-w<k>` with its lanes under it, so that no two processes ever write one chain.
 *
 * The primary process takes no Check. It runs the HTTP side: `/ready` is ready only when every
 * worker says it is, `/metrics` is the sum over the workers, with what a worker that has gone had
 * counted (src/authz/worker-metrics.ts).
 * A worker that dies is started again under the same index, so it resumes its own chains from
 * their heads; a stop stops every worker cleanly (each drains its Checks and receipts) first.
 */
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { Gauge, Registry } from 'prom-client';
import { WORKER_INDEX_VARIABLE, type ChioConfig } from '../config.js';
import { registry } from '../metrics.js';
import { startHttpServer } from '../http.js';
import { loadListenerTls } from '../tls.js';
import { sharedAnswer } from '../in-flight.js';
import { ChioError } from '../errors/index.js';
import { WorkerMetricSums, type MetricJson } from './worker-metrics.js';
import { DEFAULT_CLOSE_GRACE_MS } from './grpc-unary.js';
import { DRAIN_SETTLE_MS } from '../chain/publisher.js';
import { DRAIN_TIMEOUT_MS } from '../nats/connection.js';


/** How long the primary waits for a worker to answer a readiness question (under a probe's 1 s). */
const READY_ANSWER_MS = 500;
/**
 * How long the primary waits for a worker's registry (prom-client's cluster aggregation waited
 * as long), under Prometheus's default scrape timeout of 10 s: a worker that did not answer is
 * summed with its counts from its last answer.
 */
const METRICS_ANSWER_MS = 5_000;
/** How long after a worker died it is started again (a crash loop then costs one start a second). */
const RESTART_DELAY_MS = 1_000;
/**
 * How long a stopping worker has to drain before it is killed: its gRPC server's close grace
 * (clients that keep their connections open), then its receipts' drain and its NATS drain, and
 * a margin. At 30 s, the close grace alone, a worker held by one client that never closed its
 * connection was killed in its drain, with corrections it owed.
 */
export const STOP_GRACE_MS = DEFAULT_CLOSE_GRACE_MS + DRAIN_SETTLE_MS + DRAIN_TIMEOUT_MS + 5_000;
/**
 * How often the primary asks each worker whether it is alive, and how many questions in a row
 * it may leave unanswered (10 s) before it is killed and started again: a worker whose event
 * loop is stuck holds its connections' Checks, and Kubernetes' liveness probe only sees the
 * primary.
 */
const HEARTBEAT_MS = 2_000;
const MAX_MISSED_HEARTBEATS = 5;

interface Question { chio: 'ready?' | 'metrics?'; id: number }
interface Started { chio: 'started' }
interface ReadyAnswer { chio: 'ready'; id: number; reason: string | undefined }
interface MetricsAnswer { chio: 'metrics'; id: number; metrics: MetricJson[] }

/** This process's worker index when it is an authz worker, else undefined. */
export function authzWorkerIndex(): number | undefined {
  if (!cluster.isWorker) return undefined;
  const index = Number(process.env[WORKER_INDEX_VARIABLE]);
  return Number.isSafeInteger(index) && index >= 0 ? index : undefined;
}

/**
 * In a worker: answer the primary's readiness questions from `reason`, send the metrics
 * registry when asked, and call `stop` when the primary is gone (its Checks in flight are then
 * still answered: Node's own handler would exit at once). `close()` once stopped lets the
 * process exit (an open channel to the primary would keep it alive).
 */
export function serveWorker(reason: () => string | undefined, stop: () => void): { close(): void } {
  // Node exits a worker whose primary disconnects unless the disconnect counts as expected.
  if (cluster.worker) cluster.worker.exitedAfterDisconnect = true;
  const send = (answer: ReadyAnswer | MetricsAnswer) => process.connected && process.send?.(answer);
  const onMessage = (message: unknown) => {
    const question = message as Partial<Question> | null;
    const id = question?.id;
    if (typeof id !== 'number') return;
    if (question?.chio === 'ready?') send({ chio: 'ready', id, reason: reason() });
    // A registry that could not be read is not answered: the primary sums this worker's last counts.
    if (question?.chio === 'metrics?') void registry.getMetricsAsJSON().then((metrics) => send({ chio: 'metrics', id, metrics: metrics as unknown as MetricJson[] }), () => undefined);
  };
  process.on('message', onMessage);
  process.once('disconnect', stop);
  const started: Started = { chio: 'started' };
  process.send?.(started);
  return {
    close() {
      process.off('message', onMessage);
      process.off('disconnect', stop);
      if (process.connected) process.disconnect();
    },
  };
}

export interface RunningAuthzWorkers {
  readonly httpPort: number;
  /** Resolves, once every worker is stopped, with the exit code of a worker that failed before it first started. */
  readonly failedAtStart: Promise<number>;
  /**
   * Stop every worker (each drains), then the HTTP side; the same promise however often called.
   * Rejects when a worker did not stop cleanly (it exited non-zero, or was killed).
   */
  stop(): Promise<void>;
}

/** In the primary: start `count` workers and the HTTP side; resolves once the HTTP port listens. */
export async function startAuthzWorkers(config: ChioConfig, count: number, log: Logger): Promise<RunningAuthzWorkers> {
  const workers = new Map<number, Worker>();
  const questions = new Map<number, (answer: ReadyAnswer | MetricsAnswer) => void>();
  const sums = new WorkerMetricSums();
  let asked = 0;
  let stopped: Promise<void> | undefined;

  let failed: (code: number) => void = () => {};
  // A worker that fails before it first started (a missing key, a bad setting) would fail
  // again: the primary stops, with the worker's exit code, as a single authz would.
  const failedAtStart = new Promise<number>((resolve) => (failed = resolve));
  const everStarted = new Set<number>();
  /** The worker processes that said 'started' (and so may have taken Checks). */
  const startedWorkers = new WeakSet<Worker>();

  const start = (index: number) => {
    const worker = cluster.fork({ [WORKER_INDEX_VARIABLE]: String(index) });
    workers.set(index, worker);
    worker.on('message', (message: Partial<Started | ReadyAnswer | MetricsAnswer> | null) => {
      if (message?.chio === 'started') {
        everStarted.add(index);
        startedWorkers.add(worker);
      }
      if ((message?.chio === 'ready' || message?.chio === 'metrics') && typeof message.id === 'number') questions.get(message.id)?.(message as ReadyAnswer | MetricsAnswer);
    });
    // A send to a worker whose channel just closed: its exit follows, and is handled there.
    worker.on('error', (err) => log.warn({ worker: index, err: String(err) }, 'authz worker channel error'));
    // Decide once the worker has exited and its channel is closed: a message it sent just
    // before exiting ('started') is then handled, whichever of the two Node reports first.
    const exited = new Promise<[number, string]>((resolve) => worker.once('exit', (code, signal) => resolve([code, signal])));
    const disconnected = new Promise<void>((resolve) => worker.once('disconnect', resolve));
    void Promise.all([exited, disconnected]).then(([[code, signal]]) => {
      if (workers.get(index) === worker) workers.delete(index);
      sums.gone(worker);
      if (stopped) return log.info({ worker: index, code, signal }, 'authz worker stopped');
      if (!everStarted.has(index)) {
        log.error({ worker: index, code, signal }, 'authz worker failed to start; stopping');
        return failed(code || 1);
      }
      log.error({ worker: index, code, signal }, 'authz worker exited; starting it again');
      setTimeout(() => !stopped && start(index), RESTART_DELAY_MS).unref();
    });
  };
  for (let index = 0; index < count; index++) start(index);

  /** `worker`'s answer to a question, or undefined when it did not answer within `ms`. */
  const ask = <A extends ReadyAnswer | MetricsAnswer>(worker: Worker, chio: Question['chio'], ms: number): Promise<A | undefined> => {
    const id = ++asked;
    return new Promise((resolve) => {
      const timer = setTimeout(() => answer(undefined), ms);
      const answer = (a: ReadyAnswer | MetricsAnswer | undefined) => {
        clearTimeout(timer);
        questions.delete(id);
        resolve(a as A | undefined);
      };
      questions.set(id, answer);
      const question: Question = { chio, id };
      worker.send(question);
    });
  };
  const askReady = async (worker: Worker): Promise<string | undefined> => {
    if (!worker.isConnected()) return 'not running';
    const answer = await ask<ReadyAnswer>(worker, 'ready?', READY_ANSWER_MS);
    return answer ? answer.reason : 'did not answer';
  };
  /** Whether `worker` answered with its registry; kept as its last before its exit can be handled. */
  const collectMetrics = async (worker: Worker): Promise<boolean> => {
    const answer = worker.isConnected() ? await ask<MetricsAnswer>(worker, 'metrics?', METRICS_ANSWER_MS) : undefined;
    if (answer) sums.collected(worker, answer.metrics);
    return answer !== undefined;
  };

  // Weak: a worker that missed a heartbeat and then exited on its own is not kept.
  const missed = new WeakMap<Worker, number>();
  const heartbeat = setInterval(() => {
    for (const [index, worker] of workers) {
      if (!everStarted.has(index) || !worker.isConnected()) continue;
      void askReady(worker).then((reason) => {
        if (reason !== 'did not answer') return missed.delete(worker);
        missed.set(worker, (missed.get(worker) ?? 0) + 1);
        if (missed.get(worker)! < MAX_MISSED_HEARTBEATS || stopped) return;
        log.error({ worker: index, missed: missed.get(worker) }, 'authz worker does not answer; killing it to start it again');
        missed.delete(worker);
        worker.process.kill('SIGKILL');
      });
    }
  }, HEARTBEAT_MS);
  heartbeat.unref();

  // Shared while being worked out (src/in-flight.ts): /ready and /metrics ask every worker
  // over IPC, and they are anyone's in the mesh to ask, so a flood of them is one round of
  // questions at a time and the workers go on answering Checks. Nothing is kept once
  // answered, so /ready and /metrics never disagree.
  /** Undefined when every worker is running and ready, else why not (the first reason found). */
  const ready = sharedAnswer(async (): Promise<string | undefined> => {
    const answers = await Promise.all(Array.from({ length: count }, (_, index) => {
      const worker = workers.get(index);
      return worker ? askReady(worker) : Promise.resolve('not running');
    }));
    const index = answers.findIndex((a) => a !== undefined);
    return index < 0 ? undefined : `worker ${index}: ${answers[index]}`;
  });

  // /metrics: the workers' sum (with what gone workers had counted), but chio_ready from
  // /ready's own answer: a worker that is down sends no metrics at all, and must still make
  // chio_ready 0.
  const readyRegistry = new Registry();
  const readyNow = new Gauge({ name: 'chio_ready', help: '1 when the service is ready (its dependencies usable, as /ready says; for authz workers, every worker), else 0', labelNames: ['component'] as const, registers: [readyRegistry] });
  const metrics = sharedAnswer(async () => {
    const running = [...workers.values()];
    const [answers, reason] = await Promise.all([Promise.all(running.map(collectMetrics)), ready()]);
    readyNow.set({ component: 'authz' }, reason === undefined ? 1 : 0);
    const workersText = await sums.text(workers.values(), new Set(running.filter((_, i) => answers[i])));
    return `${withoutMetric(workersText, 'chio_ready')}${await readyRegistry.metrics()}`;
  });
  const tls = loadListenerTls(config);
  const http = await startHttpServer({ bind: config.bind, port: config.httpPort, portSetting: 'CHIO_HTTP_PORT', log, ready, metrics, ...(tls ? { tls } : {}) });
  log.info({ http: http.port, workers: count }, 'authz workers starting');

  const stop = () =>
    (stopped ??= (async () => {
      clearInterval(heartbeat);
      const exits = await Promise.all([...workers].map(async ([index, worker]) => ({ index, started: startedWorkers.has(worker), ...(await stopWorker(worker)) })));
      await http.stop();
      // A worker whose stop failed (exit 1: its receipts or its NATS connection not drained) or
      // that was killed past the grace fails the primary's stop too, as it fails a single authz's
      // (exit 1): the primary exited 0, "stopped cleanly", whatever its workers' stops came to.
      // A worker stopped before it started (a restart under way) took no Check: no failure.
      const failed = exits.find((e) => e.started && e.code !== 0);
      if (failed) throw new ChioError('UNAVAILABLE', `authz worker ${failed.index} did not stop cleanly (${failed.signal ?? `exit ${failed.code}`})`);
    })());
  return {
    httpPort: http.port,
    failedAtStart: failedAtStart.then(async (code) => {
      // The exit code is the failed worker's (a bad setting: 2), whatever the others' stops say.
      await stop().catch(() => undefined);
      return code;
    }),
    stop,
  };
}

/** The exposition `text` without the lines (samples, HELP, TYPE) of metric `name`. */
function withoutMetric(text: string, name: string): string {
  return text
    .split('\n')
    .filter((line) => !(line.startsWith(`${name}{`) || line.startsWith(`${name} `) || line.startsWith(`# HELP ${name} `) || line.startsWith(`# TYPE ${name} `)))
    .join('\n')
    .replace(/\n*$/, '\n');
}

/**
 * SIGTERM once (the worker drains and exits; it ignores later signals), then SIGKILL after
 * STOP_GRACE_MS; resolves with how the worker exited.
 */
function stopWorker(worker: Worker): Promise<{ code: number | null; signal: string | null }> {
  return new Promise((resolve) => {
    const { exitCode, signalCode } = worker.process;
    if (exitCode !== null || signalCode !== null) return resolve({ code: exitCode, signal: signalCode });
    const kill = setTimeout(() => worker.process.kill('SIGKILL'), STOP_GRACE_MS);
    worker.once('exit', (code: number | null, signal: string | null) => {
      clearTimeout(kill);
      resolve({ code, signal });
    });
    worker.process.kill('SIGTERM');
  });
}
