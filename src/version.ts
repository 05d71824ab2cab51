/**
 * Chio's version: package.json's, found as the package's own export `chio/package.json`, so the
 * same file from src/ (tests, tsx) and dist/ (installed), wherever the command is run from (a
 * path read relative to the working directory would find the user's package.json). Read with
 * require(): an import of JSON makes Node 20 print an ExperimentalWarning on every run.
 */
import { createRequire } from 'node:module';

export const CHIO_VERSION: string = (createRequire(import.meta.url)('chio/package.json') as { version: string }).version;
