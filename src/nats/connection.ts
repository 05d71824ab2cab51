/**
 * Connecting to NATS. NATS_URL (comma-separated servers) with the usual options: a creds file
 * (NATS_CREDS), an nkey seed file (NATS_NKEY), user/password, and TLS (NATS_CA / NATS_CERT /
 * NATS_KEY). Chio never logs these values.
 */
import { readFileSync } from 'node:fs';
import { ChioError } from '../errors/index.js';
import { connect, credsAuthenticator, nkeyAuthenticator, type NatsConnection } from '@nats-io/transport-node';

export interface NatsSettings {
  servers: string[];
  name: string;
  credsFile?: string;
  nkeySeedFile?: string;
  user?: string;
  pass?: string;
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
}

/** Open a connection that keeps reconnecting forever: a Check denies while NATS is away. */
export async function connectNats(settings: NatsSettings): Promise<NatsConnection> {
  const authenticator = settings.credsFile
    ? credsAuthenticator(readSetting(settings.credsFile, 'NATS_CREDS'))
    : settings.nkeySeedFile
      ? nkeyAuthenticator(new TextEncoder().encode(new TextDecoder().decode(readSetting(settings.nkeySeedFile, 'NATS_NKEY')).trim()))
      : undefined;
  return connect({
    servers: settings.servers,
    name: settings.name,
    maxReconnectAttempts: -1,
    // Without this nats.js builds an Error with a stack trace for every request and publish,
    // in case it times out: a cost on every receipt, for a trace Chio never reads.
    noAsyncTraces: true,
    reconnectTimeWait: 250,
    ...(authenticator ? { authenticator } : {}),
    ...(settings.user ? { user: settings.user, pass: settings.pass ?? '' } : {}),
    ...(settings.tls ? { tls: settings.tls } : {}),
  });
}

/** A credentials file named by a setting; a missing or unreadable one stops start-up naming both. */
function readSetting(path: string, setting: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (cause) {
    throw new ChioError('CONFIG_INVALID', `${setting}: cannot read ${path}`, { cause });
  }
}
