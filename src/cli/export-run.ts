/**
 * `chio export` run: the keys, the NATS connection and the progress display around
 * exportBundle, and what a signal does. A Ctrl-C (or a Job's SIGTERM) stops the export, which
 * leaves --out as it was (export/bundle-staging.ts); the command then says, in one line, that
 * nothing was written and ends with the shell's status for that signal (130 for SIGINT).
 */
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { ChioConfig } from '../config.js';
import { loadKey, loadKeyFile, loadVerifierKey } from '../keys.js';
import { loadKernelTrust } from '../kernel-keys.js';
import { drainNats } from '../nats/connection.js';
import { ensureResources } from '../store/resources.js';
import { exportBundle } from '../export/exporter.js';
import { createProgress } from '../export/progress.js';
import { toExportFilter, type ExportFilterOptions } from './export.js';
import { catchInterrupts, exitStatusOf } from './interrupt.js';
import { forTerminal } from './terminal.js';

export type ExportCommandOptions = ExportFilterOptions & { out: string; previous?: string; exportKey?: string };

/** Run `chio export` with `o`; `connect` opens the NATS connection, once the options are checked. */
export async function runExport(cfg: ChioConfig, o: ExportCommandOptions, connect: () => Promise<NatsConnection>): Promise<void> {
  const filter = toExportFilter(o);
  const exportKey = o.exportKey ? loadKeyFile(o.exportKey, 'the export key') : loadKey(cfg.keyDir, 'export');
  const logKey = loadVerifierKey(join(cfg.keyDir, 'log.pub'));
  // Every trusted kernel key: a bundle spanning a rotation holds receipts signed by each.
  const kernelKeys = loadKernelTrust(cfg.keyDir, 'verifier');
  const nc = await connect();
  const progress = createProgress(process.stderr);
  // Closing NATS fails a read that waits on it: a stopped export does not wait for NATS.
  let closing: Promise<void> | undefined;
  const interrupt = catchInterrupts(() => (closing = nc.close()));
  let failed = false;
  try {
    const { manifest, bytes } = await exportBundle({
      jsm: await jetstreamManager(nc), resources: await ensureResources(nc, cfg.replicas), outDir: o.out, filter, signal: interrupt.signal,
      ...(o.previous ? { previousDir: o.previous } : {}), exportKey, logKey, kernelKeys, progress: (read, total) => progress.update(read, total),
    });
    progress.stop();
    process.stdout.write(`wrote ${o.out}: ${manifest.count} receipts, ${Object.keys(manifest.files).length + 2} files, ${bytes} bytes, checkpoint size ${manifest.checkpoint.size}\n`);
  } catch (err) {
    failed = true;
    const signal = interrupt.received();
    if (signal === undefined) throw err;
    progress.stop();
    process.stderr.write(`chio: export interrupted by ${signal}: nothing was written to ${forTerminal(o.out)}\n`);
    process.exitCode = exitStatusOf(signal);
  } finally {
    interrupt.dispose();
    progress.stop();
    // After a failure NATS may be the thing that failed: its drain must not hide why.
    await (closing ?? drainNats(nc).catch((err: unknown) => {
      if (!failed) throw err;
    }));
  }
}
