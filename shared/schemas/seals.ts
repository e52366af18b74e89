/**
 * Wire schemas of seals (docs/SIGNING.md section 2, DESIGN.md section 8), served by the keys
 * service under /api/keys/seals. Every change is carried by a statement its author signed in the
 * browser; the relay keeps the statements so that any client can check the seal's whole life
 * without trusting the relay. The stamp is a PNG (base64, at most 256 KiB).
 */
import { z } from 'zod';
import { utf8 } from '../crypto/bytes';
import { canonicalJson, fromBase64, toBase64url } from '../crypto/encoding';
import { B64u, Id, PositiveInt, Sha256B64u } from './common';
import { CertificatePem } from './directory';
import { EnvelopeSchema } from './keys';

export const SEAL_TYPES = ['company', 'contract', 'finance', 'legal-representative'] as const;
export const SealTypeSchema = z.enum(SEAL_TYPES);
export type SealType = z.infer<typeof SealTypeSchema>;

export const SEAL_STATUSES = ['requested', 'active', 'rejected', 'disabled', 'destroyed'] as const;
export const SealStatusSchema = z.enum(SEAL_STATUSES);
export type SealStatus = z.infer<typeof SealStatusSchema>;

export const SealActionSchema = z.enum(['disable', 'destroy']);
export type SealAction = z.infer<typeof SealActionSchema>;

export const SEAL_REQUEST_TYPE = 'sealvault/v1/seal-request';
export const SEAL_APPROVAL_TYPE = 'sealvault/v1/seal-approval';
export const SEAL_REJECTION_TYPE = 'sealvault/v1/seal-rejection';
export const SEAL_ACTION_REQUEST_TYPE = 'sealvault/v1/seal-action-request';
export const SEAL_ACTION_DECISION_TYPE = 'sealvault/v1/seal-action-decision';
export const SEAL_USE_REQUEST_TYPE = 'sealvault/v1/seal-use-request';
export const SEAL_USE_APPROVAL_TYPE = 'sealvault/v1/seal-use-approval';
export const SEAL_KEY_PURPOSE = 'seal-key';

/** Each of the three lists holds at most this many people. */
export const SEAL_LIST_MAX = 50;
export const STAMP_PNG_MAX_BYTES = 256 * 1024;
export const SEAL_REASON_MAX = 500;
const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** A seal id: an Id, except the words the routes use themselves. */
export const SealIdSchema = Id.refine((v) => v !== 'revocations', 'this id is reserved');

/** The seal's name as its certificate's CN carries it (RFC 5280 caps a CN at 64 characters). */
export const SealNameSchema = z
  .string()
  .min(1)
  .max(64)
  .refine((s) => s.trim() === s && !/[\u0000-\u001f\u007f]/.test(s), 'no leading or trailing spaces, no control characters');

/** The stamp: standard base64 of a PNG file of at most 256 KiB. */
export const StampPngSchema = z
  .string()
  .max(Math.ceil(STAMP_PNG_MAX_BYTES / 3) * 4)
  .superRefine((s, ctx) => {
    let bytes: Uint8Array;
    try {
      bytes = fromBase64(s);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'not canonical padded base64' });
      return;
    }
    if (bytes.length > STAMP_PNG_MAX_BYTES) ctx.addIssue({ code: 'custom', message: `the stamp must be at most ${STAMP_PNG_MAX_BYTES} bytes` });
    if (bytes.length < 64 || PNG_MAGIC.some((b, i) => bytes[i] !== b)) ctx.addIssue({ code: 'custom', message: 'the stamp must be a PNG image' });
  });

/** A list of people (account ids), without repeats. */
export const PeopleListSchema = z
  .array(Id)
  .min(1)
  .max(SEAL_LIST_MAX)
  .refine((l) => new Set(l).size === l.length, 'the same person is listed twice');

export const ReasonSchema = z.string().min(1).max(SEAL_REASON_MAX);

const signed = <S extends z.ZodType>(statement: S) => z.strictObject({ statement, signature: B64u({ bytes: 64 }) });

/** SHA-256 (base64url) of a statement's canonical JSON: how one statement names another. */
export async function statementDigest(statement: unknown): Promise<string> {
  return toBase64url(new Uint8Array(await crypto.subtle.digest('SHA-256', utf8(canonicalJson(statement)))));
}

/** SHA-256 (base64url) of the stamp's PNG bytes. */
export async function stampDigest(stampPng: string): Promise<string> {
  return toBase64url(new Uint8Array(await crypto.subtle.digest('SHA-256', fromBase64(stampPng))));
}

