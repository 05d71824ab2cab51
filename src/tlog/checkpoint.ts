/**
 * Checkpoints (C2SP tlog-checkpoint): a log's signed tree head, as the text of a signed note.
 *
 *   <origin>\n            non-empty; the log's identity, also the name of its signing key
 *   <tree size>\n         decimal, no leading zeros ("0" for the empty tree)
 *   <base64 root hash>\n  RFC 6962 root of the tree at that size, 32 bytes
 *   [<extension line>\n]… optional, opaque, non-empty
 *
 * For example (C2SP):
 *
 *   example.com/behind-the-sofa
 *   20852163
 *   CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=
 *
 *   — example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=
 *
 * Chio (SPEC §6) signs with one Ed25519 key whose name is the origin, and checks that on open.
 */
import { ChioError } from '../errors/index.js';
import { fromBase64, toBase64 } from '../encoding.js';
import { MAX_TREE_SIZE, isIndex } from './bits.js';
import { type Hash, isHash } from './hash.js';
import { type NoteSigner, type NoteVerifier, MAX_NOTE_SIZE, openNote, parseSignerKey, parseVerifierKey, signNote } from './note.js';

/** A tree head: origin, size, root hash, and any extension lines (without newlines). */
export interface Checkpoint {
  origin: string;
  size: number;
  root: Hash;
  extensions?: string[];
}

const SIZE = /^(?:0|[1-9][0-9]{0,15})$/;
const CONTROL = /[\x00-\x1f]|\p{Cs}/u; // within a line: no newline, control character or lone surrogate

/** The note text of a checkpoint; throws ChioError('MALFORMED') for values it cannot carry. */
export function formatCheckpoint(cp: Checkpoint): string {
  const extensions = cp.extensions ?? [];
  if (typeof cp.origin !== 'string' || cp.origin === '' || CONTROL.test(cp.origin)) throw new ChioError('MALFORMED', 'invalid checkpoint origin');
  if (!isIndex(cp.size)) throw new ChioError('MALFORMED', 'invalid checkpoint tree size');
  if (!isHash(cp.root)) throw new ChioError('MALFORMED', 'checkpoint root must be 32 bytes');
  if (extensions.some((e) => typeof e !== 'string' || e === '' || CONTROL.test(e))) throw new ChioError('MALFORMED', 'invalid checkpoint extension line');
  return [cp.origin, String(cp.size), toBase64(cp.root), ...extensions].map((line) => `${line}\n`).join('');
}

/** Parse checkpoint note text strictly; throws ChioError('MALFORMED'). */
export function parseCheckpoint(text: string): Checkpoint {
  // Attacker-controlled unless it came out of openNote with a trusted key.
  if (typeof text !== 'string' || text.length > MAX_NOTE_SIZE || !text.endsWith('\n')) throw new ChioError('MALFORMED', 'checkpoint must end in a newline');
  const [origin = '', size = '', root = '', ...extensions] = text.slice(0, -1).split('\n');
  if (origin === '' || CONTROL.test(origin)) throw new ChioError('MALFORMED', 'invalid checkpoint origin');
  if (!SIZE.test(size) || Number(size) > MAX_TREE_SIZE) throw new ChioError('MALFORMED', 'invalid checkpoint tree size');
  let hash: Uint8Array;
  try {
    hash = fromBase64(root);
  } catch (cause) {
    throw new ChioError('MALFORMED', 'invalid checkpoint root hash', { cause });
  }
  if (!isHash(hash)) throw new ChioError('MALFORMED', 'checkpoint root must be 32 bytes');
  if (extensions.some((e) => e === '' || CONTROL.test(e))) throw new ChioError('MALFORMED', 'invalid checkpoint extension line');
  return { origin, size: Number(size), root: hash, extensions };
}

/** Sign a checkpoint as a note; the signer (key string or NoteSigner) MUST be named after the origin. */
export function signCheckpoint(cp: Checkpoint, signer: string | NoteSigner): string {
  const s = typeof signer === 'string' ? parseSignerKey(signer) : signer;
  if (s.name !== cp.origin) throw new ChioError('KEY_INVALID', `log key ${s.name} is not named after origin ${cp.origin}`);
  return signNote(formatCheckpoint(cp), [s]);
}

/**
 * Open a signed checkpoint with the log's verifier key (string or NoteVerifier): verify the
 * note, parse the checkpoint, and check that its origin is the key's name. Throws ChioError:
 * see openNote, MALFORMED for the body, NOTE_INVALID when the origin is not the key's name.
 */
export function openCheckpoint(msg: string | Uint8Array, verifier: string | NoteVerifier): Checkpoint {
  const v = typeof verifier === 'string' ? parseVerifierKey(verifier) : verifier;
  const note = openNote(msg, [v]);
  const cp = parseCheckpoint(note.text);
  if (cp.origin !== v.name) throw new ChioError('NOTE_INVALID', `checkpoint origin ${cp.origin} is not the log key name ${v.name}`);
  return cp;
}
