/**
 * Signed notes (C2SP signed-note; Go's golang.org/x/mod/sumdb/note), Ed25519 only.
 *
 * A signed note is a text ending in a newline, a blank line, then one or more signature lines:
 *
 *   If you think cryptography is the answer to your problem,
 *   then you don't know what your problem is.
 *
 *   — PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=
 *
 * A signature line is "— " (U+2014, space), the key name, a space, base64(key ID ‖ signature),
 * newline. The key ID is 4 bytes big-endian; the signature (64 bytes for Ed25519) covers the
 * text's UTF-8 bytes including its final newline, not the blank line. The text is everything up
 * to the last blank line. A note MUST be valid UTF-8 with no control character but newline.
 *
 * Keys: a name is non-empty, valid UTF-8, with no Unicode white space and no "+".
 *
 *   key ID        = first 4 bytes, big-endian, of SHA-256(name ‖ 0x0A ‖ 0x01 ‖ 32-byte public key)
 *   verifier key  = <name>+<key ID as 8 hex digits>+<base64(0x01 ‖ public key)>
 *   signer key    = PRIVATE+KEY+<name>+<key ID as 8 hex digits>+<base64(0x01 ‖ 32-byte seed)>
 *
 * e.g. PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW.
 *
 * Opening a note: signatures by unknown keys (name and key ID not both matching a trusted key)
 * are kept as unverified and otherwise ignored; a signature by a trusted key MUST verify, or the
 * note is rejected; at least one MUST verify. Repeated signatures by one key count once.
 *
 * Deviation from Go: base64 is decoded strictly (non-zero padding bits are rejected), and notes
 * are capped at MAX_NOTE_SIZE bytes.
 */
import * as ed from '@noble/ed25519';
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import { ChioError, assert } from '../errors/index.js';
import { bytesEqual, fromBase64, toBase64, utf8 } from '../encoding.js';

// Enables @noble/ed25519's synchronous API (sign, verify, getPublicKey).
ed.hashes.sha512 = sha512;

/** Signature type byte of Ed25519 (C2SP signed-note). */
export const ALG_ED25519 = 0x01;
/** Signatures accepted per note (Go's limit; C2SP asks for at least 16). */
export const MAX_SIGNATURES = 100;
/** Largest note accepted, in UTF-8 bytes. */
export const MAX_NOTE_SIZE = 1 << 20;
/** Longest verifier or signer key string accepted. */
const MAX_KEY_LENGTH = 1024;
const SIG_PREFIX = '\u2014 ';

/** A trusted key: checks signatures by name and key ID. */
export interface NoteVerifier {
  readonly name: string;
  readonly keyId: number;
  readonly publicKey: Uint8Array;
  verify(message: Uint8Array, signature: Uint8Array): boolean;
}

/** A signing key: `keyId` MUST be the key ID of its public key under `name`. */
export interface NoteSigner {
  readonly name: string;
  readonly keyId: number;
  sign(message: Uint8Array): Uint8Array;
}

/** One signature line of a note. */
export interface NoteSignature {
  readonly name: string;
  readonly keyId: number;
  /** base64(key ID ‖ signature), as in the note. */
  readonly base64: string;
}

/** An opened note: its text, the signatures that verified and those by unknown keys. */
export interface Note {
  text: string;
  sigs: NoteSignature[];
  unverifiedSigs: NoteSignature[];
}

const WHITE_SPACE = /\p{White_Space}/u; // Go's unicode.IsSpace
const LONE_SURROGATE = /\p{Cs}/u; // not encodable as UTF-8
const CONTROL = /[\x00-\x09\x0b-\x1f]/; // control characters other than newline

/** True for a valid key name: non-empty UTF-8 without white space or "+". */
export function isValidKeyName(name: unknown): name is string {
  return typeof name === 'string' && name !== '' && !name.includes('+') && !WHITE_SPACE.test(name) && !LONE_SURROGATE.test(name);
}

