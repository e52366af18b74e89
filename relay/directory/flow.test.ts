import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_ARGON2_PARAMS, derivePasswordHalf } from '../../shared/crypto/argon2';
import { verifyToken } from '../../shared/formats/token';
import { escrowTicket, login, prelogin, register } from '../../shared/protocol/directory-client';
import { PublicKeysResponse } from '../../shared/schemas/directory';
import { SESSION_LIFETIME_SECONDS } from '../common/auth';
import { freshKeys, json, makeDirectory, setupBody, type Harness } from './test-harness';

let h: Harness;
afterEach(async () => h?.close());

describe('directory: setup, registration, login, session, ticket', () => {
  it('runs the whole first-day flow with a real password and Argon2id', async () => {
    h = await makeDirectory();
    expect(h.service.setupToken).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const setup = await h.post('/setup', setupBody(h.service.setupToken!));
    expect(setup.status).toBe(200);
    const { invitations } = await json<{ invitations: { role: string; account: string; invitationCode: string }[] }>(setup);
    expect(invitations.map((i) => i.role)).toEqual(['system-admin', 'security-admin', 'auditor']);
    const sysadmin = invitations[0]!;

    // The browser: a fresh salt, P = Argon2id(password), then OPAQUE with HKDF(P).
    const salt = crypto.getRandomValues(new Uint8Array(16));
    const P = await derivePasswordHalf('correct horse battery staple', salt, DEFAULT_ARGON2_PARAMS);
    const registered = await register(h.transport, { invitationCode: sysadmin.invitationCode, passwordHalf: P, salt, params: DEFAULT_ARGON2_PARAMS, ...(await freshKeys()) });
    expect(registered).toMatchObject({ account: sysadmin.account, username: 'e001', roles: ['system-admin'] });

    // Prelogin gives back exactly what was registered, so the same password gives the same P.
    const pre = await prelogin(h.transport, 'E001');
    expect(pre.params).toEqual(DEFAULT_ARGON2_PARAMS);
    expect(pre.salt).toEqual(salt);
    const again = await derivePasswordHalf('correct horse battery staple', pre.salt, pre.params);

    const session = await login(h.transport, 'e001', again);
    expect(session.account).toBe(sysadmin.account);
    expect(session.roles).toEqual(['system-admin']);

    const payload = await verifyToken(h.ctx.key.publicKey, session.session, { typ: 'session', iss: 'directory', maxLifetimeSeconds: SESSION_LIFETIME_SECONDS });
    expect(payload).toMatchObject({ sub: sysadmin.account, roles: ['system-admin'] });
    expect(payload.exp).toBe(session.expiresAt);
    expect(payload.exp - payload.iat).toBe(SESSION_LIFETIME_SECONDS);

    const me = await h.get('/me', session.session);
    expect(me.status).toBe(200);
    const meBody = await json<{ account: { id: string; status: string; username: string; registered: boolean }; session: { id: string } }>(me);
    expect(meBody.account).toMatchObject({ id: sysadmin.account, status: 'active', username: 'e001', registered: true });
    expect(meBody.session.id).toBe(payload.jti);

    const ticket = await escrowTicket(h.transport, session.session);
    const t = await verifyToken(h.ctx.key.publicKey, ticket.ticket, { typ: 'escrow-ticket', iss: 'directory', maxLifetimeSeconds: 60 });
    expect(t.sub).toBe(sysadmin.account);
    expect(t.exp - t.iat).toBe(60);
    expect(t.roles).toBeUndefined();
    expect(t.jti).not.toBe(payload.jti);
    // A ticket is not a session, and a session is not a ticket.
    await expect(verifyToken(h.ctx.key.publicKey, ticket.ticket, { typ: 'session', iss: 'directory' })).rejects.toThrow(/E_CONTEXT/);
    expect((await h.get('/me', ticket.ticket)).status).toBe(401);

    // Public keys as docs/relay-api.md says, without a session.
    const keys = await h.get(`/accounts/${sysadmin.account}/public-keys`);
    expect(keys.status).toBe(200);
    const keysBody = PublicKeysResponse.parse(await keys.json());
    expect(keysBody).toMatchObject({ account: sysadmin.account, status: 'active', roles: ['system-admin'], certified: false, revoked: false, certificate: null });
    expect(keysBody.signingKeyId).toMatch(/^[A-Za-z0-9_-]{22}$/);

    // What the audit log was told, in order.
    const actions = h.ctx.audit.events.map((e) => `${e.action}:${e.outcome}`);
    expect(actions).toEqual([
      'setup.complete:ok',
      'account.invite:ok',
      'account.invite:ok',
      'account.invite:ok',
      'account.register:ok',
      'login.success:ok',
      'login.success:ok',
      'escrow.ticket:ok',
    ]);
    expect(h.ctx.audit.events.find((e) => e.action === 'escrow.ticket')).toMatchObject({ actor: sysadmin.account, target: `account:${sysadmin.account}` });

    // Nothing password-derived or secret is stored in the clear: the salt and OPAQUE record only.
    const db = h.peekDb();
    const row = db.prepare('SELECT * FROM accounts WHERE id = ?').get(sysadmin.account) as Record<string, unknown>;
    db.close();
    const dump = JSON.stringify(row);
    expect(dump).not.toContain(Buffer.from(P).toString('base64url'));
    expect(dump).not.toContain(sysadmin.invitationCode);
  });

  it('serves health, key and an OpenAPI document listing every route', async () => {
    h = await makeDirectory();
    expect(await json(await h.get('/health'))).toEqual({ service: 'directory', version: 'test', ok: true });
    expect(await json(await h.get('/key'))).toEqual({ service: 'directory', publicKey: h.ctx.key.publicB64u });
    const doc = await json<{ openapi: string; paths: Record<string, Record<string, unknown>> }>(await h.get('/openapi.json'));
    expect(doc.openapi).toBe('3.1.0');
    const ops = Object.entries(doc.paths).flatMap(([path, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${path.replace('/api/directory', '')}`));
    expect(ops.sort()).toEqual(
      [
        'GET /health',
        'GET /key',
        'GET /openapi.json',
        'POST /setup',
        'POST /accounts',
        'GET /accounts',
        'GET /people',
        'GET /accounts/{id}',
        'GET /me',
        'POST /accounts/{id}/approve',
        'GET /accounts/{id}/public-keys',
        'POST /accounts/{id}/certificate',
        'GET /certificates',
        'PUT /accounts/{id}/contact',
        'GET /accounts/{id}/history',
        'GET /enterprise',
        'PUT /enterprise/ca',
        'GET /revocations',
        'GET /policy',
        'PUT /policy',
        'POST /account-requests',
        'GET /account-requests',
        'POST /account-requests/{id}/approve',
        'POST /account-requests/{id}/reject',
        'POST /password/start',
        'POST /password/finish',
        'PUT /recovery-key',
        'POST /recovery/start',
        'POST /recovery/finish',
        'GET /departments',
        'POST /departments',
        'POST /role-requests',
        'GET /role-requests',
        'POST /role-requests/{id}/approve',
        'POST /role-requests/{id}/reject',
        'POST /register/start',
        'POST /register/finish',
        'POST /prelogin',
        'POST /login/start',
        'POST /login/finish',
        'POST /session/refresh',
        'POST /logout',
        'POST /escrow-ticket',
      ].sort(),
    );
  });
});
