/**
 * Seal certificates (DESIGN.md section 8, docs/SIGNING.md section 2): a seal is an organisation
 * credential with its own ECDSA P-256 key, certified by the enterprise CA so that PDF readers
 * check a sealed document with the same chain as an employee's signature. The subject says
 * which seal it is:
 *   - CN the seal's name, OU its type, UID `seal:<id>`, O the enterprise (the CA's own O, so a
 *     seal cannot claim another organisation under this root);
 *   - an end-entity certificate (CA false) for digitalSignature + nonRepudiation only (critical),
 *     with EKU emailProtection because that is what PDF readers accept for document signatures.
 * The UID prefix `seal:` keeps a seal certificate from ever being read as an employee's (an
 * account id cannot contain a colon).
 */
import { concatBytes, equalBytes } from '../crypto/bytes';
import { fail } from '../crypto/errors';
import { certificateFingerprint, checkEnterpriseLeaf, EC_P256, ECDSA_SHA256, NAME_OIDS, parseCertificate, pemOf, randomSerial, subjectField, x509 } from './x509';
import type { IssuingCa } from './employee-certificate';

/** Same lifetime as an employee certificate; never beyond the CA's. */
export const SEAL_CERT_DAYS = 730;
const DAY_MS = 86_400_000;
/** id-kp-emailProtection: what PDF readers (poppler's pdfsig) accept for document signatures. */
const EMAIL_PROTECTION = '1.3.6.1.5.5.7.3.4';
export const SEAL_UID_PREFIX = 'seal:';

export interface SealIdentity {
  id: string;
  name: string;
  type: string;
  enterprise: string;
}

export async function issueSealCertificate(ca: IssuingCa, seal: SealIdentity, publicKeySpki: Uint8Array, now = new Date()): Promise<string> {
  const caCert = parseCertificate(ca.certificatePem, 'the enterprise CA certificate');
  // The O is the CA's: issuing under another name would only make a certificate every verifier refuses.
  if (seal.enterprise !== subjectField(caCert, NAME_OIDS.organization, 'organization (O) of the CA')) fail('E_CONTEXT', 'the seal names another enterprise than the CA');
  // Imported as P-256 first: another curve or a malformed key is refused before anything is signed.
  try {
    await crypto.subtle.importKey('spki', concatBytes(publicKeySpki), EC_P256, true, ['verify']);
  } catch (e) {
    fail('E_KEY_WEAK', 'a seal key must be ECDSA P-256', e);
  }
  const publicKey = new x509.PublicKey(concatBytes(publicKeySpki));
  const notAfter = new Date(Math.min(now.getTime() + SEAL_CERT_DAYS * DAY_MS, caCert.notAfter.getTime()));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: [
      { [NAME_OIDS.commonName]: [seal.name] },
      { [NAME_OIDS.organizationalUnit]: [seal.type] },
      { [NAME_OIDS.userId]: [`${SEAL_UID_PREFIX}${seal.id}`] },
      { [NAME_OIDS.organization]: [seal.enterprise] },
    ],
    issuer: caCert.subjectName.toString(),
    notBefore: new Date(now.getTime() - 60_000),
    notAfter,
    publicKey,
    signingKey: ca.privateKey,
    signingAlgorithm: ECDSA_SHA256,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.nonRepudiation, true),
      new x509.ExtendedKeyUsageExtension([EMAIL_PROTECTION], false),
      await x509.SubjectKeyIdentifierExtension.create(publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(caCert.publicKey),
    ],
  });
  return pemOf(cert);
}

export interface ExpectedSeal {
  caCertificatePem: string;
  seal: string;
  name: string;
  type: string;
  /** the seal's public key, when the caller knows it (else any P-256 key) */
  spki?: Uint8Array;
  now: Date;
}

export interface VerifiedSealCertificate {
  serial: string;
  fingerprint: string;
  notAfter: Date;
  /** SPKI DER of the seal's public key */
  spki: Uint8Array;
}

/**
 * Verifies that `pem` was issued by the enterprise CA to exactly this seal (id, name, type) and
 * is valid at `now`. E_FORMAT (not a certificate), E_SIGNATURE (not the CA's), E_CONTEXT
 * (another seal, a CA, wrong usages, another organisation or time), E_KEY_WEAK (not P-256).
 */
export async function verifySealCertificate(pem: string, expected: ExpectedSeal): Promise<VerifiedSealCertificate> {
  const { cert, ca } = await checkEnterpriseLeaf(pem, expected.caCertificatePem, expected.now, 'the seal certificate');
  const usage = cert.getExtension(x509.KeyUsagesExtension);
  const wanted = x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.nonRepudiation;
  if (!usage || (usage.usages & wanted) !== wanted) fail('E_CONTEXT', 'the seal certificate does not allow digital signatures with non-repudiation');
  if ((usage.usages & (x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign)) !== 0) fail('E_CONTEXT', 'a seal certificate may not sign certificates');

  if (subjectField(cert, NAME_OIDS.userId, 'seal id (UID)') !== `${SEAL_UID_PREFIX}${expected.seal}`) fail('E_CONTEXT', 'the certificate names another seal');
  if (subjectField(cert, NAME_OIDS.commonName, 'seal name (CN)') !== expected.name) fail('E_CONTEXT', "the certificate's name is not the seal's");
  if (subjectField(cert, NAME_OIDS.organizationalUnit, 'seal type (OU)') !== expected.type) fail('E_CONTEXT', "the certificate's type is not the seal's");
  if (subjectField(cert, NAME_OIDS.organization, 'organization (O)') !== subjectField(ca, NAME_OIDS.organization, 'organization (O) of the CA')) {
    fail('E_CONTEXT', "the certificate's organization is not the enterprise of the CA");
  }
  const spki = new Uint8Array(cert.publicKey.rawData);
  if (expected.spki && !equalBytes(spki, expected.spki)) fail('E_CONTEXT', "the certificate's key is not the seal's key");
  return { serial: cert.serialNumber, fingerprint: await certificateFingerprint(cert), notAfter: cert.notAfter, spki };
}

/** The SHA-256 fingerprint (base64url) of a PEM certificate, as the approval statement names it. */
export async function sealCertificateFingerprint(pem: string): Promise<string> {
  return certificateFingerprint(parseCertificate(pem, 'the seal certificate'));
}
