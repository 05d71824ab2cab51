/**
 * Building a CheckRequest the way Envoy does under Istio (SPEC §2): lower-case header keys,
 * pseudo-headers (:authority, :method, :path, :scheme), x-request-id, x-forwarded-proto,
 * `path` with the query string, source and destination socket addresses, and the source
 * principal (a SPIFFE id under Istio mTLS).
 */
import { randomUUID } from 'node:crypto';
import type { CheckRequest } from '../authz/wire.js';

export interface EnvoyRequestOptions {
  method: string;
  path: string;
  host: string;
  headers?: Record<string, string>;
  principal?: string;
  sourceAddress?: string;
  destinationAddress?: string;
}

export function buildCheckRequest(o: EnvoyRequestOptions): CheckRequest {
  const id = randomUUID();
  const headers: Record<string, string> = {
    ':authority': o.host,
    ':method': o.method,
    ':path': o.path,
    ':scheme': 'http',
    'user-agent': 'chio-check',
    'x-forwarded-proto': 'http',
    'x-request-id': id,
  };
  for (const [k, v] of Object.entries(o.headers ?? {})) headers[k.toLowerCase()] = v;
  return {
    attributes: {
      source: {
        address: { socket_address: socket(o.sourceAddress ?? '10.0.0.2:51234') },
        ...(o.principal ? { principal: o.principal } : {}),
      },
      destination: { address: { socket_address: socket(o.destinationAddress ?? '10.0.0.3:8080') } },
      request: {
        time: { seconds: String(Math.floor(Date.now() / 1000)), nanos: 0 },
        http: { id, method: o.method, headers, path: o.path, host: o.host, scheme: 'http', protocol: 'HTTP/1.1' },
      },
    },
  };
}

function socket(hostPort: string): { address: string; port_value: number } {
  const i = hostPort.lastIndexOf(':');
  // Envoy sends an IPv6 address bare: `[2001:db8::1]:443` is address 2001:db8::1, port 443.
  return { address: hostPort.slice(0, i).replace(/^\[(.*)\]$/, '$1'), port_value: Number(hostPort.slice(i + 1)) };
}
