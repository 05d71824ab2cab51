/**
 * Which private files are open to others (src/setting-file.ts): OpenSSH's rule, with
 * PostgreSQL's exception for a root-owned file its group may read — how Kubernetes mounts a
 * Secret (defaultMode 0440, group = fsGroup) for a pod that does not run as root.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isOpenToOthers, readPrivateFile, readPublicFile, readRegularFile } from '../../src/setting-file.js';

const CHIO = 1000;
const ROOT = 0;

describe('isOpenToOthers', () => {
  it.each([
    [0o600, CHIO, CHIO, false],
    [0o400, CHIO, CHIO, false],
    [0o640, CHIO, CHIO, true],
    [0o604, CHIO, CHIO, true],
    [0o440, ROOT, CHIO, false], // a Kubernetes Secret with fsGroup, read by a non-root pod
    [0o460, ROOT, CHIO, true], // group write
    [0o444, ROOT, CHIO, true], // others
    [0o450, ROOT, CHIO, true], // group execute
    [0o440, ROOT, ROOT, true], // Chio itself runs as root: no exception
    [0o440, 2000, CHIO, true], // owned by another account
  ])('mode %o owned by %i, read by %i: %s', (mode, owner, self, open) => {
    expect(isOpenToOthers(0o100000 | mode, owner, self)).toBe(open);
  });
});

describe('readRegularFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'chio-rf-'));

  it('reads a regular file, and one through a link (a mounted ConfigMap)', () => {
    writeFileSync(join(dir, 'real'), 'abc\n');
    symlinkSync(join(dir, 'real'), join(dir, 'link'));
    expect(readRegularFile(join(dir, 'real'), 4).toString()).toBe('abc\n');
    expect(readRegularFile(join(dir, 'link'), 4).toString()).toBe('abc\n');
  });

  it('refuses a file over the bound, and one it cannot open', () => {
    writeFileSync(join(dir, 'big'), 'abcde');
    expect(() => readRegularFile(join(dir, 'big'), 4)).toThrow(`${join(dir, 'big')}: larger than 4 bytes`);
    expect(() => readRegularFile(join(dir, 'missing'), 4)).toThrow(`${join(dir, 'missing')}: cannot read`);
  });

  it.each([
    ['a FIFO without a writer', (path: string) => spawnSync('mkfifo', [path])],
    ['a link to /dev/zero', (path: string) => symlinkSync('/dev/zero', path)],
    ['a directory', (path: string) => mkdirSync(path)],
  ])('refuses %s at once, without blocking or reading it', (what, make) => {
    const path = join(dir, what.replace(/\W/g, '-'));
    make(path);
    expect(() => readRegularFile(path, 1024)).toThrow(`${path}: not a regular file`);
  });
});

describe('readPrivateFile and readPublicFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'chio-sf-'));

  // CHIO_TLS_KEY, NATS_CREDS, --issuer-key … named a FIFO: readFileSync waited for a writer for
  // ever (the process never started nor stopped), and a link to /dev/zero was read until memory ran out.
  it.each([
    ['a FIFO without a writer', (path: string) => spawnSync('mkfifo', ['-m', '600', path])],
    ['a link to /dev/zero', (path: string) => symlinkSync('/dev/zero', path)],
  ])('refuse %s at once, naming the setting', (what, make) => {
    const path = join(dir, what.replace(/\W/g, '-'));
    make(path);
    expect(() => readPrivateFile(path, 'CHIO_TLS_KEY')).toThrow(`CHIO_TLS_KEY: ${path}: not a regular file`);
    expect(() => readPublicFile(path, 'CHIO_TLS_CERT')).toThrow(`CHIO_TLS_CERT: ${path}: not a regular file`);
  });

  it('still read a private file through a link (a mounted Secret), and a public one', () => {
    writeFileSync(join(dir, 'key'), 'secret\n', { mode: 0o600 });
    symlinkSync(join(dir, 'key'), join(dir, 'key-link'));
    expect(readPrivateFile(join(dir, 'key-link'), 'CHIO_TLS_KEY').toString()).toBe('secret\n');
    expect(readPublicFile(join(dir, 'key'), 'CHIO_TLS_CERT').toString()).toBe('secret\n');
    expect(() => readPublicFile(join(dir, 'missing'), 'CHIO_TLS_CERT')).toThrow(`CHIO_TLS_CERT: cannot read ${join(dir, 'missing')}`);
  });
});

describe('readPrivateFile', () => {
  // NATS_NKEY=$(cat user.nk), CHIO_TLS_KEY="$(cat tls.key)": the setting holds the secret
  // itself, not a path to it; the message (stderr, the log) must not quote it.
  it.each([
    ['an nkey seed', 'NATS_NKEY', 'SUACSSL3UAHUDXKFSNVUZRF5UHPMWZ6BFDTJ7M6USDXIEDNPPQYYYCU3VY', 'SUACSSL3UAHUDXKF'],
    ['a PEM private key', 'CHIO_TLS_KEY', '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIGx1Zm9vYmFyYmF6cXV4\n-----END PRIVATE KEY-----\n', 'MC4CAQAwBQYDK2Vw'],
    ['a creds file', 'NATS_CREDS', '-----BEGIN NATS USER JWT-----\neyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5In0.e30.sig\n------END NATS USER JWT------\n', 'eyJ0eXAiOiJKV1Qi'],
  ])('does not quote %s given in place of its file', (_what, setting, value, secret) => {
    let message = '';
    try {
      readPrivateFile(value, setting);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain(setting);
    expect(message).not.toContain(secret);
  });

  it('still names a missing file by its path', () => {
    expect(() => readPrivateFile('/nonexistent/chio/user.nk', 'NATS_NKEY')).toThrow('NATS_NKEY: cannot read /nonexistent/chio/user.nk');
  });
});

describe('why a file cannot be read', () => {
  const dir = mkdtempSync(join(tmpdir(), 'chio-unreadable-'));
  it('says so in words: no such file, permission denied, a path through a file', () => {
    expect(() => readRegularFile(join(dir, 'missing'), 4)).toThrow(`${join(dir, 'missing')}: cannot read (no such file)`);
    writeFileSync(join(dir, 'plain'), 'x');
    expect(() => readRegularFile(join(dir, 'plain', 'below'), 4)).toThrow('cannot read (a part of its path is not a directory)');
    expect(() => readPrivateFile(join(dir, 'missing'), 'NATS_NKEY')).toThrow(`NATS_NKEY: cannot read ${join(dir, 'missing')} (no such file)`);
  });
});
