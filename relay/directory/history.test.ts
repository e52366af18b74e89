import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountHistoryResponse } from '../../shared/schemas/directory';
import { addEmployee, certify, errorCode as code, json, makeDirectory, setUpCa, setUpEnterprise, type Enterprise } from './test-harness';

let e: Enterprise;
beforeAll(async () => {
  e = await setUpEnterprise(await makeDirectory());
});
afterAll(async () => e.h.close());

describe('directory: account history', () => {
  it('tells an account its life newest first, from its row, role requests and account requests', async () => {
    const { h, admins } = e;
    const sys = admins['system-admin'];
    const sec = admins['security-admin'];
    const ca = await setUpCa(e);
    const tick = () => (h.clock.t += 1000);
    const emp = await addEmployee(e, 'E800'); // created, approved and registered at one time
    tick();
    await certify(e, ca, emp.account);
    tick();
    const role = await json<{ id: string }>(await h.post('/role-requests', { account: emp.account, role: 'space-manager', op: 'add' }, sys.session));
    tick();
    expect((await h.post(`/role-requests/${role.id}/approve`, undefined, sec.session)).status).toBe(200);
    tick();
    const profile = await json<{ id: string }>(await h.post('/account-requests', { kind: 'profile', account: emp.account, legalName: 'Person E800-New' }, emp.session));
    tick();
    expect((await h.post(`/account-requests/${profile.id}/approve`, undefined, sec.session)).status).toBe(200);
    tick();
    const disable = await json<{ id: string }>(await h.post('/account-requests', { kind: 'disable', account: emp.account, reason: 'thought they left' }, sys.session));
    tick();
    expect((await h.post(`/account-requests/${disable.id}/reject`, { reason: 'they did not' }, sec.session)).status).toBe(200);

    const res = await h.get(`/accounts/${emp.account}/history`, emp.session);
    expect(res.status).toBe(200);
    const { account, events } = AccountHistoryResponse.parse(await res.json());
    expect(account).toBe(emp.account);
    expect(events.map((x) => x.kind)).toEqual([
      'disable.request',
      'certificate.revoked', // when the profile change was approved, after it was asked
      'profile.request',
      'role.request',
      'certificate.issued',
      'account.registered',
      'account.approved',
      'account.created',
    ]);
    const times = events.map((x) => Date.parse(x.at));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    expect(events[0]).toEqual({
      kind: 'disable.request',
      at: expect.any(String),
      by: sys.account,
      reason: 'thought they left',
      request: disable.id,
      status: 'rejected',
      decidedBy: sec.account,
      decidedAt: expect.any(String),
      rejectionReason: 'they did not',
    });
    expect(events[2]).toMatchObject({
      kind: 'profile.request',
      by: emp.account,
      legalName: 'Person E800-New',
      employeeNumber: null,
      previousLegalName: 'Person E800',
      previousEmployeeNumber: null,
      status: 'approved',
      decidedBy: sec.account,
      rejectionReason: null,
    });
    expect(events[1]).toMatchObject({ kind: 'certificate.revoked', by: sec.account, reason: 'profile-changed', serial: expect.stringMatching(/^[0-9a-f]+$/) });
    expect(events[3]).toMatchObject({ kind: 'role.request', by: sys.account, role: 'space-manager', op: 'add', status: 'approved', decidedBy: sec.account, request: role.id });
    expect(events[4]).toMatchObject({ kind: 'certificate.issued', by: sec.account, serial: (events[1] as { serial: string }).serial });
    expect(events[5]).toEqual({ kind: 'account.registered', at: expect.any(String), by: emp.account });
    expect(events[6]).toEqual({ kind: 'account.approved', at: expect.any(String), by: sec.account });
    expect(events[7]).toEqual({ kind: 'account.created', at: expect.any(String), by: sys.account });
  });

  it("shows 'setup' as the creator and approver of the first administrators", async () => {
    const { h, admins } = e;
    const { events } = AccountHistoryResponse.parse(await json(await h.get(`/accounts/${admins['auditor'].account}/history`, admins['auditor'].session)));
    expect(events.filter((x) => x.kind === 'account.created' || x.kind === 'account.approved').map((x) => x.by)).toEqual(['setup', 'setup']);
  });

  it('is readable by the account itself and the account administrators only', async () => {
    const { h, admins } = e;
    const a = await addEmployee(e, 'E810');
    const b = await addEmployee(e, 'E811');
    for (const who of [a, admins['system-admin'], admins['security-admin']]) expect((await h.get(`/accounts/${a.account}/history`, who.session)).status).toBe(200);
    expect(await code(await h.get(`/accounts/${a.account}/history`, b.session))).toEqual([403, 'E_FORBIDDEN']);
    expect(await code(await h.get(`/accounts/${a.account}/history`, admins['auditor'].session))).toEqual([403, 'E_FORBIDDEN']);
    expect(await code(await h.get(`/accounts/${a.account}/history`))).toEqual([401, 'E_UNAUTHORIZED']);
    expect(await code(await h.get('/accounts/nobody/history', admins['security-admin'].session))).toEqual([404, 'E_NOT_FOUND']);
    expect(await code(await h.get('/accounts/bad%20id/history', admins['security-admin'].session))).toEqual([400, 'E_VALIDATION']);
  });
});
