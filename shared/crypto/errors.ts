/**
 * One closed set of error codes for everything the crypto core refuses. Callers branch on
 * `code`, never on message text; the app maps codes to words for people in one place.
 */
export const ERROR_CODES = [
  'E_FORMAT', // bytes or fields that do not parse as the format says (non-canonical, wrong length, unknown version)
  'E_AUTH', // an AEAD tag or key unwrap did not verify: wrong key, or the data was changed
  'E_TRUNCATED', // a stream or message ends where it must not: dropped final chunk, short header
  'E_COMMITMENT', // the chunked-encryption key commitment does not match: wrong key, salt or context
  'E_CONTEXT', // a well-formed object that belongs elsewhere: another contract, version, file, kind or origin
  'E_KDF_PARAMS', // Argon2id parameters outside the allowed bounds (checked before any hashing)
  'E_KEY_WEAK', // a key that is too small, has the wrong exponent or curve, or is malformed
  'E_SIGNATURE', // a signature that does not verify, or no signature from a trusted key
  'E_HASH', // a block or file digest that does not match its signed manifest
  'E_PROOF', // a Merkle inclusion or consistency proof that does not verify
  'E_LIMIT', // input beyond a documented size or count limit
  'E_ROLLBACK', // something older than what was already seen
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export class SealvaultCryptoError extends Error {
  override readonly name = 'SealvaultCryptoError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${code}: ${message}`, options);
  }
}

export function fail(code: ErrorCode, message: string, cause?: unknown): never {
  throw new SealvaultCryptoError(code, message, cause === undefined ? undefined : { cause });
}

export function isCryptoError(e: unknown, code?: ErrorCode): e is SealvaultCryptoError {
  return e instanceof SealvaultCryptoError && (code === undefined || e.code === code);
}
