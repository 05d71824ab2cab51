/**
 * The report (report.ts) for a compliance bundle: the `bundle` subject of POST /v1/verify.
 * Each check is one step of `chio verify-export` (export-steps.ts), run in its order by the
 * same code; a bundle check stops at the first failure, as the CLI does, so the checks after
 * it are skipped. A failed check says `where`: the file, and in receipts.jsonl the line, as the
 * verifier's message names them. Pure: the caller reads the files (a tar, a directory).
 *
 *   bundle.archive      only files of a bundle, each a plain file within its bound (the reader)
 *   bundle.manifest     manifest.sig by the export key, manifest.json's form and the keys it names
 *   bundle.files        exactly the files the manifest names
 *   bundle.checkpoint   the checkpoint the manifest names, signed by the log key
 *   bundle.receipts     every line of receipts.jsonl (a correction against the receipt it corrects,
 *                       when the bundle holds that), the line count and the digest; every policy
 *                       hash a receipt names has its file, and no other policy file
 *   bundle.policies     every policy file's digest and the hash its name says
 *   bundle.consistency  consistency.json, when the manifest names a previous tree
 *   bundle.finish       every deciding step ran
 */
import { isChioError, type ChioError } from '../errors/index.js';
import type { ExportTrust, VerifiedExport } from './export-bundle.js';
import { CONSISTENCY_FILE, RECEIPTS_FILE, CHECKPOINT_FILE, isCompleteExport } from './export-format.js';
import { verifyExportBundle, type BundleReader, type BundleStep } from './export-steps.js';
import type { BundleCheckName, BundleSummary, CheckOutcome, VerifyReport } from './report.js';

/** The bundle's files, or why they were refused before any was checked (an entry that is no file of a bundle). */
export type BundleArchive = { reader: BundleReader } | { refused: ChioError; where: string };

type BundleCheck = Exclude<BundleStep, 'previous'>;

const CHECKS: Record<BundleCheck | 'archive', { check: BundleCheckName; holds: string; file?: string }> = {
  archive: { check: 'bundle.archive', holds: 'only files of a bundle, each a plain file within its bound' },
  manifest: { check: 'bundle.manifest', holds: 'manifest.sig verifies with the export key over manifest.json, which is well-formed and names the trusted keys' },
  files: { check: 'bundle.files', holds: 'the bundle holds exactly the files manifest.json names' },
  checkpoint: { check: 'bundle.checkpoint', holds: 'the checkpoint is signed by the log key and is the one manifest.json names', file: CHECKPOINT_FILE },
  receipts: {
    check: 'bundle.receipts',
    holds: 'every line of receipts.jsonl is a receipt that verifies, in leaf order, linked on its chain, included under the checkpoint and within the filter, a correction held to the receipt it corrects when the bundle holds that (bundle.corrections_unchecked counts the others); the line count and digest are manifest.json\'s; every policy hash a receipt names has its file, and every policy file is of one a receipt names',
    file: RECEIPTS_FILE,
  },
  policies: { check: 'bundle.policies', holds: 'every policy file is the one manifest.json names and hashes to the policy hash its name says' },
  consistency: { check: 'bundle.consistency', holds: 'consistency.json proves that the checkpoint\'s tree extends the previous tree manifest.json names', file: CONSISTENCY_FILE },
  finish: { check: 'bundle.finish', holds: 'every check that decides the verdict ran' },
};
const ORDER: readonly BundleCheckName[] = Object.values(CHECKS).map((c) => c.check);

/** The file (and line) a failure's message starts with, as ExportBundleVerifier writes it. */
const WHERE = /^(manifest\.json|manifest\.sig|checkpoint|receipts\.jsonl|consistency\.json|policies\/[0-9a-f]{64}\.json)( line \d+)?(?:, receipt [0-9a-f]{64})?: /;

function whereOf(err: ChioError, fallback: string | undefined): string | undefined {
  const m = WHERE.exec(err.message);
  return m ? `${m[1]}${m[2] ?? ''}` : fallback;
}

/**
 * Check the bundle with `trust` (the export key, and the log key the manifest must name), step
 * by step; never throws for what the bundle holds. `ok` only when every step ran and held.
 */
export async function reportBundle(archive: BundleArchive, trust: ExportTrust): Promise<VerifyReport<BundleCheckName>> {
  const outcomes = new Map<BundleCheckName, CheckOutcome<BundleCheckName>>();
  const fails = (check: BundleCheckName, err: ChioError, where: string | undefined) =>
    outcomes.set(check, { check, status: 'fails', code: err.code, message: err.message, ...(where !== undefined ? { where } : {}) });
  let verified: VerifiedExport | undefined;
  if ('refused' in archive) fails('bundle.archive', archive.refused, archive.where);
  else {
    outcomes.set('bundle.archive', { check: 'bundle.archive', status: 'holds', message: CHECKS.archive.holds });
    try {
      verified = await verifyExportBundle(archive.reader, trust, {
        step: async (step, run) => {
          if (step === 'previous') return run();
          const { check, holds, file } = CHECKS[step];
          try {
            const value = await run();
            outcomes.set(check, { check, status: 'holds', message: holds });
            return value;
          } catch (err) {
            if (isChioError(err)) fails(check, err, whereOf(err, file));
            throw err;
          }
        },
      });
    } catch (err) {
      if (!isChioError(err)) throw err;
    }
  }
  let failed = false;
  const checks = ORDER.map((check): CheckOutcome<BundleCheckName> => {
    const outcome = outcomes.get(check);
    failed ||= outcome?.status === 'fails';
    // Only consistency is left out of a run with no failure before it: the manifest names no previous tree.
    return outcome ?? { check, status: 'skipped', message: failed ? 'an earlier check failed' : 'no previous tree: manifest.json names none' };
  });
  return { ok: verified !== undefined, subject: 'bundle', ...(verified ? { bundle: summaryOf(verified) } : {}), checks };
}

function summaryOf(v: VerifiedExport): BundleSummary {
  const m = v.manifest;
  return {
    receipts: v.receipts,
    corrections: v.corrections,
    corrections_unchecked: v.uncheckedCorrections,
    policies: v.policies,
    checkpoint: { origin: m.checkpoint.origin, size: m.checkpoint.size, root: m.checkpoint.root },
    ...(m.previous ? { previous: { size: m.previous.size, root: m.previous.root } } : {}),
    filter: m.filter,
    complete: isCompleteExport(m.filter),
    signed_by: m.keys.export.split('+')[0]!,
  };
}
