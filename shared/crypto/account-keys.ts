/**
 * The account's key hierarchy below the password half P (DESIGN.md section 4):
 *   opaque input      = HKDF(P, "sealvault/v1/opaque")        -> OPAQUE password, so the directory never sees P
 *   escrow-auth seed  = HKDF(P, "sealvault/v1/escrow-auth")   -> Ed25519 key that proves knowledge of P to escrow
 *   KEK               = HKDF(P || E, salt "sealvault/v1/kek", info account id) -> AES-256-GCM, non-extractable
 *   local index key   = HKDF(P || E, salt "sealvault/v1/local-index", info account id) -> AES-256-GCM, non-extractable
 *   witness seed      = HKDF(P || E, salt "sealvault/v1/witness", info account id) -> Ed25519 cosigning key (auditors)
 */
import { abytes, astring, concatBytes, utf8 } from './bytes';
import { fromBase64url, toBase64url } from './encoding';
import { fail } from './errors';
import { LABELS, deriveLabelled, hkdfSha256 } from './hkdf';

export const ESCROW_SHARE_LENGTH = 32;
/** Account, contract, file and space ids: URL-safe, no separators, so 0x00-joined contexts parse one way. */
export const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

export function checkId(name: string, value: unknown): string {
  astring(name, value, 64);
  if (!ID_PATTERN.test(value as string)) fail('E_FORMAT', `${name} must match ${ID_PATTERN}`);
  return value as string;
}

/** The KEK as a non-extractable AES-GCM key: it can wrap and unwrap private keys but never leave WebCrypto. */
export async function deriveKek(passwordHalf: Uint8Array, escrowShare: Uint8Array, accountId: string): Promise<CryptoKey> {
  const ikm = kekInput(passwordHalf, escrowShare);
  try {
    const base = await crypto.subtle.importKey('raw', ikm, 'HKDF', false, ['deriveKey']);
    return await crypto.subtle.deriveKey(
      { name: 'HKDF', hash: 'SHA-256', salt: utf8(LABELS.kekSalt), info: utf8(checkId('accountId', accountId)) },
      base,
      { name: 'AES-GCM', length: 256 },
      false,
      ['encrypt', 'decrypt', 'wrapKey', 'unwrapKey'],
    );
  } finally {
    ikm.fill(0);
  }
}

/**
 * The key of this browser's encrypted search index (docs/FORMATS.md, local search index). Made
 * from both halves like the KEK, so neither the relay nor escrow (which holds E) can derive it,
 * and a thief of the browser profile needs the password too. It changes with the password (P
 * changes, E stays): the index is a cache, and a client rebuilds it rather than migrating it.
 * Only encrypt and decrypt: it never wraps keys and never leaves WebCrypto.
 */
export async function deriveLocalIndexKey(passwordHalf: Uint8Array, escrowShare: Uint8Array, accountId: string): Promise<CryptoKey> {
  const ikm = kekInput(passwordHalf, escrowShare);
  try {
    const base = await crypto.subtle.importKey('raw', ikm, 'HKDF', false, ['deriveKey']);
    return await crypto.subtle.deriveKey(
      { name: 'HKDF', hash: 'SHA-256', salt: utf8(LABELS.localIndex), info: utf8(checkId('accountId', accountId)) },
      base,
      { name: 'AES-GCM', length: 256 },
      false,
      ['encrypt', 'decrypt'],
    );
  } finally {
    ikm.fill(0);
  }
}

/**
 * The auditor's witness key (docs/AUDIT.md section 3): an Ed25519 key that cosigns the audit
 * log's checkpoints (c2sp.org/tlog-cosignature). From both halves like the KEK, so neither the
 * relay nor escrow can cosign in the auditor's name; it changes with the password, and a new
 * one is registered then. Every account gets one at unlock (deriving it costs one HKDF), only an
 * auditor ever registers it. The private half is non-extractable.
 */
