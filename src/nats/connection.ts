/**
 * Connecting to NATS. NATS_URL (comma-separated servers) with the usual options: a creds file
 * (NATS_CREDS), an nkey seed file (NATS_NKEY), user/password, and TLS (NATS_CA / NATS_CERT /
 * NATS_KEY). Chio never logs these values.
 */
import { readFileSync } from 'node:fs';
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
    ? credsAuthenticator(readFileSync(settings.credsFile))
    : settings.nkeySeedFile
      ? nkeyAuthenticator(new TextEncoder().encode(readFileSync(settings.nkeySeedFile, 'utf8').trim()))
      : undefined;
  return connect({
    servers: settings.servers,
    name: settings.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    ...(authenticator ? { authenticator } : {}),
    ...(settings.user ? { user: settings.user, pass: settings.pass ?? '' } : {}),
    ...(settings.tls ? { tls: settings.tls } : {}),
  });
}
