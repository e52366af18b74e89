/**
 * Wire schemas of signing flows (docs/SIGNING.md section 3, DESIGN.md section 8): the plan the
 * initiator signs, each signer's signed step, a signed decline or cancel, and the flow as the
 * vault returns it. The vault checks shapes and the rules below as a second wall; every browser
 * checks the same signatures and ordering again (shared/protocol/signing.ts) and trusts nothing
 * the vault says about state or order.
 *
 * The plan travels in the clear to the vault (it enforces order and who may upload): it holds
 * ids, page positions and short field labels, never contract content. Labels are visible to the
 * relay operator; the app keeps them generic ("Buyer signature").
 */
import { z } from 'zod';
import { SIGNATURE_LENGTH } from '../crypto/statements';
import { B64u, Id, NonNegativeInt, PositiveInt, Sha256B64u } from './common';

export const SIGNING_PLAN_TYPE = 'sealvault/v1/signing-plan';
export const SIGNING_STEP_TYPE = 'sealvault/v1/signing-step';
export const SIGNING_DECLINE_TYPE = 'sealvault/v1/signing-decline';
export const SIGNING_CANCEL_TYPE = 'sealvault/v1/signing-cancel';

/** The record kind holding a decliner's reason, sealed under the contract key like its fields. */
export const SIGNING_DECLINE_RECORD_KIND = 'signing-decline';

export const MAX_SIGNERS = 20;
export const MAX_FIELDS = 100;
/** Seal use approvals one step may carry (one per seal field at most). */
export const MAX_SEAL_APPROVALS = MAX_FIELDS;
export const MAX_LABEL_LENGTH = 100;
/** Pages of a PDF a field may name (0-based); a bound, not a claim about real documents. */
export const MAX_PAGE = 9999;

export const SigningOrderSchema = z.enum(['sequential', 'parallel', 'groups']);
export type SigningOrder = z.infer<typeof SigningOrderSchema>;
export const FieldKindSchema = z.enum(['signature', 'seal', 'date', 'text']);
export type FieldKind = z.infer<typeof FieldKindSchema>;
export const SigningStateSchema = z.enum(['active', 'declined', 'cancelled', 'completed']);
export type SigningState = z.infer<typeof SigningStateSchema>;

const Fraction = z.number().min(0).max(1);

export const SigningSignerSchema = z.strictObject({ account: Id, group: PositiveInt.max(MAX_SIGNERS) });
export type SigningSigner = z.infer<typeof SigningSignerSchema>;

/** A place on a page: fractions of the page, origin top-left (as the browser places it), inside the page. */
export const SigningFieldSchema = z
  .strictObject({
    id: Id,
    signer: Id,
    kind: FieldKindSchema,
    page: NonNegativeInt.max(MAX_PAGE),
    x: Fraction,
    y: Fraction,
    width: Fraction.refine((w) => w > 0, 'must be more than 0'),
    height: Fraction.refine((h) => h > 0, 'must be more than 0'),
    seal: Id.optional(),
    label: z.string().min(1).max(MAX_LABEL_LENGTH).optional(),
  })
  .superRefine((f, ctx) => {
    // A small tolerance for fractions computed in floating point by the placing browser.
    if (f.x + f.width > 1 + 1e-9) ctx.addIssue({ code: 'custom', path: ['width'], message: 'the field runs past the right edge of the page' });
    if (f.y + f.height > 1 + 1e-9) ctx.addIssue({ code: 'custom', path: ['height'], message: 'the field runs past the bottom edge of the page' });
    if (f.kind === 'seal' && f.seal === undefined) ctx.addIssue({ code: 'custom', path: ['seal'], message: 'a seal field names its seal' });
    if (f.kind !== 'seal' && f.seal !== undefined) ctx.addIssue({ code: 'custom', path: ['seal'], message: 'only a seal field names a seal' });
  });
export type SigningField = z.infer<typeof SigningFieldSchema>;

/**
 * The rules that tie signers, groups and fields together, shared by the schema (vault) and the
 * browser. Sequential: signer i is group i+1. Parallel: everyone is group 1. Groups: the group
 * numbers used are exactly 1..k. Every signer places at least one signature or seal (a step
 * without a PAdES signature would sign nothing), and every field belongs to a listed signer.
 */
