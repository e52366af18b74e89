/**
 * Accounts: a system administrator invites an employee; a security administrator (never the
 * one who created it) approves the real-name profile; the account is active once it is both
 * approved and registered. Profiles are readable by the account itself and by those two
 * administrators; public keys by anyone (docs/relay-api.md).
 */
import type { Hono } from 'hono';
import { z } from 'zod';
import { Id } from '../../../shared/schemas/common';
import {
  AccountListResponse,
  AccountProfileSchema,
  CertificateRequest,
  CreateAccountRequest,
  DisableAccountRequest,
  isAdminRole,
  MeResponse,
  OkResponse,
  PublicKeysResponse,
} from '../../../shared/schemas/directory';
import { readJson, readParams } from '../../common/validate';
import { HttpError } from '../../http/errors';
import { activateIfReady, deleteUnusedAccount, departmentExists, holdersOf, insertAccount, listAccounts, mustGetAccount, rolesOf, toProfile } from '../accounts-store';
import { accountTarget, type DirectoryDeps } from '../deps';
import { createInvitation } from '../invitations';
import { requireRole, requireSession, type DirectoryEnv } from '../sessions';
import { iso, randomId } from '../util';

const SMALL_BODY = 4 * 1024;
const CERTIFICATE_BODY = 20 * 1024;
const IdParam = z.strictObject({ id: Id });

