/**
 * `chio up` killed (SIGKILL, an OOM kill) and started again on the same data directory takes
 * its ledger's writer lease back at once (src/up-ledger-holder.ts), not after the 3 s lease TTL
 * a stranger waits; and a second `chio up` on a data directory whose first still runs never
 * writes: its ledger stands by while the first renews, and writes only once the first is gone.
 *
 * The restart runs as `npm start` does, with its own nats-server in the data directory; the
 * two instances share a test nats-server (NATS_URL), since a second `chio up` starting its own
 * embedded server on a running one's data directory is refused (src/nats/leftover.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestNats, tempDir, type TestNats } from '../support/nats.js';
import { freePort, spawnChio, waitFor, type ChioProcess } from '../support/chio-process.js';

/** What `chio up` logs once its ledger writes: how it took the lease ('free' or 'takeover'). */
interface WriterLine { holder: string; acquired: string; time: number }

const running: ChioProcess[] = [];

async function startUp(dataDir: string, natsUrl?: string): Promise<{ proc: ChioProcess; ledgerPort: number; startedAt: number }> {
  const ledgerPort = await freePort();
  const env: Record<string, string> = {
    CHIO_DATA_DIR: dataDir, CHIO_BIND: '127.0.0.1', CHIO_LOG_LEVEL: 'info', CHIO_LOG_FORMAT: 'json',
    CHIO_GRPC_PORT: String(await freePort()), CHIO_HTTP_PORT: String(await freePort()),
    CHIO_LEDGER_PORT: String(ledgerPort), CHIO_VERIFIER_PORT: String(await freePort()),
    ...(natsUrl ? { NATS_URL: natsUrl } : {}),
  };
  const startedAt = performance.now();
  const proc = spawnChio(['up'], env);
  running.push(proc);
  return { proc, ledgerPort, startedAt };
}

function writerLine(proc: ChioProcess): WriterLine | undefined {
  for (const line of proc.lines) {
    if (!line.includes('"ledger is the writer"')) continue;
    const { holder, acquired, time } = JSON.parse(line) as WriterLine;
    return { holder, acquired, time };
  }
  return undefined;
}

/** When (pino's `time`) the process logged a line with this message. */
function loggedAt(proc: ChioProcess, msg: string): number | undefined {
  const line = proc.lines.find((l) => l.includes(`"msg":"${msg}"`));
  return line === undefined ? undefined : (JSON.parse(line) as { time: number }).time;
}

async function readyReason(ledgerPort: number): Promise<string | undefined> {
  const res = await fetch(`http://127.0.0.1:${ledgerPort}/ready`);
  return ((await res.json()) as { reason?: string }).reason;
}

afterAll(async () => {
  for (const proc of running) await proc.kill();
});

describe('chio up restarted after SIGKILL', () => {
  it('takes its own writer lease back at once, with its embedded nats-server', async () => {
    const dataDir = tempDir('chio-up-restart-');
    const first = await startUp(dataDir);
    const before = await waitFor(() => writerLine(first.proc), 60_000, 'the first chio up to write');
    expect(before.acquired).toBe('free');
    await first.proc.kill('SIGKILL');

    const again = await startUp(dataDir);
    const after = await waitFor(() => writerLine(again.proc), 60_000, 'the restarted chio up to write');
    const natsUp = loggedAt(again.proc, 'started embedded nats-server')!;
    console.log(`restarted chio up: ledger writer ${Math.round(performance.now() - again.startedAt)} ms after the spawn, ${after.time - natsUp} ms after its nats-server started`);
    expect(after.holder).not.toBe(before.holder);
    // 'takeover' is the lease taken from a holder silent for the TTL: the wait this avoids.
    expect(after.acquired).toBe('free');
    await again.proc.kill('SIGTERM');
  });
});

describe('a second chio up on the same data directory', () => {
  let nats: TestNats;
  beforeAll(async () => {
    nats = await startTestNats();
  });
  afterAll(async () => {
    await nats?.cleanup();
  });

  it('stands by while the first runs, and writes only once the first is gone', async () => {
    const dataDir = tempDir('chio-up-second-');
    const first = await startUp(dataDir, nats.current.url);
    await waitFor(() => writerLine(first.proc), 60_000, 'the first chio up to write');

    const second = await startUp(dataDir, nats.current.url);
    expect(await waitFor(() => readyReason(second.ledgerPort), 60_000, "the second chio up's ledger")).toBe('standby');
    // Over two lease TTLs the first renews, and the second never takes the lease.
    await new Promise((r) => setTimeout(r, 6_000));
    expect(writerLine(second.proc)).toBeUndefined();
    expect(await readyReason(second.ledgerPort)).toBe('standby');
    expect(await readyReason(first.ledgerPort)).toBeUndefined();

    await first.proc.kill('SIGKILL');
    const taken = await waitFor(() => writerLine(second.proc), 30_000, 'the second chio up to write after the first is killed');
    expect(taken.acquired).toBe('takeover');
    await second.proc.kill('SIGTERM');
  });
});
