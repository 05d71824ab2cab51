/**
 * CPU µs per decision, with no transport and no receipt store (issue #8): the share of a Check
 * that is Chio's own work once the gRPC edge has decoded the request. Each case runs the Check
 * handler — decision pipeline, receipt draft, answer — in a loop over an Envoy-shaped
 * CheckRequest, the receipt "stored" at once and unsigned, as bench/stage-server.ts `decide`
 * does; process.cpuUsage() over many iterations, median of rounds.
 *
 *   npm run bench:decision                       # the table
 *   DECISION_ITERATIONS=50000 DECISION_ROUNDS=5 npm run bench:decision
 *   DECISION_CASES=JWT npm run bench:decision     # only the cases whose name holds "JWT"
 *
 * Run with tsx, the code is esbuild's (keepNames wraps named closures): about a tenth slower
 * than the same code compiled by tsc, as `chio authz` runs it. Compare numbers of one kind.
 *
 * Cases: the demo policies with a capability token (the bench's allow), the same request
 * without one (denied), host-scoped policies and grants (every host pattern matched), and a
 * JWT rule with a JWKS file and an RS256 or an ES256 token (the same token on every Check, as
 * a client sends it until it expires).
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { SignJWT } from 'jose';
import { generateKeys } from '../src/keys.js';
import { loadConfig } from '../src/config.js';
import { demoToken } from '../src/up.js';
import { buildCheckRequest } from '../src/cli/envoy-request.js';
import type { CheckHandler } from '../src/authz/check-handler.js';
import type { CheckRequest } from '../src/authz/wire.js';
import { decidingHandler } from './lib/deciding-handler.js';

const ITERATIONS = Number(process.env.DECISION_ITERATIONS ?? 20_000);
const ROUNDS = Number(process.env.DECISION_ROUNDS ?? 3);
/** The checkout: where package.json is, whether this runs from bench/ or compiled (tsc --outDir) below it. */
const REPO = ((dir: string): string => {
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
})(import.meta.dirname);

/** Host-scoped policies: a DENY and an ALLOW on hosts, and a capability rule on them. */
const HOST_POLICIES = `apiVersion: chio.dev/v1
kind: CapabilityAuthority
metadata: { name: demo-issuer }
spec: { issuerKeyFiles: [demo-issuer.pub], maxTtl: 24h }
---
apiVersion: chio.dev/v1
kind: AuthorizationPolicy
metadata: { name: no-admin }
spec:
  action: DENY
  hosts: ["admin.chio.local", "*.internal", "Bücher.example:8443"]
  rules:
    - to: [{ operation: { notHosts: ["TOOLS.chio.local.", "[::1]", "0x7f000001"] } }]
---
apiVersion: chio.dev/v1
kind: AuthorizationPolicy
metadata: { name: tools-with-capability }
spec:
  action: ALLOW
  hosts: ["*.chio.local", "Tools.Chio.Local:8080"]
  rules:
    - to:
        - operation: { hosts: ["tools.chio.local", "*.chio.local"], methods: [POST], paths: ["/tools/*", "/invoke/*"] }
      when: [{ key: capability.id, values: ["*"] }]
`;

/** JWT rules for two issuers, one per algorithm, both keys in one JWKS file; any verified caller may POST /tools/*. */
const JWT_POLICIES = `apiVersion: chio.dev/v1
kind: RequestAuthentication
metadata: { name: bench-jwt }
spec:
  jwtRules:
    - { issuer: "https://rs256.bench.example", audiences: [tools], jwksFile: jwks.json }
    - { issuer: "https://es256.bench.example", audiences: [tools], jwksFile: jwks.json }
---
apiVersion: chio.dev/v1
kind: AuthorizationPolicy
metadata: { name: tools-with-jwt }
spec:
  action: ALLOW
  rules:
    - from: [{ source: { requestPrincipals: ["*"] } }]
      to: [{ operation: { methods: [POST], paths: ["/tools/*"] } }]
`;
const JWT_KEYS = {
  RS256: generateKeyPairSync('rsa', { modulusLength: 2048 }),
  ES256: generateKeyPairSync('ec', { namedCurve: 'P-256' }),
};

