/**
 * Four eyes for the account itself: a change of legal name or employee number is asked by the
 * account and approved by a security administrator who verified the real name; disabling an
 * account is asked by a system administrator and approved by a security administrator. Nobody
 * decides a request they made or one about their own account. Approval applies the change in one
 * transaction, with what follows from it: the certificate naming the old identity, or of the
 * disabled account, is revoked; a disabled account's sessions end.
 */
import type { Hono } from 'hono';
import { z } from 'zod';
import type { Json } from '../../../shared/crypto/encoding';
import { Id } from '../../../shared/schemas/common';
import { AccountRequestInput, AccountRequestListQuery, AccountRequestListResponse, AccountRequestSchema, RejectRequest } from '../../../shared/schemas/directory';
import { readJson, readParams, readQuery } from '../../common/validate';
import { HttpError } from '../../http/errors';
import {
  employeeNumberClaimed,
  insertAccountRequest,
  listAccountRequests,
  mustGetAccountRequest,
  pendingRequest,
  toWire,
  type AccountRequestRow,
} from '../account-requests-store';
import { mustGetAccount, revokeCertificate, soleAdminRole } from '../accounts-store';
import { accountTarget, type DirectoryDeps } from '../deps';
import { requireRole, requireSession, type DirectoryEnv } from '../sessions';
import { conflictFromSqlite, randomId } from '../util';

const SMALL_BODY = 4 * 1024;
const IdParam = z.strictObject({ id: Id });

/** Audit actions per request kind. */
const ACTIONS = {
  profile: { request: 'profile.request', approve: 'profile.approve', reject: 'profile.reject' },
  disable: { request: 'disable.request', approve: 'account.disable', reject: 'disable.reject' },
} as const;

/** The decider is a security-admin other than the requester and other than the account concerned. */
function checkDecider(request: AccountRequestRow, decider: string): void {
  if (request.status !== 'pending') throw new HttpError(409, 'E_CONFLICT', `the request is already ${request.status}`);
  if (request.requested_by === decider) throw new HttpError(403, 'E_FOUR_EYES', 'a request is decided by someone other than its requester');
  if (request.account === decider) throw new HttpError(403, 'E_FOUR_EYES', 'nobody decides a request about their own account');
}

/** Fields a profile request changes, for audit details (the values stay in the directory). */
function changedFields(r: { legal_name: string | null; employee_number: string | null }): string[] {
  return [...(r.legal_name !== null ? ['legalName'] : []), ...(r.employee_number !== null ? ['employeeNumber'] : [])];
}

