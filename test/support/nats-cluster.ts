/**
 * A real three-node JetStream cluster on loopback, as the Istio manifests deploy it: each node
 * a `nats-server -c <file>` child with its own client port, its own route port and its own
 * store directory, routes to all three. A node can be SIGKILLed and started again from the
 * same configuration and store, to rejoin.
 *
 * The nodes run CLUSTER_NATS_SERVER: `$CHIO_TEST_CLUSTER_NATS_SERVER` when set (.ci/run sets it
 * to the nats-server release the deployment ships when the one on PATH is older), else
 * `nats-server` from PATH.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
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
  restart(name: string): Promise<void>;
  cleanup(): Promise<void>;
}

const START_TIMEOUT_MS = 30_000;

/** The nats-server binary the cluster's nodes run. */
export const CLUSTER_NATS_SERVER = process.env.CHIO_TEST_CLUSTER_NATS_SERVER || 'nats-server';

export async function startNatsCluster(size = 3): Promise<NatsCluster> {
  const root = tempDir('chio-nats-cluster-');
  const ports = await Promise.all(Array.from({ length: size }, async () => ({ client: await findFreePort(), route: await findFreePort() })));
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
        `jetstream { store_dir: ${JSON.stringify(join(dir, 'store'))} }`,
        `cluster {`,
        `  name: chio-test`,
        `  listen: "127.0.0.1:${p.route}"`,
        `  routes: [${routes.map((r) => JSON.stringify(r)).join(', ')}]`,
        `}`,
        '',
      ].join('\n'),
    );
    return { name, url: `nats://127.0.0.1:${p.client}`, configFile, child: undefined as ChildProcess | undefined };
  });

  const start = async (node: (typeof nodes)[number]) => {
    const child = spawn(CLUSTER_NATS_SERVER, ['-c', node.configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
    node.child = child;
    await new Promise<void>((ready, fail) => {
      let tail = '';
      const timer = setTimeout(() => fail(new Error(`${node.name} not ready in ${START_TIMEOUT_MS} ms\n${tail}`)), START_TIMEOUT_MS);
      child.once('exit', (code) => fail(new Error(`${node.name} exited ${code}\n${tail}`)));
      child.stderr!.setEncoding('utf8');
      child.stderr!.on('data', (d: string) => {
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

  await Promise.all(nodes.map(start));
  await waitForMetaLeader(nodes.map((n) => n.url));
  return {
    nodes: nodes.map((n) => ({ name: n.name, url: n.url, get running() { return n.child !== undefined; } })),
    natsUrl: nodes.map((n) => n.url).join(','),
    kill: (name) => stop(find(name), 'SIGKILL'),
    restart: (name) => start(find(name)),
    async cleanup() {
      await Promise.all(nodes.map((n) => stop(n, 'SIGKILL')));
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** JetStream answers only once the cluster elected its meta leader. */
async function waitForMetaLeader(servers: string[]): Promise<void> {
  const nc = await connect({ servers });
  try {
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      try {
        await (await jetstreamManager(nc)).getAccountInfo();
        return;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`the cluster elected no JetStream leader in ${START_TIMEOUT_MS} ms: ${String(err)}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  } finally {
    await nc.close();
  }
}
