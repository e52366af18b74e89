/**
 * The password half P of the key-encryption key: Argon2id over the NFKC-normalised password.
 * Parameters arrive from the relay (prelogin), so they are attacker input: they are bounded
 * before a single byte is hashed, so a hostile relay can neither weaken the KDF nor freeze the
 * tab with an absurd memory cost.
 */
import { argon2id } from 'hash-wasm';
import { abytes, utf8 } from './bytes';
import { fail } from './errors';

export interface Argon2Params {
  /** memory cost in KiB */
  m: number;
  /** passes */
  t: number;
  /** lanes */
  p: number;
}

export const ARGON2_BOUNDS = {
  mMinKiB: 64 * 1024,
  mMaxKiB: 1024 * 1024,
  tMin: 3,
  tMax: 10,
  pMin: 1,
  pMax: 16,
} as const;

/** RFC 9106 section 4, second recommended option (64 MiB), with one lane: hash-wasm runs one thread. */
export const DEFAULT_ARGON2_PARAMS: Readonly<Argon2Params> = Object.freeze({ m: 64 * 1024, t: 3, p: 1 });

export const PASSWORD_HALF_LENGTH = 32;
export const SALT_MIN_LENGTH = 16;
export const SALT_MAX_LENGTH = 64;
const PASSWORD_MAX_LENGTH = 1024;

/** Refuses parameters outside the bounds; returns a clean copy with only the three fields. */
export function checkArgon2Params(params: unknown): Argon2Params {
  if (typeof params !== 'object' || params === null) return fail('E_KDF_PARAMS', 'Argon2id parameters missing');
  const { m, t, p } = params as Record<string, unknown>;
  const int = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);
  if (!int(m) || !int(t) || !int(p)) return fail('E_KDF_PARAMS', 'Argon2id parameters must be integers');
  const b = ARGON2_BOUNDS;
  if (m < b.mMinKiB) fail('E_KDF_PARAMS', `Argon2id memory ${m} KiB is below the floor of ${b.mMinKiB} KiB`);
  if (m > b.mMaxKiB) fail('E_KDF_PARAMS', `Argon2id memory ${m} KiB is above the ceiling of ${b.mMaxKiB} KiB`);
  if (t < b.tMin) fail('E_KDF_PARAMS', `Argon2id passes ${t} are below the floor of ${b.tMin}`);
  if (t > b.tMax) fail('E_KDF_PARAMS', `Argon2id passes ${t} are above the ceiling of ${b.tMax}`);
  if (p < b.pMin || p > b.pMax) fail('E_KDF_PARAMS', `Argon2id lanes ${p} outside [${b.pMin}, ${b.pMax}]`);
  // Argon2 itself needs at least 8 KiB per lane; our floor makes that hold, but say so explicitly.
  if (m < 8 * p) fail('E_KDF_PARAMS', 'Argon2id memory is below 8 KiB per lane');
  return { m, t, p };
}

/** NFKC so that the same password typed on two keyboards (full-width digits, ligatures) gives one P. */
export function normalisePassword(password: string): Uint8Array<ArrayBuffer> {
  if (typeof password !== 'string' || password.length === 0) throw new TypeError('password must be a non-empty string');
  if (password.length > PASSWORD_MAX_LENGTH) fail('E_LIMIT', `password longer than ${PASSWORD_MAX_LENGTH} characters`);
  if (!password.isWellFormed()) fail('E_FORMAT', 'password contains a lone surrogate');
  return utf8(password.normalize('NFKC'));
}

/** P = Argon2id(NFKC(password), salt, m, t, p) with a 32-byte output. Blocking: call it from a worker in browsers. */
export async function derivePasswordHalf(password: string, salt: Uint8Array, params: unknown): Promise<Uint8Array> {
  const checked = checkArgon2Params(params);
  abytes('salt', salt);
  if (salt.length < SALT_MIN_LENGTH || salt.length > SALT_MAX_LENGTH) {
    fail('E_KDF_PARAMS', `salt must be ${SALT_MIN_LENGTH} to ${SALT_MAX_LENGTH} bytes, got ${salt.length}`);
  }
  const pw = normalisePassword(password);
  try {
    return await argon2id({
      password: pw,
      salt,
      memorySize: checked.m,
      iterations: checked.t,
      parallelism: checked.p,
      hashLength: PASSWORD_HALF_LENGTH,
      outputType: 'binary',
    });
  } finally {
    pw.fill(0);
  }
}
