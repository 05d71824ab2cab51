/**
 * The NATS cluster of deploy/istio/01-nats.yaml, run on loopback as its pods would run it: each
 * node's nats.conf and chio-users.conf from the ConfigMap, its args from the StatefulSet with
 * $(VAR) expanded from its environment as the kubelet does, the pod DNS names of the routes
 * pointed at each node's loopback route port. The three nodes must find each other; a
 * nats-server that only knows the route port must not join them. A route is trusted: a
 * server that joins serves clients of its own, without any user or permission, in the same
 * account as Chio's users, so its clients could read every subject and call the JetStream API
 * (delete the receipts stream) as no user of chio-users.conf may.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { findFreePort } from '../../src/nats/server.js';
import { tempDir } from '../support/nats.js';
import { ISTIO_DIR, findManifest, loadManifests } from './manifests.js';

const docs = loadManifests();
const natsConfig = findManifest(docs, 'ConfigMap', 'chio-nats-config').data!;
const statefulSet = findManifest(docs, 'StatefulSet', 'chio-nats');
const container = statefulSet.spec.template.spec.containers[0];
const configMount = container.volumeMounts.find((m: any) => m.name === 'config').mountPath as string;
/** The Secret chio-nats-users as the README makes it: one value per variable its files and args read. */
const secretVariables = [...new Set([...Object.values(natsConfig).join('\n').matchAll(/\$(\w+)/g), ...container.args.join(' ').matchAll(/\$\((\w+)\)/g)].map((m) => m[1]!))].filter((v) => v !== 'POD_NAME');
const README = readFileSync(join(ISTIO_DIR, 'README.md'), 'utf8');
/**
 * What the README lets the route password hold besides letters and digits: it goes into each
 * node's route URLs as it is, and nats-server stops at a URL it cannot parse.
 */
const ROUTE_PASSWORD_PUNCTUATION = /The route password goes into[^]*?only letters, digits and `([^`]+)`/.exec(README)?.[1];
const SECRET = Object.fromEntries(secretVariables.map((v) => [v, `pw-${v.toLowerCase()}-${'a1'.repeat(12)}${v === 'CHIO_ROUTE_NATS_PASSWORD' ? ROUTE_PASSWORD_PUNCTUATION ?? '' : ''}`]));
const POD_ROUTE_HOST = /\bchio-nats-(\d)\.chio-nats-headless\.chio-system\.svc\.cluster\.local:6222\b/g;

interface Ports {
  client: number;
  route: number;
  monitor: number;
}

interface Server {
  child: ChildProcess;
  log: () => string;
  ports: Ports;
}

/** Every nats-server started, ready or not: afterAll kills them all, also those whose start failed. */
const spawned: ChildProcess[] = [];

/** A nats-server child; its stderr is kept for the assertions and for a failure's message. */
async function startServer(args: string[], env: Record<string, string>, ports: Ports): Promise<Server> {
  const child = spawn('nats-server', args, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  spawned.push(child);
  let log = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => (log += d));
  await new Promise<void>((ready, fail) => {
    const timer = setTimeout(() => fail(new Error(`nats-server not ready in 15 s:\n${log}`)), 15_000);
    child.once('exit', (code) => fail(new Error(`nats-server exited ${code}:\n${log}`)));
    child.stderr!.on('data', () => {
      if (log.includes('Server is ready')) {
        clearTimeout(timer);
        ready();
      }
    });
  });
  return { child, log: () => log, ports };
}

/** The servers a node has a route to (2.10 opens a pool of connections to each). */
async function routedPeers(monitor: number): Promise<Set<string>> {
  const routez = (await (await fetch(`http://127.0.0.1:${monitor}/routez`)).json()) as { routes?: { remote_id: string }[] };
  return new Set((routez.routes ?? []).map((r) => r.remote_id));
}

