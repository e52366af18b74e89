import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../common/observability';
import { testServiceContext } from '../test-support/service-context';
import { HttpError } from '../http/errors';
import { createDirectoryService } from './index';
import { ADMINS, json, makeDirectory, setupBody, type Harness } from './test-harness';
import { sha256B64u } from './util';

let h: Harness;
afterEach(async () => h?.close());

describe('directory: first-run setup', () => {
  it('exposes the token to the starter and logs that setup is pending, never the token itself', async () => {
    const lines: string[] = [];
    const ctx = await testServiceContext('directory');
    ctx.log = createLogger({ level: 'info', destination: new Writable({ write: (chunk, _e, cb) => (lines.push(String(chunk)), cb()) }) });
    const service = await createDirectoryService(ctx);
    const token = (service as { setupToken?: string }).setupToken!;
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const logged = lines.map((l) => JSON.parse(l) as { level: number; setupPending?: boolean }).filter((l) => l.setupPending);
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ level: 40 });
    expect(lines.join('')).not.toContain(token);
    await service.close?.();
  });

  it('stores only the SHA-256 of the setup token', async () => {
    h = await makeDirectory();
    const token = h.service.setupToken!;
    const db = h.peekDb();
    const rows = db.prepare('SELECT key, value FROM settings').all() as { key: string; value: string }[];
    db.close();
    expect(JSON.stringify(rows)).not.toContain(token);
    expect(rows.find((r) => r.key === 'setup_token_sha256')?.value).toBe(sha256B64u(token));
  });

  it('is single use: a second setup is 409 and the service no longer offers a token', async () => {
    h = await makeDirectory();
    const token = h.service.setupToken!;
    const first = await h.post('/setup', setupBody(token));
    expect(first.status).toBe(200);
    const body = await json<{ enterprise: { name: string }; invitations: { role: string; account: string; invitationCode: string; username: string }[] }>(first);
    expect(body.enterprise).toEqual({ name: 'Example Corp' });
    expect(body.invitations).toHaveLength(3);
    expect(new Set(body.invitations.map((i) => i.invitationCode)).size).toBe(3);
    expect(body.invitations.map((i) => i.username)).toEqual(['e001', 'e002', 'e003']);

    const second = await h.post('/setup', setupBody(token));
    expect(second.status).toBe(409);
    expect(await json(second)).toEqual({ error: { code: 'E_SETUP_DONE', message: expect.any(String) } });

    await h.restart();
    expect(h.service.setupToken).toBeUndefined();
    expect((await h.post('/setup', setupBody(token))).status).toBe(409);
  });

  it('refuses a wrong token, and a restart before setup replaces the token', async () => {
    h = await makeDirectory();
    const old = h.service.setupToken!;
    const wrong = await h.post('/setup', setupBody(Buffer.alloc(32, 7).toString('base64url')));
    expect(wrong.status).toBe(401);
    expect((await json<{ error: { code: string } }>(wrong)).error.code).toBe('E_SETUP_TOKEN');

    await h.restart();
    const fresh = h.service.setupToken!;
    expect(fresh).not.toBe(old);
    expect((await h.post('/setup', setupBody(old))).status).toBe(401);
    expect((await h.post('/setup', setupBody(fresh))).status).toBe(200);
  });

  it('needs exactly one administrator per administrator role, and distinct people', async () => {
    h = await makeDirectory();
    const token = h.service.setupToken!;
    const twoSysadmins = setupBody(token);
    twoSysadmins.administrators[1] = { ...ADMINS[1], role: 'system-admin' } as never;
    expect((await h.post('/setup', twoSysadmins)).status).toBe(400);
    const onlyTwo = setupBody(token);
    onlyTwo.administrators.pop();
    expect((await h.post('/setup', onlyTwo)).status).toBe(400);
    const samePerson = setupBody(token);
    samePerson.administrators[2] = { ...ADMINS[2], employeeNumber: 'E001' } as never;
    const conflict = await h.post('/setup', samePerson);
    expect(conflict.status).toBe(409);
    // The failed attempt rolled back: the token still works.
    expect((await h.post('/setup', setupBody(token))).status).toBe(200);
  });

  it('creates the administrators invited, with their one role each', async () => {
    h = await makeDirectory();
    const body = await json<{ invitations: { role: string; account: string }[] }>(await h.post('/setup', setupBody(h.service.setupToken!)));
    for (const i of body.invitations) {
      const keys = await json(await h.get(`/accounts/${i.account}/public-keys`));
      expect(keys).toEqual({ account: i.account, status: 'invited', roles: [i.role], envelopeKey: null, signingKey: null, signingKeyId: null, certified: false, revoked: false, certificate: null });
    }
  });

  it('undoes setup when the audit log cannot take the entry, so the token still works', async () => {
    h = await makeDirectory();
    const token = h.service.setupToken!;
    const record = h.ctx.audit.record;
    h.ctx.audit.record = async () => {
      throw new HttpError(503, 'E_AUDIT_UNAVAILABLE', 'audit log refused the entry');
    };
    const failed = await h.post('/setup', setupBody(token));
    expect(failed.status).toBe(503);
    h.ctx.audit.record = record;
    const db = h.peekDb();
    expect(db.prepare('SELECT count(*) AS n FROM accounts').get()).toEqual({ n: 0 });
    db.close();
    expect((await h.post('/setup', setupBody(token))).status).toBe(200);
  });
});
