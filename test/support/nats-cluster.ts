/**
 * A real three-node JetStream cluster on loopback, as the Istio manifests deploy it: each node
 * a `nats-server -c <file>` child with its own client, route and monitoring ports and its own
 * store directory, routes to all three. A node can be SIGKILLed and started again from the
 * same configuration and store, to rejoin; its stderr is kept (`log`) to show when a test fails.
 *
 * The nodes run CLUSTER_NATS_SERVER: `$CHIO_TEST_CLUSTER_NATS_SERVER` when set (.ci/run sets it
 * to the nats-server release the deployment ships when the one on PATH is older), else
 * `nats-server` from PATH.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { findFreePort } from '../../src/nats/server.js';
import { tempDir } from './nats.js';

export interface ClusterNode {
  readonly name: string;
  readonly url: string;
  readonly running: boolean;
}

export interface NatsCluster {
  readonly nodes: readonly ClusterNode[];
  /** Every node's client URL, comma-separated, as NATS_URL takes them. */
  readonly natsUrl: string;
  kill(name: string): Promise<void>;
  /**
   * Starts a killed node again and waits until its `/healthz` says it is current with the
   * cluster, as a rolling restart does before it touches the next node. A node not healthy in
   * HEALTHY_WITHIN_MS is stopped and started again, at most RESTARTS_WHEN_STUCK times (a
   * Kubernetes startup probe does the same, later); resolves with how many extra starts it took.
   */
  restartUntilHealthy(name: string): Promise<number>;
  /** What the node has written to stderr since the cluster started, across restarts: shown when a test fails. */
  log(name: string): string;
  cleanup(): Promise<void>;
}

const START_TIMEOUT_MS = 30_000;
/** A cluster that forms places its first stream in about 6 s on two cores. */
const FORM_WITHIN_MS = 20_000;
const FORM_ATTEMPTS = 3;
/**
 * How long a restarted node may take to report healthy; 4–10 s measured on two cores under the
 * cluster suite's load. A restarted nats-server 2.10.27 sometimes never gets there: its log ends
 * at "JetStream has not established contact with a meta leader" and the receipts stream's
 * replica on it stayed behind for 200 s (3 of 17 runs when the suite waited for the stream
 * alone). A node that is stuck is started again: 1 of 22 runs needed it since.
 */
const HEALTHY_WITHIN_MS = 30_000;
const RESTARTS_WHEN_STUCK = 2;

/** The nats-server binary the cluster's nodes run. */
export const CLUSTER_NATS_SERVER = process.env.CHIO_TEST_CLUSTER_NATS_SERVER || 'nats-server';

/**
 * A fresh cluster whose meta group holds all `size` nodes. nats-server 2.10 sometimes bootstraps
 * the meta group from the first nodes that found each other and never adds the last one (its
 * /jsz says cluster_size 2 on every node; seen in about 1 of 10 starts, on two cores, started
 * together or one by one); no replicated stream can then be placed. Such a cluster is thrown
 * away and made again, at most FORM_ATTEMPTS times.
 */
export async function startNatsCluster(size = 3): Promise<NatsCluster> {
  const problems: string[] = [];
  for (let attempt = 1; attempt <= FORM_ATTEMPTS; attempt++) {
    let problem: string | undefined;
    try {
      const cluster = await startNodes(size);
      problem = await cluster.formed();
      if (problem === undefined) return cluster;
      await cluster.cleanup();
    } catch (err) {
      problem = String(err); // a node that exits at once: its port was taken since it was found free
    }
    problems.push(`attempt ${attempt}: ${problem}`);
    console.warn(`nats cluster: attempt ${attempt} did not form (${problem}); making a new one`);
  }
  throw new Error(`no ${size}-node JetStream cluster formed in ${FORM_ATTEMPTS} attempts:\n${problems.join('\n')}`);
}

