/**
 * Builds the explorer page (SPEC §7, `GET /`) into dist/explorer/: index.html, explorer.css,
 * favicon.svg and explorer.js, the page's script bundled with the portable verify code (src/verify, src/tlog,
 * src/receipt and @noble) into one ES module for browsers. `npm run build` runs it after tsc;
 * the verifier serves these three files (src/verifier/explorer-route.ts).
 *
 * Why a bundle (esbuild) rather than dist/'s modules under an import map: the page then makes
 * one request for its code instead of ~25, @noble's package exports need no hand-kept map,
 * and `platform: 'browser'` refuses any node: import that creeps into the graph, at build time.
 */
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(import.meta.dirname, '..');
/** Where the verifier looks for the page (src/verifier/explorer-route.ts). */
export const EXPLORER_OUT_DIR = join(ROOT, 'dist/explorer');

/** Build the page into `outDir`; returns the bundle's size in bytes. */
export async function buildExplorer(outDir: string = EXPLORER_OUT_DIR): Promise<number> {
  mkdirSync(outDir, { recursive: true });
  const result = await build({
    entryPoints: [join(ROOT, 'src/explorer/page.ts')],
    outfile: join(outDir, 'explorer.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    legalComments: 'eof',
    metafile: true,
    logLevel: 'warning',
  });
  for (const file of ['index.html', 'explorer.css', 'favicon.svg']) copyFileSync(join(ROOT, 'src/explorer', file), join(outDir, file));
  return Object.values(result.metafile.outputs).reduce((sum, o) => sum + o.bytes, 0);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const bytes = await buildExplorer();
  console.log(`explorer: ${EXPLORER_OUT_DIR} (explorer.js ${bytes} bytes)`);
}
