/**
 * Signing flows in the browser (docs/SIGNING.md section 3, DESIGN.md section 8). An editor or the
 * manager of a space signs a plan: one PDF file of a contract, its latest version, the signers
 * (members whose grant, signed by the manager, says signer) in groups, and where each signature
 * or seal goes. Each signer in turn signs the file (PAdES, shared/pdf), uploads it as the next
 * file version and signs a step statement naming both versions and their SHA-256.
 *
 * Nothing the vault says is taken on its word: loadSigningFlow verifies the plan with the
 * initiator's key (an editor or the manager by the manager's signed grant), every step with its
 * signer's key, and re-derives the order, the chain of versions and the state; a relay that
 * drops, reorders, forges or replays steps, or claims a state no signed statement supports, is
 * refused (E_SIGNATURE for a signature, E_CONTEXT for order and chain, E_ROLLBACK for fewer steps
 * than this browser saw). Every action also signs its own audit entry.
 *
 * The PDF crypto and seal keys are injected into signMyTurn (SignMyTurnDeps), so this module
 * depends on neither and is tested without them.
 */
import { deriveFileDigestKey } from '../crypto/contract-keys';
import { canonicalJson, toBase64url } from '../crypto/encoding';
import { deriveRecordKey } from '../crypto/contract-keys';
import { fail } from '../crypto/errors';
import { openRecord, sealRecord } from '../crypto/records';
import { signStatement, verifyStatement } from '../crypto/statements';
import { recordDigest } from '../formats/record-statement';
import { GRANT_STATEMENT_TYPE, type GrantRole } from '../schemas/keys';
import {
  fieldsOf,
  sameIds,
  SIGNING_CANCEL_TYPE,
  SIGNING_DECLINE_RECORD_KIND,
  SIGNING_DECLINE_TYPE,
  SIGNING_PLAN_TYPE,
  SIGNING_STEP_TYPE,
  SigningFlowListSchema,
  SigningFlowSchema,
  SigningPlanStatementSchema,
  SigningTasksSchema,
  signersDue,
  type SignedPlan,
  type SigningCancelStatement,
  type SigningDeclineStatement,
  type SigningField,
  type SigningFlowView,
  type SigningOrder,
  type SigningPlanStatement,
  type SigningSigner,
  type SigningState,
  type SigningStepStatement,
} from '../schemas/signing';
import { ContractFilesSchema, StoredRecordSchema } from '../schemas/vault';
import { parseAnswer, type UnlockedAccount } from './account';
import { recordAsAccount } from './audit-client';
import { fetchSigned, putSigned, type OpenedContract } from './contracts';
import { collectingSink, downloadFile, fetchManifest, uploadFile, type FileTransport } from './files';
import { RelayApiError, type RelayTransport } from './relay-transport';
import { spaceGrants } from './spaces';

export type { SigningField, SigningFlowView, SigningOrder, SigningSigner, SigningState };

export const MAX_DECLINE_REASON_LENGTH = 2000;

const flowPath = (flow: string) => `/api/vault/signing-flows/${encodeURIComponent(flow)}`;
const auditTarget = (contract: string, flow: string) => `contract:${contract}/signing:${flow}`;

