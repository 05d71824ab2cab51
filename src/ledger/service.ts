/** The ledger service (`chio ledger`): the Ledger plus its HTTP side (/health, /ready, /metrics). */
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { ChioError } from '../errors/index.js';
import type { ChioConfig } from '../config.js';
import { loadKey } from '../keys.js';
import { KernelTrustWatcher } from '../kernel-keys.js';
import { ensureResources } from '../store/resources.js';
import { startHttpServer } from '../http.js';
import { loadListenerTls } from '../tls.js';
import { Ledger } from './ledger.js';
import { DEFAULT_VERIFY_THREADS } from '../crypto/ed25519-pool.js';
import { jetstreamManager } from '@nats-io/jetstream';
import { ReconnectGuard } from '../nats/reconnects.js';
import { watchLedger } from '../metrics.js';
import { countQuarantined } from '../store/quarantine.js';
import { readStreamBytes } from '../store/stream-bytes.js';
import { PROBE_TIMEOUT_MS } from '../health/nats-health.js';
import { beforeDeadline } from '../time.js';
import { startServiceHealth } from '../health/service-health.js';
import type { ServiceReadiness } from '../health/readiness.js';

export interface RunningLedger {
  readonly httpPort: number;
  readonly ledger: Ledger;
  /** What /ready answers from; a ledger state of its own (standby) adds its check here. */
  readonly readiness: ServiceReadiness;
  /** The kernel keys in force (reload() reads the key directory at once, as the poll would). */
  readonly kernelKeys: KernelTrustWatcher;
  stop(): Promise<void>;
}

/** `formerHolder`: a lease id of an ended run of this same ledger, taken back at once (`chio up`, up-ledger-holder.ts). */
export async function startLedger(config: ChioConfig, nc: NatsConnection, log: Logger, formerHolder?: string): Promise<RunningLedger> {
  const logKey = loadKey(config.keyDir, 'log');
  if (logKey.name !== config.logOrigin) {
    throw new ChioError('CONFIG_INVALID', `the log key is named ${logKey.name} but CHIO_LOG_ORIGIN is ${config.logOrigin}: a checkpoint's signer must be its origin`);
  }
  // Every kernel key of the key directory, read again while running: a rotation needs no restart.
  const kernelKeys = new KernelTrustWatcher(config.keyDir, 'ledger', log, config.kernelKeysPollMs);
  const tls = loadListenerTls(config);
  const resources = await ensureResources(nc, config.replicas);
  const ledger = new Ledger({ nc, resources, kernelKeys: () => kernelKeys.current(), origin: config.logOrigin, logSignerKey: logKey.signerKey, checkpointIntervalMs: config.checkpointIntervalMs, verifyThreads: config.ledgerVerifyThreads ?? DEFAULT_VERIFY_THREADS, lease: { holder: config.ledgerId, formerHolder }, log });
  await ledger.start();
  kernelKeys.start();
  const health = await startServiceHealth('ledger', nc, log);
  // Read for /metrics only: while NATS is down a scrape goes without these samples at once,
  // rather than after PROBE_TIMEOUT_MS (nats/reconnects.ts).
  const reads = new ReconnectGuard(nc, { failWhileDown: true });
  const jsm = reads.guarded(await jetstreamManager(nc), 'JetStream');
  // A standby is alive (/health) but not ready: it answers nothing a writer would (SPEC §1).
  health.readiness.add(() => ledger.standbyReason);
  // A writer that reads nothing on, because the stream lost what the log holds, is not ready either.
  health.readiness.add(() => ledger.halted);
  const unwatch = watchLedger({
    origin: config.logOrigin,
    // The stream's last sequence is as of the last probe (at most a second old): lag is never negative.
    lagMessages: () => Math.max(0, health.nats.lastStreamSeq - ledger.integratedStreamSeq),
    checkpointAgeSeconds: () => (ledger.publishedAt === undefined ? undefined : (Date.now() - ledger.publishedAt) / 1000),
    // A scrape never waits long for it: unknown now is no sample, not a 0.
    quarantinedReceipts: () => beforeDeadline(countQuarantined(jsm), Date.now() + PROBE_TIMEOUT_MS, 'quarantine count').catch(() => undefined),
    streamBytes: () => beforeDeadline(readStreamBytes(jsm), Date.now() + PROBE_TIMEOUT_MS, 'stream sizes').catch(() => undefined),
  });
  const stopLedger = async () => {
    kernelKeys.stop();
    await ledger.stop();
    unwatch();
    health.stop();
  };
  // The loop already runs (and holds the writer lease): a port refused stops it, else it ran
  // on and failed, logging errors, once the caller closed the NATS connection.
  const http = await startHttpServer({ bind: config.bind, port: config.ledgerPort, portSetting: 'CHIO_LEDGER_PORT', log, ready: () => health.readiness.reason(), ...(tls ? { tls } : {}) })
    .catch(async (err: unknown) => {
      await stopLedger();
      throw err;
    });
  return {
    httpPort: http.port,
    ledger,
    readiness: health.readiness,
    kernelKeys,
    async stop() {
      await stopLedger();
      await http.stop();
      reads.stop();
    },
  };
}

