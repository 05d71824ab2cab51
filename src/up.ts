/**
 * `chio up` (= `npm start`): every service in one process on one NATS (SPEC §1, §8).
 * First run: keys are made in the key directory, the demo policy set is loaded, and a demo
 * capability token with the exact commands to try is printed. Ctrl-C stops authz first (no
 * new Checks; those in flight answered, their receipts stored), then the ledger (last batch
 * integrated, last checkpoint published), then the verifier and NATS.
 */
import { randomUUID } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { DEFAULT_GRPC_PORT, DEFAULT_VERIFIER_PORT, DEMO_POLICIES, type ChioConfig } from './config.js';
import { ChioError, isChioError } from './errors/index.js';
import { fromBase64Url } from './encoding.js';
import { loadPolicySet, type PolicySet } from './policy/policy-set.js';
import { generateKeys, loadKey } from './keys.js';
import { acquireNats, type AcquiredNats } from './nats/acquire.js';
import { connectNats, drainNats, natsSettings } from './nats/connection.js';
import { startAuthz, type RunningAuthz } from './authz/service.js';
import { startLedger, type RunningLedger } from './ledger/service.js';
import { claimLedgerHolder } from './up-ledger-holder.js';
import { startVerifier, type RunningVerifier } from './verifier/service.js';
import { issueCapability, type Grant } from './credentials/capability.js';

export interface RunningChio {
  readonly authz: RunningAuthz;
  readonly ledger: RunningLedger;
  readonly verifier: RunningVerifier;
  readonly nc: NatsConnection;
  stop(): Promise<void>;
}

/** Start all services in this process. */
export async function startAll(config: ChioConfig, log: Logger): Promise<RunningChio & { nats: AcquiredNats; createdKeys: string[] }> {
  const createdKeys = generateKeys(config.keyDir, config.logOrigin);
  const nats = await acquireNats(config.natsUrl, config.dataDir, log);
  // A part that does not start (a port taken, a policy set that does not load) stops those
  // started before it, last first, and the nats-server: nothing keeps running or writing until
  // the process exits, and no nats.url is left to send `chio token revoke` to a NATS that is gone.
  const started: Array<() => Promise<void>> = [() => nats.stop()];
  const startPart = async <T extends { stop(): Promise<void> }>(start: () => Promise<T>): Promise<T> => {
    const part = await start();
    started.push(() => part.stop());
    return part;
  };
  let nc: NatsConnection, ledger: RunningLedger, verifier: RunningVerifier, authz: RunningAuthz;
  try {
    nc = await connectNats(natsSettings(config, nats.servers, 'chio-up'));
    const connection = nc;
    started.push(() => drainNats(connection));
    // A restart after a kill takes its own lease back at once, not after the lease TTL.
    const { holder, formerHolder } = claimLedgerHolder(config.dataDir, config.ledgerId);
    ledger = await startPart(() => startLedger({ ...config, ledgerId: holder }, connection, log.child({ service: 'ledger' }), formerHolder));
    verifier = await startPart(() => startVerifier(config, connection, log.child({ service: 'verifier' })));
    authz = await startPart(() => startAuthz(config, connection, log.child({ service: 'authz' })));
  } catch (err) {
    for (const stop of started.reverse()) await stop().catch((stopErr: unknown) => log.warn({ err: String(stopErr) }, 'stop after a failed start failed'));
    throw err;
  }
  return {
    authz, ledger, verifier, nc, nats, createdKeys,
    async stop() {
      // Each part is stopped even when one before it failed: an authz whose receipts could not
      // be drained must not leave the ledger's last batch unintegrated, the verifier serving,
      // or the embedded nats-server running. The first failure is the one thrown.
      const failures: unknown[] = [];
      const stopPart = async (part: string, stop: () => Promise<void>) => {
        try {
          await stop();
        } catch (err) {
          failures.push(err);
          log.error({ part, err: String(err) }, 'stop failed');
        }
      };
      await stopPart('authz', () => authz.stop());
      await stopPart('ledger', () => ledger.stop());
      await stopPart('verifier', () => verifier.stop());
      await stopPart('nats connection', () => drainNats(nc));
      await stopPart('nats-server', () => nats.stop());
      if (failures.length > 0) throw failures[0];
    },
  };
}

/** How long the demo token printed by `chio up` is valid. */
export const DEMO_TOKEN_TTL_SECONDS = 12 * 3600;

/**
 * A demo capability token from the demo issuer in `config.keyDir`. Its grants are read from a
 * policy set (default: the demo set shipped in deploy/policies), so that the token covers
 * exactly what those policies allow capability holders: the operations of every enforced
 * ALLOW rule that requires a capability (`when: capability.*`). Throws CONFIG_INVALID when
 * the set allows capability holders nothing.
 */