function randomFlowId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return `sf-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

/**
 * The digest of a whole file that a step names as hashBefore/hashAfter: HMAC-SHA-256 under a key
 * derived from the contract's DEK (shared/crypto/contract-keys deriveFileDigestKey), base64url.
 * Not a bare SHA-256: the relay stores the steps and must not be able to test a guessed PDF.
 */
export async function fileDigest(dek: CryptoKey, bytes: Uint8Array): Promise<string> {
  const key = await deriveFileDigestKey(dek);
  return toBase64url(new Uint8Array(await crypto.subtle.sign('HMAC', key, bytes as Uint8Array<ArrayBuffer>)));
}

/**
 * The roles of the space's verified writers, as the manager's signed grants of the current key
 * version give them (the relay's member list is not read). Only accounts in `opened.writers`
 * count: their certificates were checked when the contract was opened.
 */
async function writerRoles(transport: RelayTransport, me: UnlockedAccount, opened: OpenedContract): Promise<Map<string, GrantRole>> {
  const grants = await spaceGrants(transport, me, opened.space);
  const managerKey = opened.writers.get(grants.manager);
  if (!managerKey) fail('E_SIGNATURE', "the space's manager is not among its verified writers");
  const roles = new Map<string, GrantRole>([[grants.manager, 'manager']]);
  for (const g of grants.grants) {
    if (g.keyVersion !== grants.keyVersion || g.member === grants.manager || !opened.writers.has(g.member)) continue;
    const st = await verifyStatement(managerKey, g.grantStatement, GRANT_STATEMENT_TYPE).catch(() => null);
    if (!st || st.granter !== grants.manager || st.member !== g.member || st.role !== g.role || st.space !== opened.space || st.keyVersion !== grants.keyVersion) continue;
    roles.set(g.member, g.role);
  }
  return roles;
}

/** A flow whose plan, steps and end were verified in this browser; nothing here is the relay's word alone. */
export interface VerifiedSigningFlow {
  id: string;
  contract: string;
  space: string;
  file: string;
  baseVersion: number;
  initiator: string;
  order: SigningOrder;
  signers: SigningSigner[];
  fields: SigningField[];
  /** derived from the signed statements (and equal to what the relay said) */
  state: SigningState;
  steps: SigningStepStatement[];
  decline: SigningDeclineStatement | null;
  cancel: SigningCancelStatement | null;
  /**
   * The versions of the file from baseVersion on, each with its SHA-256 (the base's as the first
   * signer stated it; null until someone signed) and the signer whose step made it.
   */
  chain: { version: number; hash: string | null; signer: string | null }[];
  /** the signed plan as received, for showing or exporting */
  plan: SignedPlan;
  createdAt: number;
  endedAt: number | null;
}

function samePlanCopy(view: SigningFlowView, p: SigningPlanStatement): boolean {
  return (
    view.contract === p.contract &&
    view.space === p.space &&
    view.file === p.file &&
    view.baseVersion === p.baseVersion &&
    view.initiator === p.initiator &&
    view.order === p.order &&
    canonicalJson(view.signers) === canonicalJson(p.signers) &&
    canonicalJson(view.fields) === canonicalJson(p.fields)
  );
}

/** Verifies `view` (the relay's answer) as flow `flowId` of `opened`; see the top of this file. */
async function verifyFlow(me: UnlockedAccount, opened: OpenedContract, roles: ReadonlyMap<string, GrantRole>, view: SigningFlowView, flowId: string): Promise<VerifiedSigningFlow> {
  const p = view.plan.statement;
  if (view.id !== flowId || p.flow !== flowId) fail('E_CONTEXT', `the relay answered with another signing flow than ${flowId}`);
  if (p.contract !== opened.contract || p.space !== opened.space) fail('E_CONTEXT', 'the signing plan is for another contract or space');
  const initiatorRole = roles.get(p.initiator);
  const initiatorKey = opened.writers.get(p.initiator);
  if (!initiatorKey || (initiatorRole !== 'editor' && initiatorRole !== 'manager')) fail('E_SIGNATURE', 'the signing plan was not made by an editor or the manager of this space');
  await verifyStatement(initiatorKey, view.plan, SIGNING_PLAN_TYPE);
  if (!samePlanCopy(view, p)) fail('E_CONTEXT', 'the relay describes the flow differently from its signed plan');

  const signed = new Set<string>();
  const chain: VerifiedSigningFlow['chain'] = [{ version: p.baseVersion, hash: null, signer: null }];
  for (const step of view.steps) {
    const s = step.statement;
    const key = p.signers.some((x) => x.account === s.signer) ? opened.writers.get(s.signer) : undefined;
    if (!key) fail('E_SIGNATURE', `a step of this flow is by ${s.signer}, who is not one of its signers or not a verified writer`);
    await verifyStatement(key, step, SIGNING_STEP_TYPE);
    if (s.flow !== flowId || s.contract !== p.contract || s.file !== p.file) fail('E_CONTEXT', 'a step names another flow, contract or file');
    if (signed.has(s.signer)) fail('E_CONTEXT', `${s.signer} appears to have signed twice`);
    if (!signersDue(p.signers, signed).includes(s.signer)) fail('E_CONTEXT', `the step by ${s.signer} is out of the plan's order`);
    const head = chain[chain.length - 1]!;
    if (s.versionBefore !== head.version || (head.hash !== null && s.hashBefore !== head.hash)) {
      fail('E_CONTEXT', `the step by ${s.signer} does not continue from version ${head.version}: a step is missing or out of order`);
    }
    if (s.versionAfter !== s.versionBefore + 1) fail('E_CONTEXT', `the step by ${s.signer} skips versions`);
    const mine = fieldsOf(p.fields, s.signer);
    if (!sameIds(s.fields, mine.fields) || !sameIds(s.seals, mine.seals)) fail('E_CONTEXT', `the step by ${s.signer} names other fields or seals than the plan gives them`);
    head.hash ??= s.hashBefore;
    chain.push({ version: s.versionAfter, hash: s.hashAfter, signer: s.signer });
    signed.add(s.signer);
  }

  let decline: SigningDeclineStatement | null = null;
  let cancel: SigningCancelStatement | null = null;
  if (view.decline && view.cancel) fail('E_CONTEXT', 'a flow ends once: declined or cancelled, not both');
  if (view.decline) {
    const s = view.decline.statement;
    const key = opened.writers.get(s.signer);
    if (!key || !signersDue(p.signers, signed).includes(s.signer)) fail('E_SIGNATURE', `the decline is by ${s.signer}, whose turn it was not`);
    decline = await verifyStatement<SigningDeclineStatement>(key, view.decline, SIGNING_DECLINE_TYPE);
    if (s.flow !== flowId || s.contract !== p.contract) fail('E_CONTEXT', 'the decline names another flow or contract');
  }
  if (view.cancel) {
    const s = view.cancel.statement;
    if (s.initiator !== p.initiator) fail('E_SIGNATURE', 'the cancel is not by the initiator');
    cancel = await verifyStatement<SigningCancelStatement>(initiatorKey, view.cancel, SIGNING_CANCEL_TYPE);
    if (s.flow !== flowId || s.contract !== p.contract) fail('E_CONTEXT', 'the cancel names another flow or contract');
  }
  const complete = signed.size === p.signers.length;
  if (complete && (decline || cancel)) fail('E_CONTEXT', 'a completed flow cannot also be declined or cancelled');
  const state: SigningState = cancel ? 'cancelled' : decline ? 'declined' : complete ? 'completed' : 'active';
  if (state !== view.state) fail('E_CONTEXT', `the relay says the flow is ${view.state}; its signed statements say ${state}`);
  // Steps and ends only accumulate: fewer than this browser saw is a relay serving an old answer.
  me.seen?.check(`signing:${flowId}`, view.steps.length + (decline || cancel ? 1 : 0));

  return {
    id: flowId,
    contract: p.contract,
    space: p.space,
    file: p.file,
    baseVersion: p.baseVersion,
    initiator: p.initiator,
    order: p.order,
    signers: p.signers,
    fields: p.fields,
    state,
    steps: view.steps.map((s) => s.statement),
    decline,
    cancel,
    chain,
    plan: view.plan,
    createdAt: view.createdAt,
    endedAt: view.endedAt,
  };
}

