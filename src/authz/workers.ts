/**
 * `chio authz --workers N`: one authz per core. Node runs JavaScript on one core per process,
 * and a Check's work (decision, JCS, an Ed25519 signature) is CPU, so a machine with more
 * cores than one needs more processes. They share the gRPC port (node:cluster hands each
 * incoming connection to a worker in turn) and each writes its own receipt chains:
 * `<chain id>-w<k>` with its lanes under it, so that no two processes ever write one chain.
 *
 * The primary process takes no Check. It runs the HTTP side: `/ready` is ready only when every
 * worker says it is, `/metrics` is the sum over the workers (prom-client's cluster aggregation).
 * A worker that dies is started again under the same index, so it resumes its own chains from
 * their heads; a stop stops every worker cleanly (each drains its Checks and receipts) first.
 */
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { AggregatorRegistry } from 'prom-client';
import type { ChioConfig } from '../config.js';
import { registry } from '../metrics.js';
import { startHttpServer } from '../http.js';
import { loadListenerTls } from '../tls.js';

/** Environment variable the primary sets to tell a worker its index. */
const WORKER_INDEX_VARIABLE = 'CHIO_AUTHZ_WORKER';

/** How long the primary waits for a worker to answer a readiness question. */
const READY_ANSWER_MS = 1_000;
/** How long after a worker died it is started again (a crash loop then costs one start a second). */
const RESTART_DELAY_MS = 1_000;
/** How long a stopping worker has to drain before it is killed. */
const STOP_GRACE_MS = 30_000;

interface ReadyQuestion { chio: 'ready?'; id: number }
interface Started { chio: 'started' }
interface ReadyAnswer { chio: 'ready'; id: number; reason: string | undefined }

/** This process's worker index when it is an authz worker, else undefined. */
export function authzWorkerIndex(): number | undefined {
  if (!cluster.isWorker) return undefined;
  const index = Number(process.env[WORKER_INDEX_VARIABLE]);
  return Number.isSafeInteger(index) && index >= 0 ? index : undefined;
}

/** The chain id of worker `index`: its lanes add `-<n>` after it (chain/lanes.ts). */
export function workerChainId(chainId: string, index: number): string {
  return `${chainId}-w${index}`;
}

/**
 * In a worker: answer the primary's readiness questions from `reason`, send the metrics
 * registry when asked, and call `stop` when the primary is gone. `close()` once stopped lets
 * the process exit (an open channel to the primary would keep it alive).
 */
export function serveWorker(reason: () => string | undefined, stop: () => void): { close(): void } {
  AggregatorRegistry.setRegistries([registry]);
  // The constructor installs prom-client's worker side, which answers the primary's metrics requests.
  new AggregatorRegistry();
  const onMessage = (message: unknown) => {
    const question = message as Partial<ReadyQuestion> | null;
    if (question?.chio !== 'ready?' || typeof question.id !== 'number') return;
    const answer: ReadyAnswer = { chio: 'ready', id: question.id, reason: reason() };
    process.send?.(answer);
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
  stop(): Promise<void>;
}

/** In the primary: start `count` workers and the HTTP side; resolves once the HTTP port listens. */
export async function startAuthzWorkers(config: ChioConfig, count: number, log: Logger): Promise<RunningAuthzWorkers> {
  const workers = new Map<number, Worker>();
  let stopping = false;
  let questions = 0;

  let failed: (code: number) => void = () => {};
  // A worker that fails before it first started (a missing key, a bad setting) would fail
  // again: the primary stops, with the worker's exit code, as a single authz would.
  const failedAtStart = new Promise<number>((resolve) => (failed = resolve));
  const everStarted = new Set<number>();

  const start = (index: number) => {
    const worker = cluster.fork({ [WORKER_INDEX_VARIABLE]: String(index) });
    workers.set(index, worker);
    worker.on('message', (message: Partial<Started> | null) => {
      if (message?.chio === 'started') everStarted.add(index);
    });
    worker.once('exit', (code, signal) => {
      if (workers.get(index) === worker) workers.delete(index);
      if (stopping) return;
      if (!everStarted.has(index)) {
        log.error({ worker: index, code, signal }, 'authz worker failed to start; stopping');
        return failed(code || 1);
      }
      log.error({ worker: index, code, signal }, 'authz worker exited; starting it again');
      setTimeout(() => !stopping && start(index), RESTART_DELAY_MS).unref();
    });
  };
  for (let index = 0; index < count; index++) start(index);

  /** Undefined when every worker is running and ready, else why not (the first reason found). */
  const ready = async (): Promise<string | undefined> => {
    const answers = await Promise.all(Array.from({ length: count }, (_, index) => {
      const worker = workers.get(index);
      return worker ? askReady(worker, ++questions) : Promise.resolve('not running');
    }));
    const index = answers.findIndex((a) => a !== undefined);
    return index < 0 ? undefined : `worker ${index}: ${answers[index]}`;
  };
  const aggregator = new AggregatorRegistry();
  const tls = loadListenerTls(config);
  const http = await startHttpServer({ bind: config.bind, port: config.httpPort, log, ready, metrics: () => aggregator.clusterMetrics(), ...(tls ? { tls } : {}) });
  log.info({ http: http.port, workers: count }, 'authz workers starting');

  const stop = async () => {
    stopping = true;
    await Promise.all([...workers.values()].map((worker) => stopWorker(worker)));
    await http.stop();
  };
  return {
    httpPort: http.port,
    failedAtStart: failedAtStart.then(async (code) => {
      await stop();
      return code;
    }),
    stop,
  };
}

function askReady(worker: Worker, id: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const done = (reason: string | undefined) => {
      clearTimeout(timer);
      worker.off('message', onMessage);
      resolve(reason);
    };
    const onMessage = (message: unknown) => {
      const answer = message as Partial<ReadyAnswer> | null;
      if (answer?.chio === 'ready' && answer.id === id) done(answer.reason);
    };
    const timer = setTimeout(() => done('did not answer'), READY_ANSWER_MS);
    worker.on('message', onMessage);
    const question: ReadyQuestion = { chio: 'ready?', id };
    try {
      worker.send(question);
    } catch {
      done('is not reachable');
    }
  });
}

/** SIGTERM (the worker drains and exits), then SIGKILL after STOP_GRACE_MS. */
function stopWorker(worker: Worker): Promise<void> {
  return new Promise((resolve) => {
    if (worker.process.exitCode !== null || worker.process.signalCode !== null) return resolve();
    const kill = setTimeout(() => worker.process.kill('SIGKILL'), STOP_GRACE_MS);
    worker.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    worker.process.kill('SIGTERM');
  });
}
