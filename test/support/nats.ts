/**
 * Each integration test file starts its own real `nats-server -js` on a free loopback port with
 * a temporary store directory, so that it can kill and restart it. Never the shared server.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedNats, type EmbeddedNats } from '../../src/nats/server.js';

export interface TestNats {
  current: EmbeddedNats;
  storeDir: string;
  /**
   * Start again on the same port and store (after stop or kill); `config`: another nats-server
   * configuration file's text than the one started with (an operator growing the store, say).
   */
  restart(options?: { config?: string }): Promise<EmbeddedNats>;
  cleanup(): Promise<void>;
}

/** `config`: the text of a nats-server configuration file to start with (e.g. `jetstream { max_file_store: 4MB }`). */
export async function startTestNats(options: { config?: string } = {}): Promise<TestNats> {
  const root = mkdtempSync(join(tmpdir(), 'chio-nats-'));
  const storeDir = join(root, 'store');
  const configFile = join(root, 'nats.conf');
  const withConfig = (config: string | undefined) => (config === undefined ? {} : (writeFileSync(configFile, config), { configFile }));
  let config = options.config;
  const first = await startEmbeddedNats({ storeDir, ...withConfig(config) });
  const t: TestNats = {
    current: first,
    storeDir,
    async restart(again = {}) {
      config = again.config ?? config;
      t.current = await startEmbeddedNats({ storeDir, port: first.port, ...withConfig(config) });
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
