/**
 * The explorer's chart of decisions over time: allow and deny per minute, counted in the page
 * from the log's most recent leaves, read as C2SP entry bundles (`GET /tile/entries/<N>[.p/<W>]`,
 * SPEC §7). No endpoint of its own, so the verifier does no work for it beyond serving tiles
 * (full bundles are cached forever by the browser), and what is counted is what the log holds.
 *
 * Bounded: at most CHART_LEAVES leaves (CHART_LEAVES / 256 bundles, each at most 256 receipts of
 * at most 16 KiB), and at most CHART_MINUTES minutes, the latest ones. The counts are what the
 * entries say: the bundles are not checked against the checkpoint, so the chart is a view, not
 * a proof (a receipt is proven by its own inclusion proof).
 *
 * Counted as answered (answer.ts): a shadow-mode receipt as allow, whatever it would have been
 * (its would-be denies are counted apart, `shadowDeny`), and a correction (SPEC §5) replaces
 * the receipt it corrects when both are in the window: the answer given was the correction's.
 */
import { entriesPath, TILE_HEIGHT } from '../tlog/index.js';
import { answeredVerdict, type AnsweredVerdict } from './answer.js';

/** Leaves the chart reads, from the latest published one back: four entry bundles. */
export const CHART_LEAVES = 1024;
/** Minutes the chart shows at most, up to the latest one with a decision. */
export const CHART_MINUTES = 60;

const BUNDLE_WIDTH = 2 ** TILE_HEIGHT;
const MINUTE_MS = 60_000;
/** RFC 3339 UTC as receipts write it; the first 16 characters name the minute. */
const RECEIPT_TIME = /^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?Z$/;

export interface BundleToRead {
  /** Path under the verifier's root, relative (`tile/entries/001.p/17`), so the page fetches it under any prefix. */
  path: string;
  /** Entries it holds. */
  width: number;
  /** The first leaf the chart counts from this bundle (entries before it are outside the window). */
  skip: number;
}

export interface MinuteCount {
  /** `YYYY-MM-DDTHH:MM`, UTC. */
  minute: string;
  /** Checks answered allow, shadow-mode ones among them. */
  allow: number;
  deny: number;
  /** Of the allows, those a shadow-mode receipt records as a would-be deny. */
  shadowDeny: number;
}

export interface DecisionCounts {
  minutes: MinuteCount[];
  /** Leaves read. */
  leaves: number;
  /** Entries that were not receipts with a time and a verdict (a healthy log has none). */
  unreadable: number;
}

/** The entry bundles that hold the last `min(treeSize, maxLeaves)` leaves of a tree of `treeSize`. */
export function bundlesForRecentLeaves(treeSize: number, maxLeaves: number = CHART_LEAVES): BundleToRead[] {
  if (!Number.isSafeInteger(treeSize) || treeSize <= 0) return [];
  const first = Math.max(0, treeSize - maxLeaves);
  const bundles: BundleToRead[] = [];
  for (let n = Math.floor(first / BUNDLE_WIDTH); n * BUNDLE_WIDTH < treeSize; n++) {
    const width = Math.min(BUNDLE_WIDTH, treeSize - n * BUNDLE_WIDTH);
    bundles.push({ path: entriesPath(n, width), width, skip: Math.max(0, first - n * BUNDLE_WIDTH) });
  }
  return bundles;
}

interface Counted {
  minute: string;
  /** The answer given. */
  verdict: AnsweredVerdict;
  shadowDeny: boolean;
}

/** Allow/deny per minute of `entries` (receipt bytes, attacker-controlled), the latest CHART_MINUTES minutes. */
export function countDecisions(entries: readonly Uint8Array[]): DecisionCounts {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const byId = new Map<string, Counted>();
  let unreadable = 0;
  for (const entry of entries) {
    const read = readEntry(decoder, entry);
    if (!read) {
      unreadable++;
      continue;
    }
    if (read.corrects !== undefined) byId.delete(read.corrects);
    byId.set(read.id, read.counted);
  }
  const perMinute = new Map<string, MinuteCount>();
  for (const { minute, verdict, shadowDeny } of byId.values()) {
    const count = perMinute.get(minute) ?? quiet(minute);
    count[verdict]++;
    if (shadowDeny) count.shadowDeny++;
    perMinute.set(minute, count);
  }
  return { minutes: everyMinute(perMinute), leaves: entries.length, unreadable };
}

/**
 * One count per minute from the first counted minute to the last, quiet minutes as zeros, at
 * most the last CHART_MINUTES: a time axis. Minutes before the first are not shown as quiet:
 * they may have decisions older than the leaves read.
 */
function everyMinute(perMinute: ReadonlyMap<string, MinuteCount>): MinuteCount[] {
  const sorted = [...perMinute.keys()].sort();
  if (sorted.length === 0) return [];
  const first = Date.parse(`${sorted[0]!}:00Z`);
  const last = Date.parse(`${sorted[sorted.length - 1]!}:00Z`);
  const minutes: MinuteCount[] = [];
  for (let at = last; at >= first && minutes.length < CHART_MINUTES; at -= MINUTE_MS) {
    const minute = toMinute(at)!;
    minutes.push(perMinute.get(minute) ?? quiet(minute));
  }
  return minutes.reverse();
}

const quiet = (minute: string): MinuteCount => ({ minute, allow: 0, deny: 0, shadowDeny: 0 });

function readEntry(decoder: TextDecoder, entry: Uint8Array): { id: string; corrects?: string; counted: Counted } | undefined {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(entry));
  } catch {
    return undefined;
  }
  const r = value as { id?: unknown; time?: unknown; corrects?: unknown; decision?: { verdict?: unknown; shadow?: unknown } } | null;
  if (typeof r !== 'object' || r === null || typeof r.id !== 'string' || typeof r.time !== 'string' || !RECEIPT_TIME.test(r.time)) return undefined;
  const verdict = answeredVerdict(r.decision);
  if (verdict === undefined) return undefined;
  const shadowDeny = r.decision!.shadow === true && r.decision!.verdict === 'deny';
  const minute = r.time.slice(0, 16);
  if (toMinute(Date.parse(`${minute}:00Z`)) !== minute) return undefined; // not a calendar date
  return { id: r.id, ...(typeof r.corrects === 'string' ? { corrects: r.corrects } : {}), counted: { minute, verdict, shadowDeny } };
}

function toMinute(ms: number): string | undefined {
  return Number.isFinite(ms) ? new Date(ms).toISOString().slice(0, 16) : undefined;
}
