/**
 * The manifests in deploy/istio agree with each other and with Chio: the provider Istio is
 * told about is the Service authz sits behind, selectors select what they mean to, every
 * container runs a real `chio` command with settings Chio accepts, the policy ConfigMap is a
 * valid policy set, the Secret's keys are the files `chio keygen` writes and each service gets
 * the ones it reads. (probes.test.ts starts the services the way the pods would.)
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { loadConfig } from '../../src/config.js';
import { KEY_ROLES, generateKeys } from '../../src/keys.js';
import { KERNEL_KEYS_FILE, loadKernelTrust } from '../../src/kernel-keys.js';
import { loadPolicySet, loadPolicySetFiles } from '../../src/policy/policy-set.js';
import { buildProgram } from '../../src/cli/program.js';
import { DEFAULT_VERIFY_THREADS } from '../../src/crypto/ed25519-pool.js';
import { REPO_ROOT } from '../support/chio.js';
import { tempDir } from '../support/nats.js';
import { ISTIO_DIR, containerEnv, findManifest, loadManifests, manifestsOfKind, resolvePort, volumeFiles, type Manifest, type VolumeFile } from './manifests.js';
import { STOP_GRACE_MS } from '../../src/authz/workers.js';

const docs = loadManifests();
const deployments = manifestsOfKind(docs, 'Deployment');
const chioDeployments = deployments.filter((d) => d.metadata.namespace === 'chio-system');
const workloads = [...deployments, ...manifestsOfKind(docs, 'StatefulSet')];

function selects(selector: Record<string, string>, labels: Record<string, string> | undefined): boolean {
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

function podsSelectedBy(namespace: string | undefined, selector: Record<string, string>): Manifest[] {
  return workloads.filter((w) => w.metadata.namespace === namespace && selects(selector, w.spec.template.metadata.labels));
}

describe('deploy/istio cross-references', () => {
  describe('the ext_authz provider', () => {
    const provider = findManifest(docs, 'IstioOperator', 'chio-ext-authz').spec.meshConfig.extensionProviders[0];
    const custom = manifestsOfKind(docs, 'AuthorizationPolicy').filter((p) => p.spec.action === 'CUSTOM');

    it('is the one every CUSTOM policy names', () => {
      expect(custom.length).toBeGreaterThan(0);
      for (const policy of custom) expect(policy.spec.provider.name).toBe(provider.name);
    });

    it('is the authz Service, at chio-sidecar.chio-system.svc.cluster.local:9091', () => {
      const [name, namespace, ...rest] = provider.envoyExtAuthzGrpc.service.split('.');
      expect(rest.join('.')).toBe('svc.cluster.local');
      const service = findManifest(docs, 'Service', name);
      expect(service.metadata.namespace).toBe(namespace);
      const port = service.spec.ports.find((p: any) => p.port === provider.envoyExtAuthzGrpc.port);
      expect(port).toMatchObject({ port: 9091, appProtocol: 'grpc' });
      const [authz] = podsSelectedBy(namespace, service.spec.selector);
      expect(authz?.metadata.name).toBe('chio-authz');
      const container = authz!.spec.template.spec.containers[0];
      // The Service's target port is the port Chio's gRPC server is configured to listen on.
      expect(resolvePort(container, port.targetPort)).toBe(loadConfig({ env: containerEnv(docs, container) }).grpcPort);
    });

    it('is the one docs/api.md’s Istio example registers, and its CUSTOM policy names', () => {
      const api = readFileSync(join(REPO_ROOT, 'docs/api.md'), 'utf8');
      const block = [...api.matchAll(/^```yaml\n([\s\S]*?)^```/gm)].map((m) => m[1]!).find((b) => b.includes('extensionProviders'));
      const [mesh, policy] = parseAllDocuments(block!).map((d) => d.toJS());
      expect(mesh.extensionProviders).toEqual([provider]);
      expect(policy.spec.provider.name).toBe(provider.name);
    });

    it('waits longer than Chio’s receipt deadline, so Chio answers a late receipt itself', () => {
      const authz = findManifest(docs, 'Deployment', 'chio-authz').spec.template.spec.containers[0];
      const timeoutMs = Number.parseFloat(provider.envoyExtAuthzGrpc.timeout) * 1000;
      expect(loadConfig({ env: containerEnv(docs, authz) }).receiptTimeoutMs).toBeLessThan(timeoutMs);
    });
  });

  describe('the authz NetworkPolicy', () => {
    const policy = findManifest(docs, 'NetworkPolicy', 'chio-authz');
    const authz = findManifest(docs, 'Deployment', 'chio-authz');
    const container = authz.spec.template.spec.containers[0];
    const config = loadConfig({ env: containerEnv(docs, container) });
    /** The rules that admit a port: one that lists it, or one that lists no ports (every port). */
    const rulesFor = (port: number) => policy.spec.ingress.filter((r: any) => !r.ports || r.ports.some((p: any) => resolvePort(container, p.port) === port && (p.protocol ?? 'TCP') === 'TCP'));

    it('selects exactly the authz pods, by their own labels', () => {
      expect(policy.metadata.namespace).toBe(authz.metadata.namespace);
      expect(Object.keys(policy.spec.podSelector)).toEqual(['matchLabels']);
      expect(selects(policy.spec.podSelector.matchLabels, authz.spec.template.metadata.labels)).toBe(true);
      expect(podsSelectedBy(policy.metadata.namespace, policy.spec.podSelector.matchLabels).map((w) => w.metadata.name)).toEqual(['chio-authz']);
      expect(policy.spec.policyTypes).toEqual(['Ingress']);
    });

    it('admits the gRPC Check port only from namespaces with sidecar injection', () => {
      expect(resolvePort(container, 'grpc')).toBe(config.grpcPort);
      const rules = rulesFor(config.grpcPort);
      expect(rules).toHaveLength(1);
      expect(rules[0].from).toEqual([
        { namespaceSelector: { matchLabels: { 'istio-injection': 'enabled' } } },
        { namespaceSelector: { matchExpressions: [{ key: 'istio.io/rev', operator: 'Exists' }, { key: 'istio-injection', operator: 'DoesNotExist' }] } },
      ]);
    });

    it('admits them from the demo namespace, whose sidecars make the Checks, and not from chio-system', () => {
      const labels = (ns: string) => findManifest(docs, 'Namespace', ns).metadata.labels!;
      const admits = (l: Record<string, string>) => rulesFor(config.grpcPort)[0].from.some(({ namespaceSelector: sel }: any) =>
        selects(sel.matchLabels ?? {}, l) && (sel.matchExpressions ?? []).every((e: any) => (e.operator === 'Exists') === e.key in l));
      expect(admits(labels('agent-tools'))).toBe(true);
      expect(admits(labels('chio-system'))).toBe(false);
    });

    it('leaves the HTTP port (probes, metrics) open to every source', () => {
      expect(resolvePort(container, 'http')).toBe(config.httpPort);
      const rules = rulesFor(config.httpPort);
      expect(rules.length).toBeGreaterThan(0);
      expect(rules.some((r: any) => r.from === undefined)).toBe(true);
    });
  });

  describe('selectors', () => {
    it('every Service selects exactly one workload and targets one of its ports', () => {
      for (const service of manifestsOfKind(docs, 'Service')) {
        const selected = podsSelectedBy(service.metadata.namespace, service.spec.selector);
        expect(selected, service.metadata.name).toHaveLength(1);
        const container = selected[0]!.spec.template.spec.containers[0];
        for (const port of service.spec.ports) expect(() => resolvePort(container, port.targetPort)).not.toThrow();
      }
    });

    it('every workload’s selector matches its own pod labels', () => {
      for (const w of workloads) expect(selects(w.spec.selector.matchLabels, w.spec.template.metadata.labels), w.metadata.name).toBe(true);
    });

    it('every PodDisruptionBudget covers exactly one workload', () => {
      for (const pdb of manifestsOfKind(docs, 'PodDisruptionBudget')) {
        expect(podsSelectedBy(pdb.metadata.namespace, pdb.spec.selector.matchLabels), pdb.metadata.name).toHaveLength(1);
      }
    });

    it('the Chio policies select the demo tool and not the mesh client', () => {
      const selectors = [...manifestsOfKind(docs, 'AuthorizationPolicy'), ...manifestsOfKind(docs, 'EnvoyFilter')].map((p) => [p, p.spec.selector?.matchLabels ?? p.spec.workloadSelector?.labels] as const);
      for (const [policy, selector] of selectors) {
        expect(selector, policy.metadata.name).toEqual({ 'chio.protocol/secured': 'true' });
        expect(podsSelectedBy(policy.metadata.namespace, selector).map((w) => w.metadata.name), policy.metadata.name).toEqual(['demo-tool']);
      }
    });

    it('the demo namespace has sidecar injection and Chio’s does not', () => {
      expect(findManifest(docs, 'Namespace', 'agent-tools').metadata.labels).toMatchObject({ 'istio-injection': 'enabled' });
      expect(findManifest(docs, 'Namespace', 'chio-system').metadata.labels).toMatchObject({ 'istio-injection': 'disabled' });
    });
  });

  describe('the authorization policies', () => {
    const [custom, deny, allow] = ['chio-tool-authorization', 'chio-deny-unauthenticated', 'chio-allow-probes-and-tools'].map((n) => findManifest(docs, 'AuthorizationPolicy', n));
    const operations = (p: Manifest) => p.spec.rules.flatMap((r: any) => r.to.map((t: any) => t.operation));

    it('send POST /tools/*, /invoke/* and GET /tools/* to Chio when a credential is present', () => {
      for (const rule of custom!.spec.rules) {
        expect(rule.to.map((t: any) => t.operation)).toEqual([
          { methods: ['POST'], paths: ['/tools/*', '/invoke/*'] },
          { methods: ['GET'], paths: ['/tools/*'] },
        ]);
      }
      expect(custom!.spec.rules.map((r: any) => r.when)).toEqual([
        [{ key: 'request.headers[x-chio-capability-token]', values: ['*'] }],
        [{ key: 'request.headers[authorization]', values: ['*'] }],
      ]);
    });

    it('deny tool calls that carry neither credential', () => {
      expect(deny!.spec.rules[0].when).toEqual([
        { key: 'request.headers[x-chio-capability-token]', notValues: ['*'] },
        { key: 'request.headers[authorization]', notValues: ['*'] },
      ]);
    });

    it('allow the tool calls Chio decides and the demo tool’s probe, nothing else', () => {
      const tool = findManifest(docs, 'Deployment', 'demo-tool').spec.template.spec.containers[0];
      const probe = tool.readinessProbe.httpGet;
      expect(operations(allow!)).toEqual([{ methods: ['GET'], paths: [probe.path], ports: [String(resolvePort(tool, probe.port))] }, ...operations(custom!).slice(0, 2)]);
    });

    it('use only the capability-holder paths the ConfigMap policy allows', () => {
      const policyText = findManifest(docs, 'ConfigMap', 'chio-policies').data!['policies.yaml']!;
      const allowed = parseAllDocuments(policyText).map((d) => d.toJS()).find((d) => d.kind === 'AuthorizationPolicy').spec.rules[0].to.map((t: any) => t.operation);
      expect(operations(custom!).slice(0, 2)).toEqual(allowed);
    });
  });

  describe('the rate limit', () => {
    it('sits just before the ext_authz filter on inbound sidecars', () => {
      const [patch] = findManifest(docs, 'EnvoyFilter', 'chio-local-ratelimit').spec.configPatches;
      expect(patch.match).toMatchObject({ context: 'SIDECAR_INBOUND', listener: { filterChain: { filter: { subFilter: { name: 'envoy.filters.http.ext_authz' } } } } });
      expect(patch.patch).toMatchObject({ operation: 'INSERT_BEFORE', value: { name: 'envoy.filters.http.local_ratelimit' } });
    });
  });

  describe('the Chio containers', () => {
    const program = buildProgram();
    const commands = new Map([['chio-authz', 'authz'], ['chio-ledger', 'ledger'], ['chio-verifier', 'verifier']]);

    it.each([...commands])('%s runs `chio %s`', (name, command) => {
      const [container] = findManifest(docs, 'Deployment', name).spec.template.spec.containers;
      expect(container.args).toEqual([command]);
      expect(program.commands.map((c) => c.name())).toContain(command);
    });

    it('start with settings Chio accepts, NATS at the chio-nats Service and three replicas', () => {
      for (const deployment of chioDeployments) {
        const env = containerEnv(docs, deployment.spec.template.spec.containers[0]);
        const config = loadConfig({ env });
        expect(config.replicas).toBe(3);
        const nats = new URL(config.natsUrl!);
        const [serviceName, namespace] = nats.hostname.split('.');
        const service = findManifest(docs, 'Service', serviceName!);
        expect(service.metadata.namespace).toBe(namespace);
        expect(service.spec.ports.map((p: any) => p.port)).toContain(Number(nats.port));
        expect(podsSelectedBy(namespace, service.spec.selector)[0]?.spec.replicas).toBe(3);
      }
    });

    it('run as non-root on a read-only root filesystem, with requests and limits', () => {
      for (const w of workloads) {
        const pod = w.spec.template.spec;
        expect(pod.securityContext.runAsNonRoot, w.metadata.name).toBe(true);
        for (const c of pod.containers) {
          expect(c.securityContext, `${w.metadata.name}/${c.name}`).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
          expect(Object.keys(c.resources.requests).sort()).toEqual(['cpu', 'memory']);
          expect(Object.keys(c.resources.limits).sort()).toEqual(['cpu', 'memory']);
        }
      }
    });

    it('have probes on /health and /ready at the port Chio serves HTTP on', () => {
      const portSetting = { 'chio-authz': 'httpPort', 'chio-ledger': 'ledgerPort', 'chio-verifier': 'verifierPort' } as const;
      for (const d of chioDeployments) {
        const container = d.spec.template.spec.containers[0];
        const httpPort = loadConfig({ env: containerEnv(docs, container) })[portSetting[d.metadata.name as keyof typeof portSetting]];
        expect(container.livenessProbe.httpGet.path).toBe('/health');
        expect(container.readinessProbe.httpGet.path).toBe('/ready');
        for (const probe of [container.startupProbe, container.livenessProbe, container.readinessProbe]) {
          expect(resolvePort(container, probe.httpGet.port), d.metadata.name).toBe(httpPort);
        }
      }
    });

    it('give the ledger a core per signature check thread it runs, and the young generation its memory figure was measured with', () => {
      const [container] = findManifest(docs, 'Deployment', 'chio-ledger').spec.template.spec.containers;
      const env = containerEnv(docs, container);
      const threads = loadConfig({ env }).ledgerVerifyThreads ?? DEFAULT_VERIFY_THREADS;
      expect(Number(container.resources.limits.cpu)).toBe(threads + 1);
      expect(env.NODE_OPTIONS).toBe('--max-semi-space-size=8');
    });

    it('name each ledger in the writer lease after its pod, so a restarted container takes its lease back at once', () => {
      const [container] = findManifest(docs, 'Deployment', 'chio-ledger').spec.template.spec.containers;
      const id = (container.env ?? []).find((e: any) => e.name === 'CHIO_LEDGER_ID');
      expect(id?.valueFrom).toEqual({ fieldRef: { fieldPath: 'metadata.name' } });
      // A pod name (a DNS label) is a valid ledger id.
      expect(loadConfig({ env: { ...containerEnv(docs, container), CHIO_LEDGER_ID: 'chio-ledger-7d9f8c6b5-x2k4q' } }).ledgerId).toBe('chio-ledger-7d9f8c6b5-x2k4q');
    });

    it('keep authz taking Checks a while after it is told to stop, until the sidecars have dropped its endpoint', () => {
      const pod = findManifest(docs, 'Deployment', 'chio-authz').spec.template.spec;
      const command: string[] | undefined = pod.containers[0].lifecycle?.preStop?.exec?.command;
      // authz closes its gRPC listener on SIGTERM: a sidecar that still has the endpoint then
      // gets a refused connection, which failOpen false answers 503.
      expect(command?.[0]).toBe('sleep');
      const seconds = Number(command?.[1]);
      expect(seconds).toBeGreaterThanOrEqual(5);
      // The wait, then the drain (in-flight Checks, receipts, the NATS connection: seconds, or at
      // most the workers' stop grace when a client holds its connection), within the grace period.
      expect(seconds + STOP_GRACE_MS / 1000 + 5).toBeLessThanOrEqual(pod.terminationGracePeriodSeconds);
      // `sleep` is in the runtime image: its base is Debian's (coreutils), not a distroless one.
      expect(readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8')).toMatch(/^FROM node:20-bookworm-slim AS runtime$/m);
    });

    it('give authz one worker process per CPU of its limit', () => {
      const [container] = findManifest(docs, 'Deployment', 'chio-authz').spec.template.spec.containers;
      expect(loadConfig({ env: containerEnv(docs, container) }).authzWorkers).toBe(Number(container.resources.limits.cpu));
    });

    it('are two of each: authz, the ledger (active and standby) and the verifier', () => {
      expect(Object.fromEntries(chioDeployments.map((d) => [d.metadata.name, d.spec.replicas]))).toEqual({ 'chio-authz': 2, 'chio-ledger': 2, 'chio-verifier': 2 });
    });
  });

  describe('keys and policies', () => {
    let keyDir: string;
    beforeAll(() => {
      keyDir = tempDir('chio-deploy-keys-');
      generateKeys(keyDir, loadConfig({ env: findManifest(docs, 'ConfigMap', 'chio-config').data }).logOrigin);
    });
    afterAll(() => rmSync(keyDir, { recursive: true, force: true }));

    /** The chio-keys Secret's keys a Deployment mounts, from a secret volume or a projected one. */
    const secretItems = (d: Manifest) => d.spec.template.spec.volumes.flatMap(volumeFiles).filter((f: VolumeFile) => f.from.kind === 'Secret' && f.from.name === 'chio-keys').map((f: VolumeFile) => f.from.key);

    it('each Secret key a pod mounts is a file `chio keygen` writes (so `--from-file` of its directory has it)', () => {
      const written = readdirSync(keyDir);
      expect(written.sort()).toEqual(KEY_ROLES.flatMap((r) => [`${r}.key`, `${r}.pub`]).sort());
      for (const d of chioDeployments) for (const key of secretItems(d)) expect(written, d.metadata.name).toContain(key);
    });

    it('only authz and the ledger get private keys, and only their own', () => {
      const privateKeys = Object.fromEntries(chioDeployments.map((d) => [d.metadata.name, secretItems(d).filter((k: string) => k.endsWith('.key'))]));
      expect(privateKeys).toEqual({ 'chio-authz': ['kernel.key'], 'chio-ledger': ['log.key'], 'chio-verifier': [] });
    });

    it('the ledger and the verifier trust kernel.pub and the optional chio-kernel-keys ConfigMap\'s kernels.yaml, without a private kernel key', () => {
      const newKernel = tempDir('chio-deploy-new-kernel-');
      try {
        generateKeys(newKernel, 'chio.local/other');
        const newKey = readFileSync(join(newKernel, 'kernel.pub'), 'utf8').trim();
        for (const [name, reader] of [['chio-ledger', 'ledger'], ['chio-verifier', 'verifier']] as const) {
          const d = chioDeployments.find((x) => x.metadata.name === name)!;
          const keys = d.spec.template.spec.volumes.find((v: any) => v.name === 'keys');
          const mount = d.spec.template.spec.containers[0].volumeMounts.find((m: any) => m.name === 'keys');
          expect(mount.mountPath, name).toBe(loadConfig({ env: findManifest(docs, 'ConfigMap', 'chio-config').data }).keyDir);
          const trusted = keys.projected.sources.find((src: any) => src.configMap?.name === 'chio-kernel-keys').configMap;
          expect(trusted, name).toMatchObject({ optional: true, items: [{ key: KERNEL_KEYS_FILE, path: KERNEL_KEYS_FILE }] });
          // The directory as the kubelet writes it: the Secret's items, then the ConfigMap's.
          const dir = tempDir(`chio-deploy-${name}-`);
          for (const key of secretItems(d)) writeFileSync(join(dir, key), readFileSync(join(keyDir, key)), { mode: 0o600 });
          const own = () => loadKernelTrust(dir, reader).entries.map((e) => e.key);
          expect(own(), name).toEqual([readFileSync(join(keyDir, 'kernel.pub'), 'utf8').trim()]);
          writeFileSync(join(dir, KERNEL_KEYS_FILE), `kernels:\n  - key: ${newKey}\n`);
          expect(own().sort(), name).toEqual([readFileSync(join(keyDir, 'kernel.pub'), 'utf8').trim(), newKey].sort());
          rmSync(dir, { recursive: true, force: true });
        }
      } finally {
        rmSync(newKernel, { recursive: true, force: true });
      }
    });

    it('authz trusts the optional kernels.yaml too, so a container restarted after the Secret swap goes on with its old-key chain', () => {
      const d = chioDeployments.find((x) => x.metadata.name === 'chio-authz')!;
      const keys = d.spec.template.spec.volumes.find((v: any) => v.name === 'keys');
      const trusted = keys.projected.sources.find((src: any) => src.configMap?.name === 'chio-kernel-keys').configMap;
      expect(trusted).toMatchObject({ optional: true, items: [{ key: KERNEL_KEYS_FILE, path: KERNEL_KEYS_FILE }] });
      // Mid-rotation: the Secret holds the new kernel.key, kernels.yaml lists the old key and the new.
      const rotated = tempDir('chio-deploy-authz-rotated-');
      const dir = tempDir('chio-deploy-authz-');
      try {
        generateKeys(rotated, 'chio.local/rotated');
        for (const key of secretItems(d)) writeFileSync(join(dir, key), readFileSync(join(key === 'kernel.key' ? rotated : keyDir, key)), { mode: 0o600 });
        const [oldKey, newKey] = [keyDir, rotated].map((k) => readFileSync(join(k, 'kernel.pub'), 'utf8').trim());
        writeFileSync(join(dir, KERNEL_KEYS_FILE), `kernels:\n  - key: ${oldKey}\n  - key: ${newKey}\n`);
        // What authz trusts a stored chain head with (authz/service.ts: the 'ledger' reading).
        expect(loadKernelTrust(dir, 'ledger').entries.map((e) => e.key).sort()).toEqual([oldKey, newKey].sort());
      } finally {
        rmSync(rotated, { recursive: true, force: true });
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('the verifier gets the export key the CronJob signs bundles with, when the Secret has it', () => {
      const files = chioDeployments.find((d) => d.metadata.name === 'chio-verifier')!.spec.template.spec.volumes.flatMap(volumeFiles);
      const cronJobKeys = loadManifests(join(REPO_ROOT, 'deploy/export')).find((d) => d.doc.kind === 'CronJob')!.doc.spec.jobTemplate.spec.template.spec.volumes.flatMap(volumeFiles);
      const exportKey = cronJobKeys.find((f: VolumeFile) => f.from.key === 'export.key')!;
      // GET /v1/keys and POST /v1/verify read export.pub from the key directory (verifier/service.ts).
      expect(files.find((f: VolumeFile) => f.path === 'export.pub')).toEqual({ from: { kind: 'Secret', name: exportKey.from.name, key: 'export.pub' }, path: 'export.pub', optional: true });
    });

    it('the policy ConfigMap passes `chio policy check` and is the demo policy set', () => {
      const dir = tempDir('chio-deploy-policies-');
      try {
        const configMap = findManifest(docs, 'ConfigMap', 'chio-policies');
        for (const [file, text] of Object.entries(configMap.data!)) writeFileSync(join(dir, file), text);
        const set = loadPolicySet(dir, keyDir);
        expect(set.hash).toBe(loadPolicySetFiles([join(REPO_ROOT, 'deploy/policies/demo.yaml')], keyDir).hash);
        // The issuer key files it names are among the keys authz mounts.
        const authzKeys = secretItems(findManifest(docs, 'Deployment', 'chio-authz'));
        const issuerFiles = parseAllDocuments(configMap.data!['policies.yaml']!).map((d) => d.toJS()).flatMap((d) => d.spec.issuerKeyFiles ?? []);
        for (const f of issuerFiles) expect(authzKeys).toContain(f);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('NATS', () => {
    const statefulSet = findManifest(docs, 'StatefulSet', 'chio-nats');
    const natsConf = findManifest(docs, 'ConfigMap', 'chio-nats-config').data!['nats.conf']!;

    it('is a three-node JetStream cluster whose routes name its own pods, with the route password', () => {
      expect(statefulSet.spec.replicas).toBe(3);
      // nats-server reads no variable inside a URL: the routes are an argument the kubelet expands.
      expect(natsConf).not.toMatch(/^\s*routes\s*[:=]/m);
      const args: string[] = statefulSet.spec.template.spec.containers[0].args;
      const routes = args[args.indexOf('--routes') + 1]!.split(',').map((r) => new URL(r.trim()));
      const headless = findManifest(docs, 'Service', statefulSet.spec.serviceName);
      expect(headless.spec.clusterIP).toBe('None');
      const clusterPort = headless.spec.ports.find((p: any) => p.name === 'cluster').port;
      expect(routes.map((u) => [u.hostname, Number(u.port)])).toEqual([0, 1, 2].map((i) => [`chio-nats-${i}.${headless.metadata.name}.chio-system.svc.cluster.local`, clusterPort]));
      // Each with the user and password nats.conf's cluster.authorization asks a route for.
      const [, user, variable] = /authorization \{\s+user: (\S+)\s+password: \$(\w+)\s+\}/.exec(/^\s*cluster \{[\s\S]*?^\s*\}$/m.exec(natsConf)![0])!;
      for (const u of routes) expect([u.username, decodeURIComponent(u.password)]).toEqual([user, `$(${variable})`]);
    });

    it('gives each node a volume half as large again as the file store JetStream may fill', () => {
      // On disk the store measured about 1.4 × what JetStream counts (npm run bench:storage).
      const gib = Number(/^\s*max_file_store: (\d+)GB$/m.exec(natsConf)?.[1]);
      const claim = statefulSet.spec.volumeClaimTemplates.find((t: any) => t.metadata.name === 'data');
      const volumeGib = Number(/^(\d+)Gi$/.exec(claim.spec.resources.requests.storage)?.[1]);
      expect(gib).toBeGreaterThan(0);
      expect(volumeGib).toBeGreaterThanOrEqual(1.5 * gib);
    });

    const natsConfig = findManifest(docs, 'ConfigMap', 'chio-nats-config').data!;
    const usersConf = natsConfig['chio-users.conf']!;
    const natsContainer = statefulSet.spec.template.spec.containers[0];
    /** chio-users.conf's users, each with the environment variable its password is read from. */
    const passwordVariables = Object.fromEntries([...usersConf.matchAll(/user: (\S+)\s+password: \$(\w+)/g)].map((m) => [m[1], m[2]]));
    /** Every password nats-server reads from the Secret chio-nats-users: its users' and its routes'. */
    const secretVariables = [...Object.values(natsConfig).join('\n').matchAll(/password: \$(\w+)/g)].map((m) => m[1]!);

    it('has a configuration nats-server accepts (`nats-server -t`), its users included', () => {
      const dir = tempDir('chio-deploy-nats-');
      try {
        for (const [file, text] of Object.entries(natsConfig)) writeFileSync(join(dir, file), text);
        const passwords = Object.fromEntries(secretVariables.map((v) => [v, 'secret']));
        const run = spawnSync('nats-server', ['-c', join(dir, 'nats.conf'), '-t'], { env: { ...process.env, POD_NAME: 'chio-nats-0', ...passwords }, encoding: 'utf8' });
        expect(run.error).toBeUndefined();
        expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: expect.stringContaining('is valid') });
        expect(natsConf).toMatch(/^include \.\/chio-users\.conf$/m);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('ships deploy/nats/chio-users.conf unchanged, the file the permissions test runs', () => {
      expect(usersConf).toBe(readFileSync(join(REPO_ROOT, 'deploy/nats/chio-users.conf'), 'utf8'));
      expect(Object.keys(passwordVariables).sort()).toEqual(['chio-authz', 'chio-ledger', 'chio-operator', 'chio-verifier']);
    });

    /** The inbox prefix chio-users.conf lets each user subscribe under (`subscribe: { allow: ["<prefix>.>"] }`). */
    const inboxOf = (user: string) => new RegExp(`user: ${user}\\n[\\s\\S]*?subscribe: \\{ allow: \\["([^"]+)\\.>"\\] \\}`).exec(usersConf)?.[1];

    it('runs each Chio service as its own NATS user, with the password nats-server has for it and its own inboxes', () => {
      const secret = natsContainer.envFrom.find((e: any) => e.secretRef)?.secretRef.name;
      expect(secret).toBe('chio-nats-users');
      for (const deployment of chioDeployments) {
        const container = deployment.spec.template.spec.containers[0];
        const user = containerEnv(docs, container).NATS_USER;
        expect(user).toBe(`chio-${container.args[0]}`);
        expect(containerEnv(docs, container).NATS_INBOX_PREFIX).toBe(inboxOf(user!));
        const pass = container.env.find((e: any) => e.name === 'NATS_PASS')?.valueFrom?.secretKeyRef;
        expect({ deployment: deployment.metadata.name, pass }).toEqual({ deployment: deployment.metadata.name, pass: { name: secret, key: passwordVariables[user!] } });
      }
    });

    it('has the README make every password nats-server reads, each one it can read', () => {
      const readme = readFileSync(join(ISTIO_DIR, 'README.md'), 'utf8');
      const recipes = [...readme.matchAll(/--from-literal=(\w+)="([^"$]*)\$\(openssl rand -hex 24\)"/g)];
      expect(recipes.map((m) => m[1]).sort()).toEqual([...secretVariables].sort());
      expect(secretVariables).toEqual(expect.arrayContaining([...Object.values(passwordVariables), 'CHIO_ROUTE_NATS_PASSWORD']));
      // nats-server reads a variable's value again as a config value: hex such as 2e37… is a number to it.
      const dir = tempDir('chio-deploy-passwords-');
      try {
        for (const [file, text] of Object.entries(natsConfig)) writeFileSync(join(dir, file), text);
        const passwords = Object.fromEntries(recipes.map((m) => [m[1], `${m[2]}2e37${'0'.repeat(44)}`]));
        const run = spawnSync('nats-server', ['-c', join(dir, 'nats.conf'), '-t'], { env: { ...process.env, POD_NAME: 'chio-nats-0', ...passwords }, encoding: 'utf8' });
        expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: expect.stringContaining('is valid') });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('is reachable only from pods in chio-system, its route port only from the other NATS nodes', () => {
      const policy = findManifest(docs, 'NetworkPolicy', 'chio-nats');
      expect(selects(policy.spec.podSelector.matchLabels, statefulSet.spec.template.metadata.labels)).toBe(true);
      expect(policy.spec.policyTypes).toEqual(['Ingress']);
      const port = (name: string) => resolvePort(natsContainer, name);
      /** Each ingress rule's sources, keyed by the ports it admits (a rule without ports admits every port). */
      const sourcesOf = (p: number) => policy.spec.ingress.filter((r: any) => !r.ports || r.ports.some((x: any) => resolvePort(natsContainer, x.port) === p)).flatMap((r: any) => r.from ?? [{ anywhere: true }]);
      for (const p of [port('client'), port('monitor')]) expect(sourcesOf(p), String(p)).toEqual([{ podSelector: {} }]);
      // A route joins the cluster with no user and no permission: a pod that could open one
      // could call the whole JetStream API (nats-routes.test.ts).
      const routeSources = sourcesOf(port('cluster'));
      expect(routeSources).toHaveLength(1);
      expect(Object.keys(routeSources[0])).toEqual(['podSelector']);
      expect(podsSelectedBy(policy.metadata.namespace, routeSources[0].podSelector.matchLabels).map((w) => w.metadata.name)).toEqual(['chio-nats']);
    });
  });

  describe('test-harness.sh', () => {
    it('is clean under shellcheck', () => {
      const run = spawnSync('shellcheck', [join(ISTIO_DIR, 'test-harness.sh')], { encoding: 'utf8' });
      expect(run.error).toBeUndefined();
      expect({ status: run.status, findings: run.stdout }).toEqual({ status: 0, findings: '' });
    });
  });
});

describe('deploy/istio/README.md', () => {
  it('creates the Secret with every key a Deployment needs, and no other', () => {
    const readme = readFileSync(join(ISTIO_DIR, 'README.md'), 'utf8');
    const fromFiles = [...readme.matchAll(/--from-file=\.\/chio-keys\/(\S+)/g)].map((m) => m[1]).sort();
    // An optional item (the verifier's export.pub, there once the export CronJob is set up) is not needed.
    const mounted = chioDeployments.flatMap((d) => d.spec.template.spec.volumes.flatMap(volumeFiles).filter((f: VolumeFile) => f.from.kind === 'Secret' && !f.optional).map((f: VolumeFile) => f.from.key));
    expect(fromFiles).toEqual([...new Set(mounted)].sort());
  });
});
