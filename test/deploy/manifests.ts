/**
 * Reading deploy/istio's manifests for the tests: every YAML document, by kind and name, and a
 * pod's environment and files as its container would see them.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT } from '../support/chio.js';

export const ISTIO_DIR = join(REPO_ROOT, 'deploy/istio');

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: any;
  data?: Record<string, string>;
  [field: string]: any;
}

export interface ManifestDoc {
  file: string;
  doc: Manifest;
}

/** Every document of every YAML file in a directory; a YAML error fails loudly. */
export function loadManifests(dir = ISTIO_DIR): ManifestDoc[] {
  const files = readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort();
  return files.flatMap((file) =>
    parseAllDocuments(readFileSync(join(dir, file), 'utf8')).map((d) => {
      if (d.errors.length > 0) throw new Error(`${file}: ${d.errors.map((e) => e.message).join('; ')}`);
      return { file, doc: d.toJS() as Manifest };
    }),
  );
}

export function findManifest(docs: ManifestDoc[], kind: string, name: string): Manifest {
  const found = docs.find((d) => d.doc.kind === kind && d.doc.metadata.name === name);
  if (!found) throw new Error(`no ${kind} named ${name} in deploy/istio`);
  return found.doc;
}

export function manifestsOfKind(docs: ManifestDoc[], kind: string): Manifest[] {
  return docs.filter((d) => d.doc.kind === kind).map((d) => d.doc);
}

/** The environment a container starts with: its envFrom ConfigMaps, then its own env. */
export function containerEnv(docs: ManifestDoc[], container: any): Record<string, string> {
  const env: Record<string, string> = {};
  for (const from of container.envFrom ?? []) Object.assign(env, findManifest(docs, 'ConfigMap', from.configMapRef.name).data);
  for (const e of container.env ?? []) if (e.value !== undefined) env[e.name] = e.value;
  return env;
}

/** A named or numeric probe port, resolved against the container's ports. */
export function resolvePort(container: any, port: string | number): number {
  if (typeof port === 'number') return port;
  const named = (container.ports ?? []).find((p: any) => p.name === port);
  if (!named) throw new Error(`container ${container.name} has no port named ${port}`);
  return named.containerPort;
}

/** A file a volume puts in the pod: from which Secret or ConfigMap key, at which path, and whether it may be missing. */
export interface VolumeFile {
  from: { kind: 'Secret' | 'ConfigMap'; name: string; key: string };
  path: string;
  optional: boolean;
}

/**
 * The files a pod volume lists by item, as the kubelet lays them out: a secret or configMap
 * volume's items, or those of each source of a projected volume.
 */
export function volumeFiles(volume: any): VolumeFile[] {
  const sources = volume.projected?.sources ?? [volume.secret ? { secret: { ...volume.secret, name: volume.secret.secretName } } : { configMap: volume.configMap }];
  return sources.flatMap((src: any) => {
    const [kind, ref] = src.secret ? (['Secret', src.secret] as const) : src.configMap ? (['ConfigMap', src.configMap] as const) : [undefined, undefined];
    if (!kind || !ref.items) return [];
    return ref.items.map((i: any) => ({ from: { kind, name: ref.name, key: i.key }, path: i.path, optional: ref.optional === true }));
  });
}