export function planProblems(plan: { order: SigningOrder; signers: readonly SigningSigner[]; fields: readonly SigningField[] }): string[] {
  const problems: string[] = [];
  const accounts = new Set(plan.signers.map((s) => s.account));
  if (accounts.size !== plan.signers.length) problems.push('a signer is listed twice');
  if (plan.order === 'sequential' && plan.signers.some((s, i) => s.group !== i + 1)) problems.push('in sequential order signer i has group i+1');
  if (plan.order === 'parallel' && plan.signers.some((s) => s.group !== 1)) problems.push('in parallel order every signer has group 1');
  if (plan.order === 'groups') {
    const groups = new Set(plan.signers.map((s) => s.group));
    if ([...groups].some((g) => g > groups.size)) problems.push('group numbers must be 1 to the number of groups, none skipped');
  }
  const ids = new Set(plan.fields.map((f) => f.id));
  if (ids.size !== plan.fields.length) problems.push('a field id is used twice');
  for (const f of plan.fields) if (!accounts.has(f.signer)) problems.push(`field ${f.id} belongs to ${f.signer}, who is not a signer`);
  for (const s of plan.signers) {
    if (!plan.fields.some((f) => f.signer === s.account && (f.kind === 'signature' || f.kind === 'seal'))) problems.push(`${s.account} has no signature or seal field`);
  }
  return problems;
}

export const SigningPlanStatementSchema = z
  .strictObject({
    type: z.literal(SIGNING_PLAN_TYPE),
    flow: Id,
    contract: Id,
    space: Id,
    file: Id,
    baseVersion: PositiveInt,
    initiator: Id,
    order: SigningOrderSchema,
    signers: z.array(SigningSignerSchema).min(1).max(MAX_SIGNERS),
    fields: z.array(SigningFieldSchema).min(1).max(MAX_FIELDS),
  })
  .superRefine((p, ctx) => {
    for (const message of planProblems(p)) ctx.addIssue({ code: 'custom', path: ['signers'], message });
  });
export type SigningPlanStatement = z.infer<typeof SigningPlanStatementSchema>;

const uniqueIds = (max: number) => z.array(Id).max(max).refine((a) => new Set(a).size === a.length, 'ids must not repeat');

/** A signer's word: "I signed these fields of this file, turning version n (hash) into n+1 (hash)". */
export const SigningStepStatementSchema = z.strictObject({
  type: z.literal(SIGNING_STEP_TYPE),
  flow: Id,
  contract: Id,
  file: Id,
  versionBefore: PositiveInt,
  versionAfter: PositiveInt,
  /** keyed digest of the whole plaintext file, base64url (shared/protocol/signing.ts fileDigest, docs/FORMATS.md file digest) */
  hashBefore: Sha256B64u,
  hashAfter: Sha256B64u,
  fields: uniqueIds(MAX_FIELDS).min(1),
  seals: uniqueIds(MAX_FIELDS),
  signer: Id,
  sealApprovals: uniqueIds(MAX_SEAL_APPROVALS),
});
export type SigningStepStatement = z.infer<typeof SigningStepStatementSchema>;

/** A signer refuses to sign; the reason is their own sealed record (kind signing-decline). */
export const SigningDeclineStatementSchema = z.strictObject({
  type: z.literal(SIGNING_DECLINE_TYPE),
  flow: Id,
  contract: Id,
  signer: Id,
  reasonVersion: PositiveInt,
  /** recordDigest of the sealed reason record (shared/formats/record-statement.ts) */
  reasonDigest: Sha256B64u,
});
export type SigningDeclineStatement = z.infer<typeof SigningDeclineStatementSchema>;

export const SigningCancelStatementSchema = z.strictObject({
  type: z.literal(SIGNING_CANCEL_TYPE),
  flow: Id,
  contract: Id,
  initiator: Id,
});
export type SigningCancelStatement = z.infer<typeof SigningCancelStatementSchema>;

