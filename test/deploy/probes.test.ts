/**
 * Each Chio Deployment in deploy/istio/00-chio.yaml, started the way its pod would start: its
 * environment (ConfigMap + env), its Secret items and ConfigMaps as files at their mount paths
 * (under a temporary root), against a real nats-server. Every probe's path must answer 200.
 * A service missing a key it reads, or a setting it refuses, fails to start here.
 */
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { loadConfig, type ChioConfig } from '../../src/config.js';
import { generateKeys } from '../../src/keys.js';
import { createLogger } from '../../src/log.js';
import { connectNats } from '../../src/nats/connection.js';
import { startAuthz } from '../../src/authz/service.js';
import { startLedger } from '../../src/ledger/service.js';
import { startVerifier } from '../../src/verifier/service.js';
import { startTestNats, tempDir, type TestNats } from '../support/nats.js';
import { containerEnv, findManifest, loadManifests, volumeFiles, type Manifest } from './manifests.js';

const docs = loadManifests();

type Start = (config: ChioConfig, nc: NatsConnection) => Promise<{ port: number; stop(): Promise<void> }>;
const log = createLogger('silent');
const SERVICES: Record<string, { portEnv: string; start: Start }> = {
  'chio-authz': { portEnv: 'CHIO_HTTP_PORT', start: async (c, nc) => { const s = await startAuthz(c, nc, log); return { port: s.httpPort, stop: () => s.stop() }; } },
  'chio-ledger': { portEnv: 'CHIO_LEDGER_PORT', start: async (c, nc) => { const s = await startLedger(c, nc, log); return { port: s.httpPort, stop: () => s.stop() }; } },
  'chio-verifier': { portEnv: 'CHIO_VERIFIER_PORT', start: async (c, nc) => { const s = await startVerifier(c, nc, log); return { port: s.httpPort, stop: () => s.stop() }; } },
};

/** Lay out a pod's volumes under `root` as its container would see them. */
function mountVolumes(deployment: Manifest, root: string, keyDir: string): void {
  const pod = deployment.spec.template.spec;
  for (const mount of pod.containers[0].volumeMounts) {
    const volume = pod.volumes.find((v: any) => v.name === mount.name);
    const at = join(root, mount.mountPath);
    mkdirSync(at, { recursive: true });
    for (const file of volumeFiles(volume)) {
      // Secrets are the key directory `chio keygen` wrote; an optional ConfigMap not in the manifests is absent.
      if (file.from.kind === 'Secret') copyFileSync(join(keyDir, file.from.key), join(at, file.path));
      else if (!file.optional) writeFileSync(join(at, file.path), findManifest(docs, 'ConfigMap', file.from.name).data![file.from.key]!);
    }
    if (volume.configMap && !volume.configMap.items) for (const [file, text] of Object.entries(findManifest(docs, 'ConfigMap', volume.configMap.name).data!)) writeFileSync(join(at, file), text);
  }
}

/** The container's environment with its absolute paths moved under `root`. */
function podEnv(deployment: Manifest, root: string): Record<string, string> {
  const env = containerEnv(docs, deployment.spec.template.spec.containers[0]);
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v.startsWith('/') ? join(root, v) : v]));
}

describe('the probes of deploy/istio’s Chio Deployments', () => {
  let nats: TestNats;
  let nc: NatsConnection;
  let keyDir: string;
  let root: string;

  beforeAll(async () => {
    nats = await startTestNats();
    nc = await connectNats({ servers: [nats.current.url], name: 'chio-deploy-probes' });
    root = tempDir('chio-deploy-pods-');
    keyDir = join(root, 'keygen');
    generateKeys(keyDir, loadConfig({ env: findManifest(docs, 'ConfigMap', 'chio-config').data }).logOrigin);
  });
  afterAll(async () => {
    await nc?.drain();
    await nats?.cleanup();
    rmSync(root, { recursive: true, force: true });
  });

  it.each(Object.keys(SERVICES))('%s answers 200 on every probe path', async (name) => {
    const deployment = findManifest(docs, 'Deployment', name);
    const podRoot = join(root, name);
    mountVolumes(deployment, podRoot, keyDir);
    const { portEnv, start } = SERVICES[name]!;
    const config = loadConfig({
      // The test's NATS (a single node: one replica) and a free loopback port; the rest as in the pod.
      env: { ...podEnv(deployment, podRoot), NATS_URL: nats.current.url, CHIO_REPLICAS: '1', CHIO_BIND: '127.0.0.1', [portEnv]: '0', CHIO_GRPC_PORT: '0', CHIO_LOG_LEVEL: 'silent' },
    });
    const service = await start(config, nc);
    try {
      const container = deployment.spec.template.spec.containers[0];
      const paths = [container.startupProbe, container.livenessProbe, container.readinessProbe].map((p) => p.httpGet.path);
      for (const path of paths) {
        const res = await fetch(`http://127.0.0.1:${service.port}${path}`);
        expect({ path, status: res.status }).toEqual({ path, status: 200 });
      }
    } finally {
      await service.stop();
    }
  });
});
