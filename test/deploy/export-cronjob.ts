/** deploy/export/cronjob.yaml, parsed: its documents, the Job's pod and the script it runs. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT } from '../support/chio.js';

export const CRONJOB_FILE = join(REPO_ROOT, 'deploy/export/cronjob.yaml');
export const docs = parseAllDocuments(readFileSync(CRONJOB_FILE, 'utf8')).map((d) => d.toJS() as any);
export const cronJob = docs.find((d) => d.kind === 'CronJob');
export const claim = docs.find((d) => d.kind === 'PersistentVolumeClaim');
export const pod = cronJob.spec.jobTemplate.spec.template.spec;
export const container = pod.containers[0];
/** The script the container runs. */
export const exportScript = (): string => container.args[0] as string;

