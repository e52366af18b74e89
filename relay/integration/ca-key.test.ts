/**
 * The enterprise CA key shared with a second security administrator, so that certifying does
 * not hang on one person's account: only to a certified security administrator, refused for
 * anyone else by the client and by the relay; the second one can then certify employees.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importEnvelopePublicKey, sealEnvelope } from '../../shared/crypto/envelopes';
import { checkEnterpriseCaCertificate } from '../../shared/pki/enterprise-ca';
import { caKeyHolders, certifiedKeysOf, certifyAccount, openEnterpriseCaKey, shareEnterpriseCaKey } from '../../shared/protocol/certification';
import { AccountProfileSchema } from '../../shared/schemas/directory';
import { codeOf, relayCode } from '../../shared/test-support/outcome';
import { startEnterprise, type Enterprise } from './enterprise-fixture';

let e: Enterprise;

beforeAll(async () => {
  e = await startEnterprise();
}, 120_000);
afterAll(async () => e?.close());

describe('sharing the enterprise CA key', () => {
  it('goes to a second, certified security administrator, who can then certify employees', async () => {
    const second = await e.employee('sec2', '钱安全', { roles: ['security-admin'] });
    expect(await caKeyHolders(e.transport, e.sec, e.caPem)).toEqual([e.sec.account]);
    // The second administrator has no key yet.
    expect(await codeOf(openEnterpriseCaKey(e.transport, second, e.caPem))).toBe('E_CONTEXT');

    await shareEnterpriseCaKey(e.transport, e.sec, e.caPem, second.account);
    expect((await caKeyHolders(e.transport, e.sec, e.caPem)).sort()).toEqual([e.sec.account, second.account].sort());
    const key = await openEnterpriseCaKey(e.transport, second, e.caPem);
    expect(key.extractable).toBe(false);

    const employee = await e.employee('sun', '孙七', { certify: false });
    const profile = AccountProfileSchema.parse(await e.transport.request('GET', `/api/directory/accounts/${employee.account}`, undefined, second.session));
    await certifyAccount(e.transport, second, { certificatePem: e.caPem, privateKey: key, enterpriseName: e.name }, profile);
    expect((await certifiedKeysOf(e.transport, employee.account, e.caPem)).legalName).toBe('孙七');
  });

  it('is refused for an account that is not a security administrator, by the client and by the relay', async () => {
    const employee = await e.employee('zhou', '周八');
    expect(await codeOf(shareEnterpriseCaKey(e.transport, e.sec, e.caPem, employee.account))).toBe('E_CONTEXT');
    const { fingerprint } = await checkEnterpriseCaCertificate(e.caPem, new Date());
    const caKey = await openEnterpriseCaKey(e.transport, e.sec, e.caPem, true);
    const envelope = await sealEnvelope(await importEnvelopePublicKey(employee.envelope.spki), caKey, { purpose: 'ca-key', recipient: employee.account, ca: fingerprint }, 'pkcs8');
    expect(await relayCode(e.transport.request('PUT', `/api/keys/ca-key/${employee.account}`, { envelope }, e.sec.session))).toBe('E_NOT_SECURITY_ADMIN');
    // Nor can anyone but a security administrator list the holders.
    expect(await relayCode(caKeyHolders(e.transport, e.sys, e.caPem))).toBe('E_FORBIDDEN');
  });
});
