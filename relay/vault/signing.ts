/**
 * Signing flows in the vault (docs/SIGNING.md section 3): one PDF file of a contract signed by
 * the space's signers in the plan's order, each signer's step a new file version they uploaded
 * and committed themselves, described by their signed statement.
 *
 * The vault is a second wall: it keeps the order, holds the file's versions to the flow while it
 * runs (signingUploadGuard), and stores every plan, step, decline and cancel only if signed by the
 * caller's certified key. Browsers trust none of it: they verify the plan and every step again
 * and re-derive the order and state (shared/protocol/signing.ts).
 *
 * Ordering checks run synchronously after the handler's last await: the vault is one process
 * and better-sqlite3 is synchronous, so no other request can commit a step in between.
 */
import { requireSealUse } from './seal-use';
import type { Context, Hono, MiddlewareHandler } from 'hono';
import type { SessionEnv } from '../common/auth';
import type { ApiDescription } from '../common/openapi';
import { readJson, readParams } from '../common/validate';
import { HttpError } from '../http/errors';
import type { ServiceContext } from '../services/service';
import { verifyStatement } from '../../shared/crypto/statements';
import type { SealedRecord } from '../../shared/crypto/records';
import { recordDigest } from '../../shared/formats/record-statement';
import {
  fieldsOf,
  MAX_LISTED_FLOWS,
  sameIds,
  SIGNING_CANCEL_TYPE,
  SIGNING_DECLINE_RECORD_KIND,
  SIGNING_DECLINE_TYPE,
  SIGNING_PLAN_BODY_LIMIT,
  SIGNING_PLAN_TYPE,
  SIGNING_STEP_TYPE,
  SigningCancelBodySchema,
  SigningDeclineBodySchema,
  SigningFlowListSchema,
  SigningFlowParams,
  SigningFlowSchema,
  SigningStepBodySchema,
  SigningTasksSchema,
  signersDue,
  StartSigningBodySchema,
  type SignedPlan,
  type SigningFlowView,
  type SigningPlanStatement,
  type SigningStepStatement,
} from '../../shared/schemas/signing';
import { ContractParams, type SpaceRole } from '../../shared/schemas/vault';
import { CREATE_ROLES, READ_ROLES, requireSpaceRole, roleInSpace, spaceMembers } from './access';
import type { ContractRow, SigningFlowRow, VaultDb } from './db';
import { certifiedSigningKey, verifiedOr400 } from './signers';

const SIGNER_ROLES: readonly SpaceRole[] = ['signer'];

const planOf = (row: SigningFlowRow): SigningPlanStatement => (JSON.parse(row.plan) as SignedPlan).statement;

/** The flow's last accepted version and its hash (null before the first step: the vault never sees plaintext). */
function headOf(db: VaultDb, row: SigningFlowRow): { version: number; hash: string | null; signed: Set<string> } {
  const steps = db.signingSteps(row.id);
  const last = steps.at(-1);
  return { version: last?.versionAfter ?? row.baseVersion, hash: last?.hashAfter ?? null, signed: new Set(steps.map((s) => s.signer)) };
}

export function flowView(db: VaultDb, row: SigningFlowRow): SigningFlowView {
  const plan = JSON.parse(row.plan) as SignedPlan;
  return {
    id: row.id,
    contract: row.contract,
    space: row.space,
    file: row.file,
    baseVersion: row.baseVersion,
    initiator: row.initiator,
    order: plan.statement.order,
    signers: plan.statement.signers,
    fields: plan.statement.fields,
    state: row.state,
    plan,
    steps: db.signingSteps(row.id).map((s) => JSON.parse(s.statement) as SigningFlowView['steps'][number]),
    decline: row.decline === null ? null : (JSON.parse(row.decline) as SigningFlowView['decline']),
    cancel: row.cancel === null ? null : (JSON.parse(row.cancel) as SigningFlowView['cancel']),
    createdAt: row.createdAt,
    endedAt: row.endedAt,
  };
}

/**
 * While a file has an active flow only a signer whose turn it is may register or commit a new
 * version of it, and only the version right after the flow's last one: a step's versionBefore is
 * then always the file's newest version, and nobody can slip a version in between two steps.
 * Call it synchronously right before the write.
 */
export function signingUploadGuard(db: VaultDb, file: string, version: number, account: string): void {
  const flow = db.activeSigningFlowOfFile(file);
  if (!flow) return;
  const head = headOf(db, flow);
  if (!signersDue(planOf(flow).signers, head.signed).includes(account)) {
    throw new HttpError(409, 'E_SIGNING_IN_PROGRESS', 'this file is being signed: only the signer whose turn it is may add a version until the flow ends');
  }
  if (version !== head.version + 1) throw new HttpError(409, 'E_CONFLICT', `during signing the next version of this file is ${head.version + 1}`);
}