/** A token of `alg`'s issuer, valid for the whole run. */
function jwtOf(alg: keyof typeof JWT_KEYS): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ sub: 'bench', aud: 'tools', iat: now, exp: now + 3600 })
    .setProtectedHeader({ alg, kid: alg })
    .setIssuer(`https://${alg.toLowerCase()}.bench.example`)
    .sign(JWT_KEYS[alg].privateKey);
}

function jwksOf(keys: Record<string, { publicKey: KeyObject }>): string {
  return JSON.stringify({ keys: Object.entries(keys).map(([alg, k]) => ({ ...k.publicKey.export({ format: 'jwk' }), kid: alg, alg, use: 'sig' })) });
}

interface Case {
  name: string;
  handler: CheckHandler;
  request: CheckRequest;
}

const work = mkdtempSync(join(tmpdir(), 'chio-decision-cpu-'));
try {
  const keyDir = join(work, 'keys');
  generateKeys(keyDir, 'chio.local/receipts');
  writeFileSync(join(work, 'hosts.yaml'), HOST_POLICIES);
  const jwtDir = join(work, 'jwt');
  mkdirSync(jwtDir);
  writeFileSync(join(jwtDir, 'policies.yaml'), JWT_POLICIES);
  writeFileSync(join(jwtDir, 'jwks.json'), jwksOf(JWT_KEYS));
  const demoPolicies = join(REPO, 'deploy/policies');
  const config = (policies: string) => loadConfig({ env: { CHIO_KEY_DIR: keyDir, CHIO_POLICIES: policies }, defaultBind: '127.0.0.1' });
  const hostPolicies = join(work, 'hosts.yaml');
  const demo = demoToken(config(demoPolicies), 3600, demoPolicies);
  const hostToken = demoToken(config(hostPolicies), 3600, hostPolicies);
  const request = (token: string | undefined, host = 'tools.chio.local') =>
    buildCheckRequest({ method: 'POST', path: '/tools/hello', host, headers: token ? { 'x-chio-capability-token': token } : {} });
  const bearer = (jwt: string) => buildCheckRequest({ method: 'POST', path: '/tools/hello', host: 'tools.chio.local', headers: { authorization: `Bearer ${jwt}` } });
  const handler = (policies: string) => decidingHandler(policies, keyDir, (err) => console.error(err));
  const cases: Case[] = [
    { name: 'demo policies, capability token (allow)', handler: handler(demoPolicies), request: request(demo) },
    { name: 'demo policies, no credentials (deny)', handler: handler(demoPolicies), request: request(undefined) },
    { name: 'host-scoped policies and grant (allow)', handler: handler(hostPolicies), request: request(hostToken, 'tools.chio.local:8080') },
    { name: 'JWT rule, JWKS file, RS256 token (allow)', handler: handler(jwtDir), request: bearer(await jwtOf('RS256')) },
    { name: 'JWT rule, JWKS file, ES256 token (allow)', handler: handler(jwtDir), request: bearer(await jwtOf('ES256')) },
  ];
  const only = process.env.DECISION_CASES;
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log(`| case | CPU µs per decision (median of ${ROUNDS} × ${ITERATIONS.toLocaleString('en-US')}) | rounds |`);
  console.log('| --- | --- | --- |');
  for (const c of cases) {
    if (only !== undefined && !c.name.includes(only)) continue;
    const expected = (await c.handler.check(c.request)).status?.code;
    await run(c, Math.min(5_000, ITERATIONS)); // warm up: JIT, the capability verification cache
    const rounds: number[] = [];
    for (let r = 0; r < ROUNDS; r++) rounds.push(await run(c, ITERATIONS));
    console.log(`| ${c.name} (gRPC status ${expected}) | ${median(rounds).toFixed(1)} | ${rounds.map((x) => x.toFixed(1)).join(', ')} |`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

/** CPU µs (user + system) per Check over `iterations` sequential Checks. */
async function run(c: Case, iterations: number): Promise<number> {
  const before = process.cpuUsage();
  for (let i = 0; i < iterations; i++) await c.handler.check(c.request);
  const used = process.cpuUsage(before);
  return (used.user + used.system) / iterations;
}
