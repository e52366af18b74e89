import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../common/db';
import { RoleRequestSchema } from '../../shared/schemas/directory';
import { HttpError } from '../http/errors';
import { grantRole, insertAccount } from './accounts-store';
import { DIRECTORY_MIGRATIONS } from './migrations';
import { addEmployee, json, loginPerson, makeDirectory, setUpEnterprise, type Enterprise, type Person } from './test-harness';

let e: Enterprise;
beforeAll(async () => {
  e = await setUpEnterprise(await makeDirectory());
});
afterAll(async () => e.h.close());

async function code(res: Response): Promise<[number, string]> {
  return [res.status, (await json<{ error: { code: string } }>(res)).error.code];
}

async function request(by: Person, account: string, role: string, op: 'add' | 'remove' = 'add'): Promise<string> {
  const res = await e.h.post('/role-requests', { account, role, op }, by.session);
  if (res.status !== 200) throw new Error(`role request failed: ${res.status} ${await res.text()}`);
  return RoleRequestSchema.parse(await res.json()).id;
}

async function approve(by: Person, id: string): Promise<Response> {
  return e.h.post(`/role-requests/${id}/approve`, undefined, by.session);
}

describe('directory: role requests', () => {
  it('applies a role only after a security-admin approves', async () => {
    const { h, admins } = e;
    const emp = await addEmployee(e, 'E400');
    const id = await request(admins['system-admin'], emp.account, 'space-manager');
    expect(await json(await h.get(`/accounts/${emp.account}/public-keys`))).toMatchObject({ roles: ['employee'] });
    const listed = await json<{ requests: { id: string; status: string }[] }>(await h.get('/role-requests?status=pending', admins['security-admin'].session));
    expect(listed.requests.map((r) => r.id)).toContain(id);
    expect(await code(await approve(admins['system-admin'], id))).toEqual([403, 'E_FORBIDDEN']);
    const ok = await approve(admins['security-admin'], id);
    expect(ok.status).toBe(200);
    expect(RoleRequestSchema.parse(await ok.json())).toMatchObject({ status: 'approved', decidedBy: admins['security-admin'].account, requestedBy: admins['system-admin'].account });
    expect(await json(await h.get(`/accounts/${emp.account}/public-keys`))).toMatchObject({ roles: ['space-manager', 'employee'] });
    expect(await code(await approve(admins['security-admin'], id))).toEqual([409, 'E_CONFLICT']);
    // The next session carries the new role.
    expect((await loginPerson(h, emp)).roles).toEqual(['space-manager', 'employee']);
    const actions = h.ctx.audit.events.filter((x) => x.action.startsWith('role.')).map((x) => x.action);
    expect(actions).toEqual(['role.request', 'role.approve']);
  });

  it('lets only a system-admin request, and only a security-admin list or decide', async () => {
    const { h, admins } = e;
    const emp = await addEmployee(e, 'E410');
    for (const who of [admins['security-admin'], admins['auditor'], emp]) {
      expect(await code(await h.post('/role-requests', { account: emp.account, role: 'space-manager', op: 'add' }, who.session))).toEqual([403, 'E_FORBIDDEN']);
    }
    expect(await code(await h.get('/role-requests', admins['auditor'].session))).toEqual([403, 'E_FORBIDDEN']);
    expect(await code(await h.get('/role-requests?status=maybe', admins['security-admin'].session))).toEqual([400, 'E_VALIDATION']);
  });

  it('rejects with a reason', async () => {
    const { h, admins } = e;
    const emp = await addEmployee(e, 'E420');
    const id = await request(admins['system-admin'], emp.account, 'space-manager');
    expect(await code(await h.post(`/role-requests/${id}/reject`, {}, admins['security-admin'].session))).toEqual([400, 'E_VALIDATION']);
    const res = await h.post(`/role-requests/${id}/reject`, { reason: 'not in a management position' }, admins['security-admin'].session);
    expect(RoleRequestSchema.parse(await res.json())).toMatchObject({ status: 'rejected', reason: 'not in a management position' });
    expect(await json(await h.get(`/accounts/${emp.account}/public-keys`))).toMatchObject({ roles: ['employee'] });
    expect(await code(await approve(admins['security-admin'], id))).toEqual([409, 'E_CONFLICT']);
  });

  it('refuses a decision by the requester (four eyes), even after they became a security-admin', async () => {
    const { h, admins } = e;
    // A second system-admin, who later moves to security: the realistic way one person ends up on both sides.
    const mover = await addEmployee(e, 'E430');
    expect((await approve(admins['security-admin'], await request(admins['system-admin'], mover.account, 'system-admin'))).status).toBe(200);
    mover.session = (await loginPerson(h, mover)).session;
    const target = await addEmployee(e, 'E431');
    const pending = await request(mover, target.account, 'space-manager');
    expect((await approve(admins['security-admin'], await request(admins['system-admin'], mover.account, 'system-admin', 'remove'))).status).toBe(200);
    // Removing a role ended the mover's sessions.
    expect(await code(await h.get('/me', mover.session))).toEqual([401, 'E_UNAUTHORIZED']);
    expect((await approve(admins['security-admin'], await request(admins['system-admin'], mover.account, 'security-admin'))).status).toBe(200);
    mover.session = (await loginPerson(h, mover)).session;

    expect(await code(await approve(mover, pending))).toEqual([403, 'E_FOUR_EYES']);
    expect(await code(await h.post(`/role-requests/${pending}/reject`, { reason: 'mine' }, mover.session))).toEqual([403, 'E_FOUR_EYES']);
    expect((await approve(admins['security-admin'], pending)).status).toBe(200);
  });

  it('refuses a security-admin deciding a change of their own roles', async () => {
    const { admins } = e;
    const id = await request(admins['system-admin'], admins['security-admin'].account, 'space-manager');
    expect(await code(await approve(admins['security-admin'], id))).toEqual([403, 'E_FOUR_EYES']);
  });

  it('refuses two administrator roles on one account (409 E_SEPARATION), at request and at approval', async () => {
    const { h, admins } = e;
    expect(await code(await h.post('/role-requests', { account: admins['auditor'].account, role: 'security-admin', op: 'add' }, admins['system-admin'].session))).toEqual([409, 'E_SEPARATION']);
    // Two requests that are each fine alone:
    const emp = await addEmployee(e, 'E440');
    const first = await request(admins['system-admin'], emp.account, 'auditor');
    const second = await request(admins['system-admin'], emp.account, 'system-admin');
    expect((await approve(admins['security-admin'], first)).status).toBe(200);
    expect(await code(await approve(admins['security-admin'], second))).toEqual([409, 'E_SEPARATION']);
    expect(await json(await h.get(`/accounts/${emp.account}/public-keys`))).toMatchObject({ roles: ['auditor', 'employee'] });
    expect(h.ctx.audit.events.at(-1)).toMatchObject({ action: 'role.approve', outcome: 'refused', details: { code: 'E_SEPARATION' } });
    // The refused request stays pending (it can be rejected with a reason).
    expect((await h.post(`/role-requests/${second}/reject`, { reason: 'separation' }, admins['security-admin'].session)).status).toBe(200);
  });

  it('refuses removing the last holder of an administrator role, duplicates, and no-ops', async () => {
    const { h, admins } = e;
    const s = admins['system-admin'].session;
    // Earlier tests made a second auditor and a second security-admin; the setup system-admin is still the only one.
    expect(await code(await h.post('/role-requests', { account: admins['system-admin'].account, role: 'system-admin', op: 'remove' }, s))).toEqual([409, 'E_LAST_ADMIN']);
    const emp = await addEmployee(e, 'E450');
    expect(await code(await h.post('/role-requests', { account: emp.account, role: 'employee', op: 'add' }, s))).toEqual([409, 'E_CONFLICT']);
    expect(await code(await h.post('/role-requests', { account: emp.account, role: 'space-manager', op: 'remove' }, s))).toEqual([409, 'E_CONFLICT']);
    await request(admins['system-admin'], emp.account, 'space-manager');
    expect(await code(await h.post('/role-requests', { account: emp.account, role: 'space-manager', op: 'add' }, s))).toEqual([409, 'E_CONFLICT']);
    expect(await code(await h.post('/role-requests', { account: emp.account, role: 'king', op: 'add' }, s))).toEqual([400, 'E_VALIDATION']);
    expect(await code(await h.post('/role-requests', { account: 'nobody', role: 'employee', op: 'add' }, s))).toEqual([404, 'E_NOT_FOUND']);
  });
});

