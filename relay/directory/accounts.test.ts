import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountListResponse, AccountProfileSchema } from '../../shared/schemas/directory';
import { HttpError } from '../http/errors';
import { addEmployee, json, makeDirectory, setUpEnterprise, type Enterprise } from './test-harness';

// One enterprise for the whole file: each test adds its own employees.
let e: Enterprise;
beforeAll(async () => {
  e = await setUpEnterprise(await makeDirectory());
});
afterAll(async () => e.h.close());

async function code(res: Response): Promise<[number, string]> {
  return [res.status, (await json<{ error: { code: string } }>(res)).error.code];
}

describe('directory: accounts', () => {
  it('lets only a system-admin create accounts (403 for the others)', async () => {
    const { h, admins } = e;
    const body = { legalName: 'New Person', employeeNumber: 'E300', contact: 'n@example.test' };
    expect(await code(await h.post('/accounts', body, admins['security-admin'].session))).toEqual([403, 'E_FORBIDDEN']);
    expect(await code(await h.post('/accounts', body, admins['auditor'].session))).toEqual([403, 'E_FORBIDDEN']);
    expect(await code(await h.post('/accounts', body))).toEqual([401, 'E_UNAUTHORIZED']);
    const emp = await addEmployee(e, 'E301');
    expect(await code(await h.post('/accounts', body, emp.session))).toEqual([403, 'E_FORBIDDEN']);
    const ok = await h.post('/accounts', body, admins['system-admin'].session);
    expect(ok.status).toBe(200);
    expect(await json(ok)).toMatchObject({ account: expect.any(String), username: 'e300', invitationCode: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) });
    expect(e.h.ctx.audit.events.at(-1)).toMatchObject({ actor: admins['system-admin'].account, action: 'account.invite' });
  });

  it('refuses duplicate employee numbers and usernames (case-folded)', async () => {
    const { h, admins } = e;
    const s = admins['system-admin'].session;
    expect((await h.post('/accounts', { legalName: 'A', employeeNumber: 'E310', contact: 'a' }, s)).status).toBe(200);
    expect(await code(await h.post('/accounts', { legalName: 'B', employeeNumber: 'e310', contact: 'b' }, s))).toEqual([409, 'E_CONFLICT']);
    expect(await code(await h.post('/accounts', { legalName: 'B', employeeNumber: 'E311', contact: 'b', username: 'E310' }, s))).toEqual([409, 'E_CONFLICT']);
    expect(await code(await h.post('/accounts', { legalName: 'B', employeeNumber: 'E312', contact: 'b', department: 'nope' }, s))).toEqual([404, 'E_NOT_FOUND']);
  });

  it('makes an employee active only after a security-admin approves and the employee registers', async () => {
    const { h, admins } = e;
    const emp = await addEmployee(e, 'E320', { approve: false });
    const keys = async () => json<{ status: string; roles: string[] }>(await h.get(`/accounts/${emp.account}/public-keys`));
    expect(await keys()).toMatchObject({ status: 'invited', roles: ['employee'] });
    // Registered but not approved: a session, but no escrow ticket.
    expect(await code(await h.post('/escrow-ticket', undefined, emp.session))).toEqual([403, 'E_ACCOUNT_NOT_ACTIVE']);
    expect(await code(await h.post(`/accounts/${emp.account}/approve`, undefined, admins['system-admin'].session))).toEqual([403, 'E_FORBIDDEN']);
    const approved = await h.post(`/accounts/${emp.account}/approve`, undefined, admins['security-admin'].session);
    expect(approved.status).toBe(200);
    expect(AccountProfileSchema.parse(await approved.json())).toMatchObject({ status: 'active', approved: true, registered: true });
    expect((await keys()).status).toBe('active');
    expect((await h.post('/escrow-ticket', undefined, emp.session)).status).toBe(200);
    expect(await code(await h.post(`/accounts/${emp.account}/approve`, undefined, admins['security-admin'].session))).toEqual([409, 'E_CONFLICT']);
  });

  it('keeps approval before registration: the account turns active when it registers', async () => {
    const { h } = e;
    const emp = await addEmployee(e, 'E321');
    expect((await json<{ status: string }>(await h.get(`/accounts/${emp.account}/public-keys`))).status).toBe('active');
  });

  it('lets the account and the account administrators read a profile, and nobody else', async () => {
    const { h, admins } = e;
    const a = await addEmployee(e, 'E330');
    const b = await addEmployee(e, 'E331');
    expect((await h.get(`/accounts/${a.account}`, a.session)).status).toBe(200);
    expect((await h.get(`/accounts/${a.account}`, admins['system-admin'].session)).status).toBe(200);
    expect((await h.get(`/accounts/${a.account}`, admins['security-admin'].session)).status).toBe(200);
    expect(await code(await h.get(`/accounts/${a.account}`, b.session))).toEqual([403, 'E_FORBIDDEN']);
    expect(await code(await h.get(`/accounts/${a.account}`, admins['auditor'].session))).toEqual([403, 'E_FORBIDDEN']);
    expect(await code(await h.get(`/accounts/nope`, admins['security-admin'].session))).toEqual([404, 'E_NOT_FOUND']);

    const list = await h.get('/accounts', admins['security-admin'].session);
    expect(list.status).toBe(200);
    const { accounts } = AccountListResponse.parse(await list.json());
    expect(accounts.map((x) => x.username)).toEqual(expect.arrayContaining(['e001', 'e002', 'e003', 'e330', 'e331']));
    // Profiles only: no OPAQUE record, salt or key material.
    const text = JSON.stringify(accounts);
    for (const secret of ['opaque', 'salt', 'kdf', 'envelopeKey', 'signingKey"']) expect(text).not.toContain(secret);
    expect(await code(await h.get('/accounts', a.session))).toEqual([403, 'E_FORBIDDEN']);
    expect(await code(await h.get('/accounts', admins['auditor'].session))).toEqual([403, 'E_FORBIDDEN']);
  });

  it('answers public keys without a session, and 404 for unknown accounts', async () => {
    const { h } = e;
    const a = await addEmployee(e, 'E340');
    const keys = await json<Record<string, unknown>>(await h.get(`/accounts/${a.account}/public-keys`));
    expect(Object.keys(keys).sort()).toEqual(['account', 'certificate', 'certified', 'envelopeKey', 'revoked', 'roles', 'signingKey', 'signingKeyId', 'status']);
    expect(keys.envelopeKey).toMatch(/^[A-Za-z0-9_-]+$/);
    expect((await h.get('/accounts/unknown-account/public-keys')).status).toBe(404);
    expect((await h.get('/accounts/bad%20id/public-keys')).status).toBe(400);
  });

  it('changes a contact: the account itself or a system-admin, audited', async () => {
    const { h, admins } = e;
    const a = await addEmployee(e, 'E360');
    const b = await addEmployee(e, 'E361');
    const own = await h.put(`/accounts/${a.account}/contact`, { contact: 'new@example.test' }, a.session);
    expect(own.status).toBe(200);
    expect(AccountProfileSchema.parse(await own.json()).contact).toBe('new@example.test');
    expect(e.h.ctx.audit.events.at(-1)).toMatchObject({ actor: a.account, action: 'profile.contact', target: `account:${a.account}`, outcome: 'ok' });
    expect((await h.put(`/accounts/${a.account}/contact`, { contact: 'desk 4' }, admins['system-admin'].session)).status).toBe(200);
    expect(await json(await h.get(`/accounts/${a.account}`, a.session))).toMatchObject({ contact: 'desk 4' });
    expect(await code(await h.put(`/accounts/${a.account}/contact`, { contact: 'x' }, b.session))).toEqual([403, 'E_FORBIDDEN']);
    expect(await code(await h.put(`/accounts/${a.account}/contact`, { contact: 'x' }, admins['security-admin'].session))).toEqual([403, 'E_FORBIDDEN']);
    expect(await code(await h.put(`/accounts/${a.account}/contact`, { contact: 'x' }))).toEqual([401, 'E_UNAUTHORIZED']);
    for (const bad of [{}, { contact: '' }, { contact: 'two\nlines' }, { contact: 'x'.repeat(201) }, { contact: 'x', legalName: 'Sneaky' }]) {
      expect(await code(await h.put(`/accounts/${a.account}/contact`, bad, a.session))).toEqual([400, 'E_VALIDATION']);
    }
    expect(await code(await h.put('/accounts/nobody/contact', { contact: 'x' }, admins['system-admin'].session))).toEqual([404, 'E_NOT_FOUND']);
    expect(await json(await h.get(`/accounts/${a.account}`, a.session))).toMatchObject({ contact: 'desk 4', legalName: 'Person E360' });
  });

  it('no longer offers the direct disable route: disabling is a request and an approval', async () => {
    const { h, admins } = e;
    const a = await addEmployee(e, 'E362');
    expect((await h.post(`/accounts/${a.account}/disable`, { reason: 'x' }, admins['security-admin'].session)).status).toBe(404);
    expect(await json(await h.get(`/accounts/${a.account}/public-keys`))).toMatchObject({ status: 'active' });
  });

  it('manages departments (system-admin creates, anyone signed in lists)', async () => {
    const { h, admins } = e;
    expect(await code(await h.post('/departments', { name: 'Legal' }, admins['security-admin'].session))).toEqual([403, 'E_FORBIDDEN']);
    const made = await json<{ id: string; name: string }>(await h.post('/departments', { name: 'Legal' }, admins['system-admin'].session));
    expect(await code(await h.post('/departments', { name: 'legal' }, admins['system-admin'].session))).toEqual([409, 'E_CONFLICT']);
    expect(await code(await h.post('/departments', { name: 'Bad\nName' }, admins['system-admin'].session))).toEqual([400, 'E_VALIDATION']);
    const list = await json<{ departments: { id: string }[] }>(await h.get('/departments', admins['auditor'].session));
    expect(list.departments).toContainEqual({ id: made.id, name: 'Legal' });
    const res = await h.post('/accounts', { legalName: 'In Legal', employeeNumber: 'E370', contact: 'l', department: made.id }, admins['system-admin'].session);
    const { account } = await json<{ account: string }>(res);
    expect(await json(await h.get(`/accounts/${account}`, admins['security-admin'].session))).toMatchObject({ department: made.id });
  });

  it('does not keep an invitation whose audit entry could not be written', async () => {
    const { h, admins } = e;
    const record = h.ctx.audit.record;
    h.ctx.audit.record = async () => {
      throw new HttpError(503, 'E_AUDIT_UNAVAILABLE', 'audit log refused the entry');
    };
    const body = { legalName: 'Unlogged', employeeNumber: 'E380', contact: 'u' };
    expect(await code(await h.post('/accounts', body, admins['system-admin'].session))).toEqual([503, 'E_AUDIT_UNAVAILABLE']);
    h.ctx.audit.record = record;
    expect((await h.post('/accounts', body, admins['system-admin'].session)).status).toBe(200);
  });
});
