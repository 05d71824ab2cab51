import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { claimLedgerHolder, ledgerHolderFile } from '../../src/up-ledger-holder.js';
import { tempDir } from '../support/nats.js';

/** The pid of a process that has ended (and been reaped). */
function endedPid(): number {
  const { pid } = spawnSync(process.execPath, ['-e', '']);
  return pid!;
}

function noted(dataDir: string): unknown {
  return JSON.parse(readFileSync(ledgerHolderFile(dataDir), 'utf8'));
}

describe('claimLedgerHolder', () => {
  it('names no former id on a first start, and notes its own with its pid', () => {
    const dataDir = join(tempDir('chio-holder-'), 'not-yet-made');
    const claim = claimLedgerHolder(dataDir, undefined);
    expect(claim.formerHolder).toBeUndefined();
    expect(noted(dataDir)).toEqual({ holder: claim.holder, pid: process.pid });
  });

  describe('when an earlier chio up noted its id', () => {
    it('names it as the former id once that process has ended, and gets a new id of its own', () => {
      const dataDir = tempDir('chio-holder-');
      writeFileSync(ledgerHolderFile(dataDir), JSON.stringify({ holder: 'host-1-abc', pid: endedPid() }));
      const claim = claimLedgerHolder(dataDir, undefined);
      expect(claim.formerHolder).toBe('host-1-abc');
      expect(claim.holder).not.toBe('host-1-abc');
      expect(noted(dataDir)).toEqual({ holder: claim.holder, pid: process.pid });
    });

    it('names it when the noted pid is this process\'s own: a container restarted runs chio up under the same pid (1 as its entrypoint)', () => {
      const dataDir = tempDir('chio-holder-');
      writeFileSync(ledgerHolderFile(dataDir), JSON.stringify({ holder: 'host-1-abc', pid: process.pid }));
      expect(claimLedgerHolder(dataDir, undefined).formerHolder).toBe('host-1-abc');
    });

    it('names none while that process still runs: a second chio up is a stranger to the lease', () => {
      const dataDir = tempDir('chio-holder-');
      writeFileSync(ledgerHolderFile(dataDir), JSON.stringify({ holder: 'host-1-abc', pid: process.ppid }));
      expect(claimLedgerHolder(dataDir, undefined).formerHolder).toBeUndefined();
    });
  });

  it('takes CHIO_LEDGER_ID as its id when one is set', () => {
    const dataDir = tempDir('chio-holder-');
    expect(claimLedgerHolder(dataDir, 'ledger-0').holder).toBe('ledger-0');
    expect(noted(dataDir)).toEqual({ holder: 'ledger-0', pid: process.pid });
  });

  it.each([
    ['not JSON', 'holder=x'],
    ['no pid', JSON.stringify({ holder: 'host-1-abc' })],
    ['an id no lease has', JSON.stringify({ holder: 'a b', pid: endedPid() })],
    ['a pid that is no number', JSON.stringify({ holder: 'host-1-abc', pid: '1' })],
    ['too large to be a note', JSON.stringify({ holder: 'host-1-abc', pid: endedPid(), pad: 'x'.repeat(2000) })],
  ])('ignores a note with %s', (_what, text) => {
    const dataDir = tempDir('chio-holder-');
    writeFileSync(ledgerHolderFile(dataDir), text);
    expect(claimLedgerHolder(dataDir, undefined).formerHolder).toBeUndefined();
  });
});
