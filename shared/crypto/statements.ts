/**
 * Signed statements: ECDSA P-256 with SHA-256 over the RFC 8785 canonical JSON of an object
 * whose `type` field names what it is (domain separation: a signature on a manifest can never be
 * read as a signature on a grant). Signatures are IEEE P1363 (r || s, 64 bytes), as WebCrypto
 * produces them.
 */
import { abytes, own, utf8 } from './bytes';
import { canonicalJson, fromBase64url, toBase64url, type Json } from './encoding';
import { fail } from './errors';

const ECDSA = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const ECDSA_SHA256 = { name: 'ECDSA', hash: 'SHA-256' } as const;
export const SIGNATURE_LENGTH = 64;
const TYPE_PATTERN = /^sealvault\/v1\/[a-z0-9-]+(\/[a-z0-9-]+)*$/;

export interface Statement {
  type: string;
  [field: string]: Json;
}

export interface SignedStatement<T extends Statement = Statement> {
  statement: T;
  /** base64url of the 64-byte P1363 signature */
  signature: string;
}

/** A fresh signing key pair. The private key is extractable only so it can be wrapped under the KEK once. */
export function generateSigningKeyPair(): Promise<CryptoKeyPair> {
  return crypto.subtle.generateKey(ECDSA, true, ['sign', 'verify']) as Promise<CryptoKeyPair>;
}

/** Imports a P-256 public key (SPKI DER); refuses other curves and malformed keys with E_KEY_WEAK. */
export async function importSigningPublicKey(spki: Uint8Array): Promise<CryptoKey> {
  abytes('spki', spki);
  try {
    return await crypto.subtle.importKey('spki', own(spki), ECDSA, true, ['verify']);
  } catch (e) {
    return fail('E_KEY_WEAK', 'not a valid ECDSA P-256 public key', e);
  }
}

function checkSigningKey(key: CryptoKey, usage: 'sign' | 'verify'): void {
  const alg = key.algorithm as EcKeyAlgorithm;
  if (alg.name !== 'ECDSA' || alg.namedCurve !== 'P-256' || !key.usages.includes(usage)) {
    fail('E_KEY_WEAK', `expected an ECDSA P-256 key with the ${usage} usage`);
  }
}

function checkType(type: unknown): string {
  if (typeof type !== 'string' || !TYPE_PATTERN.test(type)) fail('E_FORMAT', `statement type must match ${TYPE_PATTERN}`);
  return type;
}

/** The exact bytes that are signed: the canonical JSON of the statement. */
export function statementBytes(statement: Statement): Uint8Array<ArrayBuffer> {
  checkType(statement.type);
  return utf8(canonicalJson(statement));
}

export async function signStatement<T extends Statement>(privateKey: CryptoKey, statement: T): Promise<SignedStatement<T>> {
  checkSigningKey(privateKey, 'sign');
  const signature = new Uint8Array(await crypto.subtle.sign(ECDSA_SHA256, privateKey, statementBytes(statement)));
  return { statement, signature: toBase64url(signature) };
}

/**
 * Verifies first, then checks the type: returns the statement only if the signature is valid
 * for `publicKey` and the type is the one the caller expects.
 */
export async function verifyStatement<T extends Statement>(
  publicKey: CryptoKey,
  signed: unknown,
  expectedType: T['type'],
): Promise<T> {
  checkSigningKey(publicKey, 'verify');
  if (typeof signed !== 'object' || signed === null) return fail('E_FORMAT', 'signed statement must be an object');
  const { statement, signature } = signed as { statement?: unknown; signature?: unknown };
  if (typeof statement !== 'object' || statement === null || Array.isArray(statement)) return fail('E_FORMAT', 'statement must be an object');
  if (typeof signature !== 'string') return fail('E_FORMAT', 'signature must be base64url text');
  const sig = fromBase64url(signature);
  if (sig.length !== SIGNATURE_LENGTH) fail('E_SIGNATURE', `signature must be ${SIGNATURE_LENGTH} bytes`);
  const bytes = statementBytes(statement as Statement);
  const ok = await crypto.subtle.verify(ECDSA_SHA256, publicKey, sig, bytes);
  if (!ok) fail('E_SIGNATURE', 'signature does not verify for this key');
  if ((statement as Statement).type !== expectedType) {
    fail('E_CONTEXT', `expected a ${expectedType} statement, got ${(statement as Statement).type}`);
  }
  return statement as T;
}

/** Short stable id of a public key: base64url of the first 16 bytes of SHA-256(SPKI). */
export async function publicKeyId(publicKey: CryptoKey): Promise<string> {
  const spki = new Uint8Array(await crypto.subtle.exportKey('spki', publicKey));
  return toBase64url(new Uint8Array(await crypto.subtle.digest('SHA-256', spki)).subarray(0, 16));
}
