/** Tar-level tricks on a bundle posted to POST /v1/verify: each name once, plain files, bundle names only. */
import { describe, expect, it } from 'vitest';
import { pack } from 'tar-stream';
import { readBundleTar } from '../../../src/verifier/bundle-tar.js';
import { reportBundle } from '../../../src/verify/bundle-report.js';
import { bundleOf, chain, exportKey, logKey } from './bundle.js';

async function tarOf(entries: { name: string; bytes?: Uint8Array; type?: string; linkname?: string; pax?: Record<string, string> }[]): Promise<Uint8Array> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: unknown) => chunks.push(c as Buffer));
  for (const e of entries) {
    await new Promise<void>((res, rej) => p.entry({ name: e.name, type: (e.type ?? 'file') as 'file', ...(e.linkname ? { linkname: e.linkname } : {}), ...(e.pax ? { pax: e.pax } : {}), ...(e.bytes ? { size: e.bytes.length } : {}) }, e.bytes ? Buffer.from(e.bytes) : '', (err) => (err ? rej(err) : res())));
  }
  p.finalize();
  await new Promise<void>((r) => p.on('end', () => r()));
  return Buffer.concat(chunks);
}
const trust = { exportKey: exportKey.verifierKey, logKey: logKey.verifierKey };

describe('tar tricks', async () => {
  const b = await bundleOf(chain(4));
  const base = [{ name: 'manifest.json', bytes: b.manifest }, { name: 'manifest.sig', bytes: new TextEncoder().encode(b.sig) }, ...Object.entries(b.files).map(([name, bytes]) => ({ name, bytes }))];
  const run = async (entries: Parameters<typeof tarOf>[0]) => {
    try {
      const a = await readBundleTar(await tarOf(entries));
      const r = await reportBundle(a, trust);
      return r.ok ? 'ok' : `fail ${r.checks.find((c) => c.status === 'fails')?.message}`;
    } catch (e) {
      return `throw ${(e as Error).message}`;
    }
  };
  it('cases', async () => {
    const out: Record<string, string> = {};
    out.honest = await run(base);
    out.dotslash = await run(base.map((e) => ({ ...e, name: `./${e.name}` })));
    out.dupDot = await run([...base, { name: './receipts.jsonl', bytes: new Uint8Array() }]);
    out.dupDotFirst = await run([{ name: './receipts.jsonl', bytes: new Uint8Array() }, ...base]);
    out.doubleSlash = await run(base.map((e) => ({ ...e, name: e.name.replace('policies/', 'policies//') })));
    out.dotdot = await run([...base, { name: 'policies/../x', bytes: new Uint8Array() }]);
    out.symlink = await run([...base.filter((e) => e.name !== 'checkpoint'), { name: 'checkpoint', type: 'symlink', linkname: '/etc/passwd' }]);
    out.paxPath = await run([...base.filter((e) => e.name !== 'checkpoint'), { name: 'innocent', bytes: base.find((e) => e.name === 'checkpoint')!.bytes, pax: { path: 'checkpoint' } }]);
    out.paxDup = await run([...base, { name: 'innocent', bytes: new Uint8Array(), pax: { path: './manifest.json' } }]);
    out.longName = await run([...base, { name: `policies/${'a'.repeat(300)}.json`, bytes: new Uint8Array() }]);
    out.trailingSlashFile = await run(base.map((e) => ({ ...e, name: e.name === 'checkpoint' ? 'checkpoint/' : e.name })));
    expect(out).toMatchObject({ honest: 'ok', dotslash: 'ok', paxPath: 'ok' });
    // A file named checkpoint/ is extracted by GNU tar as a folder (bundle-tar-differential.test.ts).
    for (const k of ['dupDot', 'dupDotFirst', 'doubleSlash', 'dotdot', 'symlink', 'paxDup', 'longName', 'trailingSlashFile']) expect(out[k]).toMatch(/^fail /);
  });
});
