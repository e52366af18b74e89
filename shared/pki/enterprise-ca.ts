/**
 * The enterprise root CA (DESIGN.md section 4): an ECDSA P-256 key made in the security
 * administrator's browser and a self-signed X.509 root. The relay keeps only the certificate;
 * the private key exists at rest only in RSA-OAEP envelopes to security administrators.
 */
import { fail } from '../crypto/errors';
import { certificateFingerprint, checkP256, checkSignedBy, checkValidAt, EC_P256, ECDSA_SHA256, NAME_OIDS, parseCertificate, pemOf, randomSerial, x509 } from './x509';

/** A root outlives every employee certificate it issues (EMPLOYEE_CERT_DAYS). */
export const CA_VALIDITY_DAYS = 3650;
const DAY_MS = 86_400_000;

export interface EnterpriseCa {
  certificatePem: string;
  /** ECDSA P-256; extractable only when it was just made (to be enveloped) */
  privateKey: CryptoKey;
  fingerprint: string;
}

/** A new root: CN "<enterprise> Sealvault Root CA", O "<enterprise>", CA:true pathLen 0, keyCertSign|cRLSign. */
export async function createEnterpriseCa(enterpriseName: string, now = new Date()): Promise<EnterpriseCa> {
  if (typeof enterpriseName !== 'string' || enterpriseName.length === 0 || enterpriseName.length > 200) fail('E_FORMAT', 'enterprise name must be 1 to 200 characters');
  // Extractable once, so the browser can envelope it to the security administrators.
  const keys = (await crypto.subtle.generateKey(EC_P256, true, ['sign', 'verify'])) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: [{ [NAME_OIDS.commonName]: [`${enterpriseName} Sealvault Root CA`] }, { [NAME_OIDS.organization]: [enterpriseName] }],
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + CA_VALIDITY_DAYS * DAY_MS),
    keys,
    signingAlgorithm: ECDSA_SHA256,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certificatePem: pemOf(cert), privateKey: keys.privateKey, fingerprint: await certificateFingerprint(cert) };
}

/**
 * Checks that `pem` is a usable enterprise root: self-signed with its own P-256 key, a CA with
 * keyCertSign, valid at `now`. Throws E_FORMAT, E_KEY_WEAK, E_SIGNATURE or E_CONTEXT.
 */
export async function checkEnterpriseCaCertificate(pem: string, now: Date): Promise<{ fingerprint: string; subject: string; certificate: x509.X509Certificate }> {
  const cert = parseCertificate(pem, 'the enterprise CA certificate');
  checkP256(cert, 'the enterprise CA');
  if (cert.subject !== cert.issuer) fail('E_CONTEXT', 'the enterprise CA certificate must be self-signed');
  await checkSignedBy(cert, cert, 'the enterprise CA certificate');
  const basic = cert.getExtension(x509.BasicConstraintsExtension);
  if (!basic || !basic.ca) fail('E_CONTEXT', 'the enterprise CA certificate is not a CA certificate');
  const usage = cert.getExtension(x509.KeyUsagesExtension);
  if (!usage || (usage.usages & x509.KeyUsageFlags.keyCertSign) === 0) fail('E_CONTEXT', 'the enterprise CA certificate may not sign certificates (keyCertSign)');
  checkValidAt(cert, now, 'the enterprise CA certificate');
  return { fingerprint: await certificateFingerprint(cert), subject: cert.subject, certificate: cert };
}

/** Re-imports the CA private key (from its envelope) as a non-extractable signing key. */
export async function importCaPrivateKey(pkcs8: Uint8Array<ArrayBuffer>, extractable = false): Promise<CryptoKey> {
  try {
    return await crypto.subtle.importKey('pkcs8', pkcs8, EC_P256, extractable, ['sign']);
  } catch (e) {
    return fail('E_FORMAT', 'the enterprise CA private key is not a P-256 PKCS#8 key', e);
  }
}

/** Proves that `privateKey` is the key of the CA certificate (an envelope could hold another key). */
export async function checkCaKeyPair(certificatePem: string, privateKey: CryptoKey): Promise<void> {
  const cert = parseCertificate(certificatePem, 'the enterprise CA certificate');
  const probe = crypto.getRandomValues(new Uint8Array(32));
  const publicKey = await cert.publicKey.export(EC_P256, ['verify']);
  const signature = await crypto.subtle.sign(ECDSA_SHA256, privateKey, probe);
  if (!(await crypto.subtle.verify(ECDSA_SHA256, publicKey, signature, probe))) fail('E_CONTEXT', 'the opened CA key does not belong to the enterprise CA certificate');
}