/** The key ID of an Ed25519 public key under `name`. */
export function ed25519KeyId(name: string, publicKey: Uint8Array): number {
  return keyIdOf(name, concat(Uint8Array.of(ALG_ED25519), publicKey));
}

function keyIdOf(name: string, key: Uint8Array): number {
  const digest = sha256(concat(utf8(name), Uint8Array.of(0x0a), key));
  return ((digest[0]! << 24) | (digest[1]! << 16) | (digest[2]! << 8) | digest[3]!) >>> 0;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const hex8 = (id: number): string => id.toString(16).padStart(8, '0');

/** The verifier key string for an Ed25519 public key. */
export function newEd25519VerifierKey(name: string, publicKey: Uint8Array): string {
  if (!isValidKeyName(name)) throw new ChioError('KEY_INVALID', 'invalid key name');
  if (publicKey.length !== 32) throw new ChioError('KEY_INVALID', 'an Ed25519 public key is 32 bytes');
  const key = concat(Uint8Array.of(ALG_ED25519), publicKey);
  return `${name}+${hex8(keyIdOf(name, key))}+${toBase64(key)}`;
}

/** The key pair of an Ed25519 seed: its signer key string (secret) and verifier key string. */
export function newEd25519SignerKey(name: string, seed: Uint8Array): { signerKey: string; verifierKey: string } {
  if (!isValidKeyName(name)) throw new ChioError('KEY_INVALID', 'invalid key name');
  if (seed.length !== 32) throw new ChioError('KEY_INVALID', 'an Ed25519 seed is 32 bytes');
  const publicKey = ed.getPublicKey(seed);
  const id = ed25519KeyId(name, publicKey);
  return {
    signerKey: `PRIVATE+KEY+${name}+${hex8(id)}+${toBase64(concat(Uint8Array.of(ALG_ED25519), seed))}`,
    verifierKey: newEd25519VerifierKey(name, publicKey),
  };
}

/** A fresh key pair from `randomBytes` (default: crypto.getRandomValues). */
export function generateSignerKey(
  name: string,
  randomBytes: (length: number) => Uint8Array = (length) => ed.etc.randomBytes(length),
): { signerKey: string; verifierKey: string } {
  const seed = randomBytes(32);
  assert(seed.length === 32, 'randomBytes returned the wrong length');
  return newEd25519SignerKey(name, seed);
}

/** Splits `<name>+<hex8>+<base64>` and checks the parts; the key bytes include the type byte. */
function parseKeyParts(text: string): { name: string; keyId: number; key: Uint8Array } {
  const [name = '', id = '', ...rest] = text.split('+');
  const b64 = rest.join('+'); // base64 may itself contain "+"
  if (!isValidKeyName(name) || !/^[0-9a-fA-F]{8}$/.test(id) || b64 === '') throw new ChioError('KEY_INVALID', 'malformed key');
  let key: Uint8Array;
  try {
    key = fromBase64(b64);
  } catch (cause) {
    throw new ChioError('KEY_INVALID', 'malformed key', { cause });
  }
  if (key.length !== 33 || key[0] !== ALG_ED25519) throw new ChioError('KEY_INVALID', 'not an Ed25519 key');
  return { name, keyId: parseInt(id, 16), key };
}

/** Parse a verifier key string; throws ChioError('KEY_INVALID'). */
export function parseVerifierKey(vkey: string): NoteVerifier {
  // Attacker-controlled when it arrives with data (e.g. a receipt's kernel_key).
  if (typeof vkey !== 'string' || vkey.length > MAX_KEY_LENGTH) throw new ChioError('KEY_INVALID', 'malformed verifier key');
  const { name, keyId, key } = parseKeyParts(vkey);
  if (keyIdOf(name, key) !== keyId) throw new ChioError('KEY_INVALID', 'verifier key ID does not match the key');
  const publicKey = key.slice(1);
  // Keys are compared as text (trust sets, issuers, a receipt's kernel_key): a second spelling
  // of a key (its ID in upper case) was another key there, and escaped the window set for it.
  if (vkey !== `${name}+${hex8(keyId)}+${toBase64(key)}`) throw new ChioError('KEY_INVALID', 'verifier key is not in its canonical form (its key ID in lower-case hex)');
  return { name, keyId, publicKey: publicKey.slice(), verify: (message, signature) => ed25519Verify(signature, message, publicKey) };
}

/** The order L of the Ed25519 base point (RFC 8032 §5.1). */
const ED25519_L = 2n ** 252n + 27742317777372353535851937790883648493n;

function littleEndian(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]!);
  return n;
}

