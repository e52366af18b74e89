/**
 * Seals (docs/SIGNING.md section 2, DESIGN.md section 8) in the keys service: an employee asks
 * for a seal with three disjoint lists of people (managers, users, auditors); a security
 * administrator who is none of them approves it in the browser, where the seal's key pair and
 * certificate are made and the private key is wrapped to each user; managers ask to disable or
 * destroy it and a security administrator decides; users ask managers to approve a use.
 *
 * The relay never sees a seal key. It keeps each author's signed statement (checked here with
 * the author's certified signing key, as a second wall: clients check them again), serves a
 * user's envelope only to that user and only while the seal is active, deletes every envelope
 * when a seal is destroyed and lists the destroyed certificates' serials as revoked.
 */
import type { Context, Hono, MiddlewareHandler } from 'hono';
import type { z } from 'zod';
import { canonicalJson, fromBase64url, type Json } from '../../shared/crypto/encoding';
import { isCryptoError } from '../../shared/crypto/errors';
import { SEAL_UID_PREFIX } from '../../shared/pki/seal-certificate';
import { certificateFingerprint, NAME_OIDS, parseCertificate, subjectField } from '../../shared/pki/x509';
import {
  ApproveSealSchema,
  ApproveSealUseSchema,
  CreateSealSchema,
  CreateSealUseRequestSchema,
  DecideSealActionSchema,
  RejectSealSchema,
  SEAL_ACTION_DECISION_TYPE,
  SEAL_ACTION_REQUEST_TYPE,
  SEAL_APPROVAL_TYPE,
  SEAL_KEY_PURPOSE,
  SEAL_REJECTION_TYPE,
  SEAL_REQUEST_TYPE,
  SEAL_USE_APPROVAL_TYPE,
  SEAL_USE_REQUEST_TYPE,
  SealActionRequestBodySchema,
  SealHistorySchema,
  SealKeySchema,
  SealListSchema,
  SealParamSchema,
  SealRevocationsSchema,
  SealSchema,
  SealUseParamSchema,
  SealUseQuerySchema,
  SealUseRequestListSchema,
  SealUseRequestSchema,
  stampDigest,
  statementDigest,
  type SealAction,
} from '../../shared/schemas/seals';
import type { AuditEvent } from '../common/audit-sink';
import type { SessionEnv } from '../common/auth';
import type { ApiDescription } from '../common/openapi';
import type { Peers } from '../common/peers';
import { readParams, readQuery } from '../common/validate';
import { HttpError } from '../http/errors';
import { lookupAccount, requireCertifiedRecipient, SECURITY_ADMIN_ROLE, verifySignedBy } from './directory';
import { readSignedBody } from './signed-body';
import type { KeysStore, SealRow, SealUseRequestRow } from './store';

/** A stamp of 256 KiB is 350 KB of base64; the rest of a request is a few KiB. */
export const SEAL_LIMITS = { create: 400 * 1024, approve: 128 * 1024, small: 8 * 1024 } as const;

export interface SealRouteDeps {
  app: Hono<SessionEnv>;
  api: ApiDescription;
  store: KeysStore;
  session: MiddlewareHandler<SessionEnv>;
  peers: Peers;
  audit: (event: AuditEvent) => Promise<void>;
  now: () => number;
}

type Lists = { managers: string[]; users: string[]; auditors: string[] };
const lists = (r: SealRow): Lists => ({ managers: JSON.parse(r.managers), users: JSON.parse(r.users), auditors: JSON.parse(r.auditors) });
const onAnyList = (l: Lists, account: string) => l.managers.includes(account) || l.users.includes(account) || l.auditors.includes(account);
const isSecurityAdmin = (roles: readonly string[] | undefined) => (roles ?? []).includes(SECURITY_ADMIN_ROLE);
const target = (id: string) => `seal:${id}`;