export interface SigningRouteDeps {
  app: Hono<SessionEnv>;
  api: ApiDescription;
  db: VaultDb;
  ctx: ServiceContext;
  session: MiddlewareHandler<SessionEnv>;
  contractOr404(id: string): ContractRow;
  notDeleted(row: ContractRow): void;
}

export function registerSigningRoutes({ app, api, db, ctx, session, contractOr404, notDeleted }: SigningRouteDeps): void {
  const sub = (c: Context<SessionEnv>) => c.get('session').sub;
  const flowOr404 = (id: string): SigningFlowRow => {
    const row = db.signingFlow(id);
    if (!row) throw new HttpError(404, 'E_NOT_FOUND', 'no such signing flow');
    return row;
  };
  const activeOr409 = (row: SigningFlowRow) => {
    if (row.state !== 'active') throw new HttpError(409, 'E_NOT_ACTIVE', `this signing flow is ${row.state}`);
  };
  const dueOr409 = (row: SigningFlowRow, account: string, what: string) => {
    const due = signersDue(planOf(row).signers, headOf(db, row).signed);
    if (!due.includes(account)) throw new HttpError(409, 'E_ORDER', `${what}: it is not your turn (waiting for ${due.join(', ') || 'nobody'})`);
  };
  const target = (row: { contract: string; id: string }) => `contract:${row.contract}/signing:${row.id}`;
  const send = (c: Context, row: SigningFlowRow, status: 200 | 201 = 200) => c.json(flowView(db, row), status);

  // -- start ------------------------------------------------------------------------------------

  api.add({
    method: 'post',
    path: '/contracts/:contract/signing-flows',
    summary:
      "Start a signing flow on the latest committed version of one of the contract's files (editor or manager; the plan signed by the caller as initiator; every signer holds the signer role and a certified key). Audited as signing.start",
    auth: 'session',
    body: StartSigningBodySchema,
    response: SigningFlowSchema,
    errors: {
      400: 'E_VALIDATION (plan shape, limits, order and field rules), E_CONTEXT (another contract, space or initiator; no such file version), E_SIGNATURE',
      404: 'no such contract',
      409: 'E_CONFLICT (the file has an active flow, or baseVersion is not its latest committed version), E_EXISTS (flow id taken), E_NOT_SIGNER, E_NOT_CERTIFIED',
      410: 'E_DELETED',
    },
  });
  app.post('/contracts/:contract/signing-flows', session, async (c) => {
    const p = readParams(c, ContractParams);
    const contract = contractOr404(p.contract);
    await requireSpaceRole(ctx.peers, c, contract.space, CREATE_ROLES, 'starting a signing flow');
    notDeleted(contract);
    const { plan } = await readJson(c, StartSigningBodySchema, SIGNING_PLAN_BODY_LIMIT);
    const s = plan.statement;
    if (s.initiator !== sub(c)) throw new HttpError(400, 'E_CONTEXT', 'the plan must name you as its initiator');
    if (s.contract !== contract.id || s.space !== contract.space) throw new HttpError(400, 'E_CONTEXT', 'the plan names another contract or space');
    const key = await certifiedSigningKey(ctx.peers, s.initiator);
    await verifiedOr400('the signing plan', () => verifyStatement(key, plan, SIGNING_PLAN_TYPE));
    const roles = await spaceMembers(ctx.peers, c, contract.space);
    const notSigners = s.signers.filter((x) => roles.get(x.account) !== 'signer').map((x) => x.account);
    if (notSigners.length > 0) throw new HttpError(409, 'E_NOT_SIGNER', `these accounts do not hold the signer role in this space: ${notSigners.join(', ')}`);
    // A signer who cannot sign statements would hold the file until the flow is cancelled.
    for (const x of s.signers) await certifiedSigningKey(ctx.peers, x.account);

    // From here on synchronous: the file's versions cannot change under these checks.
    const base = db.fileVersion(s.file, s.baseVersion);
    if (!base || base.contract !== contract.id) throw new HttpError(400, 'E_CONTEXT', `this contract has no version ${s.baseVersion} of file ${s.file}`);
    if (base.state !== 'committed' || db.latestFileVersion(s.file) !== s.baseVersion) {
      throw new HttpError(409, 'E_CONFLICT', `version ${s.baseVersion} is not the latest committed version of this file`);
    }
    const planJson = JSON.stringify(plan);
    const outcome = db.createSigningFlow({ id: s.flow, contract: contract.id, space: contract.space, file: s.file, baseVersion: s.baseVersion, initiator: s.initiator, plan: planJson, createdAt: Date.now() }, s.signers);
    if (outcome === 'exists') {
      const existing = db.signingFlow(s.flow)!;
      // The same plan again is a retried request; anything else under this id is refused.
      if (existing.plan !== planJson) throw new HttpError(409, 'E_EXISTS', 'a signing flow with this id exists');
      return send(c, existing);
    }
    if (outcome === 'busy') throw new HttpError(409, 'E_CONFLICT', 'this file already has an active signing flow');
    const row = db.signingFlow(s.flow)!;
    await ctx.audit.record({
      actor: sub(c),
      action: 'signing.start',
      target: target(row),
      outcome: 'ok',
      details: { space: row.space, file: row.file, baseVersion: row.baseVersion, order: s.order, signers: s.signers.map((x) => x.account), fields: s.fields.length },
    });
    return send(c, row, 201);
  });

  // -- reads ------------------------------------------------------------------------------------

  api.add({ method: 'get', path: '/contracts/:contract/signing-flows', summary: "A contract's signing flows, newest first (readers of the contract)", auth: 'session', response: SigningFlowListSchema, errors: { 404: 'no such contract' } });
  app.get('/contracts/:contract/signing-flows', session, async (c) => {
    const p = readParams(c, ContractParams);
    const contract = contractOr404(p.contract);
    await requireSpaceRole(ctx.peers, c, contract.space, READ_ROLES, 'reading signing flows', contract.id);
    return c.json({ contract: contract.id, flows: db.signingFlowsOfContract(contract.id, MAX_LISTED_FLOWS).map((r) => flowView(db, r)) });
  });

  api.add({ method: 'get', path: '/signing-flows/:flow', summary: 'One signing flow with its signed plan, steps and end (readers of the contract)', auth: 'session', response: SigningFlowSchema, errors: { 404: 'no such flow' } });
  app.get('/signing-flows/:flow', session, async (c) => {
    const row = flowOr404(readParams(c, SigningFlowParams).flow);
    await requireSpaceRole(ctx.peers, c, row.space, READ_ROLES, 'reading signing flows', row.contract);
    return send(c, row);
  });

  api.add({
    method: 'get',
    path: '/signing-tasks',
    summary: "Active flows where it is the caller's turn to sign, across contracts (each space's signer role checked with keys)",
    auth: 'session',
    response: SigningTasksSchema,
  });
  app.get('/signing-tasks', session, async (c) => {
    const me = sub(c);
    const due = db.activeSigningFlowsOf(me, MAX_LISTED_FLOWS).filter((r) => signersDue(planOf(r).signers, headOf(db, r).signed).includes(me));
    // Asked of keys once per space, on every request: a revoked signer sees no task at once.
    const roles = new Map<string, SpaceRole | null>();
    for (const space of new Set(due.map((r) => r.space))) roles.set(space, await roleInSpace(ctx.peers, c, space));
    return c.json({ flows: due.filter((r) => roles.get(r.space) === 'signer').map((r) => flowView(db, r)) });
  });

  // -- a signer's step ----------------------------------------------------------------------------

  api.add({
    method: 'post',
    path: '/signing-flows/:flow/steps',
    summary:
      'Record the caller\'s signed step: versionBefore is the flow\'s latest version, versionAfter = versionBefore + 1 was uploaded and committed by the caller, fields and seals are exactly the caller\'s (a signer whose turn it is). Completes the flow with the last signer. Audited as signing.sign (and signing.complete)',
    auth: 'session',
    body: SigningStepBodySchema,
    response: SigningFlowSchema,
    errors: {
      400: 'E_CONTEXT (another flow, contract, file or signer; other fields or seals; versionAfter not uploaded and committed; hashBefore not the last hashAfter), E_SIGNATURE',
      403: 'E_FORBIDDEN: not a signer of this flow, or no longer holding the signer role, or not a user of a seal the step applies; E_SEAL_INACTIVE',
      404: 'no such flow',
      409: 'E_ORDER (not your turn, or signed already), E_CONFLICT (versionBefore is not the latest: download it and sign again; or someone else uploaded versionAfter), E_NOT_ACTIVE, E_SEAL_APPROVAL (a seal whose use needs a manager\'s approval, and none named)',
    },
  });
  app.post('/signing-flows/:flow/steps', session, async (c) => {
    const flow = flowOr404(readParams(c, SigningFlowParams).flow);
    const contract = contractOr404(flow.contract);
    await requireSpaceRole(ctx.peers, c, flow.space, SIGNER_ROLES, 'signing');
    notDeleted(contract);
    const { step } = await readJson(c, SigningStepBodySchema);
    const s = step.statement;
    if (s.signer !== sub(c)) throw new HttpError(400, 'E_CONTEXT', 'the step must name you as its signer');
    if (s.flow !== flow.id || s.contract !== flow.contract || s.file !== flow.file) throw new HttpError(400, 'E_CONTEXT', 'the step names another flow, contract or file');
    const plan = planOf(flow);
    if (!plan.signers.some((x) => x.account === s.signer)) throw new HttpError(403, 'E_FORBIDDEN', 'you are not a signer of this flow');
    const mine = fieldsOf(plan.fields, s.signer);
    if (!sameIds(s.fields, mine.fields) || !sameIds(s.seals, mine.seals)) throw new HttpError(400, 'E_CONTEXT', 'a step names exactly the signer\'s own fields and the seals of its seal fields');
    if (s.versionAfter !== s.versionBefore + 1) throw new HttpError(400, 'E_CONTEXT', 'versionAfter must be versionBefore + 1');
    const key = await certifiedSigningKey(ctx.peers, s.signer);
    await verifiedOr400('the signing step', () => verifyStatement(key, step, SIGNING_STEP_TYPE));
    for (const seal of s.seals) await requireSealUse(ctx.peers, c, { seal, contract: flow.contract, flow: flow.id, user: s.signer, approvals: s.sealApprovals });
    const statement = JSON.stringify(step);

    // From here on synchronous (see the top of this file).
    const fresh = db.signingFlow(flow.id)!;
    const steps = db.signingSteps(flow.id);
    const prior = steps.find((x) => x.signer === s.signer);
    if (prior && prior.statement !== statement) throw new HttpError(409, 'E_ORDER', 'you have signed this flow already');
    // A retried request is audited again, as record.put is: if the first entries were lost, these are not.
    const completes = prior ? fresh.state === 'completed' && prior.seq === steps.length - 1 : signStep(fresh, s, statement, plan.signers.length);

    await ctx.audit.record({
      actor: s.signer,
      action: 'signing.sign',
      target: target(flow),
      outcome: 'ok',
      details: { space: flow.space, file: flow.file, versionBefore: s.versionBefore, versionAfter: s.versionAfter, hashAfter: s.hashAfter, fields: s.fields, seals: s.seals, sealApprovals: s.sealApprovals },
    });
    if (completes) {
      await ctx.audit.record({ actor: s.signer, action: 'signing.complete', target: target(flow), outcome: 'ok', details: { space: flow.space, file: flow.file, version: s.versionAfter, hash: s.hashAfter, signers: plan.signers.length } });
    }
    return send(c, db.signingFlow(flow.id)!, prior ? 200 : 201);
  });

  /** Checks order and versions of a new step (synchronously, see the top) and stores it; true when it completes the flow. */
  function signStep(fresh: SigningFlowRow, s: SigningStepStatement, statement: string, signerCount: number): boolean {
    activeOr409(fresh);
    dueOr409(fresh, s.signer, 'signing');
    const head = headOf(db, fresh);
    if (s.versionBefore !== head.version) throw new HttpError(409, 'E_CONFLICT', `version ${s.versionBefore} is not the flow's latest version ${head.version}: download it and sign again`);
    if (head.hash !== null && s.hashBefore !== head.hash) throw new HttpError(400, 'E_CONTEXT', "hashBefore is not the previous signer's hashAfter");
    const after = db.fileVersion(fresh.file, s.versionAfter);
    if (!after || after.state !== 'committed') throw new HttpError(400, 'E_CONTEXT', `upload and commit version ${s.versionAfter} of the file first`);
    if (after.uploader !== s.signer) throw new HttpError(409, 'E_CONFLICT', `version ${s.versionAfter} was uploaded by someone else: download it and sign again`);
    if (db.latestFileVersion(fresh.file) !== s.versionAfter) throw new HttpError(409, 'E_CONFLICT', 'the file has a newer version than this step');
    const completes = head.signed.size + 1 === signerCount;
    db.addSigningStep(fresh.id, { signer: s.signer, versionBefore: s.versionBefore, versionAfter: s.versionAfter, hashAfter: s.hashAfter, statement }, completes);
    return completes;
  }

  // -- decline and cancel -----------------------------------------------------------------------

  api.add({
    method: 'post',
    path: '/signing-flows/:flow/decline',
    summary: "A signer whose turn it is declines, naming the version of their own sealed signing-decline record that gives the reason (its recordDigest signed in the statement). Ends the flow. Audited as signing.decline",
    auth: 'session',
    body: SigningDeclineBodySchema,
    response: SigningFlowSchema,
    errors: { 400: 'E_CONTEXT (another flow, contract or signer; no such reason record of yours, or another digest), E_SIGNATURE', 403: 'E_FORBIDDEN', 404: 'no such flow', 409: 'E_ORDER (not your turn), E_NOT_ACTIVE' },
  });
  app.post('/signing-flows/:flow/decline', session, async (c) => {
    const flow = flowOr404(readParams(c, SigningFlowParams).flow);
    const contract = contractOr404(flow.contract);
    await requireSpaceRole(ctx.peers, c, flow.space, SIGNER_ROLES, 'declining to sign');
    notDeleted(contract);
    const { decline } = await readJson(c, SigningDeclineBodySchema);
    const s = decline.statement;
    if (s.signer !== sub(c)) throw new HttpError(400, 'E_CONTEXT', 'the decline must name you as its signer');
    if (s.flow !== flow.id || s.contract !== flow.contract) throw new HttpError(400, 'E_CONTEXT', 'the decline names another flow or contract');
    if (!planOf(flow).signers.some((x) => x.account === s.signer)) throw new HttpError(403, 'E_FORBIDDEN', 'you are not a signer of this flow');
    // Records never change once stored (relay/vault/db.ts putRecord), so checking it before the awaits below holds.
    const reason = db.record(flow.contract, SIGNING_DECLINE_RECORD_KIND, s.reasonVersion);
    if (!reason || db.recordAuthor(flow.contract, SIGNING_DECLINE_RECORD_KIND, s.reasonVersion) !== s.signer) {
      throw new HttpError(400, 'E_CONTEXT', `store your reason as your own "${SIGNING_DECLINE_RECORD_KIND}" record version ${s.reasonVersion} first`);
    }
    if ((await recordDigest(JSON.parse(reason.body) as SealedRecord)) !== s.reasonDigest) throw new HttpError(400, 'E_CONTEXT', 'reasonDigest is not the digest of that record');
    const key = await certifiedSigningKey(ctx.peers, s.signer);
    await verifiedOr400('the decline', () => verifyStatement(key, decline, SIGNING_DECLINE_TYPE));

    const fresh = db.signingFlow(flow.id)!;
    activeOr409(fresh);
    dueOr409(fresh, s.signer, 'declining');
    db.endSigningFlow(flow.id, 'declined', JSON.stringify(decline));
    await ctx.audit.record({ actor: s.signer, action: 'signing.decline', target: target(flow), outcome: 'ok', details: { space: flow.space, file: flow.file, reasonVersion: s.reasonVersion, reasonDigest: s.reasonDigest } });
    return send(c, db.signingFlow(flow.id)!);
  });

  api.add({
    method: 'post',
    path: '/signing-flows/:flow/cancel',
    summary: 'The initiator cancels an active flow with a signed statement (any role still held in the space). Audited as signing.cancel',
    auth: 'session',
    body: SigningCancelBodySchema,
    response: SigningFlowSchema,
    errors: { 400: 'E_CONTEXT, E_SIGNATURE', 403: 'E_FORBIDDEN: only the initiator cancels', 404: 'no such flow', 409: 'E_NOT_ACTIVE' },
  });
  app.post('/signing-flows/:flow/cancel', session, async (c) => {
    const flow = flowOr404(readParams(c, SigningFlowParams).flow);
    await requireSpaceRole(ctx.peers, c, flow.space, READ_ROLES, 'cancelling a signing flow');
    if (flow.initiator !== sub(c)) throw new HttpError(403, 'E_FORBIDDEN', 'only the initiator of a signing flow cancels it');
    const { cancel } = await readJson(c, SigningCancelBodySchema);
    const s = cancel.statement;
    if (s.initiator !== sub(c) || s.flow !== flow.id || s.contract !== flow.contract) throw new HttpError(400, 'E_CONTEXT', 'the cancel names another flow, contract or initiator');
    const key = await certifiedSigningKey(ctx.peers, s.initiator);
    await verifiedOr400('the cancel', () => verifyStatement(key, cancel, SIGNING_CANCEL_TYPE));

    activeOr409(db.signingFlow(flow.id)!);
    db.endSigningFlow(flow.id, 'cancelled', JSON.stringify(cancel));
    await ctx.audit.record({ actor: s.initiator, action: 'signing.cancel', target: target(flow), outcome: 'ok', details: { space: flow.space, file: flow.file, steps: db.signingSteps(flow.id).length } });
    return send(c, db.signingFlow(flow.id)!);
  });
}
