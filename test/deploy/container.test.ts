/**
 * The container image and the local mesh, checked without a Docker engine: the Dockerfile's
 * stages, user and copied paths; .dockerignore; deploy/compose's services, ports and names;
 * and its envoy.yaml's ext_authz filter against Chio's ports.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { loadConfig } from '../../src/config.js';
import { buildProgram } from '../../src/cli/program.js';
import { REPO_ROOT } from '../support/chio.js';

interface Instruction {
  keyword: string;
  args: string;
}

/** A Dockerfile as instructions (continuation lines joined, comments dropped), one list per stage. */
function parseDockerfile(text: string): Instruction[][] {
  const lines = text.replace(/\\\r?\n/g, ' ').split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  const stages: Instruction[][] = [];
  for (const line of lines) {
    const [keyword, ...rest] = line.split(/\s+/);
    const instruction = { keyword: keyword!.toUpperCase(), args: rest.join(' ') };
    if (instruction.keyword === 'FROM') stages.push([]);
    stages.at(-1)?.push(instruction);
  }
  return stages;
}

/** The sources of a COPY from the build context (not --from=stage). */
function contextSources(instruction: Instruction): string[] {
  if (instruction.keyword !== 'COPY' || instruction.args.includes('--from=')) return [];
  const parts = instruction.args.split(/\s+/).filter((p) => !p.startsWith('--'));
  return parts.slice(0, -1);
}

function isIgnored(path: string, patterns: string[]): boolean {
  return patterns.some((p) => path === p || path.startsWith(`${p}/`) || (p.startsWith('*') && path.endsWith(p.slice(1))));
}

const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
const stages = parseDockerfile(dockerfile);
const runtime = stages.at(-1)!;
const ignorePatterns = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));

describe('Dockerfile', () => {
  it('builds in one stage and runs from another', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(runtime.some((i) => i.keyword === 'COPY' && i.args.startsWith('--from=build'))).toBe(true);
  });

  it('runs as a numeric non-root user', () => {
    const user = runtime.filter((i) => i.keyword === 'USER').at(-1)?.args;
    expect(user).toMatch(/^[1-9]\d*(:\d+)?$/);
  });

  it('carries no nats-server and no compiler into the runtime image', () => {
    const runtimeText = runtime.map((i) => `${i.keyword} ${i.args}`).join('\n');
    expect(runtimeText).not.toMatch(/nats-server|nats:|apt-get|npm (ci|install)|typescript|tsc/);
  });

  it('copies only paths that exist and that .dockerignore lets through', () => {
    const sources = stages.flat().flatMap(contextSources);
    expect(sources).toContain('src');
    for (const source of sources) {
      expect(existsSync(join(REPO_ROOT, source)), source).toBe(true);
      expect(isIgnored(source, ignorePatterns), source).toBe(false);
    }
  });

  it('starts bin/chio.js, which loads the dist/ the build stage compiles', () => {
    expect(runtime.find((i) => i.keyword === 'ENTRYPOINT')?.args).toBe('["node", "bin/chio.js"]');
    expect(readFileSync(join(REPO_ROOT, 'bin/chio.js'), 'utf8')).toContain("from '../dist/cli/program.js'");
    const tsconfig = JSON.parse(readFileSync(join(REPO_ROOT, 'tsconfig.build.json'), 'utf8'));
    expect(tsconfig.compilerOptions.outDir).toBe('dist');
    expect(stages[0]!.some((i) => i.keyword === 'RUN' && i.args.includes('tsc -p tsconfig.build.json'))).toBe(true);
  });

  it('ships the proto files and the demo policies Chio reads at run time', () => {
    const copied = runtime.flatMap(contextSources);
    expect(copied).toEqual(expect.arrayContaining(['bin', 'proto', 'deploy/policies', 'package.json']));
  });
});

describe('.dockerignore', () => {
  it('keeps local keys, dependencies, build output and git out of the build context', () => {
    expect(ignorePatterns).toEqual(expect.arrayContaining(['.chio', 'node_modules', 'dist', '.git']));
  });

  it('isIgnored matches directories and suffix patterns', () => {
    expect(isIgnored('.chio/keys/kernel.key', ignorePatterns)).toBe(true);
    expect(isIgnored('chio.log', ignorePatterns)).toBe(true);
    expect(isIgnored('src', ignorePatterns)).toBe(false);
  });
});