function wire(r: SealRow) {
  return {
    id: r.id,
    type: r.type,
    name: r.name,
    stampPng: r.stamp_png,
    requester: r.requester,
    ...lists(r),
    useNeedsApproval: r.use_needs_approval === 1,
    status: r.status,
    certificate: r.certificate,
    serial: r.serial,
    request: JSON.parse(r.request),
    approval: r.approval === null ? null : JSON.parse(r.approval),
    pending: r.pending === null ? null : JSON.parse(r.pending),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

function useWire(r: SealUseRequestRow) {
  return {
    id: r.id,
    seal: r.seal,
    user: r.user,
    contract: r.contract,
    flow: r.flow,
    request: JSON.parse(r.request),
    approval: r.approval === null ? null : JSON.parse(r.approval),
    createdAt: r.created_at,
    approvedAt: r.approved_at,
  };
}

export function registerSealRoutes({ app, api, store, session, peers, audit, now }: SealRouteDeps): void {
  const seals = store.seals;

  /** The seal, if the caller may see it (on a list, or a security administrator); else 404, saying nothing of its existence. */
  /**
   * Security administrators see every seal and the people on a seal's lists see it in any state;
   * everyone signed in sees the active ones, since whoever sends a contract for signature picks
   * the seal and its user, and every signer checks the seal steps before theirs.
   */
  const mayRead = (row: SealRow, account: string, roles: readonly string[] | undefined): boolean => isSecurityAdmin(roles) || onAnyList(lists(row), account) || row.status === 'active';
  const visible = (id: string, account: string, roles: readonly string[] | undefined): SealRow => {
    const row = seals.get(id);
    if (!row || !mayRead(row, account, roles)) throw new HttpError(404, 'E_NOT_FOUND', 'no such seal among yours');
    return row;
  };

  /**
   * What approving and rejecting a requested seal share: the caller is a security administrator
   * independent of the seal, the body is signed, the seal is still requested, and the statement
   * is the caller's about exactly this seal's request.
   */
  const decideRequested = async <S extends z.ZodType>(c: Context<SessionEnv>, schema: S, limit: number, field: 'approval' | 'rejection') => {
    const { sub: me, roles } = c.get('session');
    const { id } = readParams(c, SealParamSchema);
    if (!isSecurityAdmin(roles)) throw new HttpError(403, 'E_FORBIDDEN', `only a security administrator makes a seal's ${field}`);
    const row = visible(id, me, roles);
    requireIndependent(row, me, row.requester);
    const body: z.infer<S> = await readSignedBody(c, schema, limit, field);
    if (row.status !== 'requested') throw new HttpError(409, 'E_CONFLICT', `the seal is ${row.status}, not requested`);
    const st = (body as Record<typeof field, { statement: { approver: string; seal: string; requestDigest: string } }>)[field].statement;
    if (st.approver !== me) throw new HttpError(400, 'E_SIGNATURE', `the ${field} must be made and signed by the caller`);
    if (st.seal !== id || st.requestDigest !== row.request_digest) throw new HttpError(400, 'E_CONTEXT', `the ${field} names another seal or request`);
    return { me, id, row, body };
  };

  /** The directory must still list the caller as an active security administrator (a session may be older than a role change). */
  const requireCurrentSecurityAdmin = async (account: string) => {
    const info = await lookupAccount(peers, account);
    if (!info || info.status !== 'active' || !info.roles.includes(SECURITY_ADMIN_ROLE)) {
      throw new HttpError(403, 'E_FORBIDDEN', 'the directory no longer lists the caller as an active security administrator');
    }
  };

  /** Four eyes and separation: the deciding administrator is neither the one who asked nor holds any power over the seal. */
  const requireIndependent = (row: SealRow, caller: string, askedBy: string) => {
    if (caller === askedBy) throw new HttpError(403, 'E_FOUR_EYES', 'the person who asked cannot decide');
    if (onAnyList(lists(row), caller)) throw new HttpError(403, 'E_SEAL_SEPARATION', 'a manager, user or auditor of the seal cannot decide about it');
  };

  const changed = () => new HttpError(409, 'E_CONFLICT', 'the seal changed meanwhile; reload and try again');

  // ---- listing ------------------------------------------------------------------------------

  api.add({ method: 'get', path: '/seals/revocations', summary: "Destroyed seals' certificate serials (lower-case hex), which verifiers treat as revoked", auth: 'session', response: SealRevocationsSchema });
  app.get('/seals/revocations', session, (c) =>
    c.json({ revocations: seals.revoked().map((r) => ({ serial: r.serial!, seal: r.id, revokedAt: r.revoked_at!, reason: r.revoke_reason ?? '' })) }),
  );

  api.add({ method: 'get', path: '/seals', summary: "The seals where the caller is a manager, user or auditor, and every active seal; every seal for a security administrator", auth: 'session', response: SealListSchema });
  app.get('/seals', session, (c) => {
    const { sub: me, roles } = c.get('session');
    const all = seals.all();
    return c.json({ seals: all.filter((r) => mayRead(r, me, roles)).map(wire) });
  });

  api.add({ method: 'get', path: '/seals/:id', summary: 'One seal (its managers, users, auditors and security administrators)', auth: 'session', response: SealSchema, errors: { 404: 'no such seal among yours' } });
  app.get('/seals/:id', session, (c) => {
    const { sub: me, roles } = c.get('session');
    const { id } = readParams(c, SealParamSchema);
    return c.json(wire(visible(id, me, roles)));
  });

  api.add({
    method: 'get',
    path: '/seals/:id/history',
    summary: "Every signed statement of the seal's life with its time (the seal's managers and auditors)",
    auth: 'session',
    response: SealHistorySchema,
    errors: { 403: 'E_FORBIDDEN: not a manager or auditor of the seal', 404: 'no such seal among yours' },
  });
  app.get('/seals/:id/history', session, (c) => {
    const { sub: me, roles } = c.get('session');
    const { id } = readParams(c, SealParamSchema);
    const l = lists(visible(id, me, roles));
    if (!l.managers.includes(me) && !l.auditors.includes(me)) throw new HttpError(403, 'E_FORBIDDEN', "only the seal's managers and auditors trace its life");
    return c.json({ seal: id, entries: seals.history(id).map((h) => ({ kind: h.kind, actor: h.actor, at: h.at, statement: JSON.parse(h.statement) })) });
  });

  // ---- request, approval, rejection -------------------------------------------------------

  api.add({
    method: 'post',
    path: '/seals',
    summary: 'Ask for a seal (a certified employee, signed seal-request; the caller is one of its managers)',
    auth: 'session',
    body: CreateSealSchema,
    response: SealSchema,
    errors: {
      400: 'E_VALIDATION, E_SIGNATURE (not signed by the caller), E_CONTEXT (stamp digest, the caller is not a manager), E_SEAL_SEPARATION (one person on two lists)',
      409: 'E_CONFLICT (the id exists, or a second company seal), E_NOT_CERTIFIED (someone listed is not an active, certified account)',
      413: 'body too large',
    },
  });
  app.post('/seals', session, async (c) => {
    const me = c.get('session').sub;
    const body = await readSignedBody(c, CreateSealSchema, SEAL_LIMITS.create, 'request');
    const st = body.request.statement;
    if (st.requester !== me) throw new HttpError(400, 'E_SIGNATURE', 'the request must be made and signed by the caller');
    if (st.stampDigest !== (await stampDigest(body.stampPng))) throw new HttpError(400, 'E_CONTEXT', 'the request names another stamp');
    if (!st.managers.includes(me)) throw new HttpError(400, 'E_CONTEXT', "the one who asks for a seal is one of its managers");
    const everyone = [...st.managers, ...st.users, ...st.auditors];
    if (new Set(everyone).size !== everyone.length) throw new HttpError(400, 'E_SEAL_SEPARATION', 'managers, users and auditors must be different people');
    if (seals.get(st.seal)) throw new HttpError(409, 'E_CONFLICT', 'a seal with this id exists');
    for (const account of everyone) await requireCertifiedRecipient(peers, account);
    await verifySignedBy(peers, me, body.request, SEAL_REQUEST_TYPE);

    const t = now();
    const row: SealRow = {
      id: st.seal,
      type: st.sealType,
      name: st.name,
      stamp_png: body.stampPng,
      requester: me,
      managers: JSON.stringify(st.managers),
      users: JSON.stringify(st.users),
      auditors: JSON.stringify(st.auditors),
      use_needs_approval: st.useNeedsApproval ? 1 : 0,
      status: 'requested',
      request: canonicalJson(body.request as unknown as Json),
      request_digest: await statementDigest(st),
      certificate: null,
      serial: null,
      approval: null,
      pending: null,
      revoked_at: null,
      revoke_reason: null,
      created_at: t,
      updated_at: t,
    };
    if (st.sealType === 'company' && seals.all().some((r) => r.type === 'company' && r.status !== 'rejected' && r.status !== 'destroyed')) {
      throw new HttpError(409, 'E_CONFLICT', 'the enterprise already has a company seal');
    }
    await audit({ actor: me, action: 'seal.request', target: target(st.seal), outcome: 'ok', details: { type: st.sealType, name: st.name, ...lists(row), useNeedsApproval: st.useNeedsApproval, stamp: st.stampDigest } });
    const created = seals.create(row, me);
    if (created === 'exists') throw new HttpError(409, 'E_CONFLICT', 'a seal with this id exists');
    if (created === 'company') throw new HttpError(409, 'E_CONFLICT', 'the enterprise already has a company seal');
    return c.json(wire(seals.get(st.seal)!));
  });

  api.add({
    method: 'post',
    path: '/seals/:id/approve',
    summary: "Approve a requested seal (a security administrator who neither asked nor is on its lists): its certificate, the seal key wrapped to each user, the signed approval",
    auth: 'session',
    body: ApproveSealSchema,
    response: SealSchema,
    errors: {
      400: 'E_VALIDATION, E_SIGNATURE, E_CONTEXT (another seal, request or certificate; not exactly one envelope per user; not wrapped to the user)',
      403: 'E_FORBIDDEN (not a security administrator), E_FOUR_EYES (the requester), E_SEAL_SEPARATION (on a list)',
      404: 'no such seal',
      409: 'E_CONFLICT (not requested any more), E_NOT_CERTIFIED',
    },
  });
  app.post('/seals/:id/approve', session, async (c) => {
    const { me, id, row, body } = await decideRequested(c, ApproveSealSchema, SEAL_LIMITS.approve, 'approval');
    const st = body.approval.statement;

    // The certificate must be this seal's (clients check its chain to the enterprise CA again).
    let serial: string;
    let fingerprint: string;
    try {
      const cert = parseCertificate(body.certificate, 'the seal certificate');
      if (subjectField(cert, NAME_OIDS.userId, 'UID') !== `${SEAL_UID_PREFIX}${id}` || subjectField(cert, NAME_OIDS.commonName, 'CN') !== row.name || subjectField(cert, NAME_OIDS.organizationalUnit, 'OU') !== row.type) {
        throw new HttpError(400, 'E_CONTEXT', 'the certificate names another seal, name or type');
      }
      serial = cert.serialNumber.toLowerCase();
      fingerprint = await certificateFingerprint(cert);
    } catch (e) {
      if (isCryptoError(e)) throw new HttpError(400, 'E_CONTEXT', 'the certificate does not parse or names no seal');
      throw e;
    }
    if (st.certificate !== fingerprint) throw new HttpError(400, 'E_CONTEXT', 'the approval names another certificate');

    const { users } = lists(row);
    const recipients = body.envelopes.map((e) => e.context.recipient);
    if (recipients.length !== users.length || new Set(recipients).size !== recipients.length || !users.every((u) => recipients.includes(u))) {
      throw new HttpError(400, 'E_CONTEXT', 'exactly one envelope per user of the seal is needed');
    }
    for (const envelope of body.envelopes) {
      if (envelope.context.seal !== id || envelope.context.certificate !== fingerprint || envelope.context.purpose !== SEAL_KEY_PURPOSE) {
        throw new HttpError(400, 'E_CONTEXT', 'an envelope names another seal or certificate');
      }
      const modulusBytes = await requireCertifiedRecipient(peers, envelope.context.recipient);
      if (fromBase64url(envelope.wrapped).length !== modulusBytes) throw new HttpError(400, 'E_CONTEXT', "an envelope is not wrapped to its user's certified key");
    }
    await requireCurrentSecurityAdmin(me);
    await verifySignedBy(peers, me, body.approval, SEAL_APPROVAL_TYPE);

    await audit({ actor: me, action: 'seal.activate', target: target(id), outcome: 'ok', details: { serial, certificate: fingerprint, users, request: row.request_digest } });
    const approval = canonicalJson(body.approval as unknown as Json);
    const ok = seals.transition(id, ['requested'], null, { status: 'active', certificate: body.certificate, serial, approval }, { kind: 'approval', actor: me, statement: approval }, now(), () => {
      for (const envelope of body.envelopes) seals.insertEnvelope(id, envelope.context.recipient, canonicalJson(envelope));
    });
    if (!ok) throw changed();
    return c.json(wire(seals.get(id)!));
  });

  api.add({
    method: 'post',
    path: '/seals/:id/reject',
    summary: 'Reject a requested seal (a security administrator who neither asked nor is on its lists; signed, with a reason)',
    auth: 'session',
    body: RejectSealSchema,
    response: SealSchema,
    errors: { 400: 'E_VALIDATION, E_SIGNATURE, E_CONTEXT', 403: 'E_FORBIDDEN, E_FOUR_EYES, E_SEAL_SEPARATION', 404: 'no such seal', 409: 'E_CONFLICT: not requested any more' },
  });
  app.post('/seals/:id/reject', session, async (c) => {
    const { me, id, row, body } = await decideRequested(c, RejectSealSchema, SEAL_LIMITS.small, 'rejection');
    const st = body.rejection.statement;
    await requireCurrentSecurityAdmin(me);
    await verifySignedBy(peers, me, body.rejection, SEAL_REJECTION_TYPE);
    await audit({ actor: me, action: 'seal.reject', target: target(id), outcome: 'ok', details: { reason: st.reason, request: row.request_digest } });
    const rejection = canonicalJson(body.rejection as unknown as Json);
    if (!seals.transition(id, ['requested'], null, { status: 'rejected', approval: rejection }, { kind: 'rejection', actor: me, statement: rejection }, now())) throw changed();
    return c.json(wire(seals.get(id)!));
  });

  // ---- disable and destroy ----------------------------------------------------------------

  for (const action of ['disable', 'destroy'] as const satisfies readonly SealAction[]) {
    const from = action === 'disable' ? ['active'] : ['active', 'disabled'];
    api.add({
      method: 'post',
      path: `/seals/:id/${action}-request`,
      summary: `A manager of the seal asks to ${action} it (signed, with a reason); a security administrator decides`,
      auth: 'session',
      body: SealActionRequestBodySchema,
      response: SealSchema,
      errors: { 400: 'E_VALIDATION, E_SIGNATURE, E_CONTEXT', 403: 'E_FORBIDDEN: not a manager of the seal', 404: 'no such seal among yours', 409: `E_CONFLICT: not ${from.join(' or ')}, or an action is pending` },
    });
    app.post(`/seals/:id/${action}-request`, session, async (c) => {
      const { sub: me, roles } = c.get('session');
      const { id } = readParams(c, SealParamSchema);
      const row = visible(id, me, roles);
      if (!lists(row).managers.includes(me)) throw new HttpError(403, 'E_FORBIDDEN', `only a manager of the seal asks to ${action} it`);
      const body = await readSignedBody(c, SealActionRequestBodySchema, SEAL_LIMITS.small, 'request');
      if (!from.includes(row.status) || row.pending !== null) throw new HttpError(409, 'E_CONFLICT', `the seal is ${row.status}${row.pending ? ' with an action pending' : ''}`);
      const st = body.request.statement;
      if (st.by !== me) throw new HttpError(400, 'E_SIGNATURE', 'the request must be made and signed by the caller');
      if (st.seal !== id || st.action !== action) throw new HttpError(400, 'E_CONTEXT', `the statement names another seal or action than ${action}`);
      await verifySignedBy(peers, me, body.request, SEAL_ACTION_REQUEST_TYPE);
      await audit({ actor: me, action: `seal.${action}-request`, target: target(id), outcome: 'ok', details: { reason: st.reason } });
      const t = now();
      const pending = JSON.stringify({ action, by: me, statement: body.request, requestedAt: t });
      if (!seals.transition(id, from, null, { pending }, { kind: 'action-request', actor: me, statement: canonicalJson(body.request as unknown as Json) }, t)) throw changed();
      return c.json(wire(seals.get(id)!));
    });
  }

  api.add({
    method: 'post',
    path: '/seals/:id/decide',
    summary: 'Approve or reject the pending disable or destroy (a security administrator who neither asked nor is on the lists; signed). Destroying deletes every envelope of the seal and revokes its certificate',
    auth: 'session',
    body: DecideSealActionSchema,
    response: SealSchema,
    errors: { 400: 'E_VALIDATION, E_SIGNATURE, E_CONTEXT', 403: 'E_FORBIDDEN, E_FOUR_EYES, E_SEAL_SEPARATION', 404: 'no such seal', 409: 'E_CONFLICT: nothing pending' },
  });
  app.post('/seals/:id/decide', session, async (c) => {
    const { sub: me, roles } = c.get('session');
    const { id } = readParams(c, SealParamSchema);
    if (!isSecurityAdmin(roles)) throw new HttpError(403, 'E_FORBIDDEN', 'only a security administrator decides');
    const row = visible(id, me, roles);
    const body = await readSignedBody(c, DecideSealActionSchema, SEAL_LIMITS.small, 'decision');
    if (row.pending === null) throw new HttpError(409, 'E_CONFLICT', 'nothing is pending on this seal');
    const pending = JSON.parse(row.pending) as { action: SealAction; by: string; statement: { statement: { reason: string } } };
    requireIndependent(row, me, pending.by);
    const st = body.decision.statement;
    if (st.by !== me) throw new HttpError(400, 'E_SIGNATURE', 'the decision must be made and signed by the caller');
    if (st.seal !== id || st.action !== pending.action || st.requestDigest !== (await statementDigest(pending.statement.statement))) {
      throw new HttpError(400, 'E_CONTEXT', 'the decision names another seal, action or request');
    }
    await requireCurrentSecurityAdmin(me);
    await verifySignedBy(peers, me, body.decision, SEAL_ACTION_DECISION_TYPE);
    const decision = canonicalJson(body.decision as unknown as Json);
    const entry = { kind: 'action-decision', actor: me, statement: decision };
    const t = now();
    let ok: boolean;
    if (!st.approve) {
      await audit({ actor: me, action: `seal.${pending.action}-request`, target: target(id), outcome: 'refused', details: { requestedBy: pending.by } });
      ok = seals.transition(id, [row.status], row.pending, { pending: null }, entry, t);
    } else if (pending.action === 'disable') {
      await audit({ actor: me, action: 'seal.disable', target: target(id), outcome: 'ok', details: { requestedBy: pending.by } });
      ok = seals.transition(id, ['active'], row.pending, { pending: null, status: 'disabled' }, entry, t);
    } else {
      await audit({ actor: me, action: 'seal.destroy', target: target(id), outcome: 'ok', details: { requestedBy: pending.by, serial: row.serial, envelopes: seals.envelopeCount(id) } });
      ok = seals.transition(id, ['active', 'disabled'], row.pending, { pending: null, status: 'destroyed', revoked_at: t, revoke_reason: pending.statement.statement.reason }, entry, t, () => {
        seals.deleteEnvelopes(id);
      });
    }
    if (!ok) throw changed();
    return c.json(wire(seals.get(id)!));
  });

  // ---- the key ------------------------------------------------------------------------------

  api.add({
    method: 'get',
    path: '/seals/:id/key',
    summary: "The caller's envelope of the seal's private key (a user of an active seal only)",
    auth: 'session',
    response: SealKeySchema,
    errors: { 403: 'E_FORBIDDEN (not a user), E_SEAL_INACTIVE (not active)', 404: 'no such seal among yours, or no envelope' },
  });
  app.get('/seals/:id/key', session, async (c) => {
    const { sub: me, roles } = c.get('session');
    const { id } = readParams(c, SealParamSchema);
    const row = visible(id, me, roles);
    // Every time a seal's key leaves, and every refused attempt, is part of the seal's life its auditors trace.
    const refuse = async (status: 403, code: `E_${string}`, message: string): Promise<never> => {
      await audit({ actor: me, action: 'seal.key-read', target: target(id), outcome: 'refused', details: { code } });
      throw new HttpError(status, code, message);
    };
    if (!lists(row).users.includes(me)) await refuse(403, 'E_FORBIDDEN', "only the seal's users hold its key");
    if (row.status !== 'active') await refuse(403, 'E_SEAL_INACTIVE', `the seal is ${row.status}`);
    const envelope = seals.envelope(id, me);
    if (envelope === undefined) throw new HttpError(404, 'E_NOT_FOUND', 'no envelope of this seal is addressed to you');
    const parsed = JSON.parse(envelope) as { context: { recipient: string } };
    // Second wall: nothing leaves here unless it is wrapped to the caller.
    if (parsed.context.recipient !== me) throw new HttpError(404, 'E_NOT_FOUND', 'no envelope of this seal is addressed to you');
    await audit({ actor: me, action: 'seal.key-read', target: target(id), outcome: 'ok', details: {} });
    return c.json({ seal: id, envelope: parsed });
  });

  // ---- use approvals --------------------------------------------------------------------------

  api.add({
    method: 'post',
    path: '/seals/:id/use-requests',
    summary: 'A user of an active seal asks its managers to approve using it in one signing flow of one contract (signed)',
    auth: 'session',
    body: CreateSealUseRequestSchema,
    response: SealUseRequestSchema,
    errors: { 400: 'E_VALIDATION, E_SIGNATURE, E_CONTEXT', 403: 'E_FORBIDDEN (not a user), E_SEAL_INACTIVE', 404: 'no such seal among yours', 409: 'E_CONFLICT: the request id exists' },
  });
  app.post('/seals/:id/use-requests', session, async (c) => {
    const { sub: me, roles } = c.get('session');
    const { id } = readParams(c, SealParamSchema);
    const row = visible(id, me, roles);
    if (!lists(row).users.includes(me)) throw new HttpError(403, 'E_FORBIDDEN', "only the seal's users ask to use it");
    if (row.status !== 'active') throw new HttpError(403, 'E_SEAL_INACTIVE', `the seal is ${row.status}`);
    const body = await readSignedBody(c, CreateSealUseRequestSchema, SEAL_LIMITS.small, 'request');
    const st = body.request.statement;
    if (st.user !== me) throw new HttpError(400, 'E_SIGNATURE', 'the request must be made and signed by the caller');
    if (st.seal !== id) throw new HttpError(400, 'E_CONTEXT', 'the request names another seal');
    if (seals.useRequest(id, st.request)) throw new HttpError(409, 'E_CONFLICT', 'a request with this id exists');
    await verifySignedBy(peers, me, body.request, SEAL_USE_REQUEST_TYPE);
    await audit({ actor: me, action: 'seal.use-request', target: target(id), outcome: 'ok', details: { request: st.request, contract: st.contract, flow: st.flow } });
    const t = now();
    const request = canonicalJson(body.request as unknown as Json);
    if (!seals.addUseRequest({ seal: id, id: st.request, user: me, contract: st.contract, flow: st.flow, request, created_at: t }, me)) throw new HttpError(409, 'E_CONFLICT', 'a request with this id exists');
    return c.json(useWire(seals.useRequest(id, st.request)!));
  });

  api.add({
    method: 'get',
    path: '/seals/:id/use-requests',
    summary: "Use requests of the seal: all of them for its managers, their own for its users; optionally of one contract and flow",
    auth: 'session',
    query: SealUseQuerySchema,
    response: SealUseRequestListSchema,
    errors: { 403: 'E_FORBIDDEN: not a manager or user', 404: 'no such seal among yours' },
  });
  app.get('/seals/:id/use-requests', session, (c) => {
    const { sub: me, roles } = c.get('session');
    const { id } = readParams(c, SealParamSchema);
    const q = readQuery(c, SealUseQuerySchema);
    const l = lists(visible(id, me, roles));
    const manager = l.managers.includes(me);
    if (!manager && !l.users.includes(me)) throw new HttpError(403, 'E_FORBIDDEN', "only the seal's managers and users see its use requests");
    return c.json({ seal: id, requests: seals.useRequests(id, manager ? null : me, q.contract ?? null, q.flow ?? null).map(useWire) });
  });

  api.add({
    method: 'post',
    path: '/seals/:id/use-requests/:request/approve',
    summary: 'A manager of the seal approves one use request (signed seal-use-approval)',
    auth: 'session',
    body: ApproveSealUseSchema,
    response: SealUseRequestSchema,
    errors: { 400: 'E_VALIDATION, E_SIGNATURE, E_CONTEXT', 403: 'E_FORBIDDEN (not a manager), E_SEAL_INACTIVE', 404: 'no such seal or request', 409: 'E_CONFLICT: already approved' },
  });
  app.post('/seals/:id/use-requests/:request/approve', session, async (c) => {
    const { sub: me, roles } = c.get('session');
    const { id, request } = readParams(c, SealUseParamSchema);
    const row = visible(id, me, roles);
    if (!lists(row).managers.includes(me)) throw new HttpError(403, 'E_FORBIDDEN', "only the seal's managers approve its use");
    if (row.status !== 'active') throw new HttpError(403, 'E_SEAL_INACTIVE', `the seal is ${row.status}`);
    const use = seals.useRequest(id, request);
    if (!use) throw new HttpError(404, 'E_NOT_FOUND', 'no such use request');
    const body = await readSignedBody(c, ApproveSealUseSchema, SEAL_LIMITS.small, 'approval');
    if (use.approval !== null) throw new HttpError(409, 'E_CONFLICT', 'this use is already approved');
    const st = body.approval.statement;
    if (st.approver !== me) throw new HttpError(400, 'E_SIGNATURE', 'the approval must be made and signed by the caller');
    if (st.seal !== id || st.request !== request || st.contract !== use.contract || st.flow !== use.flow || st.user !== use.user) {
      throw new HttpError(400, 'E_CONTEXT', 'the approval names another seal, request, contract, flow or user');
    }
    await verifySignedBy(peers, me, body.approval, SEAL_USE_APPROVAL_TYPE);
    await audit({ actor: me, action: 'seal.use-approve', target: target(id), outcome: 'ok', details: { request, user: use.user, contract: use.contract, flow: use.flow } });
    if (!seals.approveUseRequest(id, request, canonicalJson(body.approval as unknown as Json), me, now())) throw new HttpError(409, 'E_CONFLICT', 'this use is already approved');
    return c.json(useWire(seals.useRequest(id, request)!));
  });
}
