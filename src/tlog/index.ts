/**
 * Chio's transparency-log library: RFC 6962 Merkle trees with Go-tlog storage and proofs,
 * C2SP tlog-tiles, signed notes and checkpoints. Pure: no I/O, no clock, no `node:` module,
 * so the same code runs in the ledger, the verifier, the CLI and a browser.
 */
export { MAX_TREE_SIZE } from './bits.js';
export { type Hash, HASH_SIZE, emptyHash, leafHash, nodeHash, isHash } from './hash.js';
export {
  type HashReader,
  MAX_PROOF_LENGTH,
  storedHashIndex,
  splitStoredHashIndex,
  storedHashCount,
  storedHashes,
  storedHashesForLeafHash,
  treeHash,
  proveRecord,
  checkRecord,
  proveTree,
  checkTree,
  MemoryHashStore,
} from './tree.js';
export {
  type Tile,
  type TileReader,
  type TreeHead,
  TILE_HEIGHT,
  ENTRIES_LEVEL,
  tileForIndex,
  hashFromTile,
  newTiles,
  readTileData,
  tileHashReader,
  verifiedTileHashReader,
  tilePath,
  entriesPath,
  parseTilePath,
} from './tile.js';
export { MAX_ENTRY_SIZE, MAX_BUNDLE_ENTRIES, encodeEntryBundle, decodeEntryBundle } from './bundle.js';
export {
  type NoteVerifier,
  type NoteSigner,
  type NoteSignature,
  type SignerKey,
  type Note,
  ALG_ED25519,
  MAX_SIGNATURES,
  MAX_NOTE_SIZE,
  isValidKeyName,
  ed25519KeyId,
  newEd25519VerifierKey,
  newEd25519SignerKey,
  generateSignerKey,
  parseVerifierKey,
  parseSignerKey,
  toNoteSigner,
  signNote,
  openNote,
} from './note.js';
export { type Checkpoint, formatCheckpoint, parseCheckpoint, signCheckpoint, openCheckpoint } from './checkpoint.js';
