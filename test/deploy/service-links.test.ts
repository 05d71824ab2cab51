/**
 * The environment the kubelet gives a pod includes, unless the pod spec sets
 * `enableServiceLinks: false`, Docker-link variables for every Service of its namespace: the
 * Service chio-ledger sets CHIO_LEDGER_PORT=tcp://<cluster IP>:9092 in every pod of
 * chio-system, the very name of a Chio setting. Every Chio container's configuration must load
 * from the environment it would really start with, service links included.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { loadConfig } from '../../src/config.js';
import { REPO_ROOT } from '../support/chio.js';
import { containerEnv, loadManifests, manifestsOfKind, type Manifest, type ManifestDoc } from './manifests.js';

/**
 * The variables kubelet's envvars.FromServices makes for `services`: <NAME>_SERVICE_HOST,
 * _SERVICE_PORT and _SERVICE_PORT_<PORT NAME>, and the Docker-link forms <NAME>_PORT,
 * <NAME>_PORT_<port>_<PROTO> and its _PROTO, _PORT and _ADDR. Headless Services make none.
 */
function serviceLinks(services: readonly Manifest[]): Record<string, string> {
  const env: Record<string, string> = {};
  services.forEach((service, n) => {
    if (service.spec?.clusterIP === 'None') return;
    const ip = `10.96.0.${n + 10}`;
    const name = service.metadata.name.toUpperCase().replaceAll('-', '_');
    const ports: Array<{ name?: string; port: number; protocol?: string }> = service.spec?.ports ?? [];
    if (ports.length === 0) return;
    env[`${name}_SERVICE_HOST`] = ip;
    env[`${name}_SERVICE_PORT`] = String(ports[0]!.port);
    const url = (p: { port: number; protocol?: string }) => `${(p.protocol ?? 'TCP').toLowerCase()}://${ip}:${p.port}`;
    env[`${name}_PORT`] = url(ports[0]!);
    for (const p of ports) {
      if (p.name) env[`${name}_SERVICE_PORT_${p.name.toUpperCase().replaceAll('-', '_')}`] = String(p.port);
      const link = `${name}_PORT_${p.port}_${p.protocol ?? 'TCP'}`;
      Object.assign(env, { [link]: url(p), [`${link}_PROTO`]: (p.protocol ?? 'TCP').toLowerCase(), [`${link}_PORT`]: String(p.port), [`${link}_ADDR`]: ip });
    }
  });
  return env;
}

/** Every pod template that runs the Chio image: Deployments, StatefulSets and CronJobs. */
function chioPods(docs: readonly ManifestDoc[]): Array<{ owner: string; namespace: string; pod: any }> {
  return docs.flatMap(({ doc }) => {
    const pod = doc.kind === 'CronJob' ? doc.spec?.jobTemplate?.spec?.template?.spec : ['Deployment', 'StatefulSet'].includes(doc.kind) ? doc.spec?.template?.spec : undefined;
    if (!pod || !(pod.containers as any[]).some((c) => String(c.image).startsWith('chio:'))) return [];
    return [{ owner: `${doc.kind} ${doc.metadata.name}`, namespace: doc.metadata.namespace ?? 'default', pod }];
  });
}

describe('Kubernetes service links', () => {
  const istio = loadManifests();
  const cronjob = parseAllDocuments(readFileSync(join(REPO_ROOT, 'deploy/export/cronjob.yaml'), 'utf8')).map((d) => ({ file: 'cronjob.yaml', doc: d.toJS() as Manifest }));
  const docs = [...istio, ...cronjob];
  const pods = chioPods(docs);

  it('finds the pods that run Chio: authz, ledger, verifier and the export job', () => {
    expect(pods.map((p) => p.owner).sort()).toEqual(['CronJob chio-export', 'Deployment chio-authz', 'Deployment chio-ledger', 'Deployment chio-verifier']);
  });

  it('would clash with Chio settings: CHIO_LEDGER_PORT and CHIO_VERIFIER_PORT are service-link names here', () => {
    const links = serviceLinks(manifestsOfKind(istio, 'Service').filter((s) => s.metadata.namespace === 'chio-system'));
    expect(links).toMatchObject({ CHIO_LEDGER_PORT: expect.stringMatching(/^tcp:\/\//), CHIO_VERIFIER_PORT: expect.stringMatching(/^tcp:\/\//) });
    expect(() => loadConfig({ env: links })).toThrow(/CHIO_(LEDGER|VERIFIER)_PORT/);
  });

  it.each(pods.map((p) => [p.owner, p] as const))('%s loads its configuration from the environment the kubelet gives it', (_owner, { namespace, pod }) => {
    const services = manifestsOfKind(istio, 'Service').filter((s) => (s.metadata.namespace ?? 'default') === namespace);
    const links = pod.enableServiceLinks === false ? {} : serviceLinks(services);
    for (const container of pod.containers.filter((c: any) => String(c.image).startsWith('chio:'))) {
      expect(() => loadConfig({ env: { ...links, ...containerEnv(docs, container) } })).not.toThrow();
    }
  });
});
