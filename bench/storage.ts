/**
 * Storage per receipt (`npm run bench:storage`): what the log costs in JetStream, for sizing
 * nats-server's file store. `chio up` (against a nats-server started for the run) takes
 * BENCH_CHECKS valid Checks shaped as Istio's sidecar sends them (a SPIFFE source principal,
 * addresses, a traceparent, a capability token, a path with a query); once the ledger has
 * integrated and published every receipt, each stream's bytes (JetStream's own count: what
 * `max_file_store` and stream limits are measured in) are divided by the receipts in the log,
 * and the store directory's size on disk is read too. The baseline row is a receipt's own
 * canonical JSON (the mean of a sample). Prints a table; kept in bench/results/storage.md; no assertions.
 *
 *   npm run bench:storage
 *   BENCH_CHECKS=100000 npm run bench:storage
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connectNats } from '../src/nats/connection.js';
import { demoToken } from '../src/up.js';
import { buildCheckRequest } from '../src/cli/envoy-request.js';
import { splitReceiptMessage } from '../src/store/receipt-message.js';
import { RECEIPTS_STREAM } from '../src/store/resources.js';
import { startChioUp } from './lib/chio-up.js';
import { h2load, writeGrpcBody } from './lib/h2load.js';
import { REPO } from './lib/servers.js';

const CHECKS = Number(process.env.BENCH_CHECKS ?? 20_000);
const GIB = 1024 ** 3;

const up = await startChioUp('storage');
const work = mkdtempSync(join(tmpdir(), 'chio-bench-storage-'));
const nc = await connectNats({ servers: [up.nats.url], name: 'chio-bench-storage' });
try {
  const token = demoToken(up.config);
  const request = buildCheckRequest({
    method: 'GET',
    path: '/tools/orders/1234567?view=full&page=2',
    host: 'orders.shop.svc.cluster.local',
    principal: 'spiffe://cluster.local/ns/shop/sa/frontend',
    headers: {
      'x-chio-capability-token': token,
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      'user-agent': 'Go-http-client/1.1',
    },
  });
  const body = writeGrpcBody(work, 'check', request);
  const run = await h2load({ port: Number(up.grpcAddr.split(':')[1]), body, clients: 4, streams: 8, requests: CHECKS }, work);

  // Every receipt integrated and published: the ledger's lag 0 and its published tree its tree.
  const metric = (text: string, name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  let size = 0;
  for (const until = Date.now() + 120_000; ; ) {
    const text = await (await fetch(`http://127.0.0.1:${up.config.ledgerPort}/metrics`)).text();
    size = metric(text, 'chio_published_tree_size');
    if (metric(text, 'chio_ledger_lag_messages') === 0 && size === metric(text, 'chio_tree_size') && size > 0) break;
    if (Date.now() > until) throw new Error('the ledger did not catch up in 120 s');
    await new Promise((r) => setTimeout(r, 500));
  }

  const jsm = await jetstreamManager(nc);
  const streams: Array<{ name: string; messages: number; bytes: number }> = [];
  for await (const s of jsm.streams.list()) streams.push({ name: s.config.name, messages: s.state.messages, bytes: s.state.bytes });
  streams.sort((a, b) => b.bytes - a.bytes);
  const total = streams.reduce((n, s) => n + s.bytes, 0);
  const onDisk = Number(execFileSync('du', ['-sb', up.nats.storeDir], { encoding: 'utf8' }).split('\t')[0]);
  // A receipt as signed: the mean over every receipt of 200 messages spread over the stream.
  const messages = (await jsm.streams.info(RECEIPTS_STREAM)).state.messages;
  let [receiptTotal, receiptCount] = [0, 0];
  for (let i = 0; i < 200; i++) {
    const msg = await jsm.streams.getMessage(RECEIPTS_STREAM, { seq: 1 + Math.floor((i * messages) / 200) });
    for (const line of msg ? splitReceiptMessage(msg.data) : []) [receiptTotal, receiptCount] = [receiptTotal + line.length, receiptCount + 1];
  }
  const receiptSize = Math.round(receiptTotal / receiptCount);

  const per = (bytes: number) => (bytes / size).toFixed(0);
  const rows: string[][] = [
    ['a receipt\'s canonical JSON (baseline)', '—', '—', String(receiptSize), '1.00'],
    ...streams.map((s) => [s.name, s.messages.toLocaleString('en'), s.bytes.toLocaleString('en'), per(s.bytes), (s.bytes / size / receiptSize).toFixed(2)]),
    ['all streams (JetStream bytes)', '', total.toLocaleString('en'), per(total), (total / size / receiptSize).toFixed(2)],
    ['store directory on disk (du)', '', onDisk.toLocaleString('en'), per(onDisk), (onDisk / size / receiptSize).toFixed(2)],
  ];
  const perReceipt = Math.max(total, onDisk) / size;
  const lines = [
    `Storage per receipt — ${new Date().toISOString()}, ${cpus().length} × ${cpus()[0]?.model.trim()}, ${(totalmem() / GIB).toFixed(0)} GiB, node ${process.version}`,
    `${run.done.toLocaleString('en')} Checks sent (${run.failed} failed), ${size.toLocaleString('en')} receipts in the log (published), one replica`,
    '',
    '| store | messages | bytes | bytes per receipt | × receipt |',
    '|---|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.join(' | ')} |`),
    '',
    `At ${perReceipt.toFixed(0)} bytes per receipt (the larger of the two totals), each replica's file store holds ` +
      `${Math.floor(GIB / perReceipt).toLocaleString('en')} receipts per GiB: ` +
      [100, 1_000].map((rate) => `${((rate * 86_400 * perReceipt) / GIB).toFixed(1)} GiB a day at ${rate.toLocaleString('en')} Checks/s`).join(', ') + '.',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  writeFileSync(join(REPO, 'bench/results/storage.md'), `${lines.join('\n')}\n`);
} finally {
  await nc.close();
  await up.stop();
  rmSync(work, { recursive: true, force: true });
}
