/**
 * How many log lines the services wrote over a stretch of time, by kind: for the suites that
 * hold a fault for seconds (nats-dies, store-full) and check that the log stays readable
 * meanwhile, instead of a line per denied Check.
 */

/** A pino JSON line, as far as these counts read it. */
export interface TimedLogLine {
  time: number;
  level: number;
  msg: string;
  chain?: string;
  err?: string;
}

export interface KindCount {
  /** The message, with a throttled summary's "… and N more" left off, and its chain when it has one. */
  kind: string;
  lines: number;
  perSecond: number;
}

export interface LogRates {
  seconds: number;
  /** Warning lines (pino level 40) in the stretch, and per second. */
  warnings: number;
  warningsPerSecond: number;
  /** Warning lines by kind, most first. */
  byKind: KindCount[];
}

/** A throttled summary line repeats its kind's message and adds how many were left out (src/log-throttle.ts). */
const SUMMARY = / … and \d+ more in the last [\d.]+ s$/;

export function kindOf(line: TimedLogLine): string {
  const msg = line.msg.replace(SUMMARY, '');
  return line.chain === undefined ? msg : `${msg} [chain ${line.chain}]`;
}

/** The warning lines written in [from, to) (ms since epoch), counted by kind. */
export function logRates(lines: readonly TimedLogLine[], from: number, to: number): LogRates {
  const seconds = Math.max(0.001, (to - from) / 1000);
  const warnings = lines.filter((l) => l.level === 40 && l.time >= from && l.time < to);
  const counts = new Map<string, number>();
  for (const l of warnings) counts.set(kindOf(l), (counts.get(kindOf(l)) ?? 0) + 1);
  const byKind = [...counts].map(([kind, n]) => ({ kind, lines: n, perSecond: n / seconds })).sort((a, b) => b.lines - a.lines);
  return { seconds, warnings: warnings.length, warningsPerSecond: warnings.length / seconds, byKind };
}

/** One line for a test's report: the rate, and the kinds with their counts. */
export function describeRates(rates: LogRates): string {
  const kinds = rates.byKind.map((k) => `${k.lines}× ${JSON.stringify(k.kind)}`).join(', ');
  return `${rates.warnings} warning lines in ${rates.seconds.toFixed(1)} s (${rates.warningsPerSecond.toFixed(1)}/s): ${kinds || 'none'}`;
}

/**
 * The kinds logged more often than a throttled warning may be (src/log-throttle.ts): once at
 * first, once more for each new error text, and one summary a second. `extra` covers the first
 * and the new texts; a kind logged once per Check or per message is far past it within seconds.
 */
export function unboundedKinds(rates: LogRates, perSecond = 2, extra = 5): KindCount[] {
  return rates.byKind.filter((k) => k.lines > perSecond * rates.seconds + extra);
}