export function demoToken(config: ChioConfig, ttlSeconds = DEMO_TOKEN_TTL_SECONDS, policies = DEMO_POLICIES): string {
  const grants = capabilityGrantsOf(loadPolicySet(policies, config.keyDir));
  if (grants.length === 0) throw new ChioError('CONFIG_INVALID', `the policies in ${policies} allow capability holders nothing: no demo token to print`);
  const issuer = loadKey(config.keyDir, 'demo-issuer');
  const now = Math.floor(Date.now() / 1000);
  return issueCapability({
    schema: 'chio.capability.v1',
    id: randomUUID(),
    issuer: issuer.verifierKey,
    subject: 'demo-agent',
    scope: { grants },
    issued_at: now,
    expires_at: now + ttlSeconds,
  }, issuer.signer);
}

/** The operations that enforced ALLOW rules requiring a capability allow, as token grants. */
export function capabilityGrantsOf(set: PolicySet): Grant[] {
  const grants: Grant[] = [];
  for (const policy of set.authorization) {
    if (policy.action !== 'ALLOW' || policy.shadow) continue;
    for (const { doc } of policy.rules) {
      if (!doc.when?.some((c) => c.key.startsWith('capability.'))) continue;
      for (const { operation } of doc.to ?? []) {
        if (!operation.methods || !operation.paths) continue;
        grants.push({ methods: operation.methods, paths: operation.paths, ...(operation.hosts ? { hosts: operation.hosts } : {}) });
      }
    }
  }
  return grants;
}

/** One line per grant: `POST /tools/*, /invoke/*`. */
function describeGrants(token: string): string {
  const claims = JSON.parse(new TextDecoder().decode(fromBase64Url(token))) as { scope: { grants: Grant[] } };
  return claims.scope.grants.map((g) => `${g.methods.join(',')} ${g.paths.join(', ')}${g.hosts ? ` on ${g.hosts.join(', ')}` : ''}`).join('; ');
}

/**
 * The demo token `chio up` prints: its grants come from the policies it runs with, and when
 * those allow capability holders nothing there is no demo token (undefined), not a failure.
 */
export function welcomeToken(config: ChioConfig): string | undefined {
  try {
    return demoToken(config, DEMO_TOKEN_TTL_SECONDS, config.policies);
  } catch (err) {
    if (isChioError(err, 'CONFIG_INVALID')) return undefined;
    throw err;
  }
}

/** What `chio up` prints once everything listens. */
export function welcome(config: ChioConfig, chio: RunningChio, token: string | undefined): string {
  const host = config.bind === '0.0.0.0' ? '127.0.0.1' : config.bind;
  // The CLI's defaults point at the default ports: name the address only when it differs.
  const addr = chio.authz.grpcPort === DEFAULT_GRPC_PORT ? '' : ` --addr ${host}:${chio.authz.grpcPort}`;
  const url = chio.verifier.httpPort === DEFAULT_VERIFIER_PORT ? '' : ` --url http://${host}:${chio.verifier.httpPort}`;
  return [
    '',
    `Chio is up.  authz gRPC ${host}:${chio.authz.grpcPort} (HTTP :${chio.authz.httpPort})  ledger :${chio.ledger.httpPort}  verifier http://${host}:${chio.verifier.httpPort}`,
    `keys: ${config.keyDir}   policies: ${config.policies}   policy hash: ${chio.authz.policyHash}`,
    '',
    ...(token === undefined
      ? [
          'No demo capability token: these policies allow capability holders nothing.',
          '',
          'Try, in another terminal (from this directory):',
          '',
          `  npx chio check${addr} --method POST --path /tools/hello`,
        ]
      : [
          `A demo capability token (subject demo-agent; ${describeGrants(token)}; valid ${DEMO_TOKEN_TTL_SECONDS / 3600}h):`,
          '',
          `  export CHIO_TOKEN=${token}`,
          '',
          'Try, in another terminal (from this directory):',
          '',
          `  npx chio check${addr} --method POST --path /tools/hello --header "x-chio-capability-token:$CHIO_TOKEN"   # allow`,
          `  npx chio check${addr} --method POST --path /tools/hello                                                # deny 401`,
        ]),
    `  npx chio prove${url} <receipt id printed by check>`,
    `  open http://${host}:${chio.verifier.httpPort}/?id=<receipt id>   # the explorer: the same checks in your browser`,
    '',
    'Ctrl-C stops Chio cleanly; `npm start` again continues the same keys and log.',
    '',
  ].join('\n');
}
