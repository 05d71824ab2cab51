/**
 * deploy/export/cronjob.yaml: every document validates against the Kubernetes schemas
 * (kubernetes-models), the Job writes into the claim it declares and reads the keys Secret, and
 * its script is valid sh that calls `chio export` and `chio verify-export` with options those
 * commands have. test/integration/export.test.ts runs the script itself against a live stack.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PersistentVolumeClaim } from 'kubernetes-models/v1';
import { CronJob } from 'kubernetes-models/batch/v1';
import { buildProgram } from '../../src/cli/program.js';
import { loadConfig } from '../../src/config.js';
import { generateKeys, loadKey, loadVerifierKey } from '../../src/keys.js';
import { KERNEL_KEYS_FILE, loadKernelTrust } from '../../src/kernel-keys.js';
import { tempDir } from '../support/nats.js';
import { findManifest, loadManifests, volumeFiles } from './manifests.js';
import { claim, container, cronJob, docs, exportScript, pod } from './export-cronjob.js';

describe('deploy/export/cronjob.yaml', () => {
  it('holds a PersistentVolumeClaim and a CronJob, each valid against its schema', () => {
    expect(docs.map((d) => d.kind)).toEqual(['PersistentVolumeClaim', 'CronJob']);
    expect(() => new PersistentVolumeClaim(claim).validate()).not.toThrow();
    expect(() => new CronJob(cronJob).validate()).not.toThrow();
  });

  it('runs daily, one at a time, never restarting a failed export in place', () => {
    expect(cronJob.spec.schedule).toMatch(/^\d+ \d+ \* \* \*$/);
    expect(cronJob.spec.concurrencyPolicy).toBe('Forbid');
    expect(pod.restartPolicy).toBe('Never');
  });

  it('mounts the claim at /exports and the keys Secret where CHIO_KEY_DIR points', () => {
    const mount = (name: string) => container.volumeMounts.find((m: any) => m.name === name)?.mountPath;
    const volume = (name: string) => pod.volumes.find((v: any) => v.name === name);
    expect(volume('exports').persistentVolumeClaim.claimName).toBe(claim.metadata.name);
    expect(mount('exports')).toBe('/exports');
    expect(volumeFiles(volume('keys')).filter((f) => f.from.kind === 'Secret').map((f) => f.from.name)).toEqual(expect.arrayContaining(['chio-keys']));
    expect(mount('keys')).toBe('/etc/chio/keys');
    expect(container.envFrom[0].configMapRef.name).toBe('chio-config');
  });

  it('mounts only the keys the export and its check read: no signing key but the export key, kernels.yaml as the ledger gets it', () => {
    const files = volumeFiles(pod.volumes.find((v: any) => v.name === 'keys'));
    const fromSecret = files.filter((f) => f.from.kind === 'Secret');
    // A secret volume without items mounts every key of chio-keys: kernel.key and log.key too.
    expect(fromSecret.length).toBeGreaterThan(0);
    expect(fromSecret.map((f) => f.from.key).filter((k) => k.endsWith('.key'))).toEqual(['export.key']);
    expect(files.find((f) => f.from.kind === 'ConfigMap')).toMatchObject({ from: { name: 'chio-kernel-keys', key: KERNEL_KEYS_FILE }, path: KERNEL_KEYS_FILE, optional: true });
    expect(pod.automountServiceAccountToken).toBe(false);
    // Those files are enough: laid out as the kubelet would, every key the commands load loads.
    const istio = loadManifests();
    const keygen = tempDir('chio-export-keygen-');
    const dir = tempDir('chio-export-keys-');
    try {
      generateKeys(keygen, loadConfig({ env: findManifest(istio, 'ConfigMap', 'chio-config').data }).logOrigin);
      for (const f of fromSecret) writeFileSync(join(dir, f.path), readFileSync(join(keygen, f.from.key)), { mode: 0o600 });
      expect(() => loadKey(dir, 'export')).not.toThrow();
      expect(() => loadVerifierKey(join(dir, 'export.pub'))).not.toThrow();
      expect(() => loadVerifierKey(join(dir, 'log.pub'))).not.toThrow();
      expect(loadKernelTrust(dir, 'verifier').entries.map((e) => e.key)).toEqual([readFileSync(join(keygen, 'kernel.pub'), 'utf8').trim()]);
    } finally {
      rmSync(keygen, { recursive: true, force: true });
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads NATS as the verifier\'s user, which may write nothing (deploy/nats/chio-users.conf)', () => {
    const env = Object.fromEntries(container.env.map((e: any) => [e.name, e.value ?? e.valueFrom]));
    expect(env).toMatchObject({ NATS_USER: 'chio-verifier', NATS_PASS: { secretKeyRef: { name: 'chio-nats-users', key: 'CHIO_VERIFIER_NATS_PASSWORD' } }, NATS_INBOX_PREFIX: '_INBOX_chio_verifier' });
  });

  it('has a script that is valid sh and uses only options chio export and verify-export have', () => {
    expect(() => execFileSync('sh', ['-n', '-c', exportScript()])).not.toThrow();
    const program = buildProgram();
    for (const [command, line] of [['export', /chio\.js export (.*)/], ['verify-export', /chio\.js verify-export (.*)/]] as const) {
      const used = [...(line.exec(exportScript())?.[1] ?? '').matchAll(/--[a-z-]+/g)].map((m) => m[0]);
      const known = program.commands.find((c) => c.name() === command)!.options.map((o) => o.long);
      expect(used.length, command).toBeGreaterThan(0);
      for (const flag of used) expect(known, `${command} ${flag}`).toContain(flag);
    }
  });
});
