/**
 * The contract key (DEK): 32 random bytes made in memory, held as an HMAC-SHA-256 CryptoKey
 * because it is an HKDF input key, never an AES key itself. From it:
 *   file input key   = the DEK itself (c2sp.org/chunked-encryption runs HKDF-Expand on it per file version)
 *   record key       = HKDF-Expand(DEK, "sealvault/v1/record-key", 32) -> AES-256-GCM, non-extractable
 * Using the DEK for one primitive only (HMAC) keeps records and files in separate key domains.
 */
import { own, randomBytes, utf8 } from './bytes';
import { fromBase64url, toBase64url } from './encoding';
import { fail } from './errors';
import { RECORD_NONCE_SIZE, recordAad, type SealedRecord } from './records';
import { LABELS, hkdfExpand } from './hkdf';

/** The record kind of a DEK wrapped under the space key; its version is the space key's version. */
export const DEK_RECORD_KIND = 'dek';

export const DEK_ALGORITHM: HmacImportParams = { name: 'HMAC', hash: 'SHA-256', length: 256 };

/** A fresh DEK. Extractable only when it must be wrapped (to the space key or a grantee) right after. */
export function generateDek(options: { extractable: boolean }): Promise<CryptoKey> {
  return crypto.subtle.generateKey(DEK_ALGORITHM, options.extractable, ['sign']) as Promise<CryptoKey>;
}

export async function deriveRecordKey(dek: CryptoKey): Promise<CryptoKey> {
  const bytes = await hkdfExpand(dek, utf8(LABELS.recordKey), 32);
  try {
    return await crypto.subtle.importKey('raw', own(bytes), 'AES-GCM', false, ['encrypt', 'decrypt']);
  } finally {
    bytes.fill(0);
  }
}

/**
 * The key of the file digests a signing step names (docs/SIGNING.md section 3): HMAC-SHA-256
 * under HKDF-Expand(DEK, "sealvault/v1/file-digest", 32). Keyed, so the relay, which stores the
 * steps, cannot confirm a guess of a contract's plaintext (a known template, say) by hashing it;
 * everyone who reads the contract holds the DEK and checks the digests.
 */
export async function deriveFileDigestKey(dek: CryptoKey): Promise<CryptoKey> {
  const bytes = await hkdfExpand(dek, utf8(LABELS.fileDigest), 32);
  try {
    return await crypto.subtle.importKey('raw', own(bytes), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  } finally {
    bytes.fill(0);
  }
}

/**
 * The DEK at rest, wrapped under the space key SK version `version` with AES-256-GCM (raw key
 * bytes), in the shape of a sealed record of kind "dek": the same AAD binds it to its contract
 * and to the SK version, so the relay can neither move it to another contract nor claim another
 * key version (docs/FORMATS.md section 3).
 */
export async function wrapDek(spaceKey: CryptoKey, dek: CryptoKey, ctx: { contract: string; version: number }): Promise<SealedRecord> {
  const record = { kind: DEK_RECORD_KIND, contract: ctx.contract, version: ctx.version };
  const nonce = randomBytes(RECORD_NONCE_SIZE);
  const wrapped = await crypto.subtle.wrapKey('raw', dek, spaceKey, { name: 'AES-GCM', iv: nonce, additionalData: recordAad(record) });
  return { v: 1, ...record, nonce: toBase64url(nonce), ct: toBase64url(new Uint8Array(wrapped)) };
}

/**
 * Opens a wrapped DEK; E_CONTEXT for another contract or version, E_AUTH for a changed one.
 * Non-extractable unless `extractable` says the caller wraps it again at once (sharing the
 * contract with one person), and then it is dropped.
 */
export async function unwrapDek(spaceKey: CryptoKey, sealed: unknown, expected: { contract: string; version: number }, options: { extractable?: boolean } = {}): Promise<CryptoKey> {
  if (typeof sealed !== 'object' || sealed === null) return fail('E_FORMAT', 'wrapped DEK must be an object');
  const r = sealed as Partial<SealedRecord>;
  if (r.v !== 1) fail('E_FORMAT', 'unsupported wrapped DEK version');
  if (r.kind !== DEK_RECORD_KIND || r.contract !== expected.contract || r.version !== expected.version) {
    fail('E_CONTEXT', `wrapped DEK is for ${String(r.kind)}/${String(r.contract)}/v${String(r.version)}, expected ${DEK_RECORD_KIND}/${expected.contract}/v${expected.version}`);
  }
  const nonce = fromBase64url(String(r.nonce));
  if (nonce.length !== RECORD_NONCE_SIZE) fail('E_FORMAT', 'wrapped DEK nonce must be 12 bytes');
  try {
    return await crypto.subtle.unwrapKey(
      'raw',
      fromBase64url(String(r.ct)),
      spaceKey,
      { name: 'AES-GCM', iv: nonce, additionalData: recordAad({ kind: DEK_RECORD_KIND, ...expected }) },
      DEK_ALGORITHM,
      options.extractable ?? false,
      ['sign'],
    );
  } catch (e) {
    return fail('E_AUTH', 'the contract key does not unwrap: wrong space key version, or the stored key was changed', e);
  }
}
