/**
 * The account's private keys at rest: PKCS#8 wrapped with AES-256-GCM under the KEK. The AAD
 * binds the account, the key's purpose and id, and the KDF parameters, so a relay can neither
 * swap one account's wrapped key for another's, nor move a wrapped signing key into the
 * envelope slot, nor pair it with weaker KDF parameters. After unwrapping, the private key is
 * checked against the certified public key before it is ever used.
 */
import { concatBytes, randomBytes, utf8 } from './bytes';
import { canonicalJson, fromBase64url, toBase64url } from './encoding';
import { fail } from './errors';
import { checkId } from './account-keys';
import type { Argon2Params } from './argon2';

export type PrivateKeyPurpose = 'envelope' | 'signing';

export interface WrappedPrivateKey {
  /** base64url 12-byte nonce */
  nonce: string;
  /** base64url AES-GCM(PKCS#8) with tag */
  wrapped: string;
}

export interface WrapContext {
  account: string;
  purpose: PrivateKeyPurpose;
  /** id of the matching public key (publicKeyId) */
  keyId: string;
  kdf: Argon2Params & { salt: string };
}

const AAD_PREFIX = utf8('sealvault/v1/private-key\u0000');
const ALGORITHMS = {
  envelope: { params: { name: 'RSA-OAEP', hash: 'SHA-256' } as RsaHashedImportParams, usages: ['unwrapKey', 'decrypt'] as KeyUsage[] },
  signing: { params: { name: 'ECDSA', namedCurve: 'P-256' } as EcKeyImportParams, usages: ['sign'] as KeyUsage[] },
};

export function privateKeyAad(ctx: WrapContext): Uint8Array<ArrayBuffer> {
  checkId('account', ctx.account);
  if (ctx.purpose !== 'envelope' && ctx.purpose !== 'signing') fail('E_FORMAT', 'unknown private key purpose');
  const { m, t, p, salt } = ctx.kdf;
  return concatBytes(AAD_PREFIX, utf8(canonicalJson({ v: 1, account: ctx.account, purpose: ctx.purpose, keyId: ctx.keyId, kdf: { m, t, p, salt } })));
}

/** Wraps an extractable private key under the KEK (AES-GCM, fresh nonce). */
export async function wrapPrivateKey(kek: CryptoKey, privateKey: CryptoKey, ctx: WrapContext): Promise<WrappedPrivateKey> {
  const nonce = randomBytes(12);
  const wrapped = await crypto.subtle.wrapKey('pkcs8', privateKey, kek, { name: 'AES-GCM', iv: nonce, additionalData: privateKeyAad(ctx) });
  return { nonce: toBase64url(nonce), wrapped: toBase64url(new Uint8Array(wrapped)) };
}

/**
 * Unwraps as a non-extractable key (extractable only for a password change's re-wrap) and proves it matches `certifiedPublicKey`: a wrapped key
 * that decrypts but belongs to another key pair (planted by a relay that knows the KEK's
 * output? impossible without the KEK, but cheap to exclude) is refused with E_CONTEXT.
 */
export async function unwrapPrivateKey(kek: CryptoKey, blob: unknown, ctx: WrapContext, certifiedPublicKey: CryptoKey, extractable = false): Promise<CryptoKey> {
  if (typeof blob !== 'object' || blob === null) return fail('E_FORMAT', 'wrapped private key must be an object');
  const { nonce, wrapped } = blob as Partial<WrappedPrivateKey>;
  const iv = fromBase64url(String(nonce));
  if (iv.length !== 12) fail('E_FORMAT', 'wrapped private key nonce must be 12 bytes');
  const alg = ALGORITHMS[ctx.purpose];
  let key: CryptoKey;
  try {
    key = await crypto.subtle.unwrapKey('pkcs8', fromBase64url(String(wrapped)), kek, { name: 'AES-GCM', iv, additionalData: privateKeyAad(ctx) }, alg.params, extractable, alg.usages);
  } catch (e) {
    return fail('E_AUTH', `the ${ctx.purpose} private key does not unwrap: wrong password half or escrow share, or the stored key was changed or swapped`, e);
  }
  await proveKeyPair(ctx.purpose, key, certifiedPublicKey);
  return key;
}

async function proveKeyPair(purpose: PrivateKeyPurpose, privateKey: CryptoKey, publicKey: CryptoKey): Promise<void> {
  const probe = randomBytes(32);
  let ok = false;
  try {
    if (purpose === 'signing') {
      const sig = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, privateKey, probe);
      ok = await crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, publicKey, sig, probe);
    } else {
      const probeKey = await crypto.subtle.importKey('raw', probe, 'AES-GCM', true, ['encrypt']);
      const wrapped = await crypto.subtle.wrapKey('raw', probeKey, publicKey, { name: 'RSA-OAEP' });
      const back = await crypto.subtle.unwrapKey('raw', wrapped, privateKey, { name: 'RSA-OAEP' }, 'AES-GCM', true, ['encrypt']);
      const raw = new Uint8Array(await crypto.subtle.exportKey('raw', back));
      ok = raw.length === probe.length && raw.every((b, i) => b === probe[i]);
    }
  } catch {
    ok = false;
  }
  if (!ok) fail('E_CONTEXT', `the unwrapped ${purpose} private key does not match the certified public key`);
}
