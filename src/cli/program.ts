/**
 * The `chio` command. Each subcommand reads its configuration once, validated,
 * and stops with a message naming the setting when a value is bad.
 */
import { Command, Option } from 'commander';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ChioError, statusOf } from '../errors/index.js';
import { DEFAULT_GRPC_PORT, DEFAULT_VERIFIER_URL, MAX_AUTHZ_WORKERS, loadConfig, refuseLongChainIds, type ChioConfig } from '../config.js';
import { createLogger } from '../log.js';
import { CHIO_VERSION } from '../version.js';
import { loadKey, loadKeyFile, loadVerifierKey, writeMissingKeys, type KeysWritten } from '../keys.js';
import { loadKernelTrust } from '../kernel-keys.js';
import type { ProofTrust } from '../verify/receipt-proof.js';
import { connectNats, drainNats, natsSettings } from '../nats/connection.js';
import { workerChainId } from '../chain/lanes.js';
import { embeddedNatsUrlFile, natsUrlFor } from '../nats/acquire.js';
import { buildCheckRequest } from './envoy-request.js';
import { parseHost, parseInstant, parseVerdict } from './export.js';
import type { ExportCommandOptions } from './export-run.js';
import { collectHeader, collectValue, kernelKeysArg, singleConfigFile, parseGrant, parseGrpcAddr, parseMilliseconds, parseTtl, parseVerifierUrl, parseWorkers, verifierKeyArg } from './option-values.js';

type Stoppable = { stop(): Promise<void> };

/**
 * The NATS a one-shot command (`token revoke`, `export`) talks to: NATS_URL, else the one the
 * `chio up` of this data directory wrote to nats.url. That file outlives the `chio up` that
 * wrote it, so a refused connection there is said as such, not as a bare "connection refused".
 */
async function connectForCommand(cfg: ChioConfig, command: string, name: string): Promise<Awaited<ReturnType<typeof connectNats>>> {
  const url = natsUrlFor(cfg.natsUrl, cfg.dataDir);
  if (!url) throw new ChioError('CONFIG_INVALID', `${command} needs NATS_URL, or a running \`chio up\` on this data directory (CHIO_DATA_DIR): no ${embeddedNatsUrlFile(cfg.dataDir)}`);
  try {
    return await connectNats(natsSettings(cfg, url.split(','), name));
  } catch (err) {
    if (cfg.natsUrl) throw err;
    throw new ChioError('UNAVAILABLE', `${command}: no NATS answers at ${url}, the address the last \`chio up\` on this data directory wrote to ${embeddedNatsUrlFile(cfg.dataDir)}: is it still running? Start it (\`npm start\`), or set NATS_URL`, { cause: err });
  }
}

function config(cmd: Command, defaultBind: string): ChioConfig {
  const configFile = cmd.optsWithGlobals().config as string | undefined;
  return loadConfig({ ...(configFile ? { configFile } : {}), defaultBind });
}

/**
 * Run until SIGINT/SIGTERM, then stop cleanly. A second Ctrl-C exits at once, unless
 * `ignoreRepeats`: an authz worker gets its primary's SIGTERM after a signal of its own
 * (Ctrl-C reaches the whole process group) and must go on draining.
 */
