/** Adversarial: any change to a bundle's bytes, lines or files makes it fail to verify. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { bundleOf, chain, verifyBundle, type Bundle } from './bundle.js';

const enc = new TextEncoder();
const dec = new TextDecoder();
const clone = (b: Bundle): Bundle => ({ manifest: b.manifest.slice(), sig: b.sig, files: Object.fromEntries(Object.entries(b.files).map(([k, v]) => [k, v.slice()])) });
const fails = (b: Bundle) => {
  try {
    verifyBundle(b);
    return false;
  } catch {
    return true;
  }
};

describe('tampering with a bundle', async () => {
  const log = chain(9);
  const full = await bundleOf(log, { previousSize: 4 });
  const filtered = await bundleOf(log, { indexes: [2, 3, 4], filter: { since: '2025-01-01T00:00:02.000Z', until: '2025-01-01T00:00:05.000Z' } });
  it('honest bundles verify', () => {
    expect(verifyBundle(full)).toMatchObject({ receipts: 9 });
    expect(verifyBundle(filtered)).toMatchObject({ receipts: 3 });
  });

  it('a flipped byte anywhere fails', () => {
    for (const base of [full, filtered]) {
      const names = ['manifest.json', 'manifest.sig', ...Object.keys(base.files)];
      fc.assert(fc.property(fc.constantFrom(...names), fc.nat(), fc.integer({ min: 1, max: 255 }), (name, at, x) => {
        const b = clone(base);
        if (name === 'manifest.json') b.manifest[at % b.manifest.length]! ^= x;
        else if (name === 'manifest.sig') {
          const s = enc.encode(b.sig);
          s[at % s.length]! ^= x;
          b.sig = dec.decode(s);
          if (b.sig === base.sig) return;
        } else b.files[name]![at % b.files[name]!.length]! ^= x;
        expect(fails(b)).toBe(true);
      }), { numRuns: 300 });
    }
  });

  it('reordered, dropped, duplicated or inserted lines fail', () => {
    for (const base of [full, filtered]) {
      const lines = dec.decode(base.files['receipts.jsonl']!).split('\n').slice(0, -1);
      const other = dec.decode(full.files['receipts.jsonl']!).split('\n').slice(0, -1);
      fc.assert(fc.property(fc.array(fc.oneof(fc.nat({ max: lines.length - 1 }).map((i) => lines[i]!), fc.nat({ max: other.length - 1 }).map((i) => other[i]!)), { maxLength: 12 }), (picked) => {
        if (picked.join('\n') === lines.join('\n')) return;
        const b = clone(base);
        b.files['receipts.jsonl'] = enc.encode(picked.map((l) => `${l}\n`).join(''));
        expect(fails(b)).toBe(true);
      }), { numRuns: 300 });
    }
  });
});