export function accountRoutes(app: Hono<DirectoryEnv>, deps: DirectoryDeps): void {
  const { db, api, now, ctx, sessions } = deps;
  const auth = requireSession(sessions);

  api.add({
    method: 'post',
    path: '/accounts',
    summary: 'Invite an employee (system-admin); active only after a security-admin approves and the employee registers',
    auth: 'session',
    body: CreateAccountRequest,
    response: z.strictObject({ account: Id, username: z.string(), invitationCode: z.string(), expiresAt: z.string() }),
    errors: { 404: 'no such department', 409: 'username or employee number taken' },
  });
  app.post('/accounts', auth, requireRole('system-admin'), async (c) => {
    const body = await readJson(c, CreateAccountRequest, SMALL_BODY);
    const caller = c.get('caller');
    if (body.department !== undefined && !departmentExists(db, body.department)) throw new HttpError(404, 'E_NOT_FOUND', 'no such department');
    const at = now();
    const id = randomId();
    const username = (body.username ?? body.employeeNumber).toLowerCase();
    const invitation = db.transaction(() => {
      insertAccount(db, {
        id,
        username,
        legalName: body.legalName,
        employeeNumber: body.employeeNumber,
        department: body.department ?? null,
        contact: body.contact,
        createdBy: caller.account.id,
        approvedBy: null,
        roles: ['employee'],
        now: at,
      });
      return createInvitation(db, id, caller.account.id, at);
    })();
    try {
      await ctx.audit.record({ actor: caller.account.id, action: 'account.invite', target: accountTarget(id), outcome: 'ok', details: { username, employeeNumber: body.employeeNumber } });
    } catch (e) {
      // Without the entry the invitation must not exist: its code would be lost anyway, and the
      // employee number would stay taken by an account nobody can register.
      deleteUnusedAccount(db, id);
      throw e;
    }
    return c.json({ account: id, username, invitationCode: invitation.code, expiresAt: iso(invitation.expiresAt) });
  });

  api.add({ method: 'get', path: '/accounts', summary: 'All accounts: profiles and status (system-admin, security-admin)', auth: 'session', response: AccountListResponse });
  app.get('/accounts', auth, requireRole('system-admin', 'security-admin'), (c) => c.json({ accounts: listAccounts(db).map((row) => toProfile(db, row)) }));

  api.add({ method: 'get', path: '/accounts/:id', summary: "An account's profile (the account itself, system-admin, security-admin)", auth: 'session', response: AccountProfileSchema, errors: { 404: 'no such account' } });
  app.get('/accounts/:id', auth, (c) => {
    const { id } = readParams(c, IdParam);
    const caller = c.get('caller');
    const mayRead = caller.account.id === id || caller.roles.some((r) => r === 'system-admin' || r === 'security-admin');
    if (!mayRead) throw new HttpError(403, 'E_FORBIDDEN', 'only the account itself and account administrators may read a profile');
    return c.json(toProfile(db, mustGetAccount(db, id)));
  });

  api.add({ method: 'get', path: '/me', summary: "The session's account and session", auth: 'session', response: MeResponse });
  app.get('/me', auth, (c) => {
    const caller = c.get('caller');
    return c.json({ account: toProfile(db, caller.account), session: { id: caller.token.jti, expiresAt: caller.token.exp } });
  });

  api.add({
    method: 'post',
    path: '/accounts/:id/approve',
    summary: "Approve an invited account's real-name profile (security-admin, not the account's creator)",
    auth: 'session',
    response: AccountProfileSchema,
    errors: { 404: 'no such account', 409: 'already approved or disabled' },
  });
  app.post('/accounts/:id/approve', auth, requireRole('security-admin'), async (c) => {
    const { id } = readParams(c, IdParam);
    const caller = c.get('caller');
    const target = mustGetAccount(db, id);
    if (target.status === 'disabled') throw new HttpError(409, 'E_CONFLICT', 'the account is disabled');
    if (target.approved_by !== null) throw new HttpError(409, 'E_CONFLICT', 'the account is already approved');
    if (target.created_by === caller.account.id || target.id === caller.account.id) throw new HttpError(403, 'E_FOUR_EYES', 'an account is approved by someone other than its creator');
    const at = now();
    db.transaction(() => {
      db.prepare('UPDATE accounts SET approved_by = ?, approved_at = ?, updated_at = ? WHERE id = ? AND approved_by IS NULL').run(caller.account.id, at, at, id);
      activateIfReady(db, id, at);
    })();
    await ctx.audit.record({ actor: caller.account.id, action: 'account.approve', target: accountTarget(id), outcome: 'ok' });
    return c.json(toProfile(db, mustGetAccount(db, id)));
  });

  api.add({
    method: 'post',
    path: '/accounts/:id/disable',
    summary: 'Disable an account and end its sessions (system-admin or security-admin; not oneself, not the last holder of an administrator role)',
    auth: 'session',
    body: DisableAccountRequest,
    response: AccountProfileSchema,
    errors: { 404: 'no such account', 409: 'already disabled, or the last holder of an administrator role' },
  });
  app.post('/accounts/:id/disable', auth, requireRole('system-admin', 'security-admin'), async (c) => {
    const { id } = readParams(c, IdParam);
    const body = await readJson(c, DisableAccountRequest, SMALL_BODY);
    const caller = c.get('caller');
    const target = mustGetAccount(db, id);
    if (target.id === caller.account.id) throw new HttpError(403, 'E_FOUR_EYES', 'an administrator cannot disable their own account');
    if (target.status === 'disabled') throw new HttpError(409, 'E_CONFLICT', 'the account is already disabled');
    // Disabling the only active system-admin, security-admin or auditor would leave no one to approve anything.
    const lastAdminRole = rolesOf(db, id).find((r) => isAdminRole(r) && holdersOf(db, r) <= 1);
    if (lastAdminRole) throw new HttpError(409, 'E_LAST_ADMIN', `the account is the only ${lastAdminRole}`);
    const at = now();
    db.prepare(`UPDATE accounts SET status = 'disabled', disabled_reason = ?, updated_at = ? WHERE id = ?`).run(body.reason, at, id);
    sessions.endAllFor(id, 'account-disabled');
    await ctx.audit.record({ actor: caller.account.id, action: 'account.disable', target: accountTarget(id), outcome: 'ok', details: { reason: body.reason } });
    return c.json(toProfile(db, mustGetAccount(db, id)));
  });

  api.add({
    method: 'get',
    path: '/accounts/:id/public-keys',
    summary: "An account's status, roles and public keys (no session: public keys are public)",
    auth: 'none',
    response: PublicKeysResponse,
    errors: { 404: 'no such account' },
  });
  app.get('/accounts/:id/public-keys', (c) => {
    const { id } = readParams(c, IdParam);
    const row = mustGetAccount(db, id);
    return c.json({
      account: row.id,
      status: row.status,
      roles: rolesOf(db, row.id),
      envelopeKey: row.envelope_key,
      signingKey: row.signing_key,
      signingKeyId: row.signing_key_id,
      certified: row.certified_at !== null,
      certificate: row.certificate,
    });
  });

  api.add({
    method: 'post',
    path: '/accounts/:id/certificate',
    summary: "Store the enterprise CA certificate of an account's keys and mark it certified (security-admin, not for oneself)",
    auth: 'session',
    body: CertificateRequest,
    response: OkResponse,
    errors: { 404: 'no such account', 409: 'the account has no registered keys or is disabled', 413: 'body too large' },
  });
  app.post('/accounts/:id/certificate', auth, requireRole('security-admin'), async (c) => {
    const { id } = readParams(c, IdParam);
    const body = await readJson(c, CertificateRequest, CERTIFICATE_BODY);
    const caller = c.get('caller');
    const target = mustGetAccount(db, id);
    if (target.id === caller.account.id) throw new HttpError(403, 'E_FOUR_EYES', 'a security administrator cannot certify their own keys');
    if (target.status === 'disabled') throw new HttpError(409, 'E_CONFLICT', 'the account is disabled');
    if (target.signing_key === null) throw new HttpError(409, 'E_NOT_REGISTERED', 'the account has not registered its keys yet');
    // TODO(x509 issue): parse the certificate and check it binds this account's keys and chains to the enterprise CA.
    const at = now();
    db.prepare('UPDATE accounts SET certificate = ?, certified_by = ?, certified_at = ?, updated_at = ? WHERE id = ?').run(body.certificate, caller.account.id, at, at, id);
    await ctx.audit.record({ actor: caller.account.id, action: 'account.certify', target: accountTarget(id), outcome: 'ok', details: { signingKeyId: target.signing_key_id } });
    return c.json({ ok: true as const });
  });
}
