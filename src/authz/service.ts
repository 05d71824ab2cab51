/**
 * The authz service (`chio authz`): the gRPC Check server, its HTTP side (/health, /ready,
 * /metrics) and the receipt publisher, with a clean stop: stop taking Checks, answer the ones
 * in flight (each one's receipt stored or the answer a deny), then close.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import type { ChioConfig } from '../config.js';
import { loadKey } from '../keys.js';
import { loadKernelTrust } from '../kernel-keys.js';
import { ensureStreams, openChainHeadsBucket, openPolicyArchive, openRevocationsBucket, RECEIPTS_STREAM } from '../store/resources.js';
import { readChainHeadRecord } from '../store/chain-heads.js';
import { PubAckPublisher } from '../store/pub-ack.js';
import { startHttpServer } from '../http.js';
import { loadListenerTls, tlsMode } from '../tls.js';
import { ReceiptPublisher } from '../chain/publisher.js';
import { storedReceiptVerifier } from '../chain/chain-head.js';
import { ReceiptLanes, laneChainIds } from '../chain/lanes.js';
import { CheckHandler } from './check-handler.js';
import { DecisionPipeline } from '../decision/pipeline.js';
import { PolicyWatcher } from '../policy/policy-watcher.js';
import { RevocationList } from '../credentials/revocations.js';
import { startGrpcServer } from './grpc-server.js';
import { startServiceHealth } from '../health/service-health.js';
import type { ServiceReadiness } from '../health/readiness.js';
import { PolicyArchiver } from './policy-archiver.js';
import { LogThrottle } from '../log-throttle.js';
import { textForLog } from '../text.js';

/**
 * An internal error's text in a log line is cut to this many characters: an exception may quote
 * what the request carried (a 90 KB header), and this line can come once per Check.
 */
export const MAX_LOGGED_ERROR_CHARS = 1_000;

/** Authz without its HTTP side: what an authz worker runs (workers.ts). */
export interface AuthzCore {
  readonly grpcPort: number;
  /** The chains this process writes: one per lane (CHIO_LANES). */
  readonly chains: readonly string[];
  readonly policyHash: string;
  readonly policies: PolicyWatcher;
  /** What /ready and gRPC Health answer from. */
  readonly readiness: ServiceReadiness;
  stop(): Promise<void>;
}

export interface RunningAuthz extends AuthzCore {
  readonly httpPort: number;
}

/** `chio authz`: the gRPC Check server and the HTTP side (/health, /ready, /metrics). */
export async function startAuthz(config: ChioConfig, nc: NatsConnection, log: Logger): Promise<RunningAuthz> {
  const core = await startAuthzCore(config, nc, log);
  const tls = loadListenerTls(config);
  const http = await startHttpServer({ bind: config.bind, port: config.httpPort, portSetting: 'CHIO_HTTP_PORT', log, ready: () => core.readiness.reason(), ...(tls ? { tls } : {}) })
    .catch(async (err: unknown) => {
      await core.stop();
      throw err;
    });
  log.info({ http: http.port }, 'authz HTTP listening');
  const stopCore = core.stop;
  return Object.assign(core, {
    httpPort: http.port,
    async stop() {
      await stopCore();
      await http.stop();
    },
  });
}