export function accountRequestRoutes(app: Hono<DirectoryEnv>, { db, api, now, ctx, sessions }: DirectoryDeps): void {
  const auth = requireSession(sessions);

  api.add({
    method: 'post',
    path: '/account-requests',
    summary:
      'Ask for a change of legal name / employee number (kind "profile": the account itself) or for disabling an account (kind "disable": system-admin, not oneself); a security-admin decides',
    auth: 'session',
    body: AccountRequestInput,
    response: AccountRequestSchema,
    errors: {
      404: 'no such account',
      409: 'nothing to change, employee number taken, already disabled, a request of that kind already pending (E_CONFLICT), or the last holder of an administrator role (E_LAST_ADMIN)',
    },
  });
  app.post('/account-requests', auth, async (c) => {
    const body = await readJson(c, AccountRequestInput, SMALL_BODY);
    const caller = c.get('caller');
    const id = randomId();
    const at = now();
    if (body.kind === 'profile') {
      if (body.account !== caller.account.id) throw new HttpError(403, 'E_FORBIDDEN', 'only the account itself may ask to change its legal name or employee number');
      const account = mustGetAccount(db, body.account);
      if (pendingRequest(db, account.id, 'profile')) throw new HttpError(409, 'E_CONFLICT', 'a profile change is already pending for this account');
      // Values equal to the current ones are no change; a request must change something.
      const legalName = body.legalName !== undefined && body.legalName !== account.legal_name ? body.legalName : null;
      const employeeNumber = body.employeeNumber !== undefined && body.employeeNumber !== account.employee_number ? body.employeeNumber : null;
      if (legalName === null && employeeNumber === null) throw new HttpError(409, 'E_CONFLICT', 'the profile already says that');
      if (employeeNumber !== null && employeeNumberClaimed(db, employeeNumber, account.id)) throw new HttpError(409, 'E_CONFLICT', 'another account has or has asked for that employee number');
      insertAccountRequest(db, { id, account: account.id, kind: 'profile', legalName, employeeNumber, reason: null, requestedBy: caller.account.id, now: at });
      await ctx.audit.record({ actor: caller.account.id, action: ACTIONS.profile.request, target: accountTarget(account.id), outcome: 'ok', details: { request: id, fields: changedFields({ legal_name: legalName, employee_number: employeeNumber }) } });
    } else {
      if (!caller.roles.includes('system-admin')) throw new HttpError(403, 'E_FORBIDDEN', 'needs the role: system-admin');
      if (body.account === caller.account.id) throw new HttpError(403, 'E_FOUR_EYES', 'an administrator cannot ask to disable their own account');
      const account = mustGetAccount(db, body.account);
      if (account.status === 'disabled') throw new HttpError(409, 'E_CONFLICT', 'the account is already disabled');
      if (pendingRequest(db, account.id, 'disable')) throw new HttpError(409, 'E_CONFLICT', 'disabling this account is already requested');
      const sole = soleAdminRole(db, account.id);
      if (sole) throw new HttpError(409, 'E_LAST_ADMIN', `the account is the only ${sole}`);
      insertAccountRequest(db, { id, account: account.id, kind: 'disable', legalName: null, employeeNumber: null, reason: body.reason, requestedBy: caller.account.id, now: at });
      await ctx.audit.record({ actor: caller.account.id, action: ACTIONS.disable.request, target: accountTarget(account.id), outcome: 'ok', details: { request: id, reason: body.reason } });
    }
    return c.json(toWire(mustGetAccountRequest(db, id)));
  });

  api.add({
    method: 'get',
    path: '/account-requests',
    summary: 'Account requests, newest first (system-admin and security-admin: all; anyone: their own, with account=<own id>)',
    auth: 'session',
    query: AccountRequestListQuery,
    response: AccountRequestListResponse,
  });
  app.get('/account-requests', auth, (c) => {
    const query = readQuery(c, AccountRequestListQuery);
    const caller = c.get('caller');
    const administrator = caller.roles.some((r) => r === 'system-admin' || r === 'security-admin');
    if (!administrator && query.account !== caller.account.id) throw new HttpError(403, 'E_FORBIDDEN', 'list your own requests with account=<your account id>');
    return c.json({ requests: listAccountRequests(db, query).map(toWire) });
  });

  api.add({
    method: 'post',
    path: '/account-requests/:id/approve',
    summary: 'Approve and apply an account request (security-admin, not the requester, not the account concerned); revokes the certificate it invalidates',
    auth: 'session',
    response: AccountRequestSchema,
    errors: { 404: 'no such request', 409: 'already decided, employee number taken, account disabled, or the last holder of an administrator role (E_LAST_ADMIN)' },
  });
  app.post('/account-requests/:id/approve', auth, requireRole('security-admin'), async (c) => {
    const { id } = readParams(c, IdParam);
    const caller = c.get('caller');
    const request = mustGetAccountRequest(db, id);
    const actions = ACTIONS[request.kind];
    const at = now();
    let revoked: { serial: string | null } | undefined;
    try {
      checkDecider(request, caller.account.id);
      revoked = db.transaction(() => {
        const account = mustGetAccount(db, request.account);
        if (account.status === 'disabled') throw new HttpError(409, 'E_CONFLICT', 'the account is disabled');
        if (request.kind === 'disable') {
          // Checked again: another approval may have disabled the other holder since the request.
          const sole = soleAdminRole(db, account.id);
          if (sole) throw new HttpError(409, 'E_LAST_ADMIN', `the account is the only ${sole}`);
        }
        const { changes } = db
          .prepare(`UPDATE account_requests SET status = 'approved', decided_by = ?, decided_at = ?, replaced_legal_name = ?, replaced_employee_number = ? WHERE id = ? AND status = 'pending'`)
          .run(caller.account.id, at, request.legal_name !== null ? account.legal_name : null, request.employee_number !== null ? account.employee_number : null, id);
        if (changes !== 1) throw new HttpError(409, 'E_CONFLICT', 'the request was decided meanwhile');
        if (request.kind === 'disable') {
          db.prepare(`UPDATE accounts SET status = 'disabled', disabled_reason = ?, updated_at = ? WHERE id = ?`).run(request.reason, at, account.id);
          return revokeCertificate(db, account.id, 'account-disabled', caller.account.id, at);
        }
        try {
          db.prepare('UPDATE accounts SET legal_name = coalesce(?, legal_name), employee_number = coalesce(?, employee_number), updated_at = ? WHERE id = ?').run(
            request.legal_name,
            request.employee_number,
            at,
            account.id,
          );
        } catch (e) {
          conflictFromSqlite(e, { 'accounts.employee_number': 'another account has that employee number now' });
        }
        // The certificate names the old identity: it must not vouch for the new one.
        return revokeCertificate(db, account.id, 'profile-changed', caller.account.id, at);
      })();
    } catch (e) {
      if (e instanceof HttpError && (e.status === 409 || e.code === 'E_FOUR_EYES')) {
        await ctx.audit.record({ actor: caller.account.id, action: actions.approve, target: accountTarget(request.account), outcome: 'refused', details: { request: id, code: e.code } });
      }
      throw e;
    }
    // The directory refuses a disabled account's sessions anyway; ended rows also stop refreshes.
    if (request.kind === 'disable') sessions.endAllFor(request.account, 'account-disabled');
    const what: Record<string, Json> = request.kind === 'disable' ? { reason: request.reason } : { fields: changedFields(request) };
    await ctx.audit.record({ actor: caller.account.id, action: actions.approve, target: accountTarget(request.account), outcome: 'ok', details: { request: id, ...what, requestedBy: request.requested_by } });
    if (revoked) {
      await ctx.audit.record({
        actor: caller.account.id,
        action: 'certificate.revoke',
        target: accountTarget(request.account),
        outcome: 'ok',
        details: { serial: revoked.serial, reason: request.kind === 'disable' ? 'account-disabled' : 'profile-changed', request: id },
      });
    }
    return c.json(toWire(mustGetAccountRequest(db, id)));
  });

  api.add({
    method: 'post',
    path: '/account-requests/:id/reject',
    summary: 'Reject an account request with a reason (security-admin, not the requester, not the account concerned)',
    auth: 'session',
    body: RejectRequest,
    response: AccountRequestSchema,
    errors: { 404: 'no such request', 409: 'already decided' },
  });
  app.post('/account-requests/:id/reject', auth, requireRole('security-admin'), async (c) => {
    const { id } = readParams(c, IdParam);
    const body = await readJson(c, RejectRequest, SMALL_BODY);
    const caller = c.get('caller');
    const request = mustGetAccountRequest(db, id);
    checkDecider(request, caller.account.id);
    const { changes } = db
      .prepare(`UPDATE account_requests SET status = 'rejected', decided_by = ?, decided_at = ?, rejection_reason = ? WHERE id = ? AND status = 'pending'`)
      .run(caller.account.id, now(), body.reason, id);
    if (changes !== 1) throw new HttpError(409, 'E_CONFLICT', 'the request was decided meanwhile');
    await ctx.audit.record({ actor: caller.account.id, action: ACTIONS[request.kind].reject, target: accountTarget(request.account), outcome: 'ok', details: { request: id, reason: body.reason } });
    return c.json(toWire(mustGetAccountRequest(db, id)));
  });
}
