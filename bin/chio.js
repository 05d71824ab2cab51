#!/usr/bin/env node
// Entry point for the `chio` command: the compiled CLI lives in dist/ (built by `npm ci` via `prepare`).
// A ChioError exits with its code's exit status from the one status table (errors/status.ts:
// 2 bad configuration or arguments, 3 something did not verify); anything else exits 1.
import { main } from '../dist/cli/program.js';
import { ChioError, statusOf } from '../dist/errors/index.js';
import { forTerminal } from '../dist/cli/terminal.js';

// Messages may quote what came from elsewhere (a bundle's file names): printed escaped.
main(process.argv).catch((err) => {
  process.stderr.write(`chio: ${forTerminal(err instanceof Error ? err.message : String(err))}\n`);
  process.exit(err instanceof ChioError ? statusOf(err.code).exit : 1);
});