// ---- request, approval, rejection -----------------------------------------------------------

export const SealRequestStatementSchema = z.strictObject({
  type: z.literal(SEAL_REQUEST_TYPE),
  seal: SealIdSchema,
  sealType: SealTypeSchema,
  name: SealNameSchema,
  /** stampDigest() of the stamp PNG */
  stampDigest: Sha256B64u,
  managers: PeopleListSchema,
  users: PeopleListSchema,
  auditors: PeopleListSchema,
  useNeedsApproval: z.boolean(),
  /** the employee who asks; one of the managers */
  requester: Id,
});
export type SealRequestStatement = z.infer<typeof SealRequestStatementSchema>;
export const SignedSealRequestSchema = signed(SealRequestStatementSchema);

/** POST /seals */
export const CreateSealSchema = z.strictObject({ stampPng: StampPngSchema, request: SignedSealRequestSchema });

export const SealApprovalStatementSchema = z.strictObject({
  type: z.literal(SEAL_APPROVAL_TYPE),
  seal: SealIdSchema,
  /** statementDigest() of the request statement approved */
  requestDigest: Sha256B64u,
  /** SHA-256 fingerprint (base64url) of the seal's certificate */
  certificate: Sha256B64u,
  /** the security administrator */
  approver: Id,
});
export type SealApprovalStatement = z.infer<typeof SealApprovalStatementSchema>;
export const SignedSealApprovalSchema = signed(SealApprovalStatementSchema);

/** The context of the seal's private key (PKCS#8) wrapped to one user: the OAEP label binds all four. */
export const SealKeyEnvelopeContextSchema = z.strictObject({
  purpose: z.literal(SEAL_KEY_PURPOSE),
  recipient: Id,
  seal: SealIdSchema,
  certificate: Sha256B64u,
});
export type SealKeyEnvelopeContext = z.infer<typeof SealKeyEnvelopeContextSchema>;
export const SealKeyEnvelopeSchema = EnvelopeSchema.extend({ context: SealKeyEnvelopeContextSchema });

/** POST /seals/:id/approve: the certificate, one envelope per user exactly, the signed approval. */
export const ApproveSealSchema = z.strictObject({
  certificate: CertificatePem,
  envelopes: z.array(SealKeyEnvelopeSchema).min(1).max(SEAL_LIST_MAX),
  approval: SignedSealApprovalSchema,
});

export const SealRejectionStatementSchema = z.strictObject({
  type: z.literal(SEAL_REJECTION_TYPE),
  seal: SealIdSchema,
  requestDigest: Sha256B64u,
  reason: ReasonSchema,
  approver: Id,
});
export const SignedSealRejectionSchema = signed(SealRejectionStatementSchema);
/** POST /seals/:id/reject */
export const RejectSealSchema = z.strictObject({ rejection: SignedSealRejectionSchema });

// ---- disable and destroy ----------------------------------------------------------------------

export const SealActionRequestStatementSchema = z.strictObject({
  type: z.literal(SEAL_ACTION_REQUEST_TYPE),
  seal: SealIdSchema,
  action: SealActionSchema,
  reason: ReasonSchema,
  /** a manager of the seal */
  by: Id,
});
export const SignedSealActionRequestSchema = signed(SealActionRequestStatementSchema);
/** POST /seals/:id/disable-request and /destroy-request */
export const SealActionRequestBodySchema = z.strictObject({ request: SignedSealActionRequestSchema });

export const SealActionDecisionStatementSchema = z.strictObject({
  type: z.literal(SEAL_ACTION_DECISION_TYPE),
  seal: SealIdSchema,
  action: SealActionSchema,
  approve: z.boolean(),
  /** statementDigest() of the pending action request decided */
  requestDigest: Sha256B64u,
  /** the security administrator */
  by: Id,
});
export const SignedSealActionDecisionSchema = signed(SealActionDecisionStatementSchema);
/** POST /seals/:id/decide */
export const DecideSealActionSchema = z.strictObject({ decision: SignedSealActionDecisionSchema });

// ---- use approvals --------------------------------------------------------------------------

export const SealUseRequestStatementSchema = z.strictObject({
  type: z.literal(SEAL_USE_REQUEST_TYPE),
  seal: SealIdSchema,
  /** an id the user chose for this request */
  request: Id,
  contract: Id,
  flow: Id,
  /** a user of the seal */
  user: Id,
});
export const SignedSealUseRequestSchema = signed(SealUseRequestStatementSchema);
/** POST /seals/:id/use-requests */
export const CreateSealUseRequestSchema = z.strictObject({ request: SignedSealUseRequestSchema });

