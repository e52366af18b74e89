import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PeopleResponse } from '../../shared/schemas/directory';
import { certify, disableAccount, errorCode, json, makeDirectory, registerPerson, setUpCa, setUpEnterprise, type Enterprise, type Person } from './test-harness';

// One enterprise for the whole file; the phone book is read as the accounts below leave it.
let e: Enterprise;
let legal: { id: string; name: string };
let ana: Person; // certified, in Legal
let bjorn: Person;
let chloe: Person; // custom username
let invitedUnapproved: Person; // registered, not approved: invited
let invitedUnregistered: string; // approved, not registered: invited
let disabled: Person;

async function invite(legalName: string, employeeNumber: string, extra: { username?: string; department?: string } = {}): Promise<{ account: string; invitationCode: string }> {
  const res = await e.h.post('/accounts', { legalName, employeeNumber, contact: `${employeeNumber}@secret.example.test`, ...extra }, e.admins['system-admin'].session);
  if (res.status !== 200) throw new Error(`invite failed: ${res.status} ${await res.text()}`);
  return json(res);
}

async function approve(account: string): Promise<void> {
  const res = await e.h.post(`/accounts/${account}/approve`, undefined, e.admins['security-admin'].session);
  if (res.status !== 200) throw new Error(`approve failed: ${res.status} ${await res.text()}`);
}

async function hire(legalName: string, employeeNumber: string, extra: { username?: string; department?: string } = {}): Promise<Person> {
  const { account, invitationCode } = await invite(legalName, employeeNumber, extra);
  await approve(account);
  return registerPerson(e.h, invitationCode);
}

async function people(query: string, session: string | undefined = ana.session) {
  const res = await e.h.get(`/people${query}`, session);
  expect(res.status).toBe(200);
  return PeopleResponse.parse(await res.json()).people;
}

beforeAll(async () => {
  e = await setUpEnterprise(await makeDirectory());
  legal = await json(await e.h.post('/departments', { name: 'Legal' }, e.admins['system-admin'].session));
  ana = await hire('Ana Álvarez', 'E100', { department: legal.id });
  bjorn = await hire('Björn Berg', 'E200');
  chloe = await hire('chloe Chen', 'X-77', { username: 'cc.contracts' });
  // registered but never approved
  const pending = await invite('Ivan Invited', 'E400');
  invitedUnapproved = await registerPerson(e.h, pending.invitationCode);
  // approved but never registered
  const unregistered = await invite('Una Unregistered', 'E401');
  await approve(unregistered.account);
  invitedUnregistered = unregistered.account;
  disabled = await hire('Dora Disabled', 'E402');
  await disableAccount(e, disabled.account);
  const ca = await setUpCa(e);
  await certify(e, ca, ana.account);
});
afterAll(async () => e.h.close());