async function serverId(monitor: number): Promise<string> {
  return ((await (await fetch(`http://127.0.0.1:${monitor}/varz`)).json()) as { server_id: string }).server_id;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A pod's args and files, with the pod's addresses moved to this node's loopback ports. */
function loopback(text: string, own: Ports, all: Ports[], dir: string): string {
  return text
    .replace(POD_ROUTE_HOST, (_m, i: string) => `127.0.0.1:${all[Number(i)]!.route}`)
    .replace(/^listen: 0\.0\.0\.0:4222$/m, `listen: 127.0.0.1:${own.client}`)
    .replace(/^http: 0\.0\.0\.0:8222$/m, `http: 127.0.0.1:${own.monitor}`)
    .replace(/^(\s+)listen: 0\.0\.0\.0:6222$/m, `$1listen: 127.0.0.1:${own.route}`)
    .replace(/^(\s+)store_dir: \/data$/m, `$1store_dir: ${JSON.stringify(join(dir, 'data'))}`)
    .replace(/^pid_file: \/tmp\/nats\.pid$/m, `pid_file: ${JSON.stringify(join(dir, 'nats.pid'))}`);
}

/** $(VAR) in a container's args, expanded from its environment as the kubelet does. */
const expand = (arg: string, env: Record<string, string>) => arg.replace(/\$\((\w+)\)/g, (m, v: string) => env[v] ?? m);

/** Pod `i`'s files written to `dir`, and its args and environment, with `secret` as the Secret chio-nats-users. */
function podOnLoopback(i: number, secret: Record<string, string>, ports: Ports[], dir: string): { args: string[]; env: Record<string, string> } {
  mkdirSync(dir, { recursive: true });
  for (const [file, text] of Object.entries(natsConfig)) writeFileSync(join(dir, file), loopback(text, ports[i]!, ports, dir));
  const env = { ...secret, POD_NAME: `chio-nats-${i}` };
  const args = container.args.map((a: string) => loopback(expand(a, env), ports[i]!, ports, dir).replace(`${configMount}/`, `${dir}/`));
  return { args, env };
}

/** Ports for the three pods, each free now. */
async function freePorts(): Promise<Ports[]> {
  const ports: Ports[] = [];
  for (let i = 0; i < statefulSet.spec.replicas; i++) ports.push({ client: await findFreePort(), route: await findFreePort(), monitor: await findFreePort() });
  return ports;
}

describe('the NATS cluster of deploy/istio/01-nats.yaml', () => {
  let root: string;
  const nodes: Server[] = [];
  let rogue: Server | undefined;
  let rogueClient: NatsConnection | undefined;

  beforeAll(async () => {
    root = tempDir('chio-nats-routes-');
    const ports = await freePorts();
    await Promise.all(ports.map(async (own, i) => {
      const { args, env } = podOnLoopback(i, SECRET, ports, join(root, `chio-nats-${i}`));
      nodes[i] = await startServer(args, env, own);
    }));
  }, 60_000);

  afterAll(async () => {
    await rogueClient?.close();
    for (const child of spawned) child.kill('SIGKILL');
    rmSync(root, { recursive: true, force: true });
  });

  it('forms: each node routes to the other two', async () => {
    for (const node of nodes) {
      await until(`node ${node.ports.client} to route to its peers`, async () => ((await routedPeers(node.ports.monitor)).size === nodes.length - 1 ? true : undefined)).catch((err) => {
        throw new Error(`${err.message}\n${node.log()}`);
      });
    }
  });

  it('does not let a server that knows only the route port join, nor its clients reach JetStream', async () => {
    const ports = { client: await findFreePort(), route: await findFreePort(), monitor: await findFreePort() };
    const dir = join(root, 'rogue');
    mkdirSync(dir, { recursive: true });
    // The cluster's name is no secret: it is in every node's INFO on the route port.
    const clusterName = /^\s+name: (\S+)$/m.exec(natsConfig['nats.conf']!)![1];
    writeFileSync(join(dir, 'rogue.conf'), [
      'server_name: rogue',
      `listen: 127.0.0.1:${ports.client}`,
      `http: 127.0.0.1:${ports.monitor}`,
      `cluster { name: ${clusterName}, listen: 127.0.0.1:${ports.route}, routes: [nats://127.0.0.1:${nodes[0]!.ports.route}] }`,
      '',
    ].join('\n'));
    rogue = await startServer(['-c', join(dir, 'rogue.conf')], {}, ports);
    const rogueId = await serverId(ports.monitor);
    // Joined once the node it dialled lists it: the dialling side registers a route on the
    // node's INFO, before the node has answered its CONNECT, so the rogue's own /routez would not say.
    const outcome = await until('the rogue route to be taken or refused', async () => {
      if ((await routedPeers(nodes[0]!.ports.monitor)).has(rogueId)) return 'joined';
      return rogue!.log().includes('Authorization Violation') ? 'refused' : undefined;
    });
    expect({ outcome, log: outcome === 'refused' ? '' : rogue.log() }).toEqual({ outcome: 'refused', log: '' });
    // No route, no JetStream: no one answers the rogue's unauthenticated client (joined, the
    // cluster's JetStream answered it in milliseconds, and created a stream for it).
    rogueClient = await connect({ servers: `nats://127.0.0.1:${ports.client}` });
    await expect(rogueClient.request('$JS.API.INFO', undefined, { timeout: 3_000 })).rejects.toThrow(/no responders|timeout/i);
  });
});

// The route password is the one Secret value that goes into a URL (each node's --routes), as it
// is: the kubelet expands $(…) without escaping, and nats-server does not check the URLs it is
// given but dereferences the nil of one Go's url.Parse refused, and panics when it dials.
describe('the route password of deploy/istio/01-nats.yaml', () => {
  let root: string;
  beforeAll(() => {
    root = tempDir('chio-nats-route-password-');
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  /** Pod 0 run as the kubelet would, with `secret`: its exit status and stderr (null: still running after 10 s, then killed). */
  async function runPod0(secret: Record<string, string>, name: string): Promise<{ status: number | null; stderr: string }> {
    const { args, env } = podOnLoopback(0, secret, await freePorts(), join(root, name));
    const run = spawnSync('nats-server', args, { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 10_000, killSignal: 'SIGKILL' });
    return { status: run.status, stderr: run.stderr };
  }

  it('has the README say which characters it may hold (the cluster above forms with each of them)', () => {
    expect(ROUTE_PASSWORD_PUNCTUATION).toBeDefined();
  });

  it('stops a node when it holds a character URLs reserve (base64 gives /), as the README says', async () => {
    const run = await runPod0({ ...SECRET, CHIO_ROUTE_NATS_PASSWORD: 'pw-a1b2/c3d4+e5f6' }, 'slash');
    expect({ status: run.status, panic: run.stderr.includes('panic:') }, run.stderr).toEqual({ status: expect.any(Number), panic: true });
    expect(run.status).not.toBe(0);
    expect(README).toMatch(/The route password goes into[^]*?`\/`[^]*?panic/);
  });

  it('stops a node when the Secret lacks it, with the message the README tells how to read', async () => {
    const { CHIO_ROUTE_NATS_PASSWORD: _, ...secret } = SECRET;
    const run = await runPod0(secret, 'missing');
    const said = /variable reference for 'CHIO_ROUTE_NATS_PASSWORD'[^\n]*can not be found/.exec(run.stderr)?.[0];
    expect({ status: run.status, said }, run.stderr).toEqual({ status: 1, said: expect.any(String) });
    expect(README).toContain("variable reference for 'CHIO_ROUTE_NATS_PASSWORD'");
  });
});