// ---- pure helpers -----------------------------------------------------------------------------

/** Who may sign now: the unsigned signers of the lowest unfinished group; nobody once the flow ended. */
export function whoseTurn(flow: Pick<VerifiedSigningFlow, 'state' | 'signers' | 'steps'>): string[] {
  if (flow.state !== 'active') return [];
  return signersDue(flow.signers, new Set(flow.steps.map((s) => s.signer)));
}

export interface MyTurn {
  /** the version to download and sign, and its hash as the previous signer stated it (null for the first step) */
  versionBefore: number;
  hashBefore: string | null;
  /** the version to upload the signed file as */
  versionAfter: number;
  /** all of my fields, in plan order */
  fields: SigningField[];
  /** drawn in my personal signature's revision: signature, date and text fields */
  personal: SigningField[];
  /** one PAdES signature per seal, with the fields it stamps */
  seals: { seal: string; fields: SigningField[] }[];
}

/** What `account` signs now in `flow`, or null when it is not their turn. */
export function prepareMyTurn(flow: VerifiedSigningFlow, account: string): MyTurn | null {
  if (!whoseTurn(flow).includes(account)) return null;
  const head = flow.chain[flow.chain.length - 1]!;
  const fields = flow.fields.filter((f) => f.signer === account);
  const seals = new Map<string, SigningField[]>();
  for (const f of fields) if (f.seal !== undefined) seals.set(f.seal, [...(seals.get(f.seal) ?? []), f]);
  return {
    versionBefore: head.version,
    hashBefore: head.hash,
    versionAfter: head.version + 1,
    fields,
    personal: fields.filter((f) => f.kind !== 'seal'),
    seals: [...seals].map(([seal, sealFields]) => ({ seal, fields: sealFields })),
  };
}

