/**
 * Accounts: a system administrator invites an employee; a security administrator (never the
 * one who created it) approves the real-name profile; the account is active once it is both
 * approved and registered, and certified once a security administrator stores a certificate of
 * the enterprise CA for its keys. Profiles are readable by the account itself and by those two
 * administrators; public keys by anyone (docs/relay-api.md); the phone book (GET /people: name,
 * username, employee number, department, certified; active accounts only) by any signed-in account.
 * Real-name changes and disabling go through account requests (account-requests.ts).
 */
import type { Hono } from 'hono';
import { z } from 'zod';
import { fromBase64url } from '../../../shared/crypto/encoding';
import { isCryptoError } from '../../../shared/crypto/errors';
import { verifyEmployeeCertificate } from '../../../shared/pki/employee-certificate';
import { Id } from '../../../shared/schemas/common';
import {
  AccountListResponse,
  AccountProfileSchema,
  CertificateRequest,
  ContactChangeRequest,
  CreateAccountRequest,
  MeResponse,
  PEOPLE_LIMIT,
  PeopleQuery,
  PeopleResponse,
  PublicKeysResponse,
  IssuedCertificatesResponse,
} from '../../../shared/schemas/directory';
import type { Db } from '../../common/db';
import { readJson, readParams, readQuery } from '../../common/validate';
import { HttpError } from '../../http/errors';
import { activateIfReady, deleteUnusedAccount, departmentExists, findPeople, insertAccount, isCertified, listAccounts, listIssuedCertificates, recordIssuedCertificate, mustGetAccount, rolesOf, toProfile, type AccountRow } from '../accounts-store';
import { accountTarget, type DirectoryDeps } from '../deps';
import { enterpriseCa } from '../enterprise-store';
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

  api.add({
    method: 'get',
    path: '/people',
    summary:
      'The enterprise phone book (any signed-in account): active accounts whose legal name, username or employee number contains q (case-insensitive), sorted by legal name; no contact, roles or keys',
    auth: 'session',
    query: PeopleQuery,
    response: PeopleResponse,
  });
  app.get('/people', auth, (c) => {
    const { q, limit } = readQuery(c, PeopleQuery);
    return c.json({ people: findPeople(db, q, limit ?? PEOPLE_LIMIT.default) });
  });

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
    method: 'get',
    path: '/accounts/:id/public-keys',
    summary: "An account's status, roles and public keys (no session: public keys are public)",
    auth: 'none',
    response: PublicKeysResponse,
    errors: { 404: 'no such account' },
  });
  app.get('/accounts/:id/public-keys', (c) => {
    const { id } = readParams(c, IdParam);
    return c.json(publicKeys(db, mustGetAccount(db, id)));
  });

  api.add({
    method: 'post',
    path: '/accounts/:id/certificate',
    summary: "Store an employee certificate from the enterprise CA for an active account's keys and real name (security-admin, not for oneself); clears an earlier revocation",
    auth: 'session',
    body: CertificateRequest,
    response: PublicKeysResponse,
    errors: {
      400: 'not a certificate of the enterprise CA for exactly this account, name and keys, or not valid now (E_CERTIFICATE)',
      404: 'no such account',
      409: 'no enterprise CA yet (E_NO_CA), or the account is not active (E_NOT_REGISTERED, E_NOT_APPROVED, E_CONFLICT when disabled)',
      413: 'body too large',
    },
  });
  app.post('/accounts/:id/certificate', auth, requireRole('security-admin'), async (c) => {
    const { id } = readParams(c, IdParam);
    const body = await readJson(c, CertificateRequest, CERTIFICATE_BODY);
    const caller = c.get('caller');
    const target = mustGetAccount(db, id);
    if (target.id === caller.account.id) throw new HttpError(403, 'E_FOUR_EYES', 'a security administrator cannot certify their own keys');
    const ca = enterpriseCa(db);
    if (!ca) throw new HttpError(409, 'E_NO_CA', 'store the enterprise CA certificate first (PUT /enterprise/ca)');
    if (target.status === 'disabled') throw new HttpError(409, 'E_CONFLICT', 'the account is disabled');
    if (target.signing_key === null || target.envelope_key === null) throw new HttpError(409, 'E_NOT_REGISTERED', 'the account has not registered its keys yet');
    if (target.status !== 'active') throw new HttpError(409, 'E_NOT_APPROVED', "the account's real name is not approved yet");
    let verified: { serial: string; fingerprint: string };
    try {
      // The certificate must name this account, its approved real name and both of its keys:
      // certifying is vouching for exactly what the directory holds, nothing a client picked.
      verified = await verifyEmployeeCertificate(body.certificate, {
        caCertificatePem: ca.certificate,
        account: target.id,
        legalName: target.legal_name,
        employeeNumber: target.employee_number,
        signingKeySpki: fromBase64url(target.signing_key),
        envelopeKeySpki: fromBase64url(target.envelope_key),
        now: new Date(now()),
      });
    } catch (e) {
      if (!isCryptoError(e)) throw e;
      await ctx.audit.record({ actor: caller.account.id, action: 'certificate.issue', target: accountTarget(id), outcome: 'refused', details: { code: e.code } });
      throw new HttpError(400, 'E_CERTIFICATE', e.message.replace(/^E_[A-Z_]+: /, ''));
    }
    const at = now();
    const store = db.transaction(() => {
      const { changes } = db
      .prepare(
        `UPDATE accounts SET certificate = ?, certificate_serial = ?, certified_by = ?, certified_at = ?,
           certificate_revoked_at = NULL, certificate_revoked_reason = NULL, certificate_revoked_by = NULL, updated_at = ?
         WHERE id = ? AND status = 'active' AND legal_name = ? AND employee_number = ? AND signing_key = ?`,
      )
      .run(body.certificate, verified.serial, caller.account.id, at, at, id, target.legal_name, target.employee_number, target.signing_key);
      // Kept for good with the update, so the history never misses a certificate that was current.
      if (changes === 1) recordIssuedCertificate(db, { serial: verified.serial.toLowerCase(), account: id, certificate: body.certificate, issued_at: at });
      return changes;
    });
    // The profile changed or the account was disabled while the certificate was being checked.
    if (store() !== 1) throw new HttpError(409, 'E_CONFLICT', 'the account changed meanwhile; check it again');
    await ctx.audit.record({
      actor: caller.account.id,
      action: 'certificate.issue',
      target: accountTarget(id),
      outcome: 'ok',
      details: { serial: verified.serial, fingerprint: verified.fingerprint, signingKeyId: target.signing_key_id },
    });
    return c.json(publicKeys(db, mustGetAccount(db, id)));
  });

  api.add({
    method: 'get',
    path: '/certificates',
    summary: 'Every employee certificate ever issued, old ones included, oldest first (auditor, security-admin): what the audit verifier checks old entries with',
    auth: 'session',
    response: IssuedCertificatesResponse,
  });
  app.get('/certificates', auth, requireRole('auditor', 'security-admin'), (c) =>
    c.json({ certificates: listIssuedCertificates(db).map((r) => ({ account: r.account, serial: r.serial, certificate: r.certificate, issuedAt: r.issued_at })) }),
  );

  api.add({
    method: 'put',
    path: '/accounts/:id/contact',
    summary: "Change an account's contact (the account itself or a system-admin)",
    auth: 'session',
    body: ContactChangeRequest,
    response: AccountProfileSchema,
    errors: { 404: 'no such account', 409: 'the account is disabled' },
  });
  app.put('/accounts/:id/contact', auth, async (c) => {
    const { id } = readParams(c, IdParam);
    const caller = c.get('caller');
    if (caller.account.id !== id && !caller.roles.includes('system-admin')) throw new HttpError(403, 'E_FORBIDDEN', 'only the account itself or a system administrator may change a contact');
    const body = await readJson(c, ContactChangeRequest, SMALL_BODY);
    const target = mustGetAccount(db, id);
    if (target.status === 'disabled') throw new HttpError(409, 'E_CONFLICT', 'the account is disabled');
    db.prepare('UPDATE accounts SET contact = ?, updated_at = ? WHERE id = ?').run(body.contact, now(), id);
    await ctx.audit.record({ actor: caller.account.id, action: 'profile.contact', target: accountTarget(id), outcome: 'ok' });
    return c.json(toProfile(db, mustGetAccount(db, id)));
  });
}

/** GET /accounts/:id/public-keys, docs/relay-api.md. */
function publicKeys(db: Db, row: AccountRow): z.infer<typeof PublicKeysResponse> {
  return {
    account: row.id,
    status: row.status,
    roles: rolesOf(db, row.id),
    envelopeKey: row.envelope_key,
    signingKey: row.signing_key,
    signingKeyId: row.signing_key_id,
    certified: isCertified(row),
    revoked: row.certificate_revoked_at !== null,
    certificate: row.certificate,
  };
}
