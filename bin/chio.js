#!/usr/bin/env node
// Entry point for the `chio` command: the compiled CLI lives in dist/ (built by `npm ci` via `prepare`).
import { main } from '../dist/cli/program.js';

main(process.argv).catch((err) => {
  process.stderr.write(`chio: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