/**
 * Strict RFC 8032 §5.1.7 Ed25519 verification, answering as node:crypto (OpenSSL), Go's
 * crypto/ed25519 (sumdb/note) and libsodium do: A the canonical encoding of a point not of small
 * order, S < L, and the cofactorless equation [S]B - [k]A = R exactly, R's bytes included.
 * @noble's verify checks the cofactored [8][S]B = [8]R + [8][k]A, which RFC 8032 also allows,
 * and so holds for signatures whose R or A has a small-order component that those refuse: a
 * receipt or checkpoint its key holder made so would hold here and fail in the ledger and in Go.
 */
export function ed25519Verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  if (signature.length !== 64) return false;
  const A = strictPublicPoint(publicKey);
  if (A === undefined) return false;
  const S = littleEndian(signature.subarray(32));
  if (S >= ED25519_L) return false;
  const R = signature.subarray(0, 32);
  const k = littleEndian(sha512(concat(R, publicKey, message))) % ED25519_L;
  return bytesEqual(ed.Point.BASE.multiply(S, false).subtract(A.multiply(k, false)).toBytes(), R);
}

/** The point `publicKey` encodes when strict verification takes it: canonically encoded, not of small order. */
function strictPublicPoint(publicKey: Uint8Array): ed.Point | undefined {
  if (publicKey.length !== 32) return undefined;
  try {
    const A = ed.Point.fromBytes(publicKey, false);
    return A.isSmallOrder() ? undefined : A;
  } catch {
    return undefined; // not a point, or not its canonical encoding
  }
}

/**
 * True when a signature can hold under `publicKey` (strict RFC 8032, as ed25519Verify checks).
 * A key for which this is false is one no one holds the secret of, yet under it node:crypto
 * (OpenSSL) takes a small-order R with S = 0 for many messages (under the identity, for every
 * one): such a key must never be trusted, nor handed to node:crypto.
 */
export function canHoldSignatures(publicKey: Uint8Array): boolean {
  return strictPublicPoint(publicKey) !== undefined;
}

/** Why a key to be trusted is refused when canHoldSignatures is false for it. */
export const KEY_NO_ONE_HOLDS = 'not a key anyone holds the secret of (a point of small order, or not its canonical encoding): anyone could sign under it';

/** A parsed signer key. Holds the secret seed: never log it. */
export interface SignerKey extends NoteSigner {
  readonly publicKey: Uint8Array;
  readonly seed: Uint8Array;
  /** The matching verifier key string. */
  readonly verifierKey: string;
}

/** Parse a signer key string; throws ChioError('KEY_INVALID'). */
export function parseSignerKey(skey: string): SignerKey {
  if (typeof skey !== 'string' || skey.length > MAX_KEY_LENGTH || !skey.startsWith('PRIVATE+KEY+')) {
    throw new ChioError('KEY_INVALID', 'malformed signer key');
  }
  const { name, keyId, key } = parseKeyParts(skey.slice('PRIVATE+KEY+'.length));
  const seed = key.slice(1);
  const publicKey = ed.getPublicKey(seed);
  // The key ID names the public key, so it can only be checked after deriving that.
  if (ed25519KeyId(name, publicKey) !== keyId) throw new ChioError('KEY_INVALID', 'signer key ID does not match the key');
  const verifierKey = newEd25519VerifierKey(name, publicKey);
  return { name, keyId, publicKey, seed: seed.slice(), verifierKey, sign: (message) => ed.sign(message, seed) };
}