// ---- the relay's lists (unverified: open one with loadSigningFlow) -------------------------------

/** A contract's flows as the relay lists them, newest first. Shown as unverified until loaded. */
export async function listSigningFlows(transport: RelayTransport, me: UnlockedAccount, contract: string): Promise<SigningFlowView[]> {
  const list = parseAnswer(SigningFlowListSchema, await transport.request('GET', `/api/vault/contracts/${encodeURIComponent(contract)}/signing-flows`, undefined, me.session), 'signing flows');
  if (list.contract !== contract || list.flows.some((f) => f.contract !== contract)) fail('E_CONTEXT', 'the relay listed the signing flows of another contract');
  return list.flows;
}

/** Flows where the relay says it is my turn, across contracts. Each is verified when opened. */
export async function signingTasks(transport: RelayTransport, me: UnlockedAccount): Promise<SigningFlowView[]> {
  return parseAnswer(SigningTasksSchema, await transport.request('GET', '/api/vault/signing-tasks', undefined, me.session), 'signing tasks').flows;
}

// ---- actions ----------------------------------------------------------------------------------

export interface StartSigningInput {
  file: string;
  order: SigningOrder;
  /** in signing order; `group` is needed (and read) only for order "groups" */
  signers: readonly { account: string; group?: number }[];
  fields: readonly SigningField[];
}

/**
 * Starts a flow on the latest committed version of `file` (its manifest verified as a writer's).
 * Refused here unless the caller is an editor or the manager and every signer holds the signer
 * role by the manager's signed grant.
 */