describe('deploy/compose', () => {
  const compose = parseYaml(readFileSync(join(REPO_ROOT, 'deploy/compose/compose.yaml'), 'utf8'));
  const envoy = parseYaml(readFileSync(join(REPO_ROOT, 'deploy/compose/envoy.yaml'), 'utf8'));
  const chio = compose.services.chio;
  const chioConfig = loadConfig({ env: chio.environment });
  const listener = envoy.static_resources.listeners[0];
  const hcm = listener.filter_chains[0].filters[0].typed_config;
  const filters: Array<{ name: string; typed_config: any }> = hcm.http_filters;
  const cluster = (name: string) => envoy.static_resources.clusters.find((c: any) => c.name === name);
  const endpoint = (name: string) => cluster(name).load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address;

  it('runs NATS with JetStream, Chio, Envoy and an upstream', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['chio', 'envoy', 'nats', 'upstream']);
    expect(compose.services.nats.command).toContain('--jetstream');
    expect(compose.services.nats.image).toMatch(/^nats:/);
  });

  it('builds Chio from the repository’s Dockerfile and runs a real chio command', () => {
    expect(existsSync(join(REPO_ROOT, 'deploy/compose', chio.build.context, chio.build.dockerfile))).toBe(true);
    expect(buildProgram().commands.map((c) => c.name())).toContain(chio.command[0]);
  });

  it('points Chio at the nats service, with settings Chio accepts', () => {
    const url = new URL(chioConfig.natsUrl!);
    expect(url.hostname).toBe('nats');
    expect(chio.depends_on.nats.condition).toBe('service_healthy');
  });

  it('keeps Chio’s data in a volume at the directory the image makes for its user', () => {
    expect(chio.volumes).toContain(`chio-data:${chioConfig.dataDir}`);
    expect(chioConfig.keyDir.startsWith(`${chioConfig.dataDir}/`)).toBe(true);
    expect(dockerfile).toContain(`chown 1000:1000 ${chioConfig.dataDir}`);
  });

  it('checks Chio’s health on the /ready path at its HTTP port', () => {
    expect(chio.healthcheck.test.join(' ')).toContain(`http://127.0.0.1:${chioConfig.httpPort}/ready`);
  });

  it('mounts the envoy.yaml that sits beside it', () => {
    const [source, target] = compose.services.envoy.volumes[0].split(':');
    expect(existsSync(join(REPO_ROOT, 'deploy/compose', source))).toBe(true);
    expect(compose.services.envoy.command.join(' ')).toContain(`--config-path ${target}`);
  });

  it('has Envoy call Chio’s gRPC port over HTTP/2 and fail closed', () => {
    const extAuthz = filters.find((f) => f.name === 'envoy.filters.http.ext_authz')!.typed_config;
    expect(extAuthz).toMatchObject({ transport_api_version: 'V3', failure_mode_allow: false, grpc_service: { timeout: '0.25s' } });
    expect(extAuthz).not.toHaveProperty('with_request_body');
    const clusterName = extAuthz.grpc_service.envoy_grpc.cluster_name;
    expect(endpoint(clusterName)).toEqual({ address: 'chio', port_value: chioConfig.grpcPort });
    expect(cluster(clusterName).typed_extension_protocol_options['envoy.extensions.upstreams.http.v3.HttpProtocolOptions'].explicit_http_config).toHaveProperty('http2_protocol_options');
    expect(chioConfig.receiptTimeoutMs).toBeLessThan(Number.parseFloat(extAuthz.grpc_service.timeout) * 1000);
  });

  it('rate-limits before ext_authz, and routes last', () => {
    expect(filters.map((f) => f.name)).toEqual(['envoy.filters.http.local_ratelimit', 'envoy.filters.http.ext_authz', 'envoy.filters.http.router']);
  });

  it('routes to the upstream service on the port it listens on', () => {
    const route = hcm.route_config.virtual_hosts[0].routes[0].route;
    expect(endpoint(route.cluster)).toEqual({ address: 'upstream', port_value: Number(compose.services.upstream.environment.PORT) });
  });

  it('publishes Envoy’s listener and the verifier on loopback only', () => {
    expect(compose.services.envoy.ports).toEqual([`127.0.0.1:${listener.address.socket_address.port_value}:${listener.address.socket_address.port_value}`]);
    expect(chio.ports).toEqual([`127.0.0.1:${chioConfig.verifierPort}:${chioConfig.verifierPort}`]);
    expect(envoy.admin.address.socket_address.address).toBe('127.0.0.1');
  });
});
