/**
 * The bytes an account's recovery-auth key (Ed25519, made in the browser from the recovery code;
 * its raw public key is registered with PUT /api/directory/recovery-key) signs to sign in without
 * the password (POST /api/directory/recovery/finish):
 *
 *   signed = "sealvault/v1/recovery-login" || 0x00 || challenge (32 bytes) || UTF-8(username)
 *
 * The challenge is 32 random bytes the directory made for one recovery attempt, single use and
 * valid for 2 minutes; binding the (lower-case) username means a signature answers one challenge
 * of one account. The username, not the account id: whoever recovers knows only their username
 * until they are signed in, and the directory must not reveal ids to anyone who asks. The domain
 * label keeps these signatures apart from escrow challenges, which the same kind of key signs.
 * The challenge has a fixed length and usernames are plain ASCII, so the joined bytes parse one
 * way only.
 *
 * Used unchanged by the browser (sign) and the directory (verify): WebCrypto only.
 */
import { abytes, concatBytes, own, utf8 } from '../crypto/bytes';
import { fail } from '../crypto/errors';

export const RECOVERY_CHALLENGE_DOMAIN = 'sealvault/v1/recovery-login';
export const RECOVERY_CHALLENGE_LENGTH = 32;
export const RECOVERY_SIGNATURE_LENGTH = 64;
export const RECOVERY_PUBLIC_KEY_LENGTH = 32;

const DOMAIN = utf8(`${RECOVERY_CHALLENGE_DOMAIN}\u0000`);

const USERNAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/** The exact bytes signed for one recovery challenge of one account, named by its lower-case username. */
export function recoveryChallengeBytes(challenge: Uint8Array, username: string): Uint8Array<ArrayBuffer> {
  abytes('challenge', challenge, RECOVERY_CHALLENGE_LENGTH);
  if (typeof username !== 'string' || !USERNAME.test(username)) fail('E_FORMAT', 'username must be the lower-case login name');
  return concatBytes(DOMAIN, challenge, utf8(username));
}

/** Imports a raw 32-byte Ed25519 public key for verification (E_KEY_WEAK if it is not one). */
export async function importRecoveryPublicKey(raw: Uint8Array): Promise<CryptoKey> {
  abytes('recovery public key', raw, RECOVERY_PUBLIC_KEY_LENGTH);
  try {
    return await crypto.subtle.importKey('raw', own(raw), 'Ed25519', true, ['verify']);
  } catch (e) {
    return fail('E_KEY_WEAK', 'the recovery public key is not an Ed25519 public key', e);
  }
}

/** Signs a challenge with the recovery-auth private key. Returns the 64-byte signature. */
export async function signRecoveryChallenge(privateKey: CryptoKey, challenge: Uint8Array, username: string): Promise<Uint8Array<ArrayBuffer>> {
  if (privateKey.algorithm.name !== 'Ed25519' || !privateKey.usages.includes('sign')) fail('E_KEY_WEAK', 'the recovery-auth key must be an Ed25519 signing key');
  return new Uint8Array(await crypto.subtle.sign('Ed25519', privateKey, recoveryChallengeBytes(challenge, username)));
}

/** True only if `signature` is a 64-byte Ed25519 signature by `publicKey` over this challenge and username. */
export async function verifyRecoveryChallenge(publicKey: CryptoKey, signature: Uint8Array, challenge: Uint8Array, username: string): Promise<boolean> {
  abytes('signature', signature);
  if (signature.length !== RECOVERY_SIGNATURE_LENGTH) return false;
  const bytes = recoveryChallengeBytes(challenge, username);
  try {
    return await crypto.subtle.verify('Ed25519', publicKey, own(signature), bytes);
  } catch {
    return false;
  }
}
