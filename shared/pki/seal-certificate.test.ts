import { X509Certificate as NodeCertificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { codeOf } from '../test-support/outcome';
import { createEnterpriseCa } from './enterprise-ca';
import { issueSealCertificate, verifySealCertificate, type ExpectedSeal } from './seal-certificate';
import { ECDSA_SHA256, NAME_OIDS, pemOf, randomSerial, x509 } from './x509';

const spki = async (key: CryptoKey) => new Uint8Array(await crypto.subtle.exportKey('spki', key));
const ENTERPRISE = '示例科技 Example Tech';

async function fixture() {
  const ca = await createEnterpriseCa(ENTERPRISE);
  const keys = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as CryptoKeyPair;
  const seal = { id: 'seal-1', name: '示例科技合同专用章', type: 'contract', enterprise: ENTERPRISE };
  const pem = await issueSealCertificate(ca, seal, await spki(keys.publicKey));
  const expected: ExpectedSeal = { caCertificatePem: ca.certificatePem, seal: seal.id, name: seal.name, type: seal.type, spki: await spki(keys.publicKey), now: new Date() };
  return { ca, keys, seal, pem, expected };
}

describe('seal certificate', () => {
  it('names the seal and its enterprise, is an end entity for signatures, and OpenSSL (node:crypto) agrees it is issued by the CA', async () => {
    const f = await fixture();
    const verified = await verifySealCertificate(f.pem, f.expected);
    expect(verified.serial).toMatch(/^[0-9a-f]+$/);
    const node = new NodeCertificate(f.pem);
    const root = new NodeCertificate(f.ca.certificatePem);
    expect(node.checkIssued(root)).toBe(true);
    expect(node.verify(root.publicKey)).toBe(true);
    expect(node.ca).toBe(false);
    expect(node.subject).toContain('CN=示例科技合同专用章');
    expect(node.subject).toContain('OU=contract');
    expect(node.subject).toContain('UID=seal:seal-1');
    expect(node.subject).toContain(`O=${ENTERPRISE}`);
    expect(node.keyUsage).toContain('1.3.6.1.5.5.7.3.4');
    expect(node.serialNumber.toLowerCase()).toBe(verified.serial);
    expect(new Uint8Array(node.publicKey.export({ type: 'spki', format: 'der' }))).toEqual(f.expected.spki);
    const usage = new x509.X509Certificate(f.pem).getExtension(x509.KeyUsagesExtension)!;
    expect(usage.critical).toBe(true);
    expect(usage.usages).toBe(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.nonRepudiation);
    // A signature made with the seal key verifies with the certificate's key.
    const data = new TextEncoder().encode('sealed');
    const signature = await crypto.subtle.sign(ECDSA_SHA256, f.keys.privateKey, data);
    expect(await crypto.subtle.verify(ECDSA_SHA256, await new x509.X509Certificate(f.pem).publicKey.export(), signature, data)).toBe(true);
  });

  it('refuses another seal id, name, type, key, CA or time', async () => {
    const f = await fixture();
    const other = await fixture();
    const cases: [string, Partial<ExpectedSeal>, string][] = [
      ['seal id', { seal: 'seal-2' }, 'E_CONTEXT'],
      ['name', { name: '示例科技财务专用章' }, 'E_CONTEXT'],
      ['type', { type: 'finance' }, 'E_CONTEXT'],
      ['key', { spki: other.expected.spki! }, 'E_CONTEXT'],
      ['another CA', { caCertificatePem: other.ca.certificatePem }, 'E_SIGNATURE'],
      ['expired', { now: new Date(Date.now() + 3 * 365 * 86_400_000) }, 'E_CONTEXT'],
    ];
    for (const [what, change, code] of cases) {
      expect(await codeOf(verifySealCertificate(f.pem, { ...f.expected, ...change })), what).toBe(code);
    }
  });

  it('refuses to issue for another enterprise than the CA, or for a key of another curve', async () => {
    const f = await fixture();
    expect(await codeOf(issueSealCertificate(f.ca, { ...f.seal, enterprise: 'Another Co' }, f.expected.spki!))).toBe('E_CONTEXT');
    const p384 = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-384' }, true, ['sign', 'verify'])) as CryptoKeyPair;
    expect(await codeOf(issueSealCertificate(f.ca, f.seal, await spki(p384.publicKey)))).toBe('E_KEY_WEAK');
  });

  /** A certificate made by hand under the CA: what a forger holding the CA key could shape differently. */
  async function crafted(f: Awaited<ReturnType<typeof fixture>>, o: { ca?: boolean; curve?: 'P-256' | 'P-384'; org?: string }) {
    const caCert = new x509.X509Certificate(f.ca.certificatePem);
    const keys = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: o.curve ?? 'P-256' }, true, ['sign', 'verify'])) as CryptoKeyPair;
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: randomSerial(),
      subject: [
        { [NAME_OIDS.commonName]: [f.seal.name] },
        { [NAME_OIDS.organizationalUnit]: [f.seal.type] },
        { [NAME_OIDS.userId]: [`seal:${f.seal.id}`] },
        { [NAME_OIDS.organization]: [o.org ?? ENTERPRISE] },
      ],
      issuer: caCert.subjectName.toString(),
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 86_400_000),
      publicKey: keys.publicKey,
      signingKey: f.ca.privateKey,
      signingAlgorithm: ECDSA_SHA256,
      extensions: [
        new x509.BasicConstraintsExtension(o.ca ?? false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.nonRepudiation | (o.ca ? x509.KeyUsageFlags.keyCertSign : 0), true),
      ],
    });
    return pemOf(cert);
  }

  it('refuses a seal certificate that is a CA, has a key of another curve, or names another organisation', async () => {
    const f = await fixture();
    const { spki: _ignored, ...anyKey } = f.expected;
    expect(await codeOf(verifySealCertificate(await crafted(f, { ca: true }), anyKey))).toBe('E_CONTEXT');
    expect(await codeOf(verifySealCertificate(await crafted(f, { curve: 'P-384' }), anyKey))).toBe('E_KEY_WEAK');
    expect(await codeOf(verifySealCertificate(await crafted(f, { org: 'Another Co' }), anyKey))).toBe('E_CONTEXT');
    // The same shape as issued, as a control: the refusals above are about the one change each.
    expect(await codeOf(verifySealCertificate(await crafted(f, {}), anyKey))).toBe('ok');
  });
});