export async function startSigningFlow(transport: FileTransport, me: UnlockedAccount, opened: OpenedContract, input: StartSigningInput): Promise<VerifiedSigningFlow> {
  if (opened.via !== 'space') fail('E_CONTEXT', 'only members of the space start signing flows');
  const roles = await writerRoles(transport, me, opened);
  const myRole = roles.get(me.account);
  if (myRole !== 'editor' && myRole !== 'manager') fail('E_CONTEXT', 'only an editor or the manager of the space starts a signing flow');
  const signers = input.signers.map((s, i) => ({ account: s.account, group: input.order === 'sequential' ? i + 1 : input.order === 'parallel' ? 1 : (s.group ?? 0) }));
  for (const s of signers) if (roles.get(s.account) !== 'signer') fail('E_CONTEXT', `${s.account} does not hold the signer role by the manager's signed grant`);

  const files = parseAnswer(ContractFilesSchema, await transport.request('GET', `/api/vault/contracts/${encodeURIComponent(opened.contract)}/files`, undefined, me.session), 'files');
  if (files.contract !== opened.contract) fail('E_CONTEXT', 'the relay listed the files of another contract');
  const committed = files.files.find((f) => f.file === input.file)?.versions.filter((v) => v.state === 'committed') ?? [];
  const baseVersion = Math.max(0, ...committed.map((v) => v.version));
  if (baseVersion === 0) fail('E_CONTEXT', 'this contract has no committed version of that file');
  // The version the signers will sign must be a writer's genuine upload, not one the relay made up.
  await fetchManifest(transport, me, { contract: opened.contract, file: input.file, version: baseVersion }, opened.writers);

  const parsed = SigningPlanStatementSchema.safeParse({
    type: SIGNING_PLAN_TYPE,
    flow: randomFlowId(),
    contract: opened.contract,
    space: opened.space,
    file: input.file,
    baseVersion,
    initiator: me.account,
    order: input.order,
    signers,
    fields: input.fields,
  });
  if (!parsed.success) fail('E_FORMAT', `the signing plan is not valid: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
  const plan = await signStatement(me.signing.privateKey, parsed.data);
  const view = parseAnswer(SigningFlowSchema, await transport.request('POST', `/api/vault/contracts/${encodeURIComponent(opened.contract)}/signing-flows`, { plan }, me.session), 'signing flow');
  const flow = await verifyFlow(me, opened, roles, view, parsed.data.flow);
  await recordAsAccount(transport, me, {
    action: 'signing.start',
    target: auditTarget(opened.contract, flow.id),
    details: { space: opened.space, file: flow.file, baseVersion, order: flow.order, signers: signers.map((s) => s.account), fields: flow.fields.length },
  });
  return flow;
}

/** One flow of `opened`, verified (see the top of this file). */
export async function loadSigningFlow(transport: RelayTransport, me: UnlockedAccount, opened: OpenedContract, flowId: string): Promise<VerifiedSigningFlow> {
  const view = parseAnswer(SigningFlowSchema, await transport.request('GET', flowPath(flowId), undefined, me.session), 'signing flow');
  return verifyFlow(me, opened, await writerRoles(transport, me, opened), view, flowId);
}

export interface SignedStepInput {
  versionBefore: number;
  versionAfter: number;
  hashBefore: string;
  hashAfter: string;
  fields: string[];
  seals: string[];
  sealApprovals: string[];
}

/**
 * Posts my signed step. The signed PDF must already be uploaded and committed as
 * `versionAfter` (uploadFile). Returns the relay's answer, unverified: load the flow to verify it.
 */
export async function recordSignedStep(transport: RelayTransport, me: UnlockedAccount, opened: OpenedContract, flow: VerifiedSigningFlow, input: SignedStepInput): Promise<SigningFlowView> {
  const turn = prepareMyTurn(flow, me.account);
  if (!turn) fail('E_CONTEXT', 'it is not your turn to sign this flow');
  if (flow.contract !== opened.contract) fail('E_CONTEXT', 'this flow belongs to another contract');
  const mine = fieldsOf(flow.fields, me.account);
  if (!sameIds(input.fields, mine.fields) || !sameIds(input.seals, mine.seals)) fail('E_CONTEXT', 'a step names exactly your fields and the seals of your seal fields');
  if (input.versionBefore !== turn.versionBefore || input.versionAfter !== turn.versionAfter) fail('E_CONTEXT', `sign version ${turn.versionBefore} into version ${turn.versionAfter}`);
  if (turn.hashBefore !== null && input.hashBefore !== turn.hashBefore) fail('E_HASH', 'the file you signed is not the version the previous signer signed');
  const step = await signStatement(me.signing.privateKey, {
    type: SIGNING_STEP_TYPE,
    flow: flow.id,
    contract: flow.contract,
    file: flow.file,
    versionBefore: input.versionBefore,
    versionAfter: input.versionAfter,
    hashBefore: input.hashBefore,
    hashAfter: input.hashAfter,
    fields: input.fields,
    seals: input.seals,
    signer: me.account,
    sealApprovals: input.sealApprovals,
  } satisfies SigningStepStatement);
  const view = parseAnswer(SigningFlowSchema, await transport.request('POST', `${flowPath(flow.id)}/steps`, { step }, me.session), 'signing flow');
  await recordAsAccount(transport, me, {
    action: 'signing.sign',
    target: auditTarget(flow.contract, flow.id),
    details: { file: flow.file, versionBefore: input.versionBefore, versionAfter: input.versionAfter, hashBefore: input.hashBefore, hashAfter: input.hashAfter, seals: input.seals, sealApprovals: input.sealApprovals },
  });
  return view;
}

/** The next free version of the contract's decline reason records (each decline writes a new one). */
async function nextDeclineVersion(transport: RelayTransport, me: UnlockedAccount, contract: string): Promise<number> {
  try {
    const latest = parseAnswer(StoredRecordSchema, await transport.request('GET', `/api/vault/contracts/${encodeURIComponent(contract)}/records/${SIGNING_DECLINE_RECORD_KIND}/latest`, undefined, me.session), 'decline record');
    return latest.record.version + 1;
  } catch (e) {
    if (e instanceof RelayApiError && e.status === 404) return 1;
    throw e;
  }
}

/**
 * Declines to sign (my turn only). The reason is sealed under the contract key as my own signed
 * record, bound to this flow; the relay keeps only its version and digest in my signed decline.
 */
export async function declineSigning(transport: RelayTransport, me: UnlockedAccount, opened: OpenedContract, flow: VerifiedSigningFlow, reason: string): Promise<SigningFlowView> {
  const text = reason.trim();
  if (text.length === 0 || text.length > MAX_DECLINE_REASON_LENGTH) fail('E_FORMAT', `a reason of 1 to ${MAX_DECLINE_REASON_LENGTH} characters is needed`);
  if (!whoseTurn(flow).includes(me.account)) fail('E_CONTEXT', 'only a signer whose turn it is declines');
  if (flow.contract !== opened.contract) fail('E_CONTEXT', 'this flow belongs to another contract');
  const version = await nextDeclineVersion(transport, me, opened.contract);
  const sealed = await sealRecord(await deriveRecordKey(opened.dek), { kind: SIGNING_DECLINE_RECORD_KIND, contract: opened.contract, version }, { reason: text, flow: flow.id });
  await putSigned(transport, me, sealed);
  const decline = await signStatement(me.signing.privateKey, {
    type: SIGNING_DECLINE_TYPE,
    flow: flow.id,
    contract: flow.contract,
    signer: me.account,
    reasonVersion: version,
    reasonDigest: await recordDigest(sealed),
  } satisfies SigningDeclineStatement);
  const view = parseAnswer(SigningFlowSchema, await transport.request('POST', `${flowPath(flow.id)}/decline`, { decline }, me.session), 'signing flow');
  await recordAsAccount(transport, me, { action: 'signing.decline', target: auditTarget(flow.contract, flow.id), details: { file: flow.file, reasonVersion: version } });
  return view;
}

/**
 * The reason of a declined flow, accepted only as the decliner's own signed record whose digest
 * their signed decline names, and bound to this flow: a relay cannot put words in their mouth.
 */
export async function readDeclineReason(transport: RelayTransport, me: UnlockedAccount, opened: OpenedContract, flow: VerifiedSigningFlow): Promise<string> {
  const decline = flow.decline;
  if (!decline) fail('E_CONTEXT', 'this flow was not declined');
  const key = opened.writers.get(decline.signer);
  if (!key) fail('E_SIGNATURE', 'the decliner is not a verified writer of this space');
  const sealed = await fetchSigned(transport, me, new Map([[decline.signer, key]]), opened.contract, SIGNING_DECLINE_RECORD_KIND, decline.reasonVersion);
  if ((await recordDigest(sealed)) !== decline.reasonDigest) fail('E_CONTEXT', 'the reason record is not the one the decline names');
  const value = (await openRecord(await deriveRecordKey(opened.dek), sealed, { kind: SIGNING_DECLINE_RECORD_KIND, contract: opened.contract, version: decline.reasonVersion })) as { reason?: unknown; flow?: unknown } | null;
  if (typeof value?.reason !== 'string' || value.flow !== flow.id) fail('E_FORMAT', 'the decline reason is not in the expected shape');
  return value.reason;
}

/** Cancels an active flow (its initiator only). */
export async function cancelSigning(transport: RelayTransport, me: UnlockedAccount, opened: OpenedContract, flow: VerifiedSigningFlow): Promise<SigningFlowView> {
  if (flow.initiator !== me.account) fail('E_CONTEXT', 'only the initiator cancels a signing flow');
  if (flow.state !== 'active') fail('E_CONTEXT', `this flow is ${flow.state}`);
  if (flow.contract !== opened.contract) fail('E_CONTEXT', 'this flow belongs to another contract');
  const cancel = await signStatement(me.signing.privateKey, { type: SIGNING_CANCEL_TYPE, flow: flow.id, contract: flow.contract, initiator: me.account } satisfies SigningCancelStatement);
  const view = parseAnswer(SigningFlowSchema, await transport.request('POST', `${flowPath(flow.id)}/cancel`, { cancel }, me.session), 'signing flow');
  await recordAsAccount(transport, me, { action: 'signing.cancel', target: auditTarget(flow.contract, flow.id), details: { file: flow.file, steps: flow.steps.length } });
  return view;
}

// ---- composition: my whole turn ------------------------------------------------------------------

/** What shared/pdf signPdf takes (docs/SIGNING.md section 1), restated so this module does not import it. */
export interface PdfSignOptionsLike {
  privateKey: CryptoKey;
  certificatePem: string;
  chainPems: string[];
  fieldName: string;
  reason?: string;
  stamps?: { page: number; rect: { x: number; y: number; width: number; height: number }; png: Uint8Array }[];
}

export interface SignMyTurnDeps {
  /** shared/pdf signPdf */
  signPdf(pdf: Uint8Array, options: PdfSignOptionsLike): Promise<Uint8Array>;
  /** shared/protocol/seals openSealKey, bound to the transport, account and CA by the caller */
  openSealKey(seal: string): Promise<{ privateKey: CryptoKey; certificatePem: string }>;
  /** the caller's employee certificate, and the enterprise chain up to the CA */
  certificatePem: string;
  chainPems: string[];
  /** the PNG drawn in `field` (a handwritten signature, the seal's stamp, a rendered date or text) */
  stampFor(field: SigningField): Promise<Uint8Array>;
  /** the approved use request of a seal that needs one (shared/protocol/seals), or null */
  sealApprovalFor?(seal: string): Promise<string | null>;
}

/**
 * My whole turn: download the flow's latest version (checked against its manifest and against
 * the hash the previous signer signed), add my personal PAdES signature and one per seal, upload
 * the result as the next version and post my signed step.
 */
export async function signMyTurn(transport: FileTransport, me: UnlockedAccount, opened: OpenedContract, flow: VerifiedSigningFlow, deps: SignMyTurnDeps): Promise<SigningFlowView> {
  const turn = prepareMyTurn(flow, me.account);
  if (!turn) fail('E_CONTEXT', 'it is not your turn to sign this flow');
  // The seals first: a key that does not open or a use not approved ends the turn before
  // anything is downloaded, logged or signed.
  const sealKeys: { seal: string; fields: SigningField[]; key: { privateKey: CryptoKey; certificatePem: string } }[] = [];
  const sealApprovals: string[] = [];
  for (const { seal, fields } of turn.seals) {
    const key = await deps.openSealKey(seal);
    const approval = (await deps.sealApprovalFor?.(seal)) ?? null;
    if (approval !== null) sealApprovals.push(approval);
    sealKeys.push({ seal, fields, key });
  }

  const before = { contract: flow.contract, file: flow.file, version: turn.versionBefore };
  const manifest = await fetchManifest(transport, me, before, opened.writers);
  const out = collectingSink();
  await downloadFile(transport, me, opened.dek, manifest, before, out.sink);
  let pdf = out.bytes();
  const hashBefore = await fileDigest(opened.dek, pdf);
  if (turn.hashBefore !== null && hashBefore !== turn.hashBefore) fail('E_HASH', 'the latest version is not the file the previous signer signed');
  await recordAsAccount(transport, me, { action: 'signing.download', target: auditTarget(flow.contract, flow.id), details: { file: flow.file, version: turn.versionBefore, hash: hashBefore } });

  const stamps = async (fields: SigningField[]) =>
    Promise.all(fields.map(async (f) => ({ page: f.page, rect: { x: f.x, y: f.y, width: f.width, height: f.height }, png: await deps.stampFor(f) })));
  // PDF field names use "." for hierarchy; flow, account and seal ids never contain one.
  if (turn.personal.length > 0) {
    pdf = await deps.signPdf(pdf, { privateKey: me.signing.privateKey, certificatePem: deps.certificatePem, chainPems: deps.chainPems, fieldName: `sv-${flow.id}-${me.account}`, stamps: await stamps(turn.personal) });
  }
  for (const { seal, fields, key } of sealKeys) {
    pdf = await deps.signPdf(pdf, { privateKey: key.privateKey, certificatePem: key.certificatePem, chainPems: deps.chainPems, fieldName: `sv-${flow.id}-${seal}`, stamps: await stamps(fields) });
  }

  const hashAfter = await fileDigest(opened.dek, pdf);
  await uploadFile(transport, me, opened.dek, new Blob([pdf as Uint8Array<ArrayBuffer>]), { contract: flow.contract, file: flow.file, version: turn.versionAfter });
  return recordSignedStep(transport, me, opened, flow, {
    versionBefore: turn.versionBefore,
    versionAfter: turn.versionAfter,
    hashBefore,
    hashAfter,
    fields: turn.fields.map((f) => f.id),
    seals: turn.seals.map((s) => s.seal),
    sealApprovals,
  });
}
