import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signToken, verifyToken } from '../../shared/formats/token';
import { SESSION_LIFETIME_SECONDS } from '../common/auth';
import { SESSION_MAX_AGE_MS } from './sessions';
import { json, loginPerson, makeDirectory, setUpEnterprise, type Enterprise } from './test-harness';

let e: Enterprise;
beforeAll(async () => {
  e = await setUpEnterprise(await makeDirectory());
});
afterAll(async () => e.h.close());

async function code(res: Response): Promise<[number, string]> {
  return [res.status, (await json<{ error: { code: string } }>(res)).error.code];
}

describe('directory: sessions', () => {
  it('logout ends the session at the directory (the token still verifies by signature alone)', async () => {
    const { h, admins } = e;
    const s = await loginPerson(h, admins['auditor']);
    expect((await h.get('/me', s.session)).status).toBe(200);
    const out = await h.post('/logout', undefined, s.session);
    expect(await json(out)).toEqual({ ok: true });
    expect(await code(await h.get('/me', s.session))).toEqual([401, 'E_UNAUTHORIZED']);
    expect(await code(await h.post('/session/refresh', undefined, s.session))).toEqual([401, 'E_UNAUTHORIZED']);
    expect(await code(await h.post('/escrow-ticket', undefined, s.session))).toEqual([401, 'E_UNAUTHORIZED']);
    // What other services can check: signature and lifetime, which is why refresh is refused above.
    await expect(verifyToken(h.ctx.key.publicKey, s.session, { typ: 'session', iss: 'directory' })).resolves.toMatchObject({ sub: admins['auditor'].account });
    // Other sessions of the same account live on.
    expect((await h.get('/me', admins['auditor'].session)).status).toBe(200);
    expect(h.ctx.audit.events.at(-1)).toMatchObject({ action: 'logout', actor: admins['auditor'].account });
  });

  it('refresh re-issues the same session with a new expiry, until the 12-hour cap', async () => {
    const { h, admins } = e;
    const s = await loginPerson(h, admins['system-admin']);
    h.clock.t += 10 * 60_000;
    const r = await h.post('/session/refresh', undefined, s.session);
    expect(r.status).toBe(200);
    const fresh = await json<{ session: string; expiresAt: number; roles: string[] }>(r);
    expect(fresh.expiresAt).toBe(s.expiresAt + 600);
    const [a, b] = await Promise.all([s.session, fresh.session].map((t) => verifyToken(h.ctx.key.publicKey, t, { typ: 'session', iss: 'directory', now: Math.floor(h.clock.t / 1000) })));
    expect(b!.jti).toBe(a!.jti);
    expect(b!.exp - b!.iat).toBe(SESSION_LIFETIME_SECONDS);

    // Keep refreshing up to the cap: the last token ends exactly at the cap, then no more.
    let token = fresh.session;
    const capAt = Math.floor((h.clock.t - 10 * 60_000 + SESSION_MAX_AGE_MS) / 1000);
    let last = 0;
    for (;;) {
      h.clock.t += 14 * 60_000;
      const res = await h.post('/session/refresh', undefined, token);
      if (res.status !== 200) {
        expect(res.status).toBe(401);
        break;
      }
      const next = await json<{ session: string; expiresAt: number }>(res);
      token = next.session;
      last = next.expiresAt;
    }
    expect(last).toBeLessThanOrEqual(capAt);
    h.clock.t = Date.now();
  });

  it('refuses expired tokens, tokens signed by another key, and session ids it never issued', async () => {
    const { h, admins } = e;
    const s = await loginPerson(h, admins['security-admin']);
    h.clock.t += (SESSION_LIFETIME_SECONDS + 31) * 1000;
    expect(await code(await h.get('/me', s.session))).toEqual([401, 'E_UNAUTHORIZED']);
    h.clock.t = Date.now();

    const other = (await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify'])) as CryptoKeyPair;
    const payload = await verifyToken(h.ctx.key.publicKey, s.session, { typ: 'session', iss: 'directory' });
    const forged = await signToken(other.privateKey, { ...payload, roles: ['system-admin'] });
    expect(await code(await h.get('/me', forged))).toEqual([401, 'E_UNAUTHORIZED']);
    // Our own key, but a session id the directory never issued (a stolen signing key is not enough here).
    const unknownJti = await signToken(h.ctx.key.privateKey, { ...payload, jti: 'never-issued' });
    expect(await code(await h.get('/me', unknownJti))).toEqual([401, 'E_UNAUTHORIZED']);
    expect(await code(await h.get('/me'))).toEqual([401, 'E_UNAUTHORIZED']);
    expect(await code(await h.request('/me', { headers: { authorization: 'Basic abc' } }))).toEqual([401, 'E_UNAUTHORIZED']);
  });

  it('uses the roles the database holds now, not the ones in the token', async () => {
    const { h, admins } = e;
    const s = await loginPerson(h, admins['auditor']);
    const payload = await verifyToken(h.ctx.key.publicKey, s.session, { typ: 'session', iss: 'directory' });
    // A token that claims system-admin for a live auditor session: signed by us, but the directory looks at its table.
    const inflated = await signToken(h.ctx.key.privateKey, { ...payload, roles: ['system-admin'] });
    expect(await code(await h.post('/accounts', { legalName: 'X', employeeNumber: 'X1', contact: 'x' }, inflated))).toEqual([403, 'E_FORBIDDEN']);
  });

  it('issues single-use-shaped escrow tickets: fresh jti, 60 s, audited', async () => {
    const { h, admins } = e;
    const s = admins['system-admin'].session;
    const t1 = await json<{ ticket: string; expiresAt: number }>(await h.post('/escrow-ticket', undefined, s));
    const t2 = await json<{ ticket: string; expiresAt: number }>(await h.post('/escrow-ticket', undefined, s));
    const [p1, p2] = await Promise.all([t1, t2].map((t) => verifyToken(h.ctx.key.publicKey, t.ticket, { typ: 'escrow-ticket', iss: 'directory', maxLifetimeSeconds: 60 })));
    expect(p1!.jti).not.toBe(p2!.jti);
    expect(p1!.exp).toBe(t1.expiresAt);
    expect(p1!.sub).toBe(admins['system-admin'].account);
    const audited = h.ctx.audit.events.filter((x) => x.action === 'escrow.ticket').slice(-2);
    expect(audited.map((x) => x.details?.ticket)).toEqual([p1!.jti, p2!.jti]);
  });
});
