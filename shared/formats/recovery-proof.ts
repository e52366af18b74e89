/**
 * The bytes an account's recovery-auth key (Ed25519, derived in the browser from the 128-bit
 * recovery code; its public half is registered with escrow) signs to register a new escrow
 * version after a forgotten password, without the old escrow-auth key (DESIGN.md section 4):
 *
 *   signed = "sealvault/v1/escrow-recovery" || 0x00 || challenge (32 bytes)
 *            || UTF-8(account id) || 0x00 || UTF-8(ticket jti) || 0x00
 *            || new escrow-auth public key (32 bytes, raw Ed25519)
 *            || new escrow version (8 bytes, unsigned big-endian)
 *
 * The challenge, account and ticket part is exactly the one of an escrow-auth signature
 * (shared/formats/escrow-challenge.ts); the distinct domain label keeps the two keys' signatures
 * apart, so a recovery signature never answers a release challenge (the recovery key can never
 * release E) and an escrow-auth signature never counts as a recovery. The new escrow-auth key
 * and version are bound too: one recovery signature registers exactly one new key as exactly one
 * version. Account ids match the id pattern and ticket ids are refused if they contain 0x00, and
 * what follows the last 0x00 is 40 bytes long, so the joined bytes parse one way only.
 *
 * Used unchanged by the browser (sign) and the escrow service (verify): no DOM or Node API here
 * beyond WebCrypto.
 */
import { abytes, concatBytes, own, utf8 } from '../crypto/bytes';
import { fail } from '../crypto/errors';
import { ESCROW_CHALLENGE_DOMAIN, ESCROW_SIGNATURE_LENGTH, escrowChallengeBytes } from './escrow-challenge';

export const ESCROW_RECOVERY_DOMAIN = 'sealvault/v1/escrow-recovery';
export const RECOVERY_AUTH_KEY_LENGTH = 32;

const DOMAIN = utf8(`${ESCROW_RECOVERY_DOMAIN}\u0000`);
/** length of "sealvault/v1/escrow-challenge" || 0x00, cut from the escrow-challenge bytes */
const CHALLENGE_DOMAIN_LENGTH = utf8(`${ESCROW_CHALLENGE_DOMAIN}\u0000`).length;
const ZERO = Uint8Array.of(0);

function versionBytes(version: number): Uint8Array<ArrayBuffer> {
  if (!Number.isSafeInteger(version) || version < 1) fail('E_FORMAT', 'escrow version must be a positive safe integer');
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(version), false);
  return out;
}

/** The exact bytes signed for one challenge of one ticket of one account, registering `newAuthKey` as `version`. */
export function recoveryChallengeBytes(challenge: Uint8Array, accountId: string, ticketId: string, newAuthKey: Uint8Array, version: number): Uint8Array<ArrayBuffer> {
  abytes('newAuthKey', newAuthKey, RECOVERY_AUTH_KEY_LENGTH);
  // challenge || account || 0x00 || ticket id, checked exactly as for an escrow-auth signature
  const common = escrowChallengeBytes(challenge, accountId, ticketId).subarray(CHALLENGE_DOMAIN_LENGTH);
  return concatBytes(DOMAIN, common, ZERO, newAuthKey, versionBytes(version));
}

/** Signs with the recovery-auth private key. Returns the 64-byte signature. */
export async function signRecoveryChallenge(
  privateKey: CryptoKey,
  challenge: Uint8Array,
  accountId: string,
  ticketId: string,
  newAuthKey: Uint8Array,
  version: number,
): Promise<Uint8Array<ArrayBuffer>> {
  if (privateKey.algorithm.name !== 'Ed25519' || !privateKey.usages.includes('sign')) fail('E_KEY_WEAK', 'recovery-auth key must be an Ed25519 signing key');
  const bytes = recoveryChallengeBytes(challenge, accountId, ticketId, newAuthKey, version);
  return new Uint8Array(await crypto.subtle.sign('Ed25519', privateKey, bytes));
}

/** True only if `signature` is a 64-byte Ed25519 signature by `publicKey` over these values. */
export async function verifyRecoveryChallenge(
  publicKey: CryptoKey,
  signature: Uint8Array,
  challenge: Uint8Array,
  accountId: string,
  ticketId: string,
  newAuthKey: Uint8Array,
  version: number,
): Promise<boolean> {
  abytes('signature', signature);
  if (signature.length !== ESCROW_SIGNATURE_LENGTH) return false;
  const bytes = recoveryChallengeBytes(challenge, accountId, ticketId, newAuthKey, version);
  try {
    return await crypto.subtle.verify('Ed25519', publicKey, own(signature), bytes);
  } catch {
    return false;
  }
}
