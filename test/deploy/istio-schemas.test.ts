/**
 * Every document in deploy/istio is checked against its published schema: the Kubernetes
 * OpenAPI schemas (kubernetes-models) and Istio's CRD schemas (@kubernetes-models/istio).
 * Those schemas accept unknown fields, so istio-references.test.ts also reads every field Chio
 * relies on from its real name. MeshConfig has no CRD: its extension provider is checked
 * against Istio's EnvoyExternalAuthorizationGrpcProvider message (mesh/v1alpha1/config.proto).
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigMap, Namespace, Secret, Service, ServiceAccount } from 'kubernetes-models/v1';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { AuthorizationPolicy } from '@kubernetes-models/istio/security.istio.io/v1';
import { EnvoyFilter } from '@kubernetes-models/istio/networking.istio.io/v1alpha3';
import { IstioOperator } from '@kubernetes-models/istio/install.istio.io/v1alpha1';
import { findManifest, loadManifests, type Manifest } from './manifests.js';

type Validatable = { validate(): void };
const MODELS: Record<string, new (data: any) => Validatable> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'security.istio.io/v1/AuthorizationPolicy': AuthorizationPolicy,
  'networking.istio.io/v1alpha3/EnvoyFilter': EnvoyFilter,
  'install.istio.io/v1alpha1/IstioOperator': IstioOperator,
};

/** Throws with the schema's message when a manifest does not validate. */
function validateManifest(doc: Manifest): void {
  const Model = MODELS[`${doc.apiVersion}/${doc.kind}`];
  if (!Model) throw new Error(`no schema for ${doc.apiVersion} ${doc.kind}`);
  new Model(doc).validate();
}

const duration = z.string().regex(/^\d+(\.\d+)?(ms|s|m|h)$/, 'a protobuf Duration such as 0.25s');
/** istio.mesh.v1alpha1.MeshConfig.ExtensionProvider.EnvoyExternalAuthorizationGrpcProvider, strict. */
const grpcProvider = z.strictObject({
  service: z.string().min(1),
  port: z.number().int().min(1).max(65535),
  timeout: duration.optional(),
  failOpen: z.boolean().optional(),
  statusOnError: z.string().regex(/^[1-5]\d\d$/).optional(),
  includeRequestBodyInCheck: z.strictObject({ maxRequestBytes: z.number().int(), allowPartialMessage: z.boolean(), packAsBytes: z.boolean() }).partial().optional(),
});
const extensionProvider = z.strictObject({ name: z.string().min(1), envoyExtAuthzGrpc: grpcProvider });

const docs = loadManifests();

describe('deploy/istio manifests', () => {
  it('holds the numbered files, in apply order', () => {
    expect([...new Set(docs.map((d) => d.file))]).toEqual([
      '00-chio.yaml', '01-nats.yaml', '02-meshconfig.yaml', '03-authorization-policy.yaml', '04-demo-workload.yaml', '05-local-ratelimit.yaml',
    ]);
  });

  describe.each(docs.map((d) => [`${d.file}: ${d.doc.kind} ${d.doc.metadata?.name}`, d.doc] as const))('%s', (_name, doc) => {
    it('validates against its schema', () => {
      expect(() => validateManifest(doc)).not.toThrow();
    });
  });

  describe('validateManifest', () => {
    it('refuses a Deployment whose container port is not a number', () => {
      const deployment = structuredClone(findManifest(docs, 'Deployment', 'chio-authz'));
      deployment.spec.template.spec.containers[0].ports[0].containerPort = 'grpc';
      expect(() => validateManifest(deployment)).toThrow(/containerPort must be integer/);
    });

    it('refuses an AuthorizationPolicy with an action Istio does not have', () => {
      const policy = structuredClone(findManifest(docs, 'AuthorizationPolicy', 'chio-tool-authorization'));
      policy.spec.action = 'EXTERNAL';
      expect(() => validateManifest(policy)).toThrow(/action/);
    });

    it('refuses a kind it has no schema for', () => {
      expect(() => validateManifest({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' } })).toThrow(/no schema/);
    });
  });

  describe('the MeshConfig extension provider', () => {
    const providers = findManifest(docs, 'IstioOperator', 'chio-ext-authz').spec.meshConfig.extensionProviders;

    it('is an envoyExtAuthzGrpc provider with only the fields that message has', () => {
      expect(providers).toHaveLength(1);
      expect(() => extensionProvider.parse(providers[0])).not.toThrow();
    });

    it('would refuse the HTTP provider’s header options on the gRPC provider', () => {
      const withHeaders = { ...providers[0], envoyExtAuthzGrpc: { ...providers[0].envoyExtAuthzGrpc, includeRequestHeadersInCheck: ['authorization'] } };
      expect(() => extensionProvider.parse(withHeaders)).toThrow(/includeRequestHeadersInCheck/);
    });

    it('fails closed, with 503, after 0.25 s', () => {
      expect(providers[0].envoyExtAuthzGrpc).toMatchObject({ port: 9091, timeout: '0.25s', failOpen: false, statusOnError: '503' });
    });
  });
});
