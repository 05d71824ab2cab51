/**
 * Running the `chio` command as installed: the real bin/chio.js in its own process, its dist/
 * imports loaded from src/ (bin-from-src.mjs), so no `npm run build` is needed.
 */
import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

export const REPO = resolve(import.meta.dirname, '../..');

export interface Run {
  exit: number;
  stdout: string;
  stderr: string;
}

/** Run `chio ARGS` in the repository root, without the caller's NATS_URL. */
export function runChio(args: string[], env: Record<string, string>): Promise<Run> {
  const fromSrc = pathToFileURL(join(REPO, 'test/unit/surface/bin-from-src.mjs')).href;
  const nodeArgs = ['--import', 'tsx', '--import', `data:text/javascript,import{register}from"node:module";register(${JSON.stringify(fromSrc)})`, join(REPO, 'bin/chio.js'), ...args];
  const { NATS_URL: _ignored, ...inherited } = process.env;
  return new Promise((done) => {
    execFile(process.execPath, nodeArgs, { cwd: REPO, env: { ...inherited, ...env } }, (err, stdout, stderr) => {
      done({ exit: err ? Number((err as { code?: unknown }).code) : 0, stdout, stderr });
    });
  });
}
