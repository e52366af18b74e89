import { afterEach, describe, expect, it } from 'vitest';
import { createEnterpriseCa } from '../../shared/pki/enterprise-ca';
import { issueEmployeeCertificate } from '../../shared/pki/employee-certificate';
import { x509 } from '../../shared/pki/x509';
import { EnterpriseResponse, PolicySchema } from '../../shared/schemas/directory';
import { HttpError } from '../http/errors';
import { addEmployee, errorCode as code, json, makeDirectory, setUpCa, setUpEnterprise, type Harness } from './test-harness';

let h: Harness;
afterEach(async () => h?.close());

/** A self-signed P-256 certificate that is not a CA (no basicConstraints cA, no keyCertSign). */
async function selfSignedLeaf(): Promise<string> {
  const keys = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify'])) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=Not a CA',
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 86_400_000),
    keys,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
  });
  return `${cert.toString('pem').replace(/\r\n/g, '\n')}\n`;
}

describe('directory: enterprise and its root CA', () => {
  it('describes the enterprise without a session, before and after setup', async () => {
    h = await makeDirectory();
    expect(EnterpriseResponse.parse(await json(await h.get('/enterprise')))).toEqual({ name: null, setupDone: false, caCertificate: null });
    const e = await setUpEnterprise(h);
    expect(await json(await h.get('/enterprise'))).toEqual({ name: 'Example Corp', setupDone: true, caCertificate: null });
    const ca = await setUpCa(e);
    expect(await json(await h.get('/enterprise'))).toEqual({ name: 'Example Corp', setupDone: true, caCertificate: ca.certificatePem });
  });

  it('stores the CA once, from a security-admin, checked, and audited with its fingerprint', async () => {
    h = await makeDirectory();
    const e = await setUpEnterprise(h);
    const { admins } = e;
    const ca = await createEnterpriseCa('Example Corp', new Date(h.clock.t));
    const body = { certificate: ca.certificatePem };
    expect(await code(await h.put('/enterprise/ca', body))).toEqual([401, 'E_UNAUTHORIZED']);
    expect(await code(await h.put('/enterprise/ca', body, admins['system-admin'].session))).toEqual([403, 'E_FORBIDDEN']);
    expect(await code(await h.put('/enterprise/ca', body, admins['auditor'].session))).toEqual([403, 'E_FORBIDDEN']);
    const emp = await addEmployee(e, 'E500');
    expect(await code(await h.put('/enterprise/ca', body, emp.session))).toEqual([403, 'E_FORBIDDEN']);

    // Not a usable root: a leaf, an employee certificate (issued by a CA, not self-signed), an expired root.
    const sec = admins['security-admin'].session;
    expect(await code(await h.put('/enterprise/ca', { certificate: await selfSignedLeaf() }, sec))).toEqual([400, 'E_CERTIFICATE']);
    const leaf = await issueEmployeeCertificate(ca, { account: 'x', legalName: 'X', employeeNumber: 'X1', enterprise: 'Example Corp' }, await keysOf());
    expect(await code(await h.put('/enterprise/ca', { certificate: leaf }, sec))).toEqual([400, 'E_CERTIFICATE']);
    const old = await createEnterpriseCa('Example Corp', new Date(h.clock.t - 3651 * 86_400_000));
    const expired = await h.put('/enterprise/ca', { certificate: old.certificatePem }, sec);
    expect((await json<{ error: { code: string; message: string } }>(expired)).error).toMatchObject({ code: 'E_CERTIFICATE', message: expect.stringMatching(/expired/) });
    for (const bad of [{}, { certificate: 'not a pem' }, { certificate: ca.certificatePem, name: 'x' }]) expect(await code(await h.put('/enterprise/ca', bad, sec))).toEqual([400, 'E_VALIDATION']);
    expect(h.ctx.audit.events.filter((x) => x.action === 'ca.create')).toEqual([]);

    const ok = await h.put('/enterprise/ca', body, sec);
    expect(ok.status).toBe(200);
    expect(EnterpriseResponse.parse(await ok.json()).caCertificate).toBe(ca.certificatePem);
    expect(h.ctx.audit.events.at(-1)).toEqual({ actor: admins['security-admin'].account, action: 'ca.create', target: 'enterprise', outcome: 'ok', details: { fingerprint: ca.fingerprint } });

    const other = await createEnterpriseCa('Example Corp', new Date(h.clock.t));
    expect(await code(await h.put('/enterprise/ca', { certificate: other.certificatePem }, sec))).toEqual([409, 'E_CONFLICT']);
    expect((await json<{ caCertificate: string }>(await h.get('/enterprise'))).caCertificate).toBe(ca.certificatePem);
  });

  it('does not store the CA when the audit log cannot take the entry', async () => {
    h = await makeDirectory();
    const e = await setUpEnterprise(h);
    const record = h.ctx.audit.record;
    h.ctx.audit.record = async () => {
      throw new HttpError(503, 'E_AUDIT_UNAVAILABLE', 'audit log refused the entry');
    };
    const ca = await createEnterpriseCa('Example Corp', new Date(h.clock.t));
    expect(await code(await h.put('/enterprise/ca', { certificate: ca.certificatePem }, e.admins['security-admin'].session))).toEqual([503, 'E_AUDIT_UNAVAILABLE']);
    h.ctx.audit.record = record;
    expect((await json<{ caCertificate: null }>(await h.get('/enterprise'))).caCertificate).toBeNull();
    expect((await h.put('/enterprise/ca', { certificate: ca.certificatePem }, e.admins['security-admin'].session)).status).toBe(200);
  });

  it('keeps the stored CA fixed in the database itself', async () => {
    h = await makeDirectory();
    const e = await setUpEnterprise(h);
    await setUpCa(e);
    const Database = (await import('better-sqlite3')).default;
    const db = new Database(`${h.ctx.dataDir}/directory.sqlite`);
    expect(() => db.prepare(`UPDATE enterprise_ca SET certificate = 'x'`).run()).toThrow(/E_CA_FIXED/);
    expect(() => db.prepare('DELETE FROM enterprise_ca').run()).toThrow(/E_CA_FIXED/);
    db.close();
  });
});

