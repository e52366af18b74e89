import { X509Certificate as NodeCertificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateEnvelopeKeyPair } from '../crypto/envelopes';
import { generateSigningKeyPair } from '../crypto/statements';
import { codeOf } from '../test-support/outcome';
import { checkCaKeyPair, checkEnterpriseCaCertificate, createEnterpriseCa } from './enterprise-ca';
import { issueEmployeeCertificate, verifyEmployeeCertificate, type ExpectedEmployee } from './employee-certificate';

const spki = async (key: CryptoKey) => new Uint8Array(await crypto.subtle.exportKey('spki', key));

async function fixture() {
  const ca = await createEnterpriseCa('Acme 中国 Ltd');
  const [signing, envelope] = await Promise.all([generateSigningKeyPair(), generateEnvelopeKeyPair()]);
  const identity = { account: 'acct-7', legalName: '张伟', employeeNumber: 'E1001', enterprise: 'Acme 中国 Ltd' };
  const keys = { signingKeySpki: await spki(signing.publicKey), envelopeKeySpki: await spki(envelope.publicKey) };
  const pem = await issueEmployeeCertificate(ca, identity, keys);
  const expected: ExpectedEmployee = { caCertificatePem: ca.certificatePem, account: identity.account, legalName: identity.legalName, employeeNumber: identity.employeeNumber, ...keys, now: new Date() };
  return { ca, identity, keys, pem, expected, signing, envelope };
}

describe('enterprise CA', () => {
  it('makes a self-signed P-256 root that OpenSSL (node:crypto) also reads as a CA signed by itself', async () => {
    const ca = await createEnterpriseCa('Acme');
    const node = new NodeCertificate(ca.certificatePem);
    expect(node.ca).toBe(true);
    expect(node.checkIssued(node)).toBe(true);
    expect(node.verify(node.publicKey)).toBe(true);
    expect(node.subject).toContain('CN=Acme Sealvault Root CA');
    const checked = await checkEnterpriseCaCertificate(ca.certificatePem, new Date());
    expect(checked.fingerprint).toBe(ca.fingerprint);
    expect(Buffer.from(checked.fingerprint, 'base64url').toString('hex')).toBe(node.fingerprint256.replace(/:/g, '').toLowerCase());
    await expect(checkCaKeyPair(ca.certificatePem, ca.privateKey)).resolves.toBeUndefined();
  });

  it('refuses an employee certificate posing as a root, an expired root and a key that is not the root key', async () => {
    const f = await fixture();
    expect(await codeOf(checkEnterpriseCaCertificate(f.pem, new Date()))).toBe('E_CONTEXT');
    expect(await codeOf(checkEnterpriseCaCertificate(f.ca.certificatePem, new Date(Date.now() + 11 * 365 * 86_400_000)))).toBe('E_CONTEXT');
    expect(await codeOf(checkEnterpriseCaCertificate('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', new Date()))).toBe('E_FORMAT');
    const other = await createEnterpriseCa('Other');
    expect(await codeOf(checkCaKeyPair(f.ca.certificatePem, other.privateKey))).toBe('E_CONTEXT');
  });
});

describe('employee certificate', () => {
  it('binds identity and both keys; OpenSSL agrees it is issued by the CA and carries the signing key', async () => {
    const f = await fixture();
    const verified = await verifyEmployeeCertificate(f.pem, f.expected);
    expect(verified.serial).toMatch(/^[0-9a-f]+$/);
    const node = new NodeCertificate(f.pem);
    const root = new NodeCertificate(f.ca.certificatePem);
    expect(node.checkIssued(root)).toBe(true);
    expect(node.verify(root.publicKey)).toBe(true);
    expect(node.ca).toBe(false);
    expect(node.subject).toContain('UID=acct-7');
    expect(node.subject).toContain('CN=张伟');
    expect(new Uint8Array(node.publicKey.export({ type: 'spki', format: 'der' }))).toEqual(f.keys.signingKeySpki);
    expect(node.keyUsage).toContain('1.3.6.1.5.5.7.3.4');
    // The envelope-key binding is the SHA-256 of the SPKI, computed here independently.
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', f.keys.envelopeKeySpki));
    expect(node.subjectAltName).toBe(`URI:urn:sealvault:envelope-key:sha256:${Buffer.from(digest).toString('base64url')}`);
  });

  it('refuses another account, name, employee number, signing key, envelope key, CA or time', async () => {
    const f = await fixture();
    const other = await fixture();
    const cases: [string, Partial<ExpectedEmployee>, string][] = [
      ['account', { account: 'acct-8' }, 'E_CONTEXT'],
      ['legal name', { legalName: '张伟伟' }, 'E_CONTEXT'],
      ['employee number', { employeeNumber: 'E1002' }, 'E_CONTEXT'],
      ['signing key', { signingKeySpki: other.keys.signingKeySpki }, 'E_CONTEXT'],
      ['envelope key', { envelopeKeySpki: other.keys.envelopeKeySpki }, 'E_CONTEXT'],
      ['another CA', { caCertificatePem: other.ca.certificatePem }, 'E_SIGNATURE'],
      ['expired', { now: new Date(Date.now() + 3 * 365 * 86_400_000) }, 'E_CONTEXT'],
    ];
    for (const [what, change, code] of cases) {
      expect(await codeOf(verifyEmployeeCertificate(f.pem, { ...f.expected, ...change })), what).toBe(code);
    }
  });

  it('refuses a certificate naming another organization than the CA', async () => {
    const f = await fixture();
    const other = await issueEmployeeCertificate(f.ca, { ...f.identity, enterprise: 'Another Co' }, f.keys);
    expect(await codeOf(verifyEmployeeCertificate(other, f.expected))).toBe('E_CONTEXT');
  });

  it('refuses a certificate whose signature bytes were changed, and one signed by a look-alike CA of the same name', async () => {
    const f = await fixture();
    const der = Buffer.from(f.pem.replace(/-----[A-Z ]+-----|\n/g, ''), 'base64');
    der.writeUInt8(der.readUInt8(der.length - 5) ^ 0x01, der.length - 5);
    const tampered = `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n`;
    expect(['E_SIGNATURE', 'E_FORMAT']).toContain(await codeOf(verifyEmployeeCertificate(tampered, f.expected)));

    const lookAlike = await createEnterpriseCa('Acme 中国 Ltd');
    const forged = await issueEmployeeCertificate(lookAlike, f.identity, f.keys);
    expect(await codeOf(verifyEmployeeCertificate(forged, f.expected))).toBe('E_SIGNATURE');
  });
});