describe('directory database: separation and four eyes hold below the routes', () => {
  function freshDb() {
    const db = openDatabase(join(mkdtempSync(join(tmpdir(), 'sealvault-dir-db-')), 'directory.sqlite'), DIRECTORY_MIGRATIONS);
    const now = Date.now();
    insertAccount(db, { id: 'a1', username: 'a1', legalName: 'A', employeeNumber: 'A1', department: null, contact: 'c', createdBy: 'setup', approvedBy: null, roles: ['system-admin'], now });
    return db;
  }

  it('a raw INSERT of a second administrator role fails in SQLite itself', () => {
    const db = freshDb();
    expect(() => db.prepare(`INSERT INTO account_roles (account, role, granted_at) VALUES ('a1', 'auditor', 0)`).run()).toThrow(/E_SEPARATION/);
    expect(() => db.prepare(`UPDATE account_roles SET role = 'auditor' WHERE account = 'a1'`).run()).toThrow(/E_SEPARATION/);
    db.prepare(`INSERT INTO account_roles (account, role, granted_at) VALUES ('a1', 'space-manager', 0)`).run();
    expect(() => grantRole(db, 'a1', 'security-admin', 0)).toThrow(HttpError);
    try {
      grantRole(db, 'a1', 'security-admin', 0);
    } catch (err) {
      expect(err).toMatchObject({ status: 409, code: 'E_SEPARATION' });
    }
    db.close();
  });

  it('refuses an account approved by its creator and a request decided by its requester', () => {
    const db = freshDb();
    insertAccount(db, { id: 'a2', username: 'a2', legalName: 'B', employeeNumber: 'A2', department: null, contact: 'c', createdBy: 'a1', approvedBy: null, roles: [], now: 0 });
    expect(() => db.prepare(`UPDATE accounts SET approved_by = 'a1' WHERE id = 'a2'`).run()).toThrow(/CHECK/);
    expect(() => db.prepare(`UPDATE accounts SET status = 'active' WHERE id = 'a2'`).run()).toThrow(/CHECK/);
    db.prepare(`INSERT INTO role_requests (id, account, role, op, status, requested_by, requested_at) VALUES ('r1', 'a2', 'employee', 'add', 'pending', 'a1', 0)`).run();
    expect(() => db.prepare(`UPDATE role_requests SET status = 'approved', decided_by = 'a1', decided_at = 1 WHERE id = 'r1'`).run()).toThrow(/CHECK/);
    db.close();
  });
});
