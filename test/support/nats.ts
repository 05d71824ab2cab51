/**
 * Each integration test file starts its own real `nats-server -js` on a free loopback port with
 * a temporary store directory, so that it can kill and restart it. Never the shared server.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedNats, type EmbeddedNats } from '../../src/nats/server.js';

export interface TestNats {
  current: EmbeddedNats;
  storeDir: string;
  /** Start again on the same port and store (after stop or kill). */
  restart(): Promise<EmbeddedNats>;
  cleanup(): Promise<void>;
}

export async function startTestNats(): Promise<TestNats> {
  const root = mkdtempSync(join(tmpdir(), 'chio-nats-'));
  const storeDir = join(root, 'store');
  const first = await startEmbeddedNats({ storeDir });
  const t: TestNats = {
    current: first,
    storeDir,
    async restart() {
      t.current = await startEmbeddedNats({ storeDir, port: first.port });
      return t.current;
    },
    async cleanup() {
      await t.current.stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
  return t;
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}
