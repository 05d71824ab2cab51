/**
 * How many bytes each of Chio's streams holds, as JetStream counts them (one replica's worth):
 * what nats-server's `max_file_store` is measured against. Nothing in them expires, so this
 * only grows with the log (docs/operations.md, "Storage").
 */
import { JetStreamApiError, type JetStreamManager } from '@nats-io/jetstream';
import { CHIO_STREAMS } from './resources.js';

/** Bytes per stream name; a stream not made yet is left out. Rejects when one cannot be read. */
export async function readStreamBytes(jsm: JetStreamManager): Promise<Map<string, number>> {
  const infos = await Promise.all(
    CHIO_STREAMS.map((name) =>
      jsm.streams.info(name).then(
        (info) => [name, info.state.bytes] as const,
        (err: unknown) => (err instanceof JetStreamApiError && err.status === 404 ? undefined : Promise.reject(err)),
      ),
    ),
  );
  return new Map(infos.filter((i) => i !== undefined));
}
