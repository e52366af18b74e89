/**
 * C2SP signed-note (c2sp.org/signed-note): text signed by one or more named keys.
 *
 *     <text, ending in a newline>
 *     <blank line>
 *     — <key name> base64(uint32 key ID || signature)
 *
 * Opening a note verifies signatures over the raw text first; only then may a caller parse
 * the text (checkpoint.ts does). Signatures from keys the caller did not configure are ignored,
 * as the spec requires, so logs can rotate keys and witnesses can add cosignatures.
 */
import { abytes, concatBytes, fromUtf8, own, utf8 } from '../crypto/bytes';
import { fromBase64, toBase64 } from '../crypto/encoding';
import { fail } from '../crypto/errors';

/** A note larger than this is refused before any parsing or verification. */
export const MAX_NOTE_BYTES = 1 << 20;
/** The spec requires accepting at least 16; more than this is refused (E_LIMIT). */
export const MAX_SIGNATURES = 100;

/** Signature type bytes from the signed-note registry. */
export const SIG_TYPE_ED25519 = 0x01;
export const SIG_TYPE_COSIGNATURE_V1 = 0x04;

const SIG_PREFIX = '\u2014 '; // em dash, space
const NAME_FORBIDDEN = /[\p{White_Space}+\u0000-\u001f]/u;

/** One signature line: the key ID is split off, `signature` is the algorithm's bytes. */
export interface NoteSignature {
  name: string;
  keyId: number;
  signature: Uint8Array;
}

export interface NoteVerifier {
  readonly name: string;
  readonly keyId: number;
  readonly type: number;
  /** Whether `signature` (without the key ID) is valid over the note text. Never throws for a bad signature. */
  verify(text: Uint8Array, signature: Uint8Array): Promise<boolean>;
}

export interface NoteSigner {
  readonly name: string;
  readonly keyId: number;
  readonly type: number;
  /** The signature bytes over the note text, without the key ID. */
  sign(text: Uint8Array): Promise<Uint8Array>;
}

/** An Ed25519 private key plus its public key, which is needed for the key ID. */
export interface Ed25519KeyPair {
  privateKey: CryptoKey;
  publicKey: CryptoKey | Uint8Array;
}

export interface OpenedNote {
  text: string;
  /** Signatures from configured keys, all verified. Never empty. */
  verified: NoteSignature[];
  /** Signatures from keys not configured, ignored and unchecked. */
  unverified: NoteSignature[];
}

/** Key names: non-empty, no Unicode spaces, no '+', no control characters (E_FORMAT). */
export function checkKeyName(name: unknown): string {
  if (typeof name !== 'string') throw new TypeError(`key name must be a string, got ${typeof name}`);
  if (name.length === 0) fail('E_FORMAT', 'key name is empty');
  if (!name.isWellFormed()) fail('E_FORMAT', 'key name is not valid Unicode');
  if (NAME_FORBIDDEN.test(name)) fail('E_FORMAT', 'key name contains a space, a plus sign or a control character');
  return name;
}

/** Valid UTF-16 (so UTF-8 encodable) with no ASCII control characters except newline. */
function checkNoteChars(text: string, what: string): void {
  if (!text.isWellFormed()) fail('E_FORMAT', `${what} is not valid Unicode`);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 && c !== 0x0a) fail('E_FORMAT', `${what} contains control character 0x${c.toString(16).padStart(2, '0')}`);
  }
}

function checkSize(bytes: number): void {
  if (bytes > MAX_NOTE_BYTES) fail('E_LIMIT', `note is ${bytes} bytes, more than ${MAX_NOTE_BYTES}`);
}

function checkKeyIdValue(keyId: unknown): number {
  if (typeof keyId !== 'number' || !Number.isInteger(keyId) || keyId < 0 || keyId > 0xffffffff) {
    throw new TypeError(`key ID must be a uint32, got ${String(keyId)}`);
  }
  return keyId;
}

function keyIdBytes(keyId: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, keyId);
  return out;
}