const signed = <S extends z.ZodType>(statement: S) => z.strictObject({ statement, signature: B64u({ bytes: SIGNATURE_LENGTH }) });
export const SignedPlanSchema = signed(SigningPlanStatementSchema);
export const SignedStepSchema = signed(SigningStepStatementSchema);
export const SignedDeclineSchema = signed(SigningDeclineStatementSchema);
export const SignedCancelSchema = signed(SigningCancelStatementSchema);
export type SignedPlan = z.infer<typeof SignedPlanSchema>;
export type SignedStep = z.infer<typeof SignedStepSchema>;
export type SignedDecline = z.infer<typeof SignedDeclineSchema>;
export type SignedCancel = z.infer<typeof SignedCancelSchema>;

// ---- request bodies --------------------------------------------------------------------------

/** Largest JSON body of a plan: 100 fields of about 250 bytes and 20 signers, with room. */
export const SIGNING_PLAN_BODY_LIMIT = 64 * 1024;

/** POST /contracts/:contract/signing-flows */
export const StartSigningBodySchema = z.strictObject({ plan: SignedPlanSchema });
/** POST /signing-flows/:flow/steps */
export const SigningStepBodySchema = z.strictObject({ step: SignedStepSchema });
/** POST /signing-flows/:flow/decline */
export const SigningDeclineBodySchema = z.strictObject({ decline: SignedDeclineSchema });
/** POST /signing-flows/:flow/cancel */
export const SigningCancelBodySchema = z.strictObject({ cancel: SignedCancelSchema });

export const SigningFlowParams = z.strictObject({ flow: Id });

// ---- what the vault returns ------------------------------------------------------------------

/**
 * A flow as the vault stores it. The top-level copies of the plan's fields are for listing;
 * browsers read the signed plan and refuse a flow whose copies disagree with it.
 */
export const SigningFlowSchema = z.strictObject({
  id: Id,
  contract: Id,
  space: Id,
  file: Id,
  baseVersion: PositiveInt,
  initiator: Id,
  order: SigningOrderSchema,
  signers: z.array(SigningSignerSchema).max(MAX_SIGNERS),
  fields: z.array(SigningFieldSchema).max(MAX_FIELDS),
  state: SigningStateSchema,
  plan: SignedPlanSchema,
  /** in the order the vault accepted them */
  steps: z.array(SignedStepSchema).max(MAX_SIGNERS),
  decline: SignedDeclineSchema.nullable(),
  cancel: SignedCancelSchema.nullable(),
  createdAt: NonNegativeInt,
  endedAt: NonNegativeInt.nullable(),
});
export type SigningFlowView = z.infer<typeof SigningFlowSchema>;

/** Most flows one listing returns (newest first). */
export const MAX_LISTED_FLOWS = 200;
export const SigningFlowListSchema = z.strictObject({ contract: Id, flows: z.array(SigningFlowSchema).max(MAX_LISTED_FLOWS) });
export const SigningTasksSchema = z.strictObject({ flows: z.array(SigningFlowSchema).max(MAX_LISTED_FLOWS) });

// ---- whose turn ------------------------------------------------------------------------------

/**
 * The signers whose turn it is, given who has signed: the unsigned signers of the lowest group
 * that still has one. Empty when everyone has signed. Pure; the vault and every browser use it.
 */
export function signersDue(signers: readonly SigningSigner[], signed: ReadonlySet<string>): string[] {
  const pending = signers.filter((s) => !signed.has(s.account));
  if (pending.length === 0) return [];
  const group = Math.min(...pending.map((s) => s.group));
  return pending.filter((s) => s.group === group).map((s) => s.account);
}

/** The ids of `account`'s fields, and the distinct seals its seal fields name, in plan order. */
export function fieldsOf(fields: readonly SigningField[], account: string): { fields: string[]; seals: string[] } {
  const mine = fields.filter((f) => f.signer === account);
  return { fields: mine.map((f) => f.id), seals: [...new Set(mine.flatMap((f) => (f.seal === undefined ? [] : [f.seal])))] };
}

/** Same members, any order (ids are unique in both). */
export function sameIds(a: readonly string[], b: readonly string[]): boolean {
  const set = new Set(a);
  return a.length === b.length && b.every((x) => set.has(x));
}
