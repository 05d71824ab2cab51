/**
 * The authz service (`chio authz`): the gRPC Check server, its HTTP side (/health, /ready,
 * /metrics) and the receipt publisher, with a clean stop: stop taking Checks, answer the ones
 * in flight (each one's receipt stored or the answer a deny), then close.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import type { ChioConfig } from '../config.js';
import { loadKey } from '../keys.js';
import { ensureStreams, openPolicyArchive, openRevocationsBucket } from '../store/resources.js';
import { startHttpServer } from '../http.js';
import { ReceiptPublisher } from '../chain/publisher.js';
import { ReceiptLanes, laneChainIds } from '../chain/lanes.js';
import { CheckHandler } from './check-handler.js';
import { DecisionPipeline } from '../decision/pipeline.js';
import { PolicyWatcher } from '../policy/policy-watcher.js';
import { RevocationList } from '../credentials/revocations.js';
import { startGrpcServer } from './grpc-server.js';
import { PolicyArchiver } from './policy-archiver.js';

export interface RunningAuthz {
  readonly grpcPort: number;
  readonly httpPort: number;
  /** The chains this process writes: one per lane (CHIO_LANES). */
  readonly chains: readonly string[];
  readonly policyHash: string;
  readonly policies: PolicyWatcher;
  stop(): Promise<void>;
}

export async function startAuthz(config: ChioConfig, nc: NatsConnection, log: Logger): Promise<RunningAuthz> {
  const kernel = loadKey(config.keyDir, 'kernel');
  const archiver = new PolicyArchiver(await openPolicyArchive(nc, config.replicas), log);
  const policies = new PolicyWatcher(config.policies, config.keyDir, log, (set) => archiver.archive(set));
  log.info({ policy_hash: policies.current().hash, files: policies.current().files.length }, 'policies loaded');
  await ensureStreams(nc, config.replicas);
  // Before the first Check: no receipt names a policy hash the archive does not hold.
  await archiver.archiveNow(policies.current());
  const revocations = await RevocationList.open(await openRevocationsBucket(nc, config.replicas), log);
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  const publisher = new ReceiptLanes(
    laneChainIds(config.chainId, config.lanes).map((chain) => new ReceiptPublisher({ js, jsm, chain, signer: kernel.signer, kernelKey: kernel.verifierKey, log })),
  );
  for (const { chain, seq } of await publisher.open()) log.info({ chain, resumed_at_seq: seq }, 'receipt chain opened');
  const pipeline = new DecisionPipeline({
    policies: () => policies.current(),
    mode: config.mode,
    defaultVerdict: config.defaultVerdict,
    isRevoked: (id) => revocations.isRevoked(id),
    onInternalError: (err) => log.error({ err: String(err) }, 'decision pipeline failed; denied (Internal)'),
  });
  const handler = new CheckHandler({ pipeline, publisher, receiptTimeoutMs: config.receiptTimeoutMs, log });
  const ready = () => (nc.isClosed() ? 'NATS connection is closed' : revocations.problem ?? archiver.problem);
  policies.start();
  const grpcServer = await startGrpcServer({ bind: config.bind, port: config.grpcPort, handler, ready });
  const http = await startHttpServer({ bind: config.bind, port: config.httpPort, log, ready });
  log.info({ grpc: grpcServer.port, http: http.port }, 'authz listening');
  return {
    grpcPort: grpcServer.port,
    httpPort: http.port,
    chains: publisher.chains,
    get policyHash() {
      return policies.current().hash;
    },
    policies,
    async stop() {
      policies.stop();
      archiver.stop();
      await grpcServer.stop();
      await handler.drain();
      await publisher.drain();
      revocations.stop();
      await http.stop();
    },
  };
}