/** SHA-256(name || 0x0A || type || public key)[:4], as a big-endian uint32. */
export async function computeKeyId(name: string, type: number, publicKey: Uint8Array): Promise<number> {
  checkKeyName(name);
  if (!Number.isInteger(type) || type < 0 || type > 0xff) throw new TypeError('signature type must be a byte');
  abytes('publicKey', publicKey);
  const digest = await crypto.subtle.digest('SHA-256', concatBytes(utf8(name), new Uint8Array([0x0a, type]), publicKey));
  return new DataView(digest).getUint32(0);
}

/**
 * Splits a note into its text and signature lines, enforcing every syntactic rule of the spec.
 * It checks no signature: use openNote for anything that trusts the text.
 */
export function splitNote(note: string | Uint8Array): { text: string; signatures: NoteSignature[] } {
  let str: string;
  if (note instanceof Uint8Array) {
    checkSize(note.length);
    str = fromUtf8(note);
  } else if (typeof note === 'string') {
    // UTF-8 never takes fewer bytes than UTF-16 code units, so this bounds the encoding work.
    checkSize(note.length);
    if (!note.isWellFormed()) fail('E_FORMAT', 'note is not valid Unicode');
    checkSize(utf8(note).length);
    str = note;
  } else {
    throw new TypeError('note must be a string or a Uint8Array');
  }
  checkNoteChars(str, 'note');
  if (!str.endsWith('\n')) fail('E_FORMAT', 'note does not end with a newline');

  // The text ends at the last blank line; signature lines cannot contain one.
  const blank = str.lastIndexOf('\n\n');
  if (blank < 0) fail('E_FORMAT', 'note has no blank line before its signatures');
  const text = str.slice(0, blank + 1);
  const block = str.slice(blank + 2);
  if (block.length === 0) fail('E_FORMAT', 'note has no signature lines after its last blank line');
  const lines = block.slice(0, -1).split('\n');
  if (lines.length > MAX_SIGNATURES) fail('E_LIMIT', `note has ${lines.length} signatures, more than ${MAX_SIGNATURES}`);

  const signatures = lines.map((line, i) => {
    if (!line.startsWith(SIG_PREFIX)) fail('E_FORMAT', `signature line ${i + 1} does not start with an em dash and a space`);
    const rest = line.slice(SIG_PREFIX.length);
    const space = rest.indexOf(' ');
    if (space < 0) fail('E_FORMAT', `signature line ${i + 1} has no space between key name and signature`);
    const name = checkKeyName(rest.slice(0, space));
    const bytes = fromBase64(rest.slice(space + 1));
    if (bytes.length < 5) fail('E_FORMAT', `signature line ${i + 1} is too short for a key ID and a signature`);
    const keyId = new DataView(bytes.buffer).getUint32(0);
    return { name, keyId, signature: bytes.slice(4) };
  });
  return { text, signatures };
}

function checkVerifiers(verifiers: unknown): NoteVerifier[] {
  if (!Array.isArray(verifiers)) throw new TypeError('verifiers must be an array');
  const seen = new Set<string>();
  for (const v of verifiers as NoteVerifier[]) {
    if (typeof v?.verify !== 'function') throw new TypeError('each verifier needs a verify function');
    checkKeyName(v.name);
    const key = `${v.name}+${checkKeyIdValue(v.keyId)}`;
    // Two verifiers for one (name, key ID) would make the answer depend on their order.
    if (seen.has(key)) throw new TypeError(`two verifiers share name ${v.name} and key ID ${v.keyId}`);
    seen.add(key);
  }
  return verifiers as NoteVerifier[];
}

/**
 * Verifies a signed note against the configured keys and returns its text. Throws E_SIGNATURE
 * when no configured key signed it, or when a configured key's signature does not verify
 * (the spec allows accepting such a note if another key verifies; refusing is stricter and
 * catches a tampered log signature even next to a valid cosignature).
 */