/** A NoteSigner over any Ed25519 signer (for example a node:crypto one). */
export function toNoteSigner(name: string, signer: { publicKey: Uint8Array; sign(message: Uint8Array): Uint8Array }): NoteSigner {
  if (!isValidKeyName(name)) throw new ChioError('KEY_INVALID', 'invalid key name');
  if (signer.publicKey.length !== 32) throw new ChioError('KEY_INVALID', 'an Ed25519 public key is 32 bytes');
  return { name, keyId: ed25519KeyId(name, signer.publicKey), sign: (message) => signer.sign(message) };
}

/** Checks the character rules of a note or note text. */
function checkNoteChars(text: string): void {
  if (LONE_SURROGATE.test(text) || CONTROL.test(text)) throw new ChioError('MALFORMED', 'note has a control character or invalid UTF-8');
}

function signatureLine(name: string, keyId: number, signature: Uint8Array): string {
  const id = Uint8Array.of(keyId >>> 24, (keyId >>> 16) & 0xff, (keyId >>> 8) & 0xff, keyId & 0xff);
  return `${SIG_PREFIX}${name} ${toBase64(concat(id, signature))}\n`;
}

/**
 * Sign `text` (which MUST end in a newline) with every signer. Signatures in `existing` are
 * kept, before the new ones, unless a signer has the same name and key ID.
 */
export function signNote(text: string, signers: readonly NoteSigner[], existing: readonly NoteSignature[] = []): string {
  if (typeof text !== 'string' || !text.endsWith('\n')) throw new ChioError('MALFORMED', 'note text must end in a newline');
  checkNoteChars(text);
  const message = utf8(text);
  const replaced = new Set<string>();
  let lines = '';
  for (const s of signers) {
    if (!isValidKeyName(s.name) || !Number.isInteger(s.keyId) || s.keyId < 0 || s.keyId > 0xffffffff) {
      throw new ChioError('KEY_INVALID', 'invalid signer');
    }
    replaced.add(`${s.keyId}:${s.name}`);
    lines += signatureLine(s.name, s.keyId, s.sign(message));
  }
  const kept = existing.filter((sig) => !replaced.has(`${sig.keyId}:${sig.name}`));
  const note = `${text}\n${kept.map(existingLine).join('')}${lines}`;
  if (kept.length + signers.length === 0) throw new ChioError('MALFORMED', 'a note needs at least one signature');
  if (kept.length + signers.length > MAX_SIGNATURES || utf8(note).length > MAX_NOTE_SIZE) throw new ChioError('MALFORMED', 'note too large');
  return note;
}

function existingLine(sig: NoteSignature): string {
  const parsed = isValidKeyName(sig.name) ? parseSignatureLine(`${SIG_PREFIX}${sig.name} ${sig.base64}`) : undefined;
  if (parsed === undefined || parsed.keyId !== sig.keyId) throw new ChioError('MALFORMED', 'existing signature is malformed');
  return `${SIG_PREFIX}${sig.name} ${sig.base64}\n`;
}

/** Decodes and checks the bytes of a note: size, UTF-8, control characters. */
function decodeNote(msg: string | Uint8Array): string {
  let text: string;
  if (typeof msg === 'string') {
    if (msg.length > MAX_NOTE_SIZE || utf8(msg).length > MAX_NOTE_SIZE) throw new ChioError('MALFORMED', 'note too large');
    text = msg;
  } else {
    if (!(msg instanceof Uint8Array) || msg.length > MAX_NOTE_SIZE) throw new ChioError('MALFORMED', 'note too large');
    try {
      // ignoreBOM keeps a leading U+FEFF, so the text re-encodes to exactly these bytes.
      text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(msg);
    } catch (cause) {
      throw new ChioError('MALFORMED', 'note is not valid UTF-8', { cause });
    }
  }
  checkNoteChars(text);
  return text;
}