async function runUntilSignal(service: Stoppable, log: ReturnType<typeof createLogger>, ignoreRepeats = false): Promise<void> {
  await new Promise<void>((resolve) => {
    const onSignal = (signal: string) => {
      process.removeAllListeners('SIGINT');
      process.removeAllListeners('SIGTERM');
      if (ignoreRepeats) {
        process.on('SIGINT', () => undefined);
        process.on('SIGTERM', () => undefined);
      } else process.once('SIGINT', () => process.exit(130));
      log.info({ signal }, 'stopping');
      service.stop().then(() => {
        log.info('stopped cleanly');
        resolve();
      }, (err) => {
        log.error({ err: String(err) }, 'stop failed');
        process.exitCode = 1;
        resolve();
      });
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
}

/**
 * `chio authz`: one process, or with workers a primary (HTTP side) and the workers it starts
 * (authz/workers.ts), each a process running this same command.
 */
async function runAuthz(cmd: Command, workersFlag: number | undefined): Promise<void> {
  const { startAuthz, startAuthzCore } = await import('../authz/service.js');
  const workers = await import('../authz/workers.js');
  const index = workers.authzWorkerIndex();
  if (index !== undefined) {
    let channel: { close(): void } | undefined;
    await runService(cmd, async (cfg, nc, log) => {
      const authz = await startAuthzCore({ ...cfg, chainId: workerChainId(cfg.chainId, index) }, nc, log.child({ worker: index }));
      // Without its primary nobody answers /ready or restarts it: stop as on SIGTERM.
      channel = workers.serveWorker(() => authz.readiness.reason(), () => process.kill(process.pid, 'SIGTERM'));
      return authz;
    }, 'authz', true);
    channel?.close();
    return;
  }
  const cfg = config(cmd, '0.0.0.0');
  const count = workersFlag ?? cfg.authzWorkers;
  if (count === 1) return runService(cmd, startAuthz, 'authz');
  refuseLongChainIds({ ...cfg, authzWorkers: count });
  if (!cfg.natsUrl) throw new ChioError('CONFIG_INVALID', 'chio authz needs NATS_URL (`chio up` starts an embedded NATS for you)');
  const log = createLogger(cfg.logLevel, 'chio', { format: cfg.logFormat }).child({ service: 'authz' });
  const primary = await workers.startAuthzWorkers(cfg, count, log);
  void primary.failedAtStart.then((code) => process.exit(code), () => process.exit(1));
  await runUntilSignal(primary, log);
}

async function runService(cmd: Command, start: (cfg: ChioConfig, nc: Awaited<ReturnType<typeof connectNats>>, log: ReturnType<typeof createLogger>) => Promise<Stoppable>, name: string, ignoreRepeatedSignals = false) {
  const cfg = config(cmd, '0.0.0.0');
  const log = createLogger(cfg.logLevel, 'chio', { format: cfg.logFormat }).child({ service: name });
  if (!cfg.natsUrl) throw new ChioError('CONFIG_INVALID', `chio ${name} needs NATS_URL (\`chio up\` starts an embedded NATS for you)`);
  const nc = await connectNats(natsSettings(cfg, cfg.natsUrl.split(','), `chio-${name}`));
  const service = await start(cfg, nc, log);
  await runUntilSignal({
    stop: async () => {
      try {
        await service.stop();
      } finally {
        await drainNats(nc);
      }
    },
  }, log, ignoreRepeatedSignals);
}

/** The keys a proof is checked with: the operator's, from flags or the key directory, never the server's. */
function trustOf(cmd: Command, o: { logKey?: string; kernelKey?: string }): ProofTrust {
  const cfg = config(cmd, '127.0.0.1');
  return {
    logKey: o.logKey !== undefined ? verifierKeyArg(o.logKey, '--log-key') : loadVerifierKey(join(cfg.keyDir, 'log.pub')),
    // Without a flag, every kernel key the key directory trusts (kernels.yaml too), windows
    // included: a receipt signed before a rotation is still proven with the new kernel.pub.
    kernelKeys: o.kernelKey !== undefined ? [verifierKeyArg(o.kernelKey, '--kernel-key')] : loadKernelTrust(cfg.keyDir, 'verifier'),
  };
}

interface RequestFlags {
  method: string;
  path: string;
  host: string;
  header?: Record<string, string>;
  principal?: string;
}

/** The flags that describe one request, shared by `chio check` and `chio policy eval`. */
function withRequestOptions(cmd: Command): Command {
  return cmd
    .option('--method <method>', 'HTTP method', 'GET')
    .option('--path <path>', 'path with query', '/')
    .option('--host <host>', 'Host / :authority', 'tools.chio.local')
    .option('--header <name:value>', 'a request header (repeatable)', collectHeader)
    .option('--principal <spiffe-id>', 'source principal, e.g. spiffe://cluster.local/ns/default/sa/app')
    .option('--json', 'machine-readable output');
}

function requestOf(o: RequestFlags) {
  return buildCheckRequest({ method: o.method.toUpperCase(), path: o.path, host: o.host, headers: o.header ?? {}, ...(o.principal ? { principal: o.principal } : {}) });
}

/**
 * The commands. Each loads the modules it runs when it runs (dynamic imports): a ledger or
 * verifier process then holds neither the policy engines nor gRPC in memory.
 */
export function buildProgram(): Command {
  const program = new Command('chio').description('Envoy/Istio ext_authz with signed, provable receipts').version(CHIO_VERSION)
    .option('--config <file>', 'YAML configuration file', singleConfigFile);

  program.command('up').description('run authz, ledger and verifier in one process (embedded NATS unless NATS_URL is set)').action(async (_o, cmd: Command) => {
    const cfg = config(cmd, '127.0.0.1');
    const log = createLogger(cfg.logLevel, 'chio', { format: cfg.logFormat });
    if (cfg.authzWorkers > 1) log.warn({ workers: cfg.authzWorkers }, 'CHIO_AUTHZ_WORKERS is for `chio authz`; `chio up` runs one process');
    const { startAll, welcome, welcomeToken } = await import('../up.js');
    const chio = await startAll(cfg, log);
    if (chio.createdKeys.length > 0) log.info({ keys: chio.createdKeys, dir: cfg.keyDir }, 'created keys');
    process.stdout.write(welcome(cfg, chio, welcomeToken(cfg)));
    await runUntilSignal(chio, log);
  });
  program.command('authz').description('run the gRPC ext_authz server')
    .option('--workers <n>', `processes taking Checks, one per core to use, 1-${MAX_AUTHZ_WORKERS} (default: CHIO_AUTHZ_WORKERS, else 1)`, parseWorkers)
    .action(async (o: { workers?: number }, cmd: Command) => runAuthz(cmd, o.workers));
  program.command('ledger').description('run the ledger (integrates receipts, publishes checkpoints)').action(async (_o, cmd: Command) => runService(cmd, (await import('../ledger/service.js')).startLedger, 'ledger'));
  program.command('verifier').description('run the verifier HTTP API').action(async (_o, cmd: Command) => runService(cmd, (await import('../verifier/service.js')).startVerifier, 'verifier'));

  program.command('keygen').description('write every missing key into CHIO_KEY_DIR (never overwrites)').action((_o, cmd: Command) => {
    const cfg = config(cmd, '127.0.0.1');
    process.stdout.write(keygenReport(writeMissingKeys(cfg.keyDir, cfg.logOrigin), cfg.keyDir));
  });

  const token = program.command('token').description('capability tokens');
  token.command('issue').description('print a capability token')
    .requiredOption('--subject <subject>', 'who the token is for')
    .requiredOption('--grant <grant>', "what it allows, e.g. 'POST /tools/*' (repeatable)", parseGrant)
    .addOption(new Option('--ttl <duration>', 'lifetime, e.g. 30m, 1h, 7d').argParser(parseTtl).default(3600, '1h'))
    .option('--issuer-key <file>', 'issuer signer key file (default: the demo issuer in CHIO_KEY_DIR)')
    .action(async (o: { subject: string; grant: Array<{ methods: string[]; paths: string[] }>; ttl: number; issuerKey?: string }, cmd: Command) => {
      const { checkCapabilityForm, issueCapability } = await import('../credentials/capability.js');
      const cfg = config(cmd, '127.0.0.1');
      const issuer = o.issuerKey ? loadKeyFile(o.issuerKey, 'the issuer key') : loadKey(cfg.keyDir, 'demo-issuer');
      const now = Math.floor(Date.now() / 1000);
      const id = randomUUID();
      const issued = issueCapability({ schema: 'chio.capability.v1', id, issuer: issuer.verifierKey, subject: o.subject, scope: { grants: o.grant }, issued_at: now, expires_at: now + o.ttl }, issuer.signer);
      try {
        checkCapabilityForm(issued);
      } catch (err) {
        throw new ChioError('CONFIG_INVALID', `no token issued, every Check would refuse it: ${(err as Error).message}`, { cause: err });
      }
      process.stdout.write(`${issued}\n`);
      // The id (for `chio token revoke`) on stderr, so that stdout stays just the token.
      process.stderr.write(`capability id: ${id}\n`);
    });

  token.command('revoke').description('revoke a capability by its id (denied within a second everywhere)').argument('<id>')
    .option('--reason <text>', 'why, kept with the revocation')
    .action(async (id: string, o: { reason?: string }, cmd: Command) => {
      const cfg = config(cmd, '127.0.0.1');
      // A token (or a JWT) in place of an id would revoke nothing; and is never echoed back.
      const { capabilityIdInToken } = await import('../credentials/capability.js');
      // Pasted with its header (`Bearer <token>`, `x-chio-capability-token: <token>`): the token is looked at.
      const pasted = id.replace(/^\s*(?:bearer\s+|x-chio-capability-token:\s*)/i, '').trim();
      const inside = capabilityIdInToken(pasted);
      if (inside !== undefined) throw new ChioError('CONFIG_INVALID', `that is a capability token, not its id: run chio token revoke ${inside}`);
      if (pasted.split('.').length === 3) throw new ChioError('CONFIG_INVALID', 'that looks like a JWT: chio token revoke takes the id of a Chio capability (printed by chio token issue)');
      // Not echoed either: whatever this is, it is no id a token could carry in a header.
      if (/[\s\u0000-\u001f\u007f]/.test(id)) throw new ChioError('CONFIG_INVALID', 'that is not a capability id (an id has no spaces or control characters): chio token revoke takes the id printed by chio token issue');
      const nc = await connectForCommand(cfg, 'chio token revoke', 'chio-cli');
      const [{ openRevocationsBucket }, { revokeCapability }] = await Promise.all([import('../store/resources.js'), import('../store/revocations.js')]);
      try {
        await revokeCapability(await openRevocationsBucket(nc, cfg.replicas), id, o.reason);
        process.stdout.write(`revoked ${id}\n`);
      } finally {
        await drainNats(nc);
      }
    });

  const policy = program.command('policy').description('policy files');
  const evalCommand = policy.command('eval').description('decide one request offline (no NATS, no receipt) and say which policy and rule decided')
    .requiredOption('--policies <path>', 'a policy file or directory')
    .option('--request <file>', 'a CheckRequest in protobuf JSON or YAML (default: built from the flags)')
    .option('--payload <file>', 'any JSON or YAML document: report each json.kyverno.io ValidatingPolicy rule as passed, failed or skipped');
  withRequestOptions(evalCommand)
    .action(async (o: RequestFlags & { policies: string; request?: string; payload?: string; json?: boolean }, cmd: Command) => {
      const [{ loadPolicySet }, { evaluateRequest, formatEvaluation, parseCheckRequestText, parseDataText, readDataFile }, { formatScan, scanPayload }] = await Promise.all([
        import('../policy/policy-set.js'), import('./policy-eval.js'), import('./policy-scan.js'),
      ]);
      const cfg = config(cmd, '127.0.0.1');
      if (o.payload !== undefined) {
        if (o.request !== undefined) throw new ChioError('CONFIG_INVALID', '--payload and --request are exclusive');
        const results = scanPayload(loadPolicySet(o.policies, cfg.keyDir, { source: '--policies' }), parseDataText(readDataFile(o.payload), o.payload), o.payload);
        process.stdout.write(o.json ? `${JSON.stringify(results)}\n` : `${formatScan(results)}\n`);
        return;
      }
      const request = o.request ? parseCheckRequestText(readDataFile(o.request), o.request) : requestOf(o);
      const result = await evaluateRequest(loadPolicySet(o.policies, cfg.keyDir, { source: '--policies' }), request, cfg.defaultVerdict);
      process.stdout.write(o.json ? `${JSON.stringify(result)}\n` : `${formatEvaluation(result)}\n`);
    });
  policy.command('test').description('run the test cases kept beside a policy set (*.test.yaml, here or in tests/); exits non-zero on a failure')
    .argument('<dirs...>')
    .option('--json', 'machine-readable output')
    .action(async (dirs: string[], o: { json?: boolean }, cmd: Command) => {
      const { exitStatusOf, formatResults, runPolicyTests } = await import('./policy-test.js');
      const cfg = config(cmd, '127.0.0.1');
      const results = [];
      for (const dir of dirs) results.push(...(await runPolicyTests(dir, { keyDir: cfg.keyDir, defaultVerdict: cfg.defaultVerdict })));
      process.stdout.write(o.json ? `${JSON.stringify(results)}\n` : `${formatResults(results)}\n`);
      process.exitCode = exitStatusOf(results);
    });
  policy.command('check').description('validate policy files and print the policy hash').argument('<files...>')
    .action(async (files: string[], _o, cmd: Command) => {
      const [{ listPolicyFiles, loadPolicySet, loadPolicySetFiles }, { forTerminal }] = await Promise.all([import('../policy/policy-set.js'), import('./terminal.js')]);
      // File names and messages (a YAML error quotes the line) printed escaped, as bin/chio.js prints its own.
      const say = (stream: NodeJS.WriteStream, text: string) => stream.write(`${forTerminal(text)}\n`);
      const cfg = config(cmd, '127.0.0.1');
      let failed = false;
      for (const file of files) {
        try {
          // An argument is named by itself (absolute, as the loader names a file), not as CHIO_POLICIES.
          const set = loadPolicySet(resolve(file), cfg.keyDir, { source: '' });
          say(process.stdout, `${file}: ok, ${set.documents} document(s), ${set.hash}`);
        } catch (err) {
          failed = true;
          say(process.stderr, err instanceof Error ? err.message : String(err));
        }
      }
      if (files.length > 1 && !failed) {
        try {
          // A file named twice (directly and inside a directory) is one file of the set.
          const together = loadPolicySetFiles([...new Set(files.flatMap((f) => listPolicyFiles(resolve(f), '')))], cfg.keyDir);
          process.stdout.write(`all files together: ${together.hash}\n`);
        } catch (err) {
          failed = true;
          say(process.stderr, `all files together: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
      // Invalid policy files are bad configuration: the status table's exit code for it.
      if (failed) process.exitCode = statusOf('CONFIG_INVALID').exit;
    });

  const checkCommand = program.command('check').description('send one CheckRequest the way Envoy would')
    .option('--addr <host:port>', 'authz gRPC address', parseGrpcAddr, `127.0.0.1:${DEFAULT_GRPC_PORT}`)
    .option('--tls-ca <file>', 'connect with TLS, trusting this CA (PEM)')
    .option('--tls-cert <file>', 'client certificate for mutual TLS (PEM), with --tls-key')
    .option('--tls-key <file>', 'its private key (PEM, mode 0600)');
  withRequestOptions(checkCommand)
    .action(async (o: RequestFlags & { addr: string; tlsCa?: string; tlsCert?: string; tlsKey?: string; json?: boolean }) => {
      const { checkClientCredentials, checkFailure, formatCheckAnswer, sendCheck } = await import('./check.js');
      const credentials = checkClientCredentials({ ...(o.tlsCa ? { ca: o.tlsCa } : {}), ...(o.tlsCert ? { cert: o.tlsCert } : {}), ...(o.tlsKey ? { key: o.tlsKey } : {}) });
      const answer = await sendCheck(o.addr, requestOf(o), 5_000, credentials).catch((err: unknown) => {
        throw checkFailure(err, o.addr);
      });
      process.stdout.write(o.json ? `${JSON.stringify(answer)}\n` : `${formatCheckAnswer(answer)}\n`);
    });

  program.command('prove').description('fetch a receipt proof and verify it locally').argument('<receipt-id>')
    .option('--url <url>', 'verifier URL', parseVerifierUrl, DEFAULT_VERIFIER_URL)
    .option('--log-key <vkey>', 'log verifier key, or a file holding it (default: log.pub in CHIO_KEY_DIR)')
    .option('--kernel-key <vkey>', 'kernel verifier key, or a file holding it (default: kernel.pub and kernels.yaml in CHIO_KEY_DIR)')
    .option('--wait <ms>', 'how long to wait for a pending receipt', parseMilliseconds, 5000)
    .option('--json', 'machine-readable output')
    .option('--out <file>', 'also save the verified proof as C2SP tlog-proof@v1 (check it offline with chio verify-proof)')
    .option('--receipt-out <file>', "also save the receipt (JSON), the other input of chio verify-proof; when it was corrected, with its correction's proof")
    .action(async (id: string, o: { url: string; logKey?: string; kernelKey?: string; wait: number; json?: boolean; out?: string; receiptOut?: string }, cmd: Command) => {
      const [{ checkReceiptId, formatProven, proveReceipt, toProvenJson }, { receiptFileOf, tlogProofOf }] = await Promise.all([import('./prove.js'), import('./verify-proof.js')]);
      // The id first: a mistyped id is the mistake to name, not keys not yet set up.
      checkReceiptId(id);
      const { logKey, kernelKeys } = trustOf(cmd, o);
      const proven = await proveReceipt(id, { verifierUrl: o.url, logKey, kernelKeys, waitMs: o.wait });
      // Written only once verified: a saved proof is one that held.
      if (o.out) writeFileSync(o.out, tlogProofOf(proven.answer));
      if (o.receiptOut) writeFileSync(o.receiptOut, receiptFileOf(proven));
      process.stdout.write(o.json ? `${JSON.stringify(toProvenJson(proven))}\n` : `${formatProven(proven)}\n`);
    });

  program.command('verify-proof').description('check a C2SP tlog-proof@v1 offline, for a receipt').argument('<file>', 'the tlog-proof file')
    .requiredOption('--receipt <file>', "the receipt (JSON) the proof is for, or the verifier's answer for it (with its correction's, when it names one)")
    .option('--log-key <vkey>', 'log verifier key, or a file holding it (default: log.pub in CHIO_KEY_DIR)')
    .option('--kernel-key <vkey>', 'kernel verifier key, or a file holding it (default: kernel.pub and kernels.yaml in CHIO_KEY_DIR)')
    .option('--json', 'machine-readable output')
    .action(async (file: string, o: { receipt: string; logKey?: string; kernelKey?: string; json?: boolean }, cmd: Command) => {
      const [{ formatProven, toProvenJson }, { verifyProofFiles }] = await Promise.all([import('./prove.js'), import('./verify-proof.js')]);
      const proven = verifyProofFiles(file, o.receipt, trustOf(cmd, o));
      process.stdout.write(o.json ? `${JSON.stringify(toProvenJson(proven))}\n` : `${formatProven(proven)}\n`);
    });

  program.command('export').description('write a compliance bundle of the published log, streaming')
    .requiredOption('--out <dir>', 'bundle directory (created; must be empty)')
    .option('--since <time>', 'receipts at or after this time (RFC 3339)', parseInstant)
    .option('--until <time>', 'receipts before this time (RFC 3339)', parseInstant)
    .option('--verdict <verdict>', 'allow or deny', parseVerdict)
    .option('--host <host>', 'receipts for this request host', parseHost)
    .option('--previous <dir>', 'a previous bundle: adds the consistency proof from its checkpoint')
    .option('--export-key <file>', 'export signer key file (default: export.key in CHIO_KEY_DIR)')
    .action(async (o: ExportCommandOptions, cmd: Command) => {
      const { runExport } = await import('./export-run.js');
      const cfg = config(cmd, '127.0.0.1');
      await runExport(cfg, o, () => connectForCommand(cfg, 'chio export', 'chio-export'));
    });

  program.command('verify-export').description('check a compliance bundle offline; exit 0 only when everything holds').argument('<dir>')
    .option('--export-key <vkey>', 'export verifier key, or a file holding it (default: export.pub in CHIO_KEY_DIR)')
    .option('--log-key <vkey>', 'log verifier key, or a file holding it: the bundle must name this one')
    .addOption(new Option('--kernel-key <vkey>', 'a kernel verifier key, a file holding one, or a kernels.yaml (keys with their windows); repeatable: receipts must be signed by these').argParser(collectValue).default([], 'the kernel keys the bundle names'))
    .option('--previous <dir>', 'the previous bundle you hold: this one must extend its tree')
    .action(async (dir: string, o: { exportKey?: string; logKey?: string; kernelKey: string[]; previous?: string }, cmd: Command) => {
      const { formatVerifiedExport, verifyExportDir } = await import('./verify-export.js');
      const cfg = config(cmd, '127.0.0.1');
      const exportKey = o.exportKey !== undefined ? verifierKeyArg(o.exportKey, '--export-key') : loadVerifierKey(join(cfg.keyDir, 'export.pub'));
      const verified = await verifyExportDir(dir, {
        exportKey, ...(o.logKey !== undefined ? { logKey: verifierKeyArg(o.logKey, '--log-key') } : {}),
        ...(o.kernelKey.length > 0 ? { kernelKeys: kernelKeysArg(o.kernelKey, '--kernel-key') } : {}), ...(o.previous ? { previousDir: o.previous } : {}),
      });
      process.stdout.write(`${formatVerifiedExport(dir, verified, o.previous, { logKey: o.logKey !== undefined, kernelKeys: o.kernelKey.length > 0 })}\n`);
    });
  return program;
}

export async function main(argv: string[]): Promise<void> {
  await buildProgram().parseAsync(argv);
}

/** What `chio keygen` says it wrote: keys created, public halves written again, or nothing. */
function keygenReport({ created, repaired }: KeysWritten, keyDir: string): string {
  const lines = [
    ...(created.length > 0 ? [`created ${created.join(', ')} in ${keyDir}`] : []),
    ...(repaired.length > 0 ? [`wrote ${repaired.map((r) => `${r}.pub`).join(', ')} again from ${repaired.map((r) => `${r}.key`).join(', ')} in ${keyDir}`] : []),
  ];
  return `${lines.length > 0 ? lines.join('\n') : `all keys already exist in ${keyDir}`}\n`;
}
