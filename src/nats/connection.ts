/**
 * Connecting to NATS. NATS_URL (comma-separated servers) with the usual options, one way to
 * authenticate — a creds file (NATS_CREDS), an nkey seed file (NATS_NKEY), user/password
 * (NATS_USER, NATS_PASS) or a token (NATS_TOKEN) — and TLS (NATS_CA, and NATS_CERT with
 * NATS_KEY for a client certificate). Chio never logs these values. Creds, nkey seed and TLS
 * key files open to group or others are refused (setting-file.ts).
 */
import { ChioError } from '../errors/index.js';
import { beforeDeadline } from '../time.js';
import type { ChioConfig } from '../config.js';
import { readPrivateFile, readPublicFile } from '../setting-file.js';
import { connect, credsAuthenticator, nkeyAuthenticator, type NatsConnection, type TlsOptions } from '@nats-io/transport-node';

export interface NatsSettings {
  servers: string[];
  name: string;
  credsFile?: string;
  nkeySeedFile?: string;
  user?: string;
  pass?: string;
  token?: string;
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
  /** Subject prefix of this connection's reply inboxes (nats.js default `_INBOX`). */
  inboxPrefix?: string;
  /** How long the first connection may take (nats.js default: 20 s). A server that refuses a
   *  TLS 1.3 client certificate closes the connection after the handshake, so the client only
   *  learns of it when this runs out. */
  timeoutMs?: number;
}

/** The NATS options every process passes on (URL list, credentials, TLS). */
export function natsSettings(config: ChioConfig, servers: string[], name: string): NatsSettings {
  const tls = config.natsCa || config.natsCert ? { caFile: config.natsCa, certFile: config.natsCert, keyFile: config.natsKey } : undefined;
  return {
    servers,
    name,
    ...(config.natsCreds ? { credsFile: config.natsCreds } : {}),
    ...(config.natsNkey ? { nkeySeedFile: config.natsNkey } : {}),
    ...(config.natsUser ? { user: config.natsUser, pass: config.natsPass ?? '' } : {}),
    ...(config.natsToken ? { token: config.natsToken } : {}),
    ...(tls ? { tls } : {}),
    ...(config.natsInboxPrefix ? { inboxPrefix: config.natsInboxPrefix } : {}),
  };
}

/**
 * How often the client PINGs the server, and how many PINGs may go unanswered: at the tick that
 * finds NATS_MAX_PINGS_OUT of them unanswered the connection is taken for dead, dropped, and
 * dialled again (the next server of a cluster). That is how a silent partition is noticed (a
 * frozen or vanished server, packets dropped, no TCP reset): within 10 to 15 s of it, where
 * nats.js's defaults (2 min, 2) took 4 to 6 min, all that time stuck on a dead server. The cost
 * is a 6-byte PING and its PONG every 5 s per connection. A healthy server answers a PING in
 * milliseconds: only one that has answered nothing for 10 s is given up.
 */
export const NATS_PING_INTERVAL_MS = 5_000;
export const NATS_MAX_PINGS_OUT = 2;

/** Open a connection that keeps reconnecting forever: a Check denies while NATS is away. */
export async function connectNats(settings: NatsSettings): Promise<NatsConnection> {
  const authenticator = settings.credsFile
    ? credsAuthenticator(new Uint8Array(readPrivateFile(settings.credsFile, 'NATS_CREDS')))
    : settings.nkeySeedFile
      ? nkeyAuthenticator(new TextEncoder().encode(readPrivateFile(settings.nkeySeedFile, 'NATS_NKEY').toString('utf8').trim()))
      : undefined;
  return connect({
    servers: settings.servers,
    name: settings.name,
    maxReconnectAttempts: -1,
    // Without this nats.js builds an Error with a stack trace for every request and publish,
    // in case it times out: a cost on every receipt, for a trace Chio never reads.
    noAsyncTraces: true,
    reconnectTimeWait: 250,
    pingInterval: NATS_PING_INTERVAL_MS,
    maxPingOut: NATS_MAX_PINGS_OUT,
    ...(settings.timeoutMs ? { timeout: settings.timeoutMs } : {}),
    ...(authenticator ? { authenticator } : {}),
    ...(settings.user ? { user: settings.user, pass: settings.pass ?? '' } : {}),
    ...(settings.token ? { token: settings.token } : {}),
    ...(settings.tls ? { tls: readTls(settings.tls) } : {}),
    ...(settings.inboxPrefix ? { inboxPrefix: settings.inboxPrefix } : {}),
  });
}

/** The PEM files read here, so that a missing or exposed one is named by its setting. */
function readTls(files: NonNullable<NatsSettings['tls']>): TlsOptions {
  return {
    ...(files.caFile ? { ca: readPublicFile(files.caFile, 'NATS_CA').toString('utf8') } : {}),
    ...(files.certFile ? { cert: readPublicFile(files.certFile, 'NATS_CERT').toString('utf8') } : {}),
    ...(files.keyFile ? { key: readPrivateFile(files.keyFile, 'NATS_KEY').toString('utf8') } : {}),
  };
}

/** How long a drain may take before the connection is closed without it. */
export const DRAIN_TIMEOUT_MS = 5_000;

/**
 * Drain `nc` (what it sent is flushed, its subscriptions finish), and close it when the drain
 * fails: with NATS gone a drain rejects and leaves the connection reconnecting for ever, which
 * keeps the process alive after its work or its SIGTERM. Rejects as the drain did.
 */
export async function drainNats(nc: NatsConnection, timeoutMs = DRAIN_TIMEOUT_MS): Promise<void> {
  try {
    // A frozen server (a partition, no reset) would hold a drain until the stale-connection
    // check (NATS_PING_INTERVAL_MS), up to 15 s away: three times what a drain may take.
    await beforeDeadline(nc.drain(), Date.now() + timeoutMs, 'NATS drain');
  } finally {
    if (!nc.isClosed()) await nc.close();
  }
}