async function startNodes(size: number): Promise<NatsCluster & { formed(): Promise<string | undefined> }> {
  const root = tempDir('chio-nats-cluster-');
  const ports = await Promise.all(Array.from({ length: size }, async () => ({ client: await findFreePort(), route: await findFreePort(), monitor: await findFreePort() })));
  const routes = ports.map((p) => `nats-route://127.0.0.1:${p.route}`);
  const nodes = ports.map((p, i) => {
    const name = `n${i + 1}`;
    const dir = join(root, name);
    mkdirSync(dir, { recursive: true });
    const configFile = join(dir, 'nats.conf');
    writeFileSync(
      configFile,
      [
        `server_name: ${name}`,
        `listen: "127.0.0.1:${p.client}"`,
        `http: "127.0.0.1:${p.monitor}"`,
        `jetstream { store_dir: ${JSON.stringify(join(dir, 'store'))} }`,
        `cluster {`,
        `  name: chio-test`,
        `  listen: "127.0.0.1:${p.route}"`,
        `  routes: [${routes.map((r) => JSON.stringify(r)).join(', ')}]`,
        `}`,
        '',
      ].join('\n'),
    );
    return { name, url: `nats://127.0.0.1:${p.client}`, healthz: `http://127.0.0.1:${p.monitor}/healthz`, configFile, child: undefined as ChildProcess | undefined };
  });

  const start = async (node: (typeof nodes)[number]) => {
    const child = spawn(CLUSTER_NATS_SERVER, ['-c', node.configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
    const logFile = join(dirname(node.configFile), 'nats.log');
    node.child = child;
    await new Promise<void>((ready, fail) => {
      let tail = '';
      const timer = setTimeout(() => fail(new Error(`${node.name} not ready in ${START_TIMEOUT_MS} ms\n${tail}`)), START_TIMEOUT_MS);
      child.once('exit', (code) => fail(new Error(`${node.name} exited ${code}\n${tail}`)));
      child.stderr!.setEncoding('utf8');
      child.stderr!.on('data', (d: string) => {
        try {
          appendFileSync(logFile, d);
        } catch {
          // the cluster's directory is gone (cleanup): a last line after the kill is not kept
        }
        tail = (tail + d).slice(-4_000);
        if (tail.includes('Server is ready')) {
          clearTimeout(timer);
          ready();
        }
      });
    });
  };
  const stop = (node: (typeof nodes)[number], signal: NodeJS.Signals) =>
    new Promise<void>((done) => {
      const child = node.child;
      node.child = undefined;
      if (!child || child.exitCode !== null || child.signalCode !== null) return done();
      child.once('exit', () => done());
      child.kill(signal);
    });
  const find = (name: string) => {
    const node = nodes.find((n) => n.name === name);
    if (!node) throw new Error(`no node ${name}`);
    return node;
  };

  const started = await Promise.allSettled(nodes.map(start));
  const failed = started.find((r) => r.status === 'rejected');
  if (failed) {
    await Promise.all(nodes.map((n) => stop(n, 'SIGKILL')));
    rmSync(root, { recursive: true, force: true });
    throw failed.reason;
  }
  return {
    async formed() {
      const problem = await untilPlaceable(nodes.map((n) => n.url), FORM_WITHIN_MS);
      if (problem === undefined) return undefined;
      const views = await Promise.all(nodes.map(async (n) => `${n.name} sees ${await metaView(n.healthz.replace(/healthz$/, 'jsz'))}`));
      return `${problem}; ${views.join('; ')}`;
    },
    nodes: nodes.map((n) => ({ name: n.name, url: n.url, get running() { return n.child !== undefined; } })),
    natsUrl: nodes.map((n) => n.url).join(','),
    kill: (name) => stop(find(name), 'SIGKILL'),
    async restartUntilHealthy(name) {
      const node = find(name);
      for (let extra = 0; ; extra++) {
        await start(node);
        const health = await untilHealthy(node.healthz, HEALTHY_WITHIN_MS);
        if (health === 'ok') return extra;
        if (extra === RESTARTS_WHEN_STUCK) throw new Error(`${name} not healthy after ${extra + 1} starts of ${HEALTHY_WITHIN_MS} ms each: ${health}`);
        await stop(node, 'SIGTERM');
      }
    },
    log: (name) => readLog(find(name).configFile),
    async cleanup() {
      await Promise.all(nodes.map((n) => stop(n, 'SIGKILL')));
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** What a node has written to stderr so far, across its restarts. */
function readLog(configFile: string): string {
  try {
    return readFileSync(join(dirname(configFile), 'nats.log'), 'utf8');
  } catch {
    return '';
  }
}

/** 'ok' once `/healthz` answers 200 within timeoutMs, else what it last said. */
async function untilHealthy(url: string, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  for (;;) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      if (res.ok) return 'ok';
      last = `${res.status} ${(await res.text()).slice(0, 300)}`;
    } catch (err) {
      last = String(err);
    }
    if (Date.now() > deadline) return last;
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Why the cluster cannot yet place a stream on every node, or undefined once it can (a probe stream is made and removed). */
async function untilPlaceable(servers: string[], timeoutMs: number): Promise<string | undefined> {
  const nc = await connect({ servers });
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const jsm = await jetstreamManager(nc);
        await jsm.streams.add({ name: 'cluster-ready-probe', subjects: ['cluster-ready-probe'], num_replicas: servers.length });
        await jsm.streams.delete('cluster-ready-probe');
        return undefined;
      } catch (err) {
        if (Date.now() > deadline) return `no stream placed on all ${servers.length} nodes in ${timeoutMs} ms: ${String(err)}`;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  } finally {
    await nc.close();
  }
}

/** A node's view of the meta group, from its /jsz. */
async function metaView(jszUrl: string): Promise<string> {
  try {
    const jsz = (await (await fetch(jszUrl, { signal: AbortSignal.timeout(2_000) })).json()) as { meta_cluster?: { leader?: string; cluster_size?: number } };
    return `meta leader ${jsz.meta_cluster?.leader ?? 'none'}, cluster_size ${jsz.meta_cluster?.cluster_size ?? '?'}`;
  } catch (err) {
    return String(err);
  }
}
