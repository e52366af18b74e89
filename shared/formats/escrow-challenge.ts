/**
 * The bytes an account's escrow-auth key (Ed25519, seed = HKDF(P, "sealvault/v1/escrow-auth"),
 * docs/FORMATS.md section 2) signs to make escrow release the share E (DESIGN.md section 4):
 *
 *   signed = "sealvault/v1/escrow-challenge" || 0x00 || challenge (32 bytes)
 *            || UTF-8(account id) || 0x00 || UTF-8(ticket jti)
 *
 * The challenge is 32 random bytes escrow made for one directory ticket; binding the account and
 * the ticket id means a signature answers exactly one challenge of one ticket of one account, so
 * it can be neither replayed nor moved. Account ids match the id pattern and ticket ids are
 * refused if they contain 0x00, so the joined bytes parse one way only.
 *
 * Used unchanged by the browser (sign) and the escrow service (verify): no DOM or Node API here
 * beyond WebCrypto.
 */
import { abytes, concatBytes, own, utf8 } from '../crypto/bytes';
import { checkId } from '../crypto/account-keys';
import { fail } from '../crypto/errors';

export const ESCROW_CHALLENGE_DOMAIN = 'sealvault/v1/escrow-challenge';
export const ESCROW_CHALLENGE_LENGTH = 32;
export const ESCROW_SIGNATURE_LENGTH = 64;
/** Ticket ids are made by the directory; anything longer or with a NUL is not one of ours. */
export const TICKET_ID_MAX_LENGTH = 128;

const DOMAIN = utf8(`${ESCROW_CHALLENGE_DOMAIN}\u0000`);
const ZERO = Uint8Array.of(0);

function checkTicketId(jti: unknown): string {
  if (typeof jti !== 'string') throw new TypeError(`ticketId must be a string, got ${typeof jti}`);
  if (jti.length === 0 || jti.length > TICKET_ID_MAX_LENGTH) fail('E_FORMAT', `ticket id must be 1 to ${TICKET_ID_MAX_LENGTH} characters`);
  if (jti.includes('\u0000') || !jti.isWellFormed()) fail('E_FORMAT', 'ticket id must not contain NUL or lone surrogates');
  return jti;
}

/** The exact bytes signed for one challenge of one ticket of one account. */
export function escrowChallengeBytes(challenge: Uint8Array, accountId: string, ticketId: string): Uint8Array<ArrayBuffer> {
  abytes('challenge', challenge, ESCROW_CHALLENGE_LENGTH);
  checkId('accountId', accountId);
  checkTicketId(ticketId);
  return concatBytes(DOMAIN, challenge, utf8(accountId), ZERO, utf8(ticketId));
}

/** Signs a challenge with the escrow-auth private key (from deriveEscrowAuthKey). Returns the 64-byte signature. */
export async function signEscrowChallenge(privateKey: CryptoKey, challenge: Uint8Array, accountId: string, ticketId: string): Promise<Uint8Array<ArrayBuffer>> {
  if (privateKey.algorithm.name !== 'Ed25519' || !privateKey.usages.includes('sign')) fail('E_KEY_WEAK', 'escrow-auth key must be an Ed25519 signing key');
  const bytes = escrowChallengeBytes(challenge, accountId, ticketId);
  return new Uint8Array(await crypto.subtle.sign('Ed25519', privateKey, bytes));
}

/** True only if `signature` is a 64-byte Ed25519 signature by `publicKey` over this challenge, account and ticket. */
export async function verifyEscrowChallenge(
  publicKey: CryptoKey,
  signature: Uint8Array,
  challenge: Uint8Array,
  accountId: string,
  ticketId: string,
): Promise<boolean> {
  abytes('signature', signature);
  if (signature.length !== ESCROW_SIGNATURE_LENGTH) return false;
  const bytes = escrowChallengeBytes(challenge, accountId, ticketId);
  try {
    return await crypto.subtle.verify('Ed25519', publicKey, own(signature), bytes);
  } catch {
    return false;
  }
}
