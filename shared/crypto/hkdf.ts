/**
 * HKDF-SHA-256 (RFC 5869) with labelled domain separation. Every derivation in Sealvault has
 * its own label, listed here and in docs/FORMATS.md, so no two uses can produce the same key.
 */
import { abytes, anumber, concatBytes, own, utf8 } from './bytes';

export const LABELS = {
  kekSalt: 'sealvault/v1/kek',
  opaque: 'sealvault/v1/opaque',
  escrowAuth: 'sealvault/v1/escrow-auth',
  recordKey: 'sealvault/v1/record-key',
  fileDigest: 'sealvault/v1/file-digest',
  localIndex: 'sealvault/v1/local-index',
  witness: 'sealvault/v1/witness',
} as const;

const HASH_LENGTH = 32;

/** Full HKDF (extract then expand), through WebCrypto. */
export async function hkdfSha256(
  ikm: Uint8Array,
  salt: Uint8Array,
  info: Uint8Array,
  length: number,
): Promise<Uint8Array<ArrayBuffer>> {
  abytes('ikm', ikm);
  abytes('salt', salt);
  abytes('info', info);
  anumber('length', length, 1, 255 * HASH_LENGTH);
  const key = await crypto.subtle.importKey('raw', own(ikm), 'HKDF', false, ['deriveBits']);
  const bits = await crypto.subtle.deriveBits(
    { name: 'HKDF', hash: 'SHA-256', salt: own(salt), info: own(info) },
    key,
    length * 8,
  );
  return new Uint8Array(bits);
}

/** HMAC-SHA-256 key from raw bytes (imported non-extractable) or an existing HMAC CryptoKey. */
export async function hmacKey(prk: CryptoKey | Uint8Array): Promise<CryptoKey> {
  if (prk instanceof Uint8Array) {
    abytes('prk', prk);
    if (prk.length < HASH_LENGTH) throw new RangeError(`prk must be at least ${HASH_LENGTH} bytes`);
    return crypto.subtle.importKey('raw', own(prk), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  }
  const alg = prk.algorithm as HmacKeyAlgorithm;
  if (alg.name !== 'HMAC' || (alg.hash as KeyAlgorithm).name !== 'SHA-256' || !prk.usages.includes('sign')) {
    throw new TypeError('prk must be an HMAC SHA-256 key with the sign usage');
  }
  return prk;
}

/**
 * HKDF-Expand alone (RFC 5869 section 2.3). WebCrypto only offers extract-then-expand, and
 * c2sp.org/chunked-encryption uses the input key directly as the PRK, so expand is built on HMAC.
 */
export async function hkdfExpand(prk: CryptoKey | Uint8Array, info: Uint8Array, length: number): Promise<Uint8Array> {
  abytes('info', info);
  anumber('length', length, 1, 255 * HASH_LENGTH);
  const key = await hmacKey(prk);
  const out = new Uint8Array(Math.ceil(length / HASH_LENGTH) * HASH_LENGTH);
  let previous = new Uint8Array(0);
  for (let i = 1; (i - 1) * HASH_LENGTH < length; i++) {
    const block = new Uint8Array(await crypto.subtle.sign('HMAC', key, concatBytes(previous, info, Uint8Array.of(i))));
    out.set(block, (i - 1) * HASH_LENGTH);
    previous = block;
  }
  return out.subarray(0, length);
}

/** HKDF with an empty salt and a label as info: sub-keys of a value that is already uniformly random. */
export function deriveLabelled(ikm: Uint8Array, label: string, length = HASH_LENGTH): Promise<Uint8Array<ArrayBuffer>> {
  return hkdfSha256(ikm, new Uint8Array(0), utf8(label), length);
}