export async function openNote(note: string | Uint8Array, verifiers: NoteVerifier[]): Promise<OpenedNote> {
  const known = checkVerifiers(verifiers);
  const { text, signatures } = splitNote(note);
  const message = utf8(text);
  const verified: NoteSignature[] = [];
  const unverified: NoteSignature[] = [];
  for (const sig of signatures) {
    const v = known.find((k) => k.name === sig.name && k.keyId === sig.keyId);
    if (v === undefined) {
      unverified.push(sig);
    } else if (await v.verify(message, sig.signature)) {
      verified.push(sig);
    } else {
      fail('E_SIGNATURE', `signature by known key ${sig.name} (${keyIdHex(sig.keyId)}) does not verify`);
    }
  }
  if (verified.length === 0) fail('E_SIGNATURE', 'note carries no signature from a known key');
  return { text, verified, unverified };
}

function checkSigners(signers: unknown, existing: number): NoteSigner[] {
  if (!Array.isArray(signers) || signers.length === 0) throw new TypeError('signers must be a non-empty array');
  if (signers.length + existing > MAX_SIGNATURES) fail('E_LIMIT', `a note holds at most ${MAX_SIGNATURES} signatures`);
  for (const s of signers as NoteSigner[]) {
    if (typeof s?.sign !== 'function') throw new TypeError('each signer needs a sign function');
    checkKeyName(s.name);
    checkKeyIdValue(s.keyId);
  }
  return signers as NoteSigner[];
}

async function signatureLines(text: string, signers: NoteSigner[]): Promise<string> {
  const message = utf8(text);
  let lines = '';
  for (const s of signers) {
    const sig = await s.sign(message);
    lines += `${SIG_PREFIX}${s.name} ${toBase64(concatBytes(keyIdBytes(s.keyId), sig))}\n`;
  }
  return lines;
}

/** Signs `text` (which must end with a newline) and returns the whole signed note. */
export async function signNote(text: string, signers: NoteSigner[]): Promise<string> {
  if (typeof text !== 'string') throw new TypeError('text must be a string');
  checkSize(text.length);
  checkNoteChars(text, 'note text');
  if (!text.endsWith('\n')) fail('E_FORMAT', 'note text does not end with a newline');
  const note = `${text}\n${await signatureLines(text, checkSigners(signers, 0))}`;
  checkSize(utf8(note).length);
  return note;
}

/** Adds signature lines to an existing note, over its unchanged text. Checks no existing signature. */
export async function addSignatures(note: string, signers: NoteSigner[]): Promise<string> {
  if (typeof note !== 'string') throw new TypeError('note must be a string');
  const { text, signatures } = splitNote(note);
  const out = note + (await signatureLines(text, checkSigners(signers, signatures.length)));
  checkSize(utf8(out).length);
  return out;
}

// ---- Ed25519 (signature type 0x01) ----

export async function importEd25519PublicKey(publicKey: Uint8Array): Promise<CryptoKey> {
  abytes('publicKey', publicKey);
  if (publicKey.length !== 32) fail('E_KEY_WEAK', `Ed25519 public key must be 32 bytes, got ${publicKey.length}`);
  try {
    return await crypto.subtle.importKey('raw', own(publicKey), { name: 'Ed25519' }, true, ['verify']);
  } catch (e) {
    return fail('E_KEY_WEAK', 'not a valid Ed25519 public key', e);
  }
}

export async function ed25519Verify(key: CryptoKey, signature: Uint8Array, message: Uint8Array): Promise<boolean> {
  if (signature.length !== 64) return false;
  try {
    return await crypto.subtle.verify({ name: 'Ed25519' }, key, own(signature), own(message));
  } catch {
    return false;
  }
}

/** The raw public key and a checked private key, from a key pair given in either form. */
export async function ed25519KeyMaterial(key: Ed25519KeyPair): Promise<{ privateKey: CryptoKey; publicKey: Uint8Array }> {
  const { privateKey, publicKey } = key ?? ({} as Ed25519KeyPair);
  if (!(privateKey instanceof CryptoKey) || privateKey.type !== 'private' || privateKey.algorithm.name !== 'Ed25519') {
    throw new TypeError('privateKey must be an Ed25519 private CryptoKey');
  }
  if (publicKey instanceof Uint8Array) {
    await importEd25519PublicKey(publicKey);
    return { privateKey, publicKey };
  }
  if (!(publicKey instanceof CryptoKey) || publicKey.type !== 'public' || publicKey.algorithm.name !== 'Ed25519') {
    throw new TypeError('publicKey must be an Ed25519 public CryptoKey or 32 bytes');
  }
  // WebCrypto public keys are always exportable, whatever their `extractable` flag says.
  return { privateKey, publicKey: new Uint8Array(await crypto.subtle.exportKey('raw', publicKey)) };
}

