/**
 * Telling a NATS outage from a fault. Errors that say NATS or JetStream cannot answer now (a request timed out, no responder, the
 * connection is down or reconnecting, JetStream is electing a leader), not that anything is
 * wrong: an HTTP answer is then 503 with Retry-After, never 500. Matched by name, because
 * nats.js does not export every one of these classes.
 */
const UNAVAILABLE_ERROR_NAMES = new Set(['TimeoutError', 'NoResponders', 'ConnectionError', 'ClosedConnectionError', 'DrainingConnectionError', 'RequestError', 'JetStreamNotEnabled']);

export function isNatsUnavailable(err: unknown): boolean {
  return err instanceof Error && UNAVAILABLE_ERROR_NAMES.has(err.name);
}
