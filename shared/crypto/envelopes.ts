/**
 * Digital envelopes: a symmetric key (space key or DEK) wrapped with RSA-OAEP-3072/SHA-256 to a
 * member's certified public key. The OAEP label binds the envelope to its context (what key, of
 * which space or contract, which version, for whom), so a relay cannot move an envelope to
 * another place and have it open there.
 */
import { abytes, concatBytes, own, utf8 } from './bytes';
import { canonicalJson, fromBase64url, toBase64url } from './encoding';
import { fail } from './errors';

export const RSA_MIN_BITS = 3072;
export const RSA_MAX_BITS = 8192;
const RSA_OAEP = { name: 'RSA-OAEP', hash: 'SHA-256' } as const;
const LABEL_PREFIX = utf8('sealvault/v1/envelope\u0000');
export const ENVELOPE_ALG = 'RSA-OAEP-3072-SHA256';

export interface EnvelopeContext {
  /** what is wrapped: "space-key", "dek", "seal-key", ... */
  purpose: string;
  /** the account the envelope is for */
  recipient: string;
  [field: string]: string | number;
}

export interface Envelope {
  v: 1;
  alg: typeof ENVELOPE_ALG;
  context: EnvelopeContext;
  /** base64url of the RSA-OAEP ciphertext */
  wrapped: string;
}

export function generateEnvelopeKeyPair(): Promise<CryptoKeyPair> {
  // Extractable so the private key can be wrapped under the KEK once; unwrapped copies are not.
  return crypto.subtle.generateKey(
    { ...RSA_OAEP, modulusLength: RSA_MIN_BITS, publicExponent: Uint8Array.of(1, 0, 1) },
    true,
    ['wrapKey', 'unwrapKey', 'encrypt', 'decrypt'],
  ) as Promise<CryptoKeyPair>;
}

/** Refuses RSA keys under 3072 bits, over 8192 bits, with an exponent other than 65537, or not RSA-OAEP/SHA-256. */
export function checkEnvelopePublicKey(key: CryptoKey): CryptoKey {
  const alg = key.algorithm as RsaHashedKeyAlgorithm;
  if (alg.name !== 'RSA-OAEP' || (alg.hash as KeyAlgorithm).name !== 'SHA-256') fail('E_KEY_WEAK', 'envelope key must be RSA-OAEP with SHA-256');
  if (alg.modulusLength < RSA_MIN_BITS) fail('E_KEY_WEAK', `RSA key of ${alg.modulusLength} bits is below ${RSA_MIN_BITS}`);
  if (alg.modulusLength > RSA_MAX_BITS) fail('E_KEY_WEAK', `RSA key of ${alg.modulusLength} bits is above ${RSA_MAX_BITS}`);
  const e = alg.publicExponent;
  const exponent = e.reduce((acc, b) => acc * 256 + b, 0);
  if (exponent !== 65537) fail('E_KEY_WEAK', `RSA public exponent ${exponent} is not 65537`);
  return key;
}

/** Imports an SPKI RSA public key for wrapping, checked with checkEnvelopePublicKey. */
export async function importEnvelopePublicKey(spki: Uint8Array): Promise<CryptoKey> {
  abytes('spki', spki);
  let key: CryptoKey;
  try {
    key = await crypto.subtle.importKey('spki', own(spki), RSA_OAEP, true, ['wrapKey', 'encrypt']);
  } catch (e) {
    return fail('E_KEY_WEAK', 'not a valid RSA public key', e);
  }
  return checkEnvelopePublicKey(key);
}

function checkContext(context: EnvelopeContext): void {
  if (typeof context !== 'object' || context === null) fail('E_FORMAT', 'envelope context must be an object');
  if (typeof context.purpose !== 'string' || !/^[a-z][a-z0-9-]{0,31}$/.test(context.purpose)) fail('E_FORMAT', 'envelope purpose is missing or malformed');
  if (typeof context.recipient !== 'string' || context.recipient.length === 0) fail('E_FORMAT', 'envelope recipient is missing');
}

/** OAEP label = "sealvault/v1/envelope" || 0x00 || canonical JSON of the context. */
export function envelopeLabel(context: EnvelopeContext): Uint8Array<ArrayBuffer> {
  checkContext(context);
  return concatBytes(LABEL_PREFIX, utf8(canonicalJson(context)));
}

/**
 * Wraps an extractable symmetric key (AES or HMAC, format 'raw') to `publicKey` for `context`.
 * Format 'pkcs8' wraps a P-256 private key (the enterprise CA's, seal keys): its PKCS#8 is about
 * 138 bytes, inside RSA-OAEP-3072/SHA-256's 318-byte limit, so no hybrid layer is needed.
 */
export async function sealEnvelope(publicKey: CryptoKey, key: CryptoKey, context: EnvelopeContext, format: 'raw' | 'pkcs8' = 'raw'): Promise<Envelope> {
  checkEnvelopePublicKey(publicKey);
  const label = envelopeLabel(context);
  if (format === 'pkcs8' && (key.algorithm as EcKeyAlgorithm).namedCurve !== 'P-256') fail('E_FORMAT', 'only P-256 private keys fit in an envelope');
  const wrapped = new Uint8Array(await crypto.subtle.wrapKey(format, key, publicKey, { name: 'RSA-OAEP', label }));
  return { v: 1, alg: ENVELOPE_ALG, context: { ...context }, wrapped: toBase64url(wrapped) };
}

function sameContext(a: EnvelopeContext, b: EnvelopeContext): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

/**
 * Opens an envelope the caller expects for `expected` context. A context that differs from the
 * expected one is refused (E_CONTEXT) before decryption; a wrong key or changed bytes fail the
 * OAEP check (E_AUTH). The unwrapped key is non-extractable unless the caller must re-share it.
 */
export async function openEnvelope(
  privateKey: CryptoKey,
  envelope: unknown,
  expected: EnvelopeContext,
  unwrapAs: { algorithm: AesKeyAlgorithm | HmacImportParams | EcKeyImportParams; usages: KeyUsage[]; extractable?: boolean; format?: 'raw' | 'pkcs8' },
): Promise<CryptoKey> {
  if (typeof envelope !== 'object' || envelope === null) return fail('E_FORMAT', 'envelope must be an object');
  const env = envelope as Partial<Envelope>;
  if (env.v !== 1 || env.alg !== ENVELOPE_ALG) fail('E_FORMAT', `unsupported envelope version or algorithm: refusing to fall back`);
  if (typeof env.wrapped !== 'string' || typeof env.context !== 'object' || env.context === null) fail('E_FORMAT', 'envelope fields missing');
  checkContext(expected);
  if (!sameContext(env.context as EnvelopeContext, expected)) fail('E_CONTEXT', 'envelope belongs to another key, space, contract or recipient');
  const wrapped = fromBase64url(env.wrapped as string);
  const modulusBytes = (privateKey.algorithm as RsaHashedKeyAlgorithm).modulusLength / 8;
  if (wrapped.length !== modulusBytes) fail('E_FORMAT', `wrapped key must be ${modulusBytes} bytes, got ${wrapped.length}`);
  try {
    return await crypto.subtle.unwrapKey(
      unwrapAs.format ?? 'raw',
      wrapped,
      privateKey,
      { name: 'RSA-OAEP', label: envelopeLabel(expected) },
      unwrapAs.algorithm,
      unwrapAs.extractable ?? false,
      unwrapAs.usages,
    );
  } catch (e) {
    return fail('E_AUTH', 'envelope does not open with this key: wrong recipient, wrong context, or changed bytes', e);
  }
}
