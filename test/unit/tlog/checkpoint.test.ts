import { describe, expect, it } from 'vitest';
import { toBase64 } from '../../../src/encoding.js';
import {
  type Checkpoint,
  MAX_TREE_SIZE,
  emptyHash,
  formatCheckpoint,
  generateSignerKey,
  openCheckpoint,
  openNote,
  parseCheckpoint,
  parseSignerKey,
  parseVerifierKey,
  signCheckpoint,
  signNote,
} from '../../../src/tlog/index.js';
import { expectCode, thrownCode } from './helpers.js';

/** The C2SP tlog-checkpoint example. */
const C2SP_BODY = 'example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n';
const C2SP_NOTE = `${C2SP_BODY}\n\u2014 example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n`;

const ORIGIN = 'chio.local/receipts';
const seeded = (name: string, byte: number) => generateSignerKey(name, () => new Uint8Array(32).fill(byte));
const LOG = seeded(ORIGIN, 1);
const CP: Checkpoint = { origin: ORIGIN, size: 5, root: emptyHash() };

describe('formatCheckpoint', () => {
  describe('when formatting a tree head', () => {
    it('writes origin, decimal size and base64 root, one per line', () => {
      expect(formatCheckpoint(CP)).toBe(`${ORIGIN}\n5\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n`);
      expect(formatCheckpoint({ ...CP, size: 0, extensions: ['ext one', 'two'] })).toBe(`${ORIGIN}\n0\n${toBase64(emptyHash())}\next one\ntwo\n`);
    });
  });

  describe('when a value cannot be carried', () => {
    it('throws MALFORMED', () => {
      expectCode(() => formatCheckpoint({ ...CP, origin: '' }), 'MALFORMED');
      expectCode(() => formatCheckpoint({ ...CP, origin: 'a\nb' }), 'MALFORMED');
      expectCode(() => formatCheckpoint({ ...CP, size: -1 }), 'MALFORMED');
      expectCode(() => formatCheckpoint({ ...CP, size: 1.5 }), 'MALFORMED');
      expectCode(() => formatCheckpoint({ ...CP, size: MAX_TREE_SIZE + 1 }), 'MALFORMED');
      expectCode(() => formatCheckpoint({ ...CP, root: new Uint8Array(31) }), 'MALFORMED');
      expectCode(() => formatCheckpoint({ ...CP, extensions: [''] }), 'MALFORMED');
    });
  });
});

describe('parseCheckpoint', () => {
  describe('when given the C2SP example', () => {
    it('parses origin, size and root', () => {
      const cp = parseCheckpoint(C2SP_BODY);
      expect(cp).toMatchObject({ origin: 'example.com/behind-the-sofa', size: 20852163, extensions: [] });
      expect(toBase64(cp.root)).toBe('CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=');
    });

    it('is signed by a key this verifier does not know', () => {
      expect(thrownCode(() => openNote(C2SP_NOTE, [parseVerifierKey(LOG.verifierKey)]))).toBe('UNTRUSTED_KEY');
    });
  });

  describe('when round-tripping formatCheckpoint', () => {
    it('returns the same checkpoint, extensions kept', () => {
      const cp = { ...CP, size: MAX_TREE_SIZE, extensions: ['x', 'y z'] };
      expect(parseCheckpoint(formatCheckpoint(cp))).toEqual(cp);
    });
  });

  describe('when the text is not a strict checkpoint', () => {
    const root = toBase64(emptyHash());
    it.each([
      ['no final newline', `o\n1\n${root}`],
      ['two lines', `o\n1\n`],
      ['an empty origin', `\n1\n${root}\n`],
      ['a leading zero', `o\n01\n${root}\n`],
      ['a sign', `o\n+1\n${root}\n`],
      ['a negative size', `o\n-1\n${root}\n`],
      ['a fraction', `o\n1.0\n${root}\n`],
      ['a space', `o\n 1\n${root}\n`],
      ['an empty size', `o\n\n${root}\n`],
      ['a size above 2^52', `o\n${MAX_TREE_SIZE + 1}\n${root}\n`],
      ['a huge size', `o\n${'9'.repeat(30)}\n${root}\n`],
      ['a short root', `o\n1\n${toBase64(new Uint8Array(31))}\n`],
      ['unpadded base64', `o\n1\n${root.slice(0, -1)}\n`],
      ['base64url', `o\n1\n${root.replace(/\+/g, '-').replace(/\//g, '_')}\n`],
      ['an empty extension line', `o\n1\n${root}\n\n`],
      ['a control character', `o\x01\n1\n${root}\n`],
    ])('throws MALFORMED for %s', (_, text) => {
      expectCode(() => parseCheckpoint(text), 'MALFORMED');
    });
  });
});