export const SealUseApprovalStatementSchema = z.strictObject({
  type: z.literal(SEAL_USE_APPROVAL_TYPE),
  seal: SealIdSchema,
  request: Id,
  contract: Id,
  flow: Id,
  user: Id,
  /** a manager of the seal */
  approver: Id,
});
export type SealUseApprovalStatement = z.infer<typeof SealUseApprovalStatementSchema>;
export const SignedSealUseApprovalSchema = signed(SealUseApprovalStatementSchema);
/** POST /seals/:id/use-requests/:request/approve */
export const ApproveSealUseSchema = z.strictObject({ approval: SignedSealUseApprovalSchema });

// ---- params and queries -----------------------------------------------------------------------

export const SealParamSchema = z.strictObject({ id: SealIdSchema });
export const SealUseParamSchema = z.strictObject({ id: SealIdSchema, request: Id });
export const SealUseQuerySchema = z.strictObject({ contract: Id.optional(), flow: Id.optional() });

// ---- answers --------------------------------------------------------------------------------

export const SealPendingSchema = z.strictObject({
  action: SealActionSchema,
  by: Id,
  statement: SignedSealActionRequestSchema,
  /** milliseconds since the epoch, relay clock */
  requestedAt: PositiveInt,
});

export const SealSchema = z.strictObject({
  id: SealIdSchema,
  type: SealTypeSchema,
  name: SealNameSchema,
  stampPng: StampPngSchema,
  requester: Id,
  managers: PeopleListSchema,
  users: PeopleListSchema,
  auditors: PeopleListSchema,
  useNeedsApproval: z.boolean(),
  status: SealStatusSchema,
  certificate: CertificatePem.nullable(),
  /** the certificate's serial, lower-case hex */
  serial: z.string().regex(/^[0-9a-f]{1,40}$/).nullable(),
  request: SignedSealRequestSchema,
  /** the security administrator's approval (active, disabled, destroyed) or rejection (rejected) */
  approval: z.union([SignedSealApprovalSchema, SignedSealRejectionSchema]).nullable(),
  pending: SealPendingSchema.nullable(),
  createdAt: PositiveInt,
  updatedAt: PositiveInt,
});
export type SealWire = z.infer<typeof SealSchema>;

export const SealListSchema = z.strictObject({ seals: z.array(SealSchema).max(1000) });

/** GET /seals/:id/key: the caller's own envelope of the seal's private key. */
export const SealKeySchema = z.strictObject({ seal: SealIdSchema, envelope: SealKeyEnvelopeSchema });

export const SEAL_HISTORY_KINDS = ['request', 'approval', 'rejection', 'action-request', 'action-decision', 'use-request', 'use-approval'] as const;
export const SealHistorySchema = z.strictObject({
  seal: SealIdSchema,
  entries: z
    .array(
      z.strictObject({
        kind: z.enum(SEAL_HISTORY_KINDS),
        actor: Id,
        /** milliseconds since the epoch, relay clock */
        at: PositiveInt,
        statement: z.strictObject({ statement: z.record(z.string(), z.unknown()), signature: B64u({ bytes: 64 }) }),
      }),
    )
    .max(10000),
});
export type SealHistoryEntry = z.infer<typeof SealHistorySchema>['entries'][number];

export const SealUseRequestSchema = z.strictObject({
  id: Id,
  seal: SealIdSchema,
  user: Id,
  contract: Id,
  flow: Id,
  request: SignedSealUseRequestSchema,
  approval: SignedSealUseApprovalSchema.nullable(),
  createdAt: PositiveInt,
  approvedAt: PositiveInt.nullable(),
});
export type SealUseRequestWire = z.infer<typeof SealUseRequestSchema>;
export const SealUseRequestListSchema = z.strictObject({ seal: SealIdSchema, requests: z.array(SealUseRequestSchema).max(1000) });

/** GET /seals/revocations: destroyed seals' certificates, which verifiers treat as revoked. */
export const SealRevocationsSchema = z.strictObject({
  revocations: z
    .array(z.strictObject({ serial: z.string().regex(/^[0-9a-f]{1,40}$/), seal: SealIdSchema, revokedAt: PositiveInt, reason: z.string().max(SEAL_REASON_MAX) }))
    .max(100000),
});
