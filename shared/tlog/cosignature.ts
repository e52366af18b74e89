/**
 * C2SP tlog-cosignature, Ed25519 type 0x04 (c2sp.org/tlog-cosignature): a witness's note
 * signature over a checkpoint it has checked for consistency. The signature line carries
 *
 *     key ID (4) || timestamp (uint64 big-endian, POSIX seconds) || Ed25519 signature (64)
 *
 * and the Ed25519 signature covers
 *
 *     cosignature/v1\ntime <timestamp>\n<checkpoint note text>
 *
 * The message does not name the cosigner, so one Ed25519 key must serve only one cosigner name.
 */
import { concatBytes, fromUtf8, uint64be, utf8 } from '../crypto/bytes';
import { fail } from '../crypto/errors';
import { parseCheckpoint, type Checkpoint } from './checkpoint';
import {
  SIG_TYPE_COSIGNATURE_V1,
  SIG_TYPE_ED25519,
  addSignatures,
  checkKeyName,
  computeKeyId,
  ed25519KeyMaterial,
  ed25519Sign,
  ed25519Verifier,
  ed25519Verify,
  importEd25519PublicKey,
  openNote,
  parseVerifierKey,
  type Ed25519KeyPair,
  type NoteSigner,
  type NoteVerifier,
} from './note';

const MAX_TIMESTAMP = (1n << 63n) - 1n;
const COSIGNATURE_BYTES = 8 + 64;

function checkTimestamp(timestamp: unknown): bigint {
  if (typeof timestamp === 'number') {
    if (!Number.isSafeInteger(timestamp) || timestamp < 0) fail('E_LIMIT', `timestamp must be a non-negative safe integer, got ${timestamp}`);
    return BigInt(timestamp);
  }
  if (typeof timestamp === 'bigint') {
    if (timestamp < 0n || timestamp > MAX_TIMESTAMP) fail('E_LIMIT', 'timestamp must be in [0, 2^63 - 1]');
    return timestamp;
  }
  throw new TypeError('timestamp must be a number or a bigint');
}

function message(t: bigint, text: Uint8Array): Uint8Array {
  return concatBytes(utf8(`cosignature/v1\ntime ${t}\n`), text);
}

/** The bytes an Ed25519 cosigner signs: header line, time line, then the checkpoint text. */
export function cosignedMessage(checkpointText: string, timestamp: number | bigint): Uint8Array {
  if (typeof checkpointText !== 'string') throw new TypeError('checkpoint text must be a string');
  return message(checkTimestamp(timestamp), utf8(checkpointText));
}

/** A verifier for type 0x04 cosignatures by the witness `name`. */
export async function cosignatureVerifier(name: string, publicKey: Uint8Array): Promise<NoteVerifier> {
  checkKeyName(name);
  const key = await importEd25519PublicKey(publicKey);
  const keyId = await computeKeyId(name, SIG_TYPE_COSIGNATURE_V1, publicKey);
  return {
    name,
    keyId,
    type: SIG_TYPE_COSIGNATURE_V1,
    async verify(text, sig) {
      if (sig.length !== COSIGNATURE_BYTES) return false;
      const t = new DataView(sig.buffer, sig.byteOffset, 8).getBigUint64(0);
      if (t > MAX_TIMESTAMP) return false;
      return ed25519Verify(key, sig.subarray(8), message(t, text));
    },
  };
}

/** A signer that cosigns checkpoint text at `timestamp`; it refuses text that is not a checkpoint. */
export async function cosignatureSigner(name: string, key: Ed25519KeyPair, timestamp: number | bigint): Promise<NoteSigner> {
  checkKeyName(name);
  const t = checkTimestamp(timestamp);
  const { privateKey, publicKey } = await ed25519KeyMaterial(key);
  const keyId = await computeKeyId(name, SIG_TYPE_COSIGNATURE_V1, publicKey);
  return {
    name,
    keyId,
    type: SIG_TYPE_COSIGNATURE_V1,
    async sign(text) {
      // The spec defines the message over a checkpoint body only.
      parseCheckpoint(fromUtf8(text));
      const sig = await ed25519Sign(privateKey, message(t, text));
      return concatBytes(uint64be(t), sig);
    },
  };
}

/**
 * Adds the witness's cosignature line to a signed checkpoint note. The caller must first have
 * opened the note with the log's key and checked consistency with the last checkpoint it
 * cosigned: a cosignature is the statement that it did.
 */
export async function cosignCheckpoint(
  key: Ed25519KeyPair,
  witnessName: string,
  signedNote: string,
  timestamp: number | bigint,
): Promise<string> {
  return addSignatures(signedNote, [await cosignatureSigner(witnessName, key, timestamp)]);
}

export interface Cosigner {
  name: string;
  publicKey: Uint8Array;
}

/**
 * Verifies the cosignature of `witness` on a checkpoint note (E_SIGNATURE when absent or
 * invalid) and returns the checkpoint and the cosignature's timestamp. It does not check the
 * log's signature: call openCheckpoint for that too.
 */
export async function verifyCosignature(note: string | Uint8Array, witness: Cosigner): Promise<{ checkpoint: Checkpoint; timestamp: number }> {
  const verifier = await cosignatureVerifier(witness?.name, witness.publicKey);
  const { text, verified } = await openNote(note, [verifier]);
  const checkpoint = parseCheckpoint(text);
  const sig = verified[0]!.signature;
  const t = new DataView(sig.buffer, sig.byteOffset, 8).getBigUint64(0);
  // Valid per spec up to 2^63 - 1, but such a time is hundreds of millions of years away.
  if (t > BigInt(Number.MAX_SAFE_INTEGER)) fail('E_LIMIT', 'cosignature timestamp is beyond 2^53 - 1 seconds');
  return { checkpoint, timestamp: Number(t) };
}

/** A verifier from a vkey string: type 0x01 for log keys, 0x04 for cosigners. */
export async function verifierFromKey(vkey: string): Promise<NoteVerifier> {
  const k = await parseVerifierKey(vkey);
  return k.type === SIG_TYPE_ED25519 ? ed25519Verifier(k.name, k.publicKey) : cosignatureVerifier(k.name, k.publicKey);
}
