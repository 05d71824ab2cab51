/**
 * Where `chio up` gets NATS (SPEC §1): NATS_URL, else an embedded nats-server (URL noted in the
 * data dir for other commands, store kept), else a container when Docker answers, else a
 * message that says how to get one.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
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
