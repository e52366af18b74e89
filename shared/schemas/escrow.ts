/**
 * Wire schemas of the escrow service (relay/escrow): it holds each account's escrow share E and
 * escrow-auth public key, and releases E only to a caller who shows a fresh directory ticket AND
 * a signature over a fresh challenge by the escrow-auth key (DESIGN.md section 4).
 */
import { z } from 'zod';
import { ESCROW_CHALLENGE_LENGTH, ESCROW_SIGNATURE_LENGTH } from '../formats/escrow-challenge';
import { B64u, Id, PositiveInt } from './common';

export const ESCROW_SHARE_BYTES = 32;
export const ESCROW_AUTH_KEY_BYTES = 32;
/** Tokens are at most 4096 characters (shared/formats/token.ts). */
export const Ticket = z.string().min(1).max(4096).regex(/^sv1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/, 'an sv1 token');
export const ChallengeId = B64u({ bytes: 16 });
export const EscrowSignature = B64u({ bytes: ESCROW_SIGNATURE_LENGTH });

/** Proof that the caller holds the current escrow-auth key: the same three values as a release. */
export const EscrowProofSchema = z.strictObject({
  ticket: Ticket,
  challengeId: ChallengeId,
  signature: EscrowSignature,
});

/**
 * POST /shares. Version 1 first; a later version (password change) must carry `proof` made with
 * the CURRENT auth key, so a stolen session cannot replace the key that guards E.
 */
export const RegisterShareSchema = z.strictObject({
  version: PositiveInt,
  /** E: 32 random bytes made in the browser; all zeros is refused */
  share: B64u({ bytes: ESCROW_SHARE_BYTES }),
  /** raw Ed25519 public key of the escrow-auth key for this version */
  authKey: B64u({ bytes: ESCROW_AUTH_KEY_BYTES }),
  proof: EscrowProofSchema.optional(),
});
export type RegisterShare = z.infer<typeof RegisterShareSchema>;

export const RegisterShareResponseSchema = z.strictObject({ account: Id, version: PositiveInt });

/** GET /shares/status: what escrow holds for the session's account, without E itself. */
export const ShareStatusSchema = z.strictObject({
  account: Id,
  version: PositiveInt.nullable(),
  authKey: B64u({ bytes: ESCROW_AUTH_KEY_BYTES }).nullable(),
});

export const ChallengeRequestSchema = z.strictObject({ ticket: Ticket });

export const ChallengeResponseSchema = z.strictObject({
  challengeId: ChallengeId,
  challenge: B64u({ bytes: ESCROW_CHALLENGE_LENGTH }),
  /** seconds since the epoch; the challenge is refused after this */
  expiresAt: PositiveInt,
});

/** POST /release as documented; `signature` is required (a request without it is refused, audited, and spends the ticket). */
export const ReleaseRequestSchema = z.strictObject({
  ticket: Ticket,
  challengeId: ChallengeId,
  signature: EscrowSignature,
});
export type ReleaseRequest = z.infer<typeof ReleaseRequestSchema>;

export const ReleaseResponseSchema = z.strictObject({
  version: PositiveInt,
  share: B64u({ bytes: ESCROW_SHARE_BYTES }),
});