/** "— <name> <base64>" → its parts; undefined when malformed. */
function parseSignatureLine(line: string): { name: string; keyId: number; base64: string; signature: Uint8Array } | undefined {
  if (!line.startsWith(SIG_PREFIX)) return undefined;
  const rest = line.slice(SIG_PREFIX.length);
  const space = rest.indexOf(' ');
  const name = space < 0 ? rest : rest.slice(0, space);
  const base64 = space < 0 ? '' : rest.slice(space + 1);
  if (!isValidKeyName(name) || base64 === '') return undefined;
  let raw: Uint8Array;
  try {
    raw = fromBase64(base64);
  } catch {
    return undefined;
  }
  if (raw.length < 5) return undefined;
  const keyId = ((raw[0]! << 24) | (raw[1]! << 16) | (raw[2]! << 8) | raw[3]!) >>> 0;
  return { name, keyId, base64, signature: raw.subarray(4) };
}

/** Trusted verifiers by `${keyId}:${name}`; a pair listed twice is ambiguous. */
function indexVerifiers(verifiers: readonly NoteVerifier[]): Map<string, NoteVerifier[]> {
  const byKey = new Map<string, NoteVerifier[]>();
  for (const v of verifiers) {
    const key = `${v.keyId}:${v.name}`;
    byKey.set(key, [...(byKey.get(key) ?? []), v]);
  }
  return byKey;
}

/** Splits a decoded note into its text and signature lines. */
function splitNote(msg: string): { text: string; lines: string[] } {
  const split = msg.lastIndexOf('\n\n');
  if (split < 0) throw new ChioError('MALFORMED', 'note has no signature block');
  const block = msg.slice(split + 2);
  if (block === '' || !block.endsWith('\n')) throw new ChioError('MALFORMED', 'note signature block must end in a newline');
  const lines = block.slice(0, -1).split('\n');
  if (lines.length > MAX_SIGNATURES) throw new ChioError('MALFORMED', `note has more than ${MAX_SIGNATURES} signatures`);
  return { text: msg.slice(0, split + 1), lines };
}

/**
 * Open a signed note with the trusted verifiers. Throws ChioError: MALFORMED (syntax),
 * SIGNATURE_INVALID (a trusted key's signature fails), CONFIG_INVALID (two trusted keys share a
 * name and key ID), UNTRUSTED_KEY (no signature by a trusted key; the note is the `cause`).
 */
export function openNote(msg: string | Uint8Array, verifiers: readonly NoteVerifier[]): Note {
  // Attacker-controlled: the whole message. Shape → parse → trust → crypto.
  const { text, lines } = splitNote(decodeNote(msg));
  const known = indexVerifiers(verifiers);
  const message = utf8(text);
  const note: Note = { text, sigs: [], unverifiedSigs: [] };
  const seenKeys = new Set<string>();
  const seenLines = new Set<string>();
  for (const line of lines) {
    const sig = parseSignatureLine(line);
    if (sig === undefined) throw new ChioError('MALFORMED', 'malformed note signature line');
    const key = `${sig.keyId}:${sig.name}`;
    const matches = known.get(key);
    const entry: NoteSignature = { name: sig.name, keyId: sig.keyId, base64: sig.base64 };
    if (matches === undefined) {
      // Unknown key: record once per identical line, never fail on it.
      if (!seenLines.has(line)) note.unverifiedSigs.push(entry);
      seenLines.add(line);
      continue;
    }
    if (matches.length > 1) throw new ChioError('CONFIG_INVALID', `ambiguous key ${sig.name}+${hex8(sig.keyId)}`);
    // Every distinct signature by a trusted key is checked, a key's second one too: C2SP says a
    // known key's failed signature should reject the whole note (Go's note.Open skips a key's
    // later lines, so a good line then a bad one passes there). A key still counts once.
    if (seenLines.has(line)) continue;
    seenLines.add(line);
    if (!matches[0]!.verify(message, sig.signature)) throw new ChioError('SIGNATURE_INVALID', `invalid signature for key ${sig.name}+${hex8(sig.keyId)}`);
    if (seenKeys.has(key)) continue;
    seenKeys.add(key);
    note.sigs.push(entry);
  }
  if (note.sigs.length === 0) throw new ChioError('UNTRUSTED_KEY', 'note has no signature by a trusted key', { cause: note });
  return note;
}
