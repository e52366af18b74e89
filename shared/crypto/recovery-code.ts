/**
 * The recovery code (DESIGN.md section 4, docs/FORMATS.md section 12): 128 random bits shown
 * once at registration as 8 groups of 4 hex digits. It does two things:
 *   - seeds an Ed25519 "recovery-auth" key whose public half the directory and escrow hold, so
 *     the code's holder can sign in and register a new escrow-auth key without the password;
 *   - wraps, with AES-256-GCM, a second copy of the private keys together with the escrow share
 *     E (the recovery blob, stored by keys), so the account's keys survive a forgotten password.
 * Escrow keeps E across password changes, so the blob stays valid for the account's lifetime.
 */
import { abytes, concatBytes, randomBytes, utf8 } from './bytes';
import { canonicalJson, fromBase64url, toBase64url } from './encoding';
import { checkId, ESCROW_SHARE_LENGTH, importEd25519Seed } from './account-keys';
import { fail } from './errors';
import { hkdfSha256 } from './hkdf';

export const RECOVERY_CODE_BYTES = 16;
const SALT = 'sealvault/v1/recovery';
const AAD_PREFIX = 'sealvault/v1/recovery-blob\u0000';
const NONCE_BYTES = 12;

/** "1A2B-3C4D-…": 8 groups of 4 upper-case hex digits. */
export function formatRecoveryCode(bytes: Uint8Array): string {
  abytes('recovery code', bytes, RECOVERY_CODE_BYTES);
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('').toUpperCase();
  return hex.match(/.{4}/g)!.join('-');
}

/** Accepts the code as shown, in any case, with or without dashes and spaces. */
export function parseRecoveryCode(text: string): Uint8Array<ArrayBuffer> {
  const hex = String(text).replace(/[\s-]/g, '').toLowerCase();
  if (!/^[0-9a-f]{32}$/.test(hex)) fail('E_FORMAT', 'a recovery code is 32 hexadecimal digits (8 groups of 4)');
  return Uint8Array.from(hex.match(/../g)!, (h) => parseInt(h, 16));
}

export function newRecoveryCode(): Uint8Array<ArrayBuffer> {
  return randomBytes(RECOVERY_CODE_BYTES);
}

function derive(code: Uint8Array, info: string): Promise<Uint8Array<ArrayBuffer>> {
  abytes('recovery code', code, RECOVERY_CODE_BYTES);
  return hkdfSha256(code, utf8(SALT), utf8(info), 32);
}

/**
 * Ed25519 seed = HKDF-SHA-256(code, salt "sealvault/v1/recovery", info "auth"). Not bound to
 * the account: whoever recovers knows only their username until they have signed in, and the
 * code is 128 random bits, unique to the account anyway.
 */
export async function deriveRecoveryAuthKey(code: Uint8Array): Promise<{ privateKey: CryptoKey; publicKey: Uint8Array }> {
  const seed = await derive(code, 'auth');
  try {
    return await importEd25519Seed(seed);
  } finally {
    seed.fill(0);
  }
}

export interface RecoveryContents {
  escrowShare: Uint8Array<ArrayBuffer>;
  /** PKCS#8 of the RSA-OAEP envelope private key */
  envelopeKey: Uint8Array<ArrayBuffer>;
  /** PKCS#8 of the ECDSA P-256 signing private key */
  signingKey: Uint8Array<ArrayBuffer>;
}

async function blobKey(code: Uint8Array, account: string): Promise<CryptoKey> {
  const raw = await derive(code, `wrap\u0000${checkId('account', account)}`);
  try {
    return await crypto.subtle.importKey('raw', raw, 'AES-GCM', false, ['encrypt', 'decrypt']);
  } finally {
    raw.fill(0);
  }
}

/** base64url(nonce || AES-GCM(JCS{v, account, escrowShare, envelopeKey, signingKey})), AAD binds the account. */
export async function sealRecoveryBlob(code: Uint8Array, account: string, contents: { escrowShare: Uint8Array; envelopeKey: Uint8Array; signingKey: Uint8Array }): Promise<string> {
  abytes('escrowShare', contents.escrowShare, ESCROW_SHARE_LENGTH);
  const key = await blobKey(code, account);
  const nonce = randomBytes(NONCE_BYTES);
  const plaintext = utf8(
    canonicalJson({ v: 1, account, escrowShare: toBase64url(contents.escrowShare), envelopeKey: toBase64url(contents.envelopeKey), signingKey: toBase64url(contents.signingKey) }),
  );
  try {
    const ct = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv: nonce, additionalData: utf8(AAD_PREFIX + account) }, key, plaintext));
    return toBase64url(concatBytes(nonce, ct));
  } finally {
    plaintext.fill(0);
  }
}

/** E_AUTH for a wrong code or a changed or moved blob; E_FORMAT for a blob of the wrong shape. */
export async function openRecoveryBlob(code: Uint8Array, account: string, blob: string): Promise<RecoveryContents> {
  const bytes = fromBase64url(blob);
  if (bytes.length < NONCE_BYTES + 16) fail('E_FORMAT', 'the recovery blob is too short');
  const key = await blobKey(code, account);
  let plaintext: Uint8Array;
  try {
    plaintext = new Uint8Array(
      await crypto.subtle.decrypt({ name: 'AES-GCM', iv: bytes.slice(0, NONCE_BYTES), additionalData: utf8(AAD_PREFIX + account) }, key, bytes.slice(NONCE_BYTES)),
    );
  } catch (e) {
    return fail('E_AUTH', 'the recovery code does not open this account’s recovery copy (wrong code, or the copy was changed)', e);
  }
  let parsed: { v?: unknown; account?: unknown; escrowShare?: unknown; envelopeKey?: unknown; signingKey?: unknown };
  try {
    parsed = JSON.parse(new TextDecoder().decode(plaintext)) as typeof parsed;
  } catch (e) {
    return fail('E_FORMAT', 'the recovery copy is not JSON', e);
  } finally {
    plaintext.fill(0);
  }
  if (parsed.v !== 1 || parsed.account !== account) fail('E_CONTEXT', 'the recovery copy belongs to another account');
  const escrowShare = fromBase64url(String(parsed.escrowShare));
  abytes('escrowShare', escrowShare, ESCROW_SHARE_LENGTH);
  return { escrowShare, envelopeKey: fromBase64url(String(parsed.envelopeKey)), signingKey: fromBase64url(String(parsed.signingKey)) };
}
