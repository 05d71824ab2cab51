/**
 * Where `chio up` gets its NATS (SPEC §1): NATS_URL when set; otherwise a real
 * `nats-server -js` child with its store in <data dir>/nats (kept across restarts) when the
 * binary is on PATH; otherwise a NATS container through testcontainers when Docker is there;
 * otherwise a message that says how to get one.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { ChioError } from '../errors/index.js';
import { hasNatsServerBinary, startEmbeddedNats } from './server.js';
import { forgetEmbeddedNatsPid, noteEmbeddedNatsPid, stopLeftoverNats } from './leftover.js';

export interface AcquiredNats {
  servers: string[];
  /** Stops what was started for us (nothing when NATS_URL was given). */
  stop(): Promise<void>;
  origin: 'url' | 'embedded' | 'container';
}

export async function acquireNats(natsUrl: string | undefined, dataDir: string, log: Logger): Promise<AcquiredNats> {
  if (natsUrl) return { servers: natsUrl.split(',').map((s) => s.trim()), stop: async () => {}, origin: 'url' };
  if (hasNatsServerBinary()) {
    const storeDir = resolve(dataDir, 'nats');
    mkdirSync(storeDir, { recursive: true });
    await stopLeftoverNats(dataDir, storeDir, log);
    const nats = await startEmbeddedNats({ storeDir });
    if (nats.pid !== undefined) noteEmbeddedNatsPid(dataDir, nats.pid);
    log.info({ url: nats.url, store: storeDir }, 'started embedded nats-server');
    // Other chio commands run from this directory (token revoke) find this NATS here.
    const urlFile = embeddedNatsUrlFile(dataDir);
    writeFileSync(urlFile, `${nats.url}\n`);
    const stop = async () => {
      await nats.stop();
      rmSync(urlFile, { force: true });
      forgetEmbeddedNatsPid(dataDir);
    };
    return { servers: [nats.url], stop, origin: 'embedded' };
  }
  const container = await startNatsContainer(log);
  if (container) return container;
  throw new ChioError(
    'UNAVAILABLE',
    'no NATS: set NATS_URL to a JetStream-enabled server, or install nats-server ' +
      '(Debian/Ubuntu: `apt-get install nats-server`; or https://github.com/nats-io/nats-server/releases), ' +
      'or run Docker so that a NATS container can be started',
  );
}

// testcontainers is optional: loaded only when installed and a Docker engine answers.
async function startNatsContainer(log: Logger): Promise<AcquiredNats | undefined> {
  const moduleName = 'testcontainers';
  let tc: { GenericContainer: new (image: string) => any };
  try {
    tc = (await import(moduleName)) as typeof tc;
  } catch {
    return undefined;
  }
  try {
    const container = await new tc.GenericContainer('nats:2-alpine').withCommand(['-js']).withExposedPorts(4222).start();
    const url = `nats://${container.getHost()}:${container.getMappedPort(4222)}`;
    log.info({ url }, 'started NATS container');
    return { servers: [url], stop: async () => void (await container.stop()), origin: 'container' };
  } catch (err) {
    log.debug({ err: String(err) }, 'no Docker engine for a NATS container');
    return undefined;
  }
}

/** Where `chio up` notes the URL of the NATS it started. */
export function embeddedNatsUrlFile(dataDir: string): string {
  return resolve(dataDir, 'nats.url');
}

/** NATS_URL if set, else the URL of a running `chio up` in this data directory. */
export function natsUrlFor(natsUrl: string | undefined, dataDir: string): string | undefined {
  if (natsUrl) return natsUrl;
  const file = embeddedNatsUrlFile(dataDir);
  return existsSync(file) ? readFileSync(file, 'utf8').trim() : undefined;
}
