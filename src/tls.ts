/**
 * TLS on Chio's own listeners: the authz gRPC port and every HTTP port (health, metrics, the
 * verifier API). Off unless CHIO_TLS_CERT and CHIO_TLS_KEY are set; with CHIO_TLS_CLIENT_CA as
 * well, mutual TLS: a client MUST present a certificate that chains to that CA, or the
 * handshake fails before any request is read. config.ts refuses half a set-up; this module
 * reads the PEM files once at start-up and refuses ones that do not make a usable context.
 */
import { X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { ChioError } from './errors/index.js';
import { readPrivateFile, readPublicFile } from './setting-file.js';
import type { ChioConfig } from './config.js';

/** PEM material for a listener; `clientCa` present means client certificates are required. */
export interface ListenerTls {
  cert: Buffer;
  key: Buffer;
  clientCa?: Buffer;
}

/** The listeners' TLS from the configuration, or undefined for plain text. Throws CONFIG_INVALID naming the file. */
export function loadListenerTls(config: Partial<Pick<ChioConfig, 'tlsCert' | 'tlsKey' | 'tlsClientCa'>>): ListenerTls | undefined {
  if (config.tlsCert === undefined || config.tlsKey === undefined) return undefined;
  const tls: ListenerTls = {
    cert: readPublicFile(config.tlsCert, 'CHIO_TLS_CERT'),
    key: readPrivateFile(config.tlsKey, 'CHIO_TLS_KEY'),
    ...(config.tlsClientCa !== undefined ? { clientCa: readPublicFile(config.tlsClientCa, 'CHIO_TLS_CLIENT_CA') } : {}),
  };
  try {
    // The same check the listeners make, now rather than at the first handshake: a bad PEM, or
    // a key that is not the certificate's, stops start-up.
    createSecureContext({ cert: tls.cert, key: tls.key });
  } catch (cause) {
    throw new ChioError('CONFIG_INVALID', `CHIO_TLS_CERT ${config.tlsCert} and CHIO_TLS_KEY ${config.tlsKey} are not a PEM certificate and its private key`, { cause });
  }
  if (tls.clientCa !== undefined) {
    try {
      // createSecureContext skips what is not a certificate in `ca`; an empty trust list
      // would refuse every client without saying why. The first certificate must parse.
      new X509Certificate(tls.clientCa);
    } catch (cause) {
      throw new ChioError('CONFIG_INVALID', `CHIO_TLS_CLIENT_CA ${config.tlsClientCa} is not a PEM certificate`, { cause });
    }
  }
  return tls;
}

/** How a listener is secured, for the start-up log line. */
export function tlsMode(tls: ListenerTls | undefined): 'off' | 'tls' | 'mutual' {
  return tls === undefined ? 'off' : tls.clientCa === undefined ? 'tls' : 'mutual';
}
