/**
 * C2SP tlog-checkpoint (c2sp.org/tlog-checkpoint): a signed note whose text is
 *
 *     <origin>\n<decimal tree size>\n<base64 root hash>\n[<extension line>\n ...]
 *
 * Tree sizes are returned as `number`: a size beyond Number.MAX_SAFE_INTEGER (2^53 - 1) is
 * refused with E_LIMIT. Our log would need centuries at a million entries per second to get
 * there, and a number cannot silently lose precision in callers that forget BigInt.
 *
 * parseCheckpoint follows the spec, extension lines included. Sealvault v1 logs write no
 * extension lines, so signCheckpoint and openCheckpoint refuse them (see docs/formats-tlog.md).
 */
import { equalBytes } from '../crypto/bytes';
import { fromBase64, fromHex, toBase64 } from '../crypto/encoding';
import { fail } from '../crypto/errors';
import { HASH_SIZE, verifyConsistency } from './merkle';
import {
  MAX_NOTE_BYTES,
  SIG_TYPE_ED25519,
  ed25519Signer,
  openNote,
  signNote,
  type Ed25519KeyPair,
  type NoteVerifier,
} from './note';

export interface Checkpoint {
  origin: string;
  size: number;
  root: Uint8Array;
  extensions?: readonly string[];
}

/** MTH of the empty tree, SHA-256 of nothing: the only valid root for size 0. */
const EMPTY_ROOT = fromHex('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');

function checkLine(line: unknown, what: string): string {
  if (typeof line !== 'string') throw new TypeError(`${what} must be a string`);
  if (line.length === 0) fail('E_FORMAT', `${what} is empty`);
  if (!line.isWellFormed()) fail('E_FORMAT', `${what} is not valid Unicode`);
  for (let i = 0; i < line.length; i++) {
    if (line.charCodeAt(i) < 0x20) fail('E_FORMAT', `${what} contains a control character or a newline`);
  }
  return line;
}

function checkSize(size: unknown): number {
  if (typeof size !== 'number') throw new TypeError(`tree size must be a number, got ${typeof size}`);
  if (!Number.isSafeInteger(size) || size < 0) fail('E_LIMIT', `tree size must be a non-negative safe integer, got ${size}`);
  return size;
}

function checkRoot(root: unknown, size: number): Uint8Array {
  if (!(root instanceof Uint8Array)) throw new TypeError('root must be a Uint8Array');
  if (root.length !== HASH_SIZE) fail('E_FORMAT', `root hash must be ${HASH_SIZE} bytes, got ${root.length}`);
  if (size === 0 && !equalBytes(root, EMPTY_ROOT)) fail('E_PROOF', 'the root of an empty tree must be SHA-256 of nothing');
  return root;
}

/** The checkpoint's note text, final newline included. */
export function formatCheckpoint(c: Checkpoint): string {
  const origin = checkLine(c?.origin, 'origin');
  const size = checkSize(c.size);
  const root = checkRoot(c.root, size);
  const ext = (c.extensions ?? []).map((e, i) => checkLine(e, `extension line ${i + 1}`));
  return [origin, String(size), toBase64(root), ...ext].map((l) => `${l}\n`).join('');
}

/** Parses checkpoint text. Call it only on text whose signature was verified (openCheckpoint does). */
export function parseCheckpoint(text: string): Checkpoint & { extensions: string[] } {
  if (typeof text !== 'string') throw new TypeError('checkpoint text must be a string');
  if (text.length > MAX_NOTE_BYTES) fail('E_LIMIT', 'checkpoint text is too large');
  if (!text.endsWith('\n')) fail('E_FORMAT', 'checkpoint text does not end with a newline');
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3) fail('E_FORMAT', `checkpoint has ${lines.length} lines, at least 3 are required`);
  lines.forEach((l, i) => checkLine(l, `checkpoint line ${i + 1}`));
  const [origin, sizeText, rootText, ...extensions] = lines as [string, string, string, ...string[]];

  if (!/^(0|[1-9][0-9]*)$/.test(sizeText)) fail('E_FORMAT', 'tree size is not a decimal number without leading zeros');
  // Compare as BigInt: Number() would round a 17-digit size to a different value first.
  if (sizeText.length > 20 || BigInt(sizeText) > BigInt(Number.MAX_SAFE_INTEGER)) {
    fail('E_LIMIT', `tree size ${sizeText.slice(0, 24)} is beyond 2^53 - 1`);
  }
  const size = Number(sizeText);
  const root = checkRoot(fromBase64(rootText), size);
  return { origin, size, root, extensions };
}

/** Signs a checkpoint as the log. The key name SHOULD equal the origin (spec), and does in Sealvault. */
export async function signCheckpoint(key: Ed25519KeyPair, keyName: string, checkpoint: Checkpoint): Promise<string> {
  if ((checkpoint?.extensions ?? []).length > 0) fail('E_FORMAT', 'Sealvault v1 checkpoints carry no extension lines');
  const text = formatCheckpoint(checkpoint);
  return signNote(text, [await ed25519Signer(keyName, key)]);
}

export interface OpenCheckpointOptions {
  /** The origin line the caller expects: the log's identity. */
  origin: string;
  /** The log's Ed25519 keys (type 0x01). Cosigner keys do not belong here: see verifyCosignature. */
  verifiers: NoteVerifier[];
}

/**
 * Verifies the log's signature, then parses the text, then checks the origin (E_CONTEXT)
 * and refuses extension lines. Unknown signatures, such as cosignatures, are ignored.
 */
export async function openCheckpoint(note: string | Uint8Array, options: OpenCheckpointOptions): Promise<Checkpoint> {
  const origin = checkLine(options?.origin, 'expected origin');
  if (!Array.isArray(options.verifiers)) throw new TypeError('verifiers must be an array');
  // A cosignature alone must never stand in for the log's own signature.
  for (const v of options.verifiers) {
    if (v?.type !== SIG_TYPE_ED25519) throw new TypeError('checkpoint verifiers must be log keys (type 0x01)');
  }
  const { text } = await openNote(note, options.verifiers);
  const cp = parseCheckpoint(text);
  if (cp.origin !== origin) fail('E_CONTEXT', `checkpoint is from origin "${cp.origin.slice(0, 200)}", expected "${origin}"`);
  if (cp.extensions.length > 0) fail('E_FORMAT', 'Sealvault v1 checkpoints carry no extension lines');
  return { origin: cp.origin, size: cp.size, root: cp.root };
}

/**
 * Checks that `newer` extends `older` (both already opened): the same log (E_CONTEXT), not
 * smaller (E_ROLLBACK), and a consistency proof between them (E_PROOF, which includes two
 * different roots for one size: a fork).
 */
export async function verifyCheckpointConsistency(older: Checkpoint, newer: Checkpoint, proof: Uint8Array[]): Promise<void> {
  if (older.origin !== newer.origin) fail('E_CONTEXT', 'the two checkpoints are from different logs');
  if (newer.size < older.size) fail('E_ROLLBACK', `tree size went back from ${older.size} to ${newer.size}`);
  await verifyConsistency({ first: older.size, second: newer.size, firstRoot: older.root, secondRoot: newer.root, proof });
}
