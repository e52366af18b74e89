/**
 * Role changes are a request by a system administrator and a decision by a security
 * administrator who is neither the requester nor the account concerned (four eyes). Applying a
 * request goes through the database's separation trigger, so two requests that are each fine
 * alone cannot together give one account two administrator roles.
 */
import type { Hono } from 'hono';
import { z } from 'zod';
import { Id } from '../../../shared/schemas/common';
import {
  ADMIN_ROLES,
  isAdminRole,
  RejectRequest,
  RoleRequestInput,
  RoleRequestListQuery,
  RoleRequestListResponse,
  RoleRequestSchema,
  type Role,
} from '../../../shared/schemas/directory';
import type { Db } from '../../common/db';
import { readJson, readParams, readQuery } from '../../common/validate';
import { HttpError } from '../../http/errors';
import { grantRole, holdersOf, mustGetAccount, revokeRole, rolesOf } from '../accounts-store';
import { accountTarget, type DirectoryDeps } from '../deps';
import { requireRole, requireSession, type DirectoryEnv } from '../sessions';
import { iso, randomId } from '../util';

const SMALL_BODY = 4 * 1024;
const IdParam = z.strictObject({ id: Id });

interface RoleRequestRow {
  id: string;
  account: string;
  role: Role;
  op: 'add' | 'remove';
  status: 'pending' | 'approved' | 'rejected';
  requested_by: string;
  requested_at: number;
  decided_by: string | null;
  decided_at: number | null;
  reason: string | null;
}

function toWire(r: RoleRequestRow): z.infer<typeof RoleRequestSchema> {
  return {
    id: r.id,
    account: r.account,
    role: r.role,
    op: r.op,
    status: r.status,
    requestedBy: r.requested_by,
    requestedAt: iso(r.requested_at),
    decidedBy: r.decided_by,
    decidedAt: r.decided_at === null ? null : iso(r.decided_at),
    reason: r.reason,
  };
}

function getRequest(db: Db, id: string): RoleRequestRow {
  const row = db.prepare('SELECT * FROM role_requests WHERE id = ?').get(id) as RoleRequestRow | undefined;
  if (!row) throw new HttpError(404, 'E_NOT_FOUND', 'no such role request');
  return row;
}

/** Refuses a change that is already true, or that the separation and last-admin rules forbid. */
function checkApplicable(db: Db, account: string, role: Role, op: 'add' | 'remove'): void {
  const held = rolesOf(db, account);
  if (op === 'add') {
    if (held.includes(role)) throw new HttpError(409, 'E_CONFLICT', 'the account already holds that role');
    if (isAdminRole(role) && held.some((r) => isAdminRole(r))) throw new HttpError(409, 'E_SEPARATION', 'no account may hold two of the roles ' + ADMIN_ROLES.join(', '));
  } else {
    if (!held.includes(role)) throw new HttpError(409, 'E_CONFLICT', 'the account does not hold that role');
    if (isAdminRole(role) && holdersOf(db, role) <= 1) throw new HttpError(409, 'E_LAST_ADMIN', `the account is the only ${role}`);
  }
}

/** The decider is a security-admin other than the requester and other than the account concerned. */
function checkDecider(request: RoleRequestRow, decider: string): void {
  if (request.status !== 'pending') throw new HttpError(409, 'E_CONFLICT', `the request is already ${request.status}`);
  if (request.requested_by === decider) throw new HttpError(403, 'E_FOUR_EYES', 'a request is decided by someone other than its requester');
  if (request.account === decider) throw new HttpError(403, 'E_FOUR_EYES', 'nobody decides a change of their own roles');
}

