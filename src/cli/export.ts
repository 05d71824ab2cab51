/**
 * `chio export` options → an export filter, checked once (SPEC §9): times are RFC 3339 (or
 * any date Date.parse reads, stored as RFC 3339 UTC), the verdict is allow or deny, the host is
 * normalised the way receipts record it.
 */
import { InvalidArgumentError } from 'commander';
import { ChioError, isChioError } from '../errors/index.js';
import { normalizeHost } from '../decision/host.js';
import type { ExportFilter } from '../verify/export-format.js';

export interface ExportFilterOptions {
  since?: string;
  until?: string;
  verdict?: string;
  host?: string;
}

export function parseInstant(text: string): string {
  // Attacker-controlled only in the sense of a typo: refuse what is not a date.
  const ms = /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : NaN;
  if (Number.isNaN(ms)) throw new InvalidArgumentError('a time like 2026-05-01 or 2026-05-01T12:00:00Z');
  return new Date(ms).toISOString();
}

export function parseVerdict(text: string): 'allow' | 'deny' {
  if (text !== 'allow' && text !== 'deny') throw new InvalidArgumentError('allow or deny');
  return text;
}

export function parseHost(text: string): string {
  try {
    return normalizeHost(text);
  } catch (err) {
    if (isChioError(err)) throw new InvalidArgumentError(`not a host name: ${err.message}`);
    throw err;
  }
}

/** The filter of the given options; since MUST come before until. */
export function toExportFilter(o: ExportFilterOptions): ExportFilter {
  if (o.since !== undefined && o.until !== undefined && o.since >= o.until) throw new ChioError('CONFIG_INVALID', '--since must be before --until');
  return {
    ...(o.since !== undefined ? { since: o.since } : {}),
    ...(o.until !== undefined ? { until: o.until } : {}),
    ...(o.verdict !== undefined ? { verdict: o.verdict as 'allow' | 'deny' } : {}),
    ...(o.host !== undefined ? { host: o.host } : {}),
  };
}
