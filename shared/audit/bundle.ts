/**
 * The audit bundle (docs/AUDIT.md section 2): everything `verifyAuditLog` needs, exported by the
 * auditor and checked offline by `sealvault verify-audit`. The schema only says what shape the
 * file has; whether any of it is true is verify.ts's job, so nothing here trusts a field.
 */
import { z } from 'zod';
import { StoredEntrySchema } from '../schemas/audit';
import { Id, NonNegativeInt } from '../schemas/common';
import type { AuditEvidence } from './verify';

export const AUDIT_BUNDLE_TYPE = 'sealvault/v1/audit-bundle';

/** Room for a long log, but a bound: the file is read whole before anything is checked. */
const MAX_ITEMS = 10_000_000;

export const AuditEvidenceSchema = z.strictObject({
  origin: z.string().min(1).max(1024),
  logVkey: z.string().min(1).max(1024),
  serviceKeys: z.record(z.string().max(64), z.string().max(256)),
  caCertificatePem: z.string().max(16 * 1024),
  certificates: z.array(z.string().max(16 * 1024)).max(MAX_ITEMS),
  revocations: z.array(z.strictObject({ serial: z.string().max(64), revokedAt: NonNegativeInt, reason: z.string().max(256) })).max(MAX_ITEMS),
  entries: z.array(StoredEntrySchema).max(MAX_ITEMS),
  checkpoints: z.array(z.string().max(1 << 20)).max(MAX_ITEMS),
  witnesses: z.array(z.strictObject({ name: z.string().max(256), vkey: z.string().max(1024), account: z.string().max(64) })).max(10_000),
  consistency: z.array(z.strictObject({ first: NonNegativeInt, second: NonNegativeInt, proof: z.array(z.string().max(64)).max(64) })).max(MAX_ITEMS),
  uncertifiedKeys: z.array(z.strictObject({ account: Id, keyId: z.string().max(64), spki: z.string().max(2048) })).max(MAX_ITEMS).optional(),
});

export const AuditBundleSchema = z.strictObject({
  type: z.literal(AUDIT_BUNDLE_TYPE),
  /** milliseconds since the epoch */
  exportedAt: NonNegativeInt,
  /** the auditor's account id */
  exportedBy: Id,
  evidence: AuditEvidenceSchema,
});

export type AuditBundle = { type: typeof AUDIT_BUNDLE_TYPE; exportedAt: number; exportedBy: string; evidence: AuditEvidence };

/** Parses a bundle's JSON text; throws a readable Error when it is not one. */
export function parseAuditBundle(text: string): AuditBundle {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error('the bundle is not JSON');
  }
  const parsed = AuditBundleSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`the file is not a ${AUDIT_BUNDLE_TYPE}: ${issue ? `${issue.path.join('.') || '(top)'}: ${issue.message}` : 'invalid'}`);
  }
  return parsed.data as AuditBundle;
}
