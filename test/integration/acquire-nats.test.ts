/**
 * Where `chio up` gets NATS (SPEC §1): NATS_URL, else an embedded nats-server (URL noted in the
 * data dir for other commands, store kept), else a container when Docker answers, else a
 * message that says how to get one.
 */
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { acquireNats, natsUrlFor } from '../../src/nats/acquire.js';
import { createLogger } from '../../src/log.js';
import { tempDir } from '../support/nats.js';

const log = createLogger('silent');

describe('acquireNats', () => {
  it('uses NATS_URL when given, starting nothing', async () => {
    const nats = await acquireNats('nats://10.1.2.3:4222,nats://10.1.2.4:4222', tempDir('chio-acq-'), log);
    expect(nats).toMatchObject({ origin: 'url', servers: ['nats://10.1.2.3:4222', 'nats://10.1.2.4:4222'] });
  });

  it('starts an embedded nats-server with its store in <data>/nats and notes its URL', async () => {
    const dataDir = tempDir('chio-acq-');
    const nats = await acquireNats(undefined, dataDir, log);
    try {
      expect(nats.origin).toBe('embedded');
      expect(existsSync(join(dataDir, 'nats'))).toBe(true);
      expect(readFileSync(join(dataDir, 'nats.url'), 'utf8').trim()).toBe(nats.servers[0]);
      expect(natsUrlFor(undefined, dataDir)).toBe(nats.servers[0]);
      expect(natsUrlFor('nats://explicit:4222', dataDir)).toBe('nats://explicit:4222');
    } finally {
      await nats.stop();
    }
    expect(existsSync(join(dataDir, 'nats.url'))).toBe(false);
  });

  it('stops the nats-server a killed chio up left running on its store before starting its own', async () => {
    const dataDir = tempDir('chio-acq-');
    const first = await acquireNats(undefined, dataDir, log);
    // chio up SIGKILLed: nothing stops its server, which runs on with the store.
    const leftPid = Number.parseInt(readFileSync(join(dataDir, 'nats.pid'), 'utf8'), 10);
    const running = (pid: number) => {
      try {
        return process.kill(pid, 0);
      } catch {
        return false;
      }
    };
    expect(running(leftPid)).toBe(true);
    const second = await acquireNats(undefined, dataDir, log);
    try {
      expect(running(leftPid)).toBe(false);
      const pid = Number.parseInt(readFileSync(join(dataDir, 'nats.pid'), 'utf8'), 10);
      expect(pid).not.toBe(leftPid);
      expect(running(pid)).toBe(true);
      expect(second.servers[0]).not.toBe(first.servers[0]);
    } finally {
      await second.stop();
    }
    expect(existsSync(join(dataDir, 'nats.pid'))).toBe(false);
  });

  it('refuses to start while the chio up that started the noted nats-server still runs, and leaves that server alone', async () => {
    const dataDir = tempDir('chio-acq-');
    const first = await acquireNats(undefined, dataDir, log);
    // A second `chio up` on the same data directory: the first (here a stand-in process) still runs.
    const owner = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', 'bin/chio.js', 'up'], { stdio: 'ignore' });
    try {
      const natsPid = Number.parseInt(readFileSync(join(dataDir, 'nats.pid'), 'utf8'), 10);
      writeFileSync(join(dataDir, 'nats.pid'), `${natsPid} ${owner.pid}\n`);
      const err = await acquireNats(undefined, dataDir, log).then(
        (n) => (void n.stop(), undefined),
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ code: 'CONFIG_INVALID' });
      expect(String((err as Error).message)).toContain(`another chio up (pid ${owner.pid}) runs on ${dataDir}`);
      expect(process.kill(natsPid, 0)).toBe(true);
      expect(readFileSync(join(dataDir, 'nats.pid'), 'utf8')).toBe(`${natsPid} ${owner.pid}\n`);
    } finally {
      owner.kill('SIGKILL');
      await first.stop();
    }
  });

  it('takes a noted owner that is no chio up (its pid reused, by another Node program) for ended', async () => {
    const dataDir = tempDir('chio-acq-');
    const first = await acquireNats(undefined, dataDir, log);
    const stranger = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    try {
      const natsPid = Number.parseInt(readFileSync(join(dataDir, 'nats.pid'), 'utf8'), 10);
      writeFileSync(join(dataDir, 'nats.pid'), `${natsPid} ${stranger.pid}\n`);
      const second = await acquireNats(undefined, dataDir, log);
      await second.stop();
      expect(second.servers[0]).not.toBe(first.servers[0]);
    } finally {
      stranger.kill('SIGKILL');
      await first.stop();
    }
  });

  it('leaves alone a process under the noted pid that is not a nats-server on this store', async () => {
    const dataDir = tempDir('chio-acq-');
    const other = tempDir('chio-acq-other-');
    const stranger = await acquireNats(undefined, other, log);
    try {
      writeFileSync(join(dataDir, 'nats.pid'), readFileSync(join(other, 'nats.pid')));
      const mine = await acquireNats(undefined, dataDir, log);
      await mine.stop();
      // Another store's server under the noted pid: still running.
      expect(process.kill(Number.parseInt(readFileSync(join(other, 'nats.pid'), 'utf8'), 10), 0)).toBe(true);
    } finally {
      await stranger.stop();
    }
  });

  it('says how to get NATS when there is no URL, no nats-server and no Docker', async () => {
    const path = process.env.PATH;
    process.env.PATH = '/nonexistent';
    const docker = process.env.DOCKER_HOST;
    process.env.DOCKER_HOST = 'tcp://127.0.0.1:1';
    try {
      await expect(acquireNats(undefined, tempDir('chio-acq-'), log)).rejects.toThrow(/set NATS_URL .* install nats-server .* Docker/);
    } finally {
      process.env.PATH = path;
      if (docker === undefined) delete process.env.DOCKER_HOST;
      else process.env.DOCKER_HOST = docker;
    }
  }, 60_000);
});
