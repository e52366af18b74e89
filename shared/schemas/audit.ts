/**
 * Wire schemas of the audit service (relay/audit, DESIGN.md section 9, docs/FORMATS.md section
 * 10). Entries are shared/formats/audit-entry.ts objects; the Merkle leaf is the canonical JSON
 * of {entry, signature}, so the schema is strict all the way down: a field the signer did not
 * sign can never ride along into the log.
 */
import { z } from 'zod';
import { AUDIT_ENTRY_TYPE } from '../formats/audit-entry';
import { B64u, Id, NonNegativeInt, Sha256B64u } from './common';

/** The largest POST /entries body (readJson limit). */
export const AUDIT_ENTRY_BODY_LIMIT = 64 * 1024;
/** How far an entry's time may be from the audit service's clock. */
export const AUDIT_ENTRY_MAX_SKEW_MS = 5 * 60 * 1000;
/** Most entries one GET /entries or /entries/mine page returns. */
export const AUDIT_PAGE_MAX = 1000;
export const AUDIT_PAGE_DEFAULT = 100;

/** The relay's services (relay/services/names.ts; repeated here because shared/ never imports relay/). */
export const AuditServiceName = z.enum(['directory', 'keys', 'escrow', 'vault', 'audit']);

/** An account id, or "service:<name>" for the service itself. */
export const AuditActor = z.union([Id, z.string().regex(/^service:(directory|keys|escrow|vault|audit)$/, 'service:<service name>')]);
/** Dotted verb such as "escrow.release". */
export const AuditAction = z
  .string()
  .max(100)
  .regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, 'a dotted verb of A-Z a-z 0-9 _ - such as escrow.release');
/** What the action was done to, such as "account:acct-1": printable ASCII, no control characters. */
export const AuditTarget = z.string().regex(/^[\x20-\x7e]{1,256}$/, '1 to 256 printable ASCII characters');

export const AuditSignerSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('service'), service: AuditServiceName, key: B64u({ bytes: 32 }) }),
  z.strictObject({ kind: z.literal('account'), account: Id, keyId: B64u({ bytes: 16 }) }),
]);

export const AuditEntrySchema = z.strictObject({
  type: z.literal(AUDIT_ENTRY_TYPE),
  /** milliseconds since the epoch */
  time: NonNegativeInt,
  actor: AuditActor,
  action: AuditAction,
  target: AuditTarget,
  outcome: z.enum(['ok', 'refused']),
  /** base64url SHA-256 of JCS(details) */
  details: Sha256B64u,
  signer: AuditSignerSchema,
});

/** The details object whose digest is entry.details (JSON; canonical JSON refuses depth > 32). */
export const AuditDetailsJson = z.record(z.string(), z.json());

export const AppendEntryRequestSchema = z.strictObject({
  entry: AuditEntrySchema,
  /** Ed25519 (service) or ECDSA P-256 P1363 (account): 64 bytes either way */
  signature: B64u({ bytes: 64 }),
  detailsJson: AuditDetailsJson.optional(),
});
export type AppendEntryRequest = z.infer<typeof AppendEntryRequestSchema>;

export const AppendEntryResponseSchema = z.strictObject({ index: NonNegativeInt, leafHash: Sha256B64u });

/** A decimal query or path parameter: no sign, no leading zeros, a safe integer. */
export const DecimalParam = z
  .string()
  .regex(/^(0|[1-9][0-9]{0,15})$/, 'a decimal number without sign or leading zeros')
  .transform(Number)
  .pipe(NonNegativeInt);

export const EntriesQuerySchema = z.strictObject({
  start: DecimalParam.optional(),
  limit: DecimalParam.pipe(z.number().min(1).max(AUDIT_PAGE_MAX)).optional(),
});

export const StoredEntrySchema = z.strictObject({
  index: NonNegativeInt,
  /** the Merkle leaf as stored, base64url (JCS of {entry, signature}): what the tree commits to */
  leaf: B64u(),
  /** the leaf parsed; null only when the stored leaf is not JSON (a tampered row) */
  entry: AuditEntrySchema.nullable(),
  signature: z.string().nullable(),
  detailsJson: AuditDetailsJson.nullable(),
  leafHash: Sha256B64u,
  /** when the audit service appended it, milliseconds since the epoch */
  receivedAt: NonNegativeInt,
});

export const EntriesPageSchema = z.strictObject({
  entries: z.array(StoredEntrySchema),
  /** the `start` of the next page, or null at the end of the log */
  nextStart: NonNegativeInt.nullable(),
});

export const CheckpointResponseSchema = z.strictObject({
  size: NonNegativeInt,
  /** the signed note (c2sp.org/tlog-checkpoint), with any stored witness cosignature lines */
  note: z.string(),
});

/** GET /checkpoints: every checkpoint of size >= start, smallest first (auditor only). */
export const CheckpointsQuerySchema = EntriesQuerySchema;

export const CheckpointListSchema = z.strictObject({
  checkpoints: z.array(CheckpointResponseSchema),
  /** the `start` of the next page (a tree size), or null after the latest checkpoint */
  nextStart: NonNegativeInt.nullable(),
});

export const SizeParamSchema = z.strictObject({ size: DecimalParam });

export const LogKeyResponseSchema = z.strictObject({
  origin: z.string(),
  keyName: z.string(),
  /** base64url raw Ed25519 public key (the service key) */
  publicKey: B64u({ bytes: 32 }),
  /** c2sp.org/signed-note verifier key string */
  vkey: z.string(),
});

export const InclusionQuerySchema = z.strictObject({
  index: DecimalParam,
  /** a tree size up to the latest checkpoint's; the latest checkpoint's when omitted */
  size: DecimalParam.optional(),
});

export const InclusionProofResponseSchema = z.strictObject({
  index: NonNegativeInt,
  size: NonNegativeInt,
  leafHash: Sha256B64u,
  proof: z.array(Sha256B64u),
});

export const ConsistencyQuerySchema = z.strictObject({ first: DecimalParam, second: DecimalParam });

export const ConsistencyProofResponseSchema = z.strictObject({
  first: NonNegativeInt,
  second: NonNegativeInt,
  proof: z.array(Sha256B64u),
});

export const RegisterWitnessRequestSchema = z.strictObject({
  /** the witness's key name, a schema-less URL such as witness.example.com/auditor-1 */
  name: z.string().min(1).max(256),
  /** base64url raw Ed25519 public key (cosignature type 0x04) */
  publicKey: B64u({ bytes: 32 }),
});

export const WitnessSchema = z.strictObject({
  account: Id,
  name: z.string(),
  publicKey: B64u({ bytes: 32 }),
  /** verifier key string of type 0x04 */
  vkey: z.string(),
  registeredAt: NonNegativeInt,
});

export const WitnessListSchema = z.strictObject({ witnesses: z.array(WitnessSchema) });

export const CosignatureRequestSchema = z.strictObject({
  /** the checkpoint note as served, plus the witness's cosignature line */
  note: z.string().min(1).max(60 * 1024),
});

export const CosignatureResponseSchema = z.strictObject({
  size: NonNegativeInt,
  witness: z.string(),
  /** the cosignature's timestamp, POSIX seconds */
  timestamp: NonNegativeInt,
});