async function keysOf(): Promise<{ signingKeySpki: Uint8Array; envelopeKeySpki: Uint8Array }> {
  const sig = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as CryptoKeyPair;
  const spki = new Uint8Array(await crypto.subtle.exportKey('spki', sig.publicKey));
  return { signingKeySpki: spki, envelopeKeySpki: spki };
}

describe('directory: security policy', () => {
  it('answers the defaults without a session; a security-admin changes it, audited with old and new', async () => {
    h = await makeDirectory();
    expect(PolicySchema.parse(await json(await h.get('/policy')))).toEqual({ passwordMinLength: 12, idleTimeoutMinutes: 15 });
    const { admins } = await setUpEnterprise(h);
    const next = { passwordMinLength: 16, idleTimeoutMinutes: 30 };
    expect(await code(await h.put('/policy', next))).toEqual([401, 'E_UNAUTHORIZED']);
    expect(await code(await h.put('/policy', next, admins['system-admin'].session))).toEqual([403, 'E_FORBIDDEN']);
    expect(await code(await h.put('/policy', next, admins['auditor'].session))).toEqual([403, 'E_FORBIDDEN']);
    const ok = await h.put('/policy', next, admins['security-admin'].session);
    expect(await json(ok)).toEqual(next);
    expect(h.ctx.audit.events.at(-1)).toEqual({
      actor: admins['security-admin'].account,
      action: 'policy.change',
      target: 'enterprise',
      outcome: 'ok',
      details: { old: { passwordMinLength: 12, idleTimeoutMinutes: 15 }, new: next },
    });
    expect(await json(await h.get('/policy'))).toEqual(next);
    await h.restart();
    expect(await json(await h.get('/policy'))).toEqual(next);
  });

  it.each([
    ['password shorter than 10', { passwordMinLength: 9, idleTimeoutMinutes: 15 }],
    ['password longer than 128', { passwordMinLength: 129, idleTimeoutMinutes: 15 }],
    ['idle timeout 0', { passwordMinLength: 12, idleTimeoutMinutes: 0 }],
    ['idle timeout above 8 hours', { passwordMinLength: 12, idleTimeoutMinutes: 481 }],
    ['fractions', { passwordMinLength: 12.5, idleTimeoutMinutes: 15 }],
    ['strings', { passwordMinLength: '12', idleTimeoutMinutes: 15 }],
    ['a missing field', { passwordMinLength: 12 }],
    ['an unknown field', { passwordMinLength: 12, idleTimeoutMinutes: 15, mfa: true }],
  ])('refuses %s (400) and keeps the policy', async (_name, body) => {
    h = await makeDirectory();
    const { admins } = await setUpEnterprise(h);
    expect(await code(await h.put('/policy', body, admins['security-admin'].session))).toEqual([400, 'E_VALIDATION']);
    expect(await json(await h.get('/policy'))).toEqual({ passwordMinLength: 12, idleTimeoutMinutes: 15 });
  });

  it('accepts the bounds themselves', async () => {
    h = await makeDirectory();
    const { admins } = await setUpEnterprise(h);
    for (const body of [{ passwordMinLength: 10, idleTimeoutMinutes: 1 }, { passwordMinLength: 128, idleTimeoutMinutes: 480 }]) {
      expect(await json(await h.put('/policy', body, admins['security-admin'].session))).toEqual(body);
    }
  });
});