export function roleRequestRoutes(app: Hono<DirectoryEnv>, { db, api, now, ctx, sessions }: DirectoryDeps): void {
  const auth = requireSession(sessions);

  api.add({
    method: 'post',
    path: '/role-requests',
    summary: 'Request adding or removing a role (system-admin); takes effect when a security-admin approves',
    auth: 'session',
    body: RoleRequestInput,
    response: RoleRequestSchema,
    errors: { 404: 'no such account', 409: 'already true, already requested, or forbidden by separation of administrator roles (E_SEPARATION)' },
  });
  app.post('/role-requests', auth, requireRole('system-admin'), async (c) => {
    const body = await readJson(c, RoleRequestInput, SMALL_BODY);
    const caller = c.get('caller');
    const target = mustGetAccount(db, body.account);
    if (target.status === 'disabled') throw new HttpError(409, 'E_CONFLICT', 'the account is disabled');
    checkApplicable(db, body.account, body.role, body.op);
    const duplicate = db.prepare(`SELECT 1 FROM role_requests WHERE account = ? AND role = ? AND op = ? AND status = 'pending'`).get(body.account, body.role, body.op);
    if (duplicate) throw new HttpError(409, 'E_CONFLICT', 'the same request is already pending');
    const id = randomId();
    const at = now();
    db.prepare(`INSERT INTO role_requests (id, account, role, op, status, requested_by, requested_at) VALUES (?, ?, ?, ?, 'pending', ?, ?)`).run(id, body.account, body.role, body.op, caller.account.id, at);
    await ctx.audit.record({ actor: caller.account.id, action: 'role.request', target: accountTarget(body.account), outcome: 'ok', details: { request: id, role: body.role, op: body.op } });
    return c.json(toWire(getRequest(db, id)));
  });

  api.add({ method: 'get', path: '/role-requests', summary: 'Role requests, newest first (system-admin, security-admin)', auth: 'session', query: RoleRequestListQuery, response: RoleRequestListResponse });
  app.get('/role-requests', auth, requireRole('system-admin', 'security-admin'), (c) => {
    const { status } = readQuery(c, RoleRequestListQuery);
    const rows = (status
      ? db.prepare('SELECT * FROM role_requests WHERE status = ? ORDER BY requested_at DESC').all(status)
      : db.prepare('SELECT * FROM role_requests ORDER BY requested_at DESC').all()) as RoleRequestRow[];
    return c.json({ requests: rows.map(toWire) });
  });

  api.add({
    method: 'post',
    path: '/role-requests/:id/approve',
    summary: 'Approve and apply a role request (security-admin, not the requester, not the account concerned)',
    auth: 'session',
    response: RoleRequestSchema,
    errors: { 404: 'no such request', 409: 'already decided, no longer applicable, or two administrator roles (E_SEPARATION)' },
  });
  app.post('/role-requests/:id/approve', auth, requireRole('security-admin'), async (c) => {
    const { id } = readParams(c, IdParam);
    const caller = c.get('caller');
    const request = getRequest(db, id);
    checkDecider(request, caller.account.id);
    const at = now();
    try {
      db.transaction(() => {
        checkApplicable(db, request.account, request.role, request.op);
        const { changes } = db.prepare(`UPDATE role_requests SET status = 'approved', decided_by = ?, decided_at = ? WHERE id = ? AND status = 'pending'`).run(caller.account.id, at, id);
        if (changes !== 1) throw new HttpError(409, 'E_CONFLICT', 'the request was decided meanwhile');
        // The trigger in migrations.ts is the last word on separation, whatever checkApplicable says.
        if (request.op === 'add') grantRole(db, request.account, request.role, at);
        else revokeRole(db, request.account, request.role);
      })();
    } catch (e) {
      if (e instanceof HttpError && e.status === 409) {
        await ctx.audit.record({ actor: caller.account.id, action: 'role.approve', target: accountTarget(request.account), outcome: 'refused', details: { request: id, role: request.role, op: request.op, code: e.code } });
      }
      throw e;
    }
    // A removed role must stop working now: the directory checks roles live, and ended sessions cannot refresh elsewhere.
    if (request.op === 'remove') sessions.endAllFor(request.account, 'role-removed');
    await ctx.audit.record({ actor: caller.account.id, action: 'role.approve', target: accountTarget(request.account), outcome: 'ok', details: { request: id, role: request.role, op: request.op, requestedBy: request.requested_by } });
    return c.json(toWire(getRequest(db, id)));
  });

  api.add({
    method: 'post',
    path: '/role-requests/:id/reject',
    summary: 'Reject a role request with a reason (security-admin, not the requester)',
    auth: 'session',
    body: RejectRequest,
    response: RoleRequestSchema,
    errors: { 404: 'no such request', 409: 'already decided' },
  });
  app.post('/role-requests/:id/reject', auth, requireRole('security-admin'), async (c) => {
    const { id } = readParams(c, IdParam);
    const body = await readJson(c, RejectRequest, SMALL_BODY);
    const caller = c.get('caller');
    const request = getRequest(db, id);
    checkDecider(request, caller.account.id);
    const { changes } = db
      .prepare(`UPDATE role_requests SET status = 'rejected', decided_by = ?, decided_at = ?, reason = ? WHERE id = ? AND status = 'pending'`)
      .run(caller.account.id, now(), body.reason, id);
    if (changes !== 1) throw new HttpError(409, 'E_CONFLICT', 'the request was decided meanwhile');
    await ctx.audit.record({ actor: caller.account.id, action: 'role.reject', target: accountTarget(request.account), outcome: 'ok', details: { request: id, role: request.role, op: request.op, reason: body.reason } });
    return c.json(toWire(getRequest(db, id)));
  });
}