/** The gRPC Check server, its decision pipeline and its receipt chains, without HTTP. */
export async function startAuthzCore(config: ChioConfig, nc: NatsConnection, log: Logger): Promise<AuthzCore> {
  const kernel = loadKey(config.keyDir, 'kernel');
  const tls = loadListenerTls(config);
  const archiver = new PolicyArchiver(await openPolicyArchive(nc, config.replicas), log);
  const policies = new PolicyWatcher(config.policies, config.keyDir, log, (set) => archiver.archiveNow(set));
  log.info({ policy_hash: policies.current().hash, files: policies.current().files.length }, 'policies loaded');
  await ensureStreams(nc, config.replicas);
  // Before the first Check: no receipt names a policy hash the archive does not hold.
  await archiver.archiveNow(policies.current());
  const revocations = await RevocationList.open(await openRevocationsBucket(nc, config.replicas), log);
  // Receipt messages go out with their PubAcks read off one subscription (store/pub-ack.ts).
  const js = new PubAckPublisher(nc, config.natsInboxPrefix);
  const jsm = await jetstreamManager(nc);
  // A full store's refusal means "nothing stored" only on a stream of one replica (publisher.ts).
  const refusedForRoomIsFinal = (await jsm.streams.info(RECEIPTS_STREAM)).config.num_replicas === 1;
  // A chain resumes only from a receipt that verifies under the keys the ledger trusts (own and kernels.yaml).
  const verifyStored = storedReceiptVerifier(loadKernelTrust(config.keyDir, 'ledger'));
  // The log's record of each chain: a stream that lost receipts the log holds is not extended.
  const chainHeads = await openChainHeadsBucket(nc, config.replicas, 'reader');
  const loggedSeq = async (chain: string) => (await readChainHeadRecord(chainHeads, chain)).head?.seq;
  const publisher = new ReceiptLanes(
    laneChainIds(config.chainId, config.lanes).map((chain) => new ReceiptPublisher({ js, jsm, chain, signer: kernel.signer, kernelKey: kernel.verifierKey, log, verifyStored, loggedSeq, refusedForRoomIsFinal })),
  );
  for (const opened of await publisher.open()) {
    if ('seq' in opened) log.info({ chain: opened.chain, resumed_at_seq: opened.seq }, 'receipt chain opened');
    else log.error({ chain: opened.chain, why: opened.problem }, 'receipt chain not extended; not ready until the stream holds it whole again');
  }
  // A request that reaches a bug, or a dependency that throws, fails every Check alike: one
  // error line per Check would bury the first, which says what broke (log-throttle.ts).
  const failures = new LogThrottle(log);
  const pipeline = new DecisionPipeline({
    policies: () => policies.current(),
    mode: config.mode,
    defaultVerdict: config.defaultVerdict,
    isRevoked: (id) => revocations.isRevoked(id),
    onInternalError: (err, request) => failures.error({ err: textForLog(String(err), MAX_LOGGED_ERROR_CHARS), traceparent: request.traceparent }, 'decision pipeline failed; denied (Internal)'),
  });
  const handler = new CheckHandler({ pipeline, publisher, receiptTimeoutMs: config.receiptTimeoutMs, log });
  const health = await startServiceHealth('authz', nc, log);
  health.readiness.add(() => revocations.problem);
  // SPEC §1: a chain the stream lost receipts of is not extended, and the process says why.
  health.readiness.add(() => publisher.problem);
  const ready = () => health.readiness.reason();
  policies.start();
  // After the Check server: its Checks answered and their receipts stored first.
  const stopParts = async () => {
    await handler.drain();
    // The failures not yet said are said before the stop.
    failures.flush();
    await publisher.drain();
    js.close();
    revocations.stop();
    health.stop();
  };
  // A port refused stops what runs already (the revocation watch, the chains), else it ran on
  // and logged errors once the caller closed the NATS connection.
  const grpcServer = await startGrpcServer({ bind: config.bind, port: config.grpcPort, portSetting: 'CHIO_GRPC_PORT', handler, ready, log, ...(tls ? { tls } : {}) })
    .catch(async (err: unknown) => {
      policies.stop();
      await stopParts();
      throw err;
    });
  log.info({ grpc: grpcServer.port, tls: tlsMode(tls) }, 'authz listening');
  return {
    grpcPort: grpcServer.port,
    chains: publisher.chains,
    get policyHash() {
      return policies.current().hash;
    },
    policies,
    readiness: health.readiness,
    async stop() {
      policies.stop();
      await grpcServer.stop();
      await stopParts();
    },
  };
}