describe('signCheckpoint / openCheckpoint', () => {
  describe('when the log signs and a client opens', () => {
    it('round-trips with key strings or parsed keys', () => {
      const note = signCheckpoint(CP, LOG.signerKey);
      expect(note.startsWith(`${formatCheckpoint(CP)}\n\u2014 ${ORIGIN} `)).toBe(true);
      expect(signCheckpoint(CP, parseSignerKey(LOG.signerKey))).toBe(note);
      expect(openCheckpoint(note, LOG.verifierKey)).toEqual({ ...CP, extensions: [] });
      expect(openCheckpoint(new TextEncoder().encode(note), parseVerifierKey(LOG.verifierKey)).size).toBe(5);
    });

    it('ignores a witness cosignature by another key', () => {
      const witness = seeded('witness.example', 2);
      const note = signCheckpoint(CP, LOG.signerKey);
      const cosigned = `${note}${sigLine(formatCheckpoint(CP), witness.signerKey)}`;
      expect(openCheckpoint(cosigned, LOG.verifierKey).root).toEqual(CP.root);
    });
  });

  describe('when the key does not match the origin', () => {
    it('refuses to sign (KEY_INVALID) and to open (NOTE_INVALID)', () => {
      const other = seeded('other.example', 3);
      expectCode(() => signCheckpoint(CP, other.signerKey), 'KEY_INVALID');
      const forged = signCheckpoint({ ...CP, origin: 'other.example' }, other.signerKey).replace('other.example\n5', `${ORIGIN}\n5`);
      expectCode(() => openCheckpoint(forged, other.verifierKey), 'SIGNATURE_INVALID');
      const mislabelled = signNote(formatCheckpoint(CP), [parseSignerKey(other.signerKey)]);
      expectCode(() => openCheckpoint(mislabelled, parseVerifierKey(other.verifierKey)), 'NOTE_INVALID');
    });
  });

  describe('when the checkpoint is signed by another key or tampered with', () => {
    it('throws UNTRUSTED_KEY or SIGNATURE_INVALID', () => {
      const stranger = seeded(ORIGIN, 4);
      expectCode(() => openCheckpoint(signCheckpoint(CP, stranger.signerKey), LOG.verifierKey), 'UNTRUSTED_KEY');
      const note = signCheckpoint(CP, LOG.signerKey);
      expectCode(() => openCheckpoint(note.replace('\n5\n', '\n6\n'), LOG.verifierKey), 'SIGNATURE_INVALID');
    });

    it('rejects every single-bit change of every byte', () => {
      const bytes = new TextEncoder().encode(signCheckpoint(CP, LOG.signerKey));
      for (let i = 0; i < bytes.length; i++) {
        for (const bit of [0x01, 0x80]) {
          const changed = bytes.slice();
          changed[i]! ^= bit;
          expect(['MALFORMED', 'SIGNATURE_INVALID', 'UNTRUSTED_KEY']).toContain(thrownCode(() => openCheckpoint(changed, LOG.verifierKey)));
        }
      }
    });
  });

  describe('when the signed body is not a checkpoint', () => {
    it('throws MALFORMED', () => {
      const body = `${ORIGIN}\nnot a size\n${toBase64(emptyHash())}\n`;
      expectCode(() => openCheckpoint(`${body}\n${sigLine(body, LOG.signerKey)}`, LOG.verifierKey), 'MALFORMED');
    });
  });
});

/** One signature line by `signerKey` over `text`. */
function sigLine(text: string, signerKey: string): string {
  return signNote(text, [parseSignerKey(signerKey)]).slice(text.length + 1);
}
