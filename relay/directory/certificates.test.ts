import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEnterpriseCa, type EnterpriseCa } from '../../shared/pki/enterprise-ca';
import { IssuedCertificatesResponse, PublicKeysResponse } from '../../shared/schemas/directory';
import {
  addEmployee,
  certificateFor,
  certify,
  disableAccount,
  errorCode as code,
  freshKeys,
  json,
  makeDirectory,
  setUpCa,
  setUpEnterprise,
  type Enterprise,
} from './test-harness';

// One enterprise for the whole file; the first test runs before the CA exists.
let e: Enterprise;
let ca: EnterpriseCa;
beforeAll(async () => {
  e = await setUpEnterprise(await makeDirectory());
});
afterAll(async () => e.h.close());

const keysOf = async (account: string) => PublicKeysResponse.parse(await json(await e.h.get(`/accounts/${account}/public-keys`)));

describe('directory: employee certificates', () => {
  it('refuses any certificate until the enterprise CA is stored (409 E_NO_CA)', async () => {
    const { h, admins } = e;
    const emp = await addEmployee(e, 'E600');
    const early = await createEnterpriseCa('Example Corp', new Date(h.clock.t));
    const certificate = await certificateFor(e, early, emp.account);
    expect(await code(await h.post(`/accounts/${emp.account}/certificate`, { certificate }, admins['security-admin'].session))).toEqual([409, 'E_NO_CA']);
    ca = await setUpCa(e);
  });

  it('certifies an active account with a certificate of the enterprise CA for its name and keys', async () => {
    const { h, admins } = e;
    const emp = await addEmployee(e, 'E601');
    const certificate = await certificateFor(e, ca, emp.account);
    const res = await h.post(`/accounts/${emp.account}/certificate`, { certificate }, admins['security-admin'].session);
    expect(res.status).toBe(200);
    expect(PublicKeysResponse.parse(await res.json())).toMatchObject({ certified: true, revoked: false, certificate });
    expect(await keysOf(emp.account)).toMatchObject({ certified: true, revoked: false, certificate });
    expect(await json(await h.get(`/accounts/${emp.account}`, emp.session))).toMatchObject({ certified: true });
    const entry = h.ctx.audit.events.at(-1)!;
    expect(entry).toMatchObject({ actor: admins['security-admin'].account, action: 'certificate.issue', target: `account:${emp.account}`, outcome: 'ok' });
    expect(entry.details).toEqual({ serial: expect.stringMatching(/^[0-9a-f]{32}$/), fingerprint: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/), signingKeyId: (await keysOf(emp.account)).signingKeyId });
  });

  it('keeps every certificate ever issued, a replaced one included, for the auditor and security-admin only (GET /certificates)', async () => {
    const { h, admins } = e;
    const emp = await addEmployee(e, 'E609');
    const first = await certificateFor(e, ca, emp.account);
    expect((await h.post(`/accounts/${emp.account}/certificate`, { certificate: first }, admins['security-admin'].session)).status).toBe(200);
    h.clock.t += 1000;
    const second = await certificateFor(e, ca, emp.account);
    expect((await h.post(`/accounts/${emp.account}/certificate`, { certificate: second }, admins['security-admin'].session)).status).toBe(200);
    // The account now shows only the second; the history still holds the first.
    expect(await keysOf(emp.account)).toMatchObject({ certificate: second });
    for (const who of [admins['auditor'], admins['security-admin']]) {
      const list = IssuedCertificatesResponse.parse(await json(await h.get('/certificates', who.session))).certificates.filter((c) => c.account === emp.account);
      expect(list.map((c) => c.certificate)).toEqual([first, second]);
      expect(list[0]!.serial).toMatch(/^[0-9a-f]{32}$/);
      expect(list[1]!.issuedAt).toBeGreaterThan(list[0]!.issuedAt);
    }
    for (const who of [admins['system-admin'], emp]) expect(await code(await h.get('/certificates', who.session))).toEqual([403, 'E_FORBIDDEN']);
    expect((await h.get('/certificates')).status).toBe(401);
  });

  it('lets only a security-admin certify, never their own keys', async () => {
    const { h, admins } = e;
    const emp = await addEmployee(e, 'E602');
    const certificate = await certificateFor(e, ca, emp.account);
    for (const who of [admins['system-admin'], admins['auditor'], emp]) {
      expect(await code(await h.post(`/accounts/${emp.account}/certificate`, { certificate }, who.session))).toEqual([403, 'E_FORBIDDEN']);
    }
    const sec = admins['security-admin'];
    const own = await certificateFor(e, ca, sec.account);
    expect(await code(await h.post(`/accounts/${sec.account}/certificate`, { certificate: own }, sec.session))).toEqual([403, 'E_FOUR_EYES']);
    expect((await keysOf(emp.account)).certified).toBe(false);
  });

  it('refuses accounts that are not active: unregistered, unapproved, disabled', async () => {
    const { h, admins } = e;
    const sec = admins['security-admin'].session;
    const invited = await addEmployee(e, 'E610', { register: false });
    const someone = await addEmployee(e, 'E611');
    const anyCert = await certificateFor(e, ca, someone.account);
    expect(await code(await h.post(`/accounts/${invited.account}/certificate`, { certificate: anyCert }, sec))).toEqual([409, 'E_NOT_REGISTERED']);
    const unapproved = await addEmployee(e, 'E612', { approve: false });
    const forUnapproved = await certificateFor(e, ca, unapproved.account);
    expect(await code(await h.post(`/accounts/${unapproved.account}/certificate`, { certificate: forUnapproved }, sec))).toEqual([409, 'E_NOT_APPROVED']);
    await disableAccount(e, someone.account);
    expect(await code(await h.post(`/accounts/${someone.account}/certificate`, { certificate: anyCert }, sec))).toEqual([409, 'E_CONFLICT']);
    expect(await code(await h.post('/accounts/nobody/certificate', { certificate: anyCert }, sec))).toEqual([404, 'E_NOT_FOUND']);
  });

  it('refuses certificates for another name, number, account or keys, or from another CA (400 E_CERTIFICATE)', async () => {
    const { h, admins } = e;
    const sec = admins['security-admin'].session;
    const emp = await addEmployee(e, 'E620');
    const other = await addEmployee(e, 'E621');
    const strangerKeys = await freshKeys();
    const bad: Record<string, string> = {
      'legal name': await certificateFor(e, ca, emp.account, { legalName: 'Somebody Else' }),
      'employee number': await certificateFor(e, ca, emp.account, { employeeNumber: 'E999' }),
      account: await certificateFor(e, ca, emp.account, { account: other.account }),
      'signing key': await certificateFor(e, ca, emp.account, { signingKey: strangerKeys.signingKey }),
      'envelope key': await certificateFor(e, ca, emp.account, { envelopeKey: strangerKeys.envelopeKey }),
      "another account's certificate": await certificateFor(e, ca, other.account),
      'another CA': await certificateFor(e, await createEnterpriseCa('Example Corp', new Date(h.clock.t)), emp.account),
      'the CA itself': ca.certificatePem,
    };
    for (const [what, certificate] of Object.entries(bad)) {
      expect([what, ...(await code(await h.post(`/accounts/${emp.account}/certificate`, { certificate }, sec)))]).toEqual([what, 400, 'E_CERTIFICATE']);
    }
    expect((await keysOf(emp.account)).certified).toBe(false);
    expect(h.ctx.audit.events.at(-1)).toMatchObject({ action: 'certificate.issue', target: `account:${emp.account}`, outcome: 'refused', details: { code: expect.stringMatching(/^E_/) } });
    const good = await certificateFor(e, ca, emp.account);
    expect((await h.post(`/accounts/${emp.account}/certificate`, { certificate: good }, sec)).status).toBe(200);
  });

  it('refuses an employee certificate that has expired', async () => {
    const { h, admins } = e;
    const emp = await addEmployee(e, 'E622');
    const keys = await keysOf(emp.account);
    const { issueEmployeeCertificate } = await import('../../shared/pki/employee-certificate');
    const { fromBase64url } = await import('../../shared/crypto/encoding');
    const old = await issueEmployeeCertificate(
      ca,
      { account: emp.account, legalName: 'Person E622', employeeNumber: 'E622', enterprise: 'Example Corp' },
      { signingKeySpki: fromBase64url(keys.signingKey!), envelopeKeySpki: fromBase64url(keys.envelopeKey!) },
      new Date(h.clock.t - 800 * 86_400_000),
    );
    const res = await h.post(`/accounts/${emp.account}/certificate`, { certificate: old }, admins['security-admin'].session);
    expect((await json<{ error: { code: string; message: string } }>(res)).error).toMatchObject({ code: 'E_CERTIFICATE', message: expect.stringMatching(/expired|not valid/) });
  });

  it('answers 400 for malformed bodies and 413 for huge ones', async () => {
    const { h, admins } = e;
    const sec = admins['security-admin'].session;
    const emp = await addEmployee(e, 'E630');
    expect(await code(await h.post(`/accounts/${emp.account}/certificate`, { certificate: 'not a pem' }, sec))).toEqual([400, 'E_VALIDATION']);
    const notDer = `-----BEGIN CERTIFICATE-----\n${Buffer.from('hello world').toString('base64')}\n-----END CERTIFICATE-----\n`;
    expect(await code(await h.post(`/accounts/${emp.account}/certificate`, { certificate: notDer }, sec))).toEqual([400, 'E_VALIDATION']);
    const derButNoCert = `-----BEGIN CERTIFICATE-----\n${Buffer.from([0x30, 0x03, 0x02, 0x01, 0x01]).toString('base64')}\n-----END CERTIFICATE-----\n`;
    expect(await code(await h.post(`/accounts/${emp.account}/certificate`, { certificate: derButNoCert }, sec))).toEqual([400, 'E_CERTIFICATE']);
    expect(await code(await h.post(`/accounts/${emp.account}/certificate`, {}, sec))).toEqual([400, 'E_VALIDATION']);
    const huge = `-----BEGIN CERTIFICATE-----\n${'QUFB\n'.repeat(5000)}-----END CERTIFICATE-----\n`;
    expect(await code(await h.post(`/accounts/${emp.account}/certificate`, { certificate: huge }, sec))).toEqual([413, 'E_TOO_LARGE']);
  });

  it('reports certified: false once the account is disabled', async () => {
    const emp = await addEmployee(e, 'E640');
    await certify(e, ca, emp.account);
    expect(await keysOf(emp.account)).toMatchObject({ certified: true, revoked: false });
    await disableAccount(e, emp.account);
    expect(await keysOf(emp.account)).toMatchObject({ status: 'disabled', certified: false, revoked: true, certificate: expect.stringContaining('BEGIN CERTIFICATE') });
    const revoke = e.h.ctx.audit.events.filter((x) => x.action === 'certificate.revoke').at(-1);
    expect(revoke).toMatchObject({ actor: e.admins['security-admin'].account, target: `account:${emp.account}`, outcome: 'ok', details: { reason: 'account-disabled', serial: expect.stringMatching(/^[0-9a-f]+$/) } });
  });
});