describe('directory: the phone book (GET /people)', () => {
  it('lists active accounts only, sorted by legal name, with exactly the phone-book fields', async () => {
    const all = await people('');
    expect(all.map((p) => p.legalName)).toEqual(['Ana Álvarez', 'Aud Itor', 'Björn Berg', 'chloe Chen', 'Sam Sys', 'Sue Sec']);
    const ids = all.map((p) => p.id);
    for (const hidden of [invitedUnapproved.account, invitedUnregistered, disabled.account]) expect(ids).not.toContain(hidden);
    expect(all[0]).toEqual({ id: ana.account, username: 'e100', legalName: 'Ana Álvarez', employeeNumber: 'E100', department: { id: legal.id, name: 'Legal' }, certified: true });
    expect(all.find((p) => p.id === bjorn.account)).toEqual({ id: bjorn.account, username: 'e200', legalName: 'Björn Berg', employeeNumber: 'E200', department: null, certified: false });
    // Never contact details, roles, status, keys or anything else.
    for (const p of all) expect(Object.keys(p).sort()).toEqual(['certified', 'department', 'employeeNumber', 'id', 'legalName', 'username']);
    const text = JSON.stringify(all);
    for (const secret of ['secret.example.test', '@example.test', 'roles', 'contact', 'status', 'signingKey', 'envelopeKey']) expect(text).not.toContain(secret);
  });

  it('does not list invited or disabled accounts, whatever q matches', async () => {
    for (const q of ['Ivan', 'E400', 'Una', 'e401', 'Dora', 'E402']) expect(await people(`?q=${encodeURIComponent(q)}`)).toEqual([]);
  });

  it('matches q case-insensitively in the legal name, the username and the employee number', async () => {
    const ids = async (q: string) => (await people(`?q=${encodeURIComponent(q)}`)).map((p) => p.id);
    expect(await ids('álvar')).toEqual([ana.account]); // legal name, non-ASCII case folding
    expect(await ids('ÁLVAREZ')).toEqual([ana.account]);
    expect(await ids('BJÖRN')).toEqual([bjorn.account]);
    expect(await ids('CC.CONTR')).toEqual([chloe.account]); // username
    expect(await ids('x-7')).toEqual([chloe.account]); // employee number
    expect(await ids('e2')).toEqual([bjorn.account]); // username and number of one account: listed once
    expect(await ids('%')).toEqual([]); // no wildcards
    expect(await ids('_')).toEqual([]);
    expect(await ids('nobody here')).toEqual([]);
    expect((await people('?q=s')).map((p) => p.legalName)).toEqual(['chloe Chen', 'Sam Sys', 'Sue Sec']); // cc.contracts, sam, sue
  });

  it('respects limit and bounds q and limit', async () => {
    expect((await people('?limit=2')).map((p) => p.legalName)).toEqual(['Ana Álvarez', 'Aud Itor']);
    expect((await people('?q=e&limit=1')).map((p) => p.legalName)).toEqual(['Ana Álvarez']);
    expect(await people('?limit=100')).toHaveLength(6);
    for (const bad of ['?limit=0', '?limit=101', '?limit=-1', '?limit=01', '?limit=2.5', '?limit=x', '?limit=', '?q=', `?q=${'a'.repeat(101)}`, '?q=a%0Ab', '?other=1']) {
      expect(await errorCode(await e.h.get(`/people${bad}`, ana.session)), bad).toEqual([400, 'E_VALIDATION']);
    }
    expect(await people(`?q=${'a'.repeat(100)}`)).toEqual([]);
  });

  it('answers at most 50 by default', async () => {
    // Many active accounts straight into the database (registering each would take minutes).
    const db = new Database(join(e.h.ctx.dataDir, 'directory.sqlite'));
    try {
      const insert = db.prepare(
        `INSERT INTO accounts (id, username, legal_name, employee_number, contact, status, created_by, approved_by, approved_at, registered_at, created_at, updated_at)
         VALUES (?, ?, ?, ?, 'c', 'active', 'setup', 'setup', 1, 1, 1, 1)`,
      );
      db.transaction(() => {
        for (let i = 0; i < 60; i++) insert.run(`bulk-${i}`, `bulk-${i}`, `Zz Bulk ${String(i).padStart(2, '0')}`, `B${i}`);
      })();
    } finally {
      db.close();
    }
    expect(await people('')).toHaveLength(50);
    expect(await people('?q=zz%20bulk')).toHaveLength(50);
    expect(await people('?q=zz%20bulk&limit=100')).toHaveLength(60);
    expect((await people('?q=zz%20bulk&limit=3')).map((p) => p.legalName)).toEqual(['Zz Bulk 00', 'Zz Bulk 01', 'Zz Bulk 02']);
  });

  it('needs a session of an account that is not disabled; any signed-in account may read it', async () => {
    expect(await errorCode(await e.h.get('/people'))).toEqual([401, 'E_UNAUTHORIZED']);
    expect(await errorCode(await e.h.get('/people', 'sv1.not.a-token'))).toEqual([401, 'E_UNAUTHORIZED']);
    expect(await errorCode(await e.h.get('/people', disabled.session))).toEqual([401, 'E_UNAUTHORIZED']);
    for (const s of [bjorn.session, e.admins['auditor'].session, e.admins['system-admin'].session]) expect((await e.h.get('/people?limit=1', s)).status).toBe(200);
  });

  it('is described in the OpenAPI document', async () => {
    const doc = await json<{ paths: Record<string, { get?: { security?: unknown; parameters?: { in: string }[] } }> }>(await e.h.get('/openapi.json'));
    const op = doc.paths['/api/directory/people']?.get;
    expect(op?.security).toEqual([{ bearer: [] }]);
    expect(op?.parameters?.some((p) => p.in === 'query')).toBe(true);
  });
});
