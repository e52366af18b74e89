/**
 * The contract key (DEK): 32 random bytes made in memory, held as an HMAC-SHA-256 CryptoKey
 * because it is an HKDF input key, never an AES key itself. From it:
 *   file input key   = the DEK itself (c2sp.org/chunked-encryption runs HKDF-Expand on it per file version)
 *   record key       = HKDF-Expand(DEK, "sealvault/v1/record-key", 32) -> AES-256-GCM, non-extractable
 * Using the DEK for one primitive only (HMAC) keeps records and files in separate key domains.
 */
import { own, utf8 } from './bytes';
import { LABELS, hkdfExpand } from './hkdf';

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