export async function deriveWitnessKey(passwordHalf: Uint8Array, escrowShare: Uint8Array, accountId: string): Promise<{ privateKey: CryptoKey; publicKey: Uint8Array }> {
  const ikm = kekInput(passwordHalf, escrowShare);
  let seed: Uint8Array | null = null;
  try {
    seed = await hkdfSha256(ikm, utf8(LABELS.witness), utf8(checkId('accountId', accountId)), 32);
    return await importEd25519Seed(seed);
  } finally {
    ikm.fill(0);
    seed?.fill(0);
  }
}

/**
 * The KEK's bytes. Only the test-vector check and recovery tooling may call this: everywhere
 * else the KEK stays a non-extractable CryptoKey from deriveKek.
 */
export async function dangerouslyDeriveKekBytes(passwordHalf: Uint8Array, escrowShare: Uint8Array, accountId: string): Promise<Uint8Array> {
  const ikm = kekInput(passwordHalf, escrowShare);
  try {
    return await hkdfSha256(ikm, utf8(LABELS.kekSalt), utf8(checkId('accountId', accountId)), 32);
  } finally {
    ikm.fill(0);
  }
}

function kekInput(passwordHalf: Uint8Array, escrowShare: Uint8Array): Uint8Array<ArrayBuffer> {
  abytes('passwordHalf', passwordHalf, 32);
  abytes('escrowShare', escrowShare, ESCROW_SHARE_LENGTH);
  if (escrowShare.every((b) => b === 0)) fail('E_KEY_WEAK', 'escrow share is all zeros');
  return concatBytes(passwordHalf, escrowShare);
}

/** The OPAQUE "password": base64url of HKDF(P, label), so the OPAQUE server only ever sees a value derived from P. */
export async function deriveOpaqueInput(passwordHalf: Uint8Array): Promise<string> {
  abytes('passwordHalf', passwordHalf, 32);
  return toBase64url(await deriveLabelled(passwordHalf, LABELS.opaque));
}

// RFC 8410 PKCS#8 wrapping of a 32-byte Ed25519 seed: SEQUENCE { INTEGER 0, SEQUENCE { OID 1.3.101.112 }, OCTET STRING { OCTET STRING seed } }
const ED25519_PKCS8_PREFIX = Uint8Array.of(0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20);

/** Imports a 32-byte Ed25519 seed as a non-extractable signing key; returns the raw public key too. */
export async function importEd25519Seed(seed: Uint8Array): Promise<{ privateKey: CryptoKey; publicKey: Uint8Array }> {
  abytes('seed', seed, 32);
  const pkcs8 = concatBytes(ED25519_PKCS8_PREFIX, seed);
  try {
    // Import extractable once to read the public half (WebCrypto has no "public from private"),
    // then re-import non-extractable for use: the extractable copy never leaves this function.
    const tmp = await crypto.subtle.importKey('pkcs8', pkcs8, { name: 'Ed25519' }, true, ['sign']);
    const jwk = await crypto.subtle.exportKey('jwk', tmp);
    if (typeof jwk.x !== 'string') return fail('E_FORMAT', 'Ed25519 key export lacks x');
    const publicKey = fromBase64url(jwk.x);
    const privateKey = await crypto.subtle.importKey('pkcs8', pkcs8, { name: 'Ed25519' }, false, ['sign']);
    return { privateKey, publicKey };
  } finally {
    pkcs8.fill(0);
  }
}

/** The escrow-auth key pair: its public half is registered with escrow, its private half signs escrow challenges. */
export async function deriveEscrowAuthKey(passwordHalf: Uint8Array): Promise<{ privateKey: CryptoKey; publicKey: Uint8Array }> {
  abytes('passwordHalf', passwordHalf, 32);
  const seed = await deriveLabelled(passwordHalf, LABELS.escrowAuth);
  try {
    return await importEd25519Seed(seed);
  } finally {
    seed.fill(0);
  }
}

export function randomEscrowShare(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(ESCROW_SHARE_LENGTH));
}