export async function ed25519Sign(privateKey: CryptoKey, message: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.sign({ name: 'Ed25519' }, privateKey, own(message)));
}

/** A verifier for plain Ed25519 note signatures by `name`. */
export async function ed25519Verifier(name: string, publicKey: Uint8Array): Promise<NoteVerifier> {
  checkKeyName(name);
  const key = await importEd25519PublicKey(publicKey);
  const keyId = await computeKeyId(name, SIG_TYPE_ED25519, publicKey);
  return { name, keyId, type: SIG_TYPE_ED25519, verify: (text, sig) => ed25519Verify(key, sig, text) };
}

export async function ed25519Signer(name: string, key: Ed25519KeyPair): Promise<NoteSigner> {
  checkKeyName(name);
  const { privateKey, publicKey } = await ed25519KeyMaterial(key);
  const keyId = await computeKeyId(name, SIG_TYPE_ED25519, publicKey);
  return { name, keyId, type: SIG_TYPE_ED25519, sign: (text) => ed25519Sign(privateKey, text) };
}

// ---- Verifier key strings: <name>+<8 hex digits of key ID>+base64(type || public key) ----

function keyIdHex(keyId: number): string {
  return keyId.toString(16).padStart(8, '0');
}

export interface VerifierKey {
  name: string;
  type: number;
  keyId: number;
  publicKey: Uint8Array;
}

const VKEY_TYPES = [SIG_TYPE_ED25519, SIG_TYPE_COSIGNATURE_V1];

/** Encodes a 32-byte Ed25519 key as a vkey, for type 0x01 (log) or 0x04 (cosigner). */
export async function verifierKeyString(name: string, publicKey: Uint8Array, type: number = SIG_TYPE_ED25519): Promise<string> {
  if (!VKEY_TYPES.includes(type)) throw new TypeError(`unsupported signature type 0x${type.toString(16)}`);
  abytes('publicKey', publicKey, 32);
  const keyId = await computeKeyId(name, type, publicKey);
  return `${name}+${keyIdHex(keyId)}+${toBase64(concatBytes(new Uint8Array([type]), publicKey))}`;
}

/** Parses a vkey, refusing unknown types, wrong lengths and a key ID that does not match the key. */
export async function parseVerifierKey(vkey: string): Promise<VerifierKey> {
  if (typeof vkey !== 'string') throw new TypeError('verifier key must be a string');
  if (vkey.length > 1024) fail('E_LIMIT', 'verifier key is longer than 1024 characters');
  // The name and the hex hold no '+', but base64 may: split at the first two only.
  const a = vkey.indexOf('+');
  const b = a < 0 ? -1 : vkey.indexOf('+', a + 1);
  if (b < 0) fail('E_FORMAT', 'verifier key is not <name>+<key ID>+<key>');
  const name = checkKeyName(vkey.slice(0, a));
  const hex = vkey.slice(a + 1, b);
  if (!/^[0-9a-f]{8}$/.test(hex)) fail('E_FORMAT', 'verifier key ID must be 8 lower-case hex digits');
  const data = fromBase64(vkey.slice(b + 1));
  if (data.length !== 33) fail('E_FORMAT', `verifier key data must be 33 bytes, got ${data.length}`);
  const type = data[0]!;
  if (!VKEY_TYPES.includes(type)) fail('E_FORMAT', `unsupported verifier key type 0x${type.toString(16)}`);
  const publicKey = data.slice(1);
  const keyId = await computeKeyId(name, type, publicKey);
  if (keyIdHex(keyId) !== hex) fail('E_FORMAT', 'verifier key ID does not match its name and key');
  return { name, type, keyId, publicKey };
}
