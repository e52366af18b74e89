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

export const RECOVERY_KEY_BYTES = 32;
/** raw Ed25519 public key of the recovery-auth key (derived in the browser from the recovery code) */
export const RecoveryKey = B64u({ bytes: RECOVERY_KEY_BYTES });

/**
 * Proof that the caller holds the current escrow-auth key: the same three values as a release,
 * signed over shared/formats/escrow-challenge.ts bytes. `kind` may be left out (the original shape).
 */
export const EscrowAuthProofSchema = z.strictObject({
  kind: z.literal('auth').optional(),
  ticket: Ticket,
  challengeId: ChallengeId,
  signature: EscrowSignature,
});

/**
 * Proof that the caller holds the account's recovery-auth key: a ticket and challenge as for a
 * release, signed with the recovery key over shared/formats/recovery-proof.ts bytes (which also
 * bind the new escrow-auth key and version). Registers a new version only, never releases E.
 */
export const EscrowRecoveryProofSchema = z.strictObject({
  kind: z.literal('recovery'),
  ticket: Ticket,
  challengeId: ChallengeId,
  signature: EscrowSignature,
});

/** Either proof; without `kind`, an escrow-auth proof. */
export const EscrowProofSchema = z.union([EscrowAuthProofSchema, EscrowRecoveryProofSchema]);
export type EscrowProof = z.infer<typeof EscrowProofSchema>;

/**
 * POST /shares. Version 1 first; a later version (password change) must carry `proof` made with
 * the CURRENT auth key, so a stolen session cannot replace the key that guards E; or, after a
 * forgotten password, a recovery proof, and then `share` must be the E escrow already holds.
 */
export const RegisterShareSchema = z.strictObject({
  version: PositiveInt,
  /** E: 32 random bytes made in the browser; all zeros is refused */
  share: B64u({ bytes: ESCROW_SHARE_BYTES }),
  /** raw Ed25519 public key of the escrow-auth key for this version */
  authKey: B64u({ bytes: ESCROW_AUTH_KEY_BYTES }),
  /** version 1 only: the account's recovery-auth public key (later: PUT /recovery-key) */
  recoveryKey: RecoveryKey.optional(),
  proof: EscrowProofSchema.optional(),
});
export type RegisterShare = z.infer<typeof RegisterShareSchema>;

export const RegisterShareResponseSchema = z.strictObject({ account: Id, version: PositiveInt });

/** GET /shares/status: what escrow holds for the session's account, without E itself. */
export const ShareStatusSchema = z.strictObject({
  account: Id,
  version: PositiveInt.nullable(),
  authKey: B64u({ bytes: ESCROW_AUTH_KEY_BYTES }).nullable(),
  /** the registered recovery-auth public key, or null */
  recoveryKey: RecoveryKey.nullable(),
});

/** PUT /recovery-key: set or replace the recovery-auth key, with a proof by the CURRENT escrow-auth key. */
export const PutRecoveryKeySchema = z.strictObject({
  recoveryKey: RecoveryKey,
  proof: EscrowAuthProofSchema,
});
export const PutRecoveryKeyResponseSchema = z.strictObject({
  account: Id,
  /** the share version whose escrow-auth key made the proof */
  version: PositiveInt,
  recoveryKey: RecoveryKey,
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
