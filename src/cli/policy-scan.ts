/**
 * `chio policy eval --payload FILE` (SPEC §9): the json.kyverno.io ValidatingPolicies of a set
 * against any JSON or YAML document — not only a CheckRequest — each rule reported as passed,
 * failed (with every failing assertion's message), skipped (its match did not hold) or in
 * error, the way `kyverno-json scan` reports them, so that a policy written for kyverno-json
 * can be checked in Chio as it was there. A payload that is a list is scanned item by item, as
 * kyverno-json does. Offline and pure: nothing is stored, no receipt.
 */
import { ChioError } from '../errors/index.js';
import type { PolicySet } from '../policy/policy-set.js';
import type { RuleReport } from '../policy/kyverno/validating-policy.js';
import { forTerminal } from './terminal.js';

/** List payloads: items scanned at most (each one costs a full evaluation budget per policy). */
export const MAX_PAYLOAD_ITEMS = 1000;

export interface ScanResult extends RuleReport {
  policy: string;
  /** The item's index when the payload is a list. */
  item?: number;
}

/** Every rule of every json.kyverno.io ValidatingPolicy in `policies` against `payload`. */
export function scanPayload(policies: PolicySet, payload: unknown, where: string): ScanResult[] {
  if (policies.validating.length === 0) throw new ChioError('CONFIG_INVALID', 'no json.kyverno.io/v1alpha1 ValidatingPolicy in the policy set: --payload scans only those');
  const items = Array.isArray(payload) ? payload : [payload];
  if (items.length > MAX_PAYLOAD_ITEMS) throw new ChioError('CONFIG_INVALID', `${where}: more than ${MAX_PAYLOAD_ITEMS} items`);
  return items.flatMap((item, i) =>
    policies.validating.flatMap((policy) => policy.report(item).map((r): ScanResult => ({ policy: policy.name, ...(Array.isArray(payload) ? { item: i } : {}), ...r }))));
}

const LABELS: Record<RuleReport['result'], string> = { pass: 'PASSED', fail: 'FAILED', skip: 'SKIPPED (match not satisfied)', error: 'ERROR' };

export function formatScan(results: ScanResult[]): string {
  const lines: string[] = [];
  for (const r of results) {
    lines.push(`- ${r.policy} / ${r.rule} /${r.item === undefined ? '' : ` item ${r.item} /`} ${LABELS[r.result]}`);
    for (const v of r.violations) {
      lines.push(`    ${v.message}`);
      for (const f of v.failures) lines.push(`      ${f.path}: ${f.reason}`);
    }
  }
  const count = (result: RuleReport['result']) => results.filter((r) => r.result === result).length;
  lines.push(`${count('pass')} passed, ${count('fail')} failed, ${count('skip')} skipped, ${count('error')} in error`);
  // What the policies and the payload said, escaped line by line (terminal.ts).
  return lines.map(forTerminal).join('\n');
}
