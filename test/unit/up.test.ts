import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capabilityGrantsOf, demoToken, welcome, welcomeToken, type RunningChio } from '../../src/up.js';
import { generateKeys } from '../../src/keys.js';
import { loadConfig } from '../../src/config.js';
import { loadPolicySet } from '../../src/policy/policy-set.js';
import { verifyCapability } from '../../src/credentials/capability.js';
import { REPO_ROOT } from '../support/chio.js';

describe('demoToken', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'chio-up-'));
    generateKeys(join(dir, 'keys'), 'chio.local/receipts');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const config = (policies: string) => loadConfig({ env: { CHIO_KEY_DIR: join(dir, 'keys'), CHIO_POLICIES: policies }, defaultBind: '127.0.0.1' });

  describe('with the demo policy set', () => {
    const demo = join(REPO_ROOT, 'deploy/policies');

    it('grants exactly the operations the demo policy allows capability holders', () => {
      expect(capabilityGrantsOf(loadPolicySet(demo, join(dir, 'keys')))).toEqual([
        { methods: ['POST'], paths: ['/tools/*', '/invoke/*'] },
        { methods: ['GET'], paths: ['/tools/*'] },
      ]);
    });

    it('is a token the demo set trusts, with those grants', () => {
      const set = loadPolicySet(demo, join(dir, 'keys'));
      const claims = verifyCapability(demoToken(config(demo), 60, demo), set.issuers, Math.floor(Date.now() / 1000));
      expect(claims.scope.grants).toEqual(capabilityGrantsOf(set));
      expect(claims.subject).toBe('demo-agent');
    });
  });

  describe('when the policies allow capability holders nothing', () => {
    it('refuses with CONFIG_INVALID instead of printing a useless token', () => {
      const file = join(dir, 'jwt-only.yaml');
      writeFileSync(file, 'apiVersion: chio.dev/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: any\nspec:\n  rules:\n    - to:\n        - operation:\n            methods: [GET]\n            paths: ["/*"]\n');
      expect(() => demoToken(config(file), 60, file)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    });
  });

  describe('what chio up prints', () => {
    const running = { authz: { grpcPort: 9091, httpPort: 9090, policyHash: 'sha256:x' }, ledger: { httpPort: 9092 }, verifier: { httpPort: 9093 } } as unknown as RunningChio;

    it('prints the demo token and the grants it carries when the policies allow capability holders', () => {
      const cfg = config(join(REPO_ROOT, 'deploy/policies'));
      const token = welcomeToken(cfg);
      expect(token).toBeDefined();
      expect(welcome(cfg, running, token)).toContain(`export CHIO_TOKEN=${token}`);
      expect(welcome(cfg, running, token)).toContain('POST /tools/*, /invoke/*; GET /tools/*');
    });

    it('says there is no demo token, instead of failing, when they allow capability holders nothing', () => {
      const file = join(dir, 'nothing-for-capabilities.yaml');
      writeFileSync(file, 'apiVersion: chio.dev/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: any\nspec:\n  rules:\n    - to:\n        - operation:\n            methods: [GET]\n            paths: ["/*"]\n');
      const cfg = config(file);
      expect(welcomeToken(cfg)).toBeUndefined();
      expect(welcome(cfg, running, undefined)).toContain('No demo capability token');
    });
  });
});
