/**
 * Employee certificates (DESIGN.md section 4, docs/FORMATS.md section 12): the security
 * administrator certifies an account's key bundle after checking the real name. One X.509
 * certificate under the enterprise CA carries
 *   - the signing key (ECDSA P-256) as its subject public key, so PDF readers can check the
 *     employee's PAdES signatures with the same certificate;
 *   - the envelope key (RSA-OAEP), bound by the SHA-256 of its SPKI in a subjectAltName URI
 *     `urn:sealvault:envelope-key:sha256:<base64url>`, so a relay cannot pair a certified signing
 *     key with an envelope key it knows (a URI, not a private extension: every X.509 reader
 *     shows it, and no private OID arc is needed);
 *   - the identity: CN legal name, serialNumber employee number, UID account id, O enterprise.
 * A client wraps keys only to an envelope key whose certificate verifies here.
 */
import { concatBytes, equalBytes } from '../crypto/bytes';
import { toBase64url } from '../crypto/encoding';
import { fail } from '../crypto/errors';
import { certificateFingerprint, checkEnterpriseLeaf, ECDSA_SHA256, NAME_OIDS, parseCertificate, pemOf, randomSerial, subjectField, x509 } from './x509';

export const ENVELOPE_KEY_URN_PREFIX = 'urn:sealvault:envelope-key:sha256:';
export const EMPLOYEE_CERT_DAYS = 730;
const DAY_MS = 86_400_000;
/** id-kp-emailProtection: what PDF readers (poppler's pdfsig) accept for document signatures. */
const EMAIL_PROTECTION = '1.3.6.1.5.5.7.3.4';

export interface EmployeeIdentity {
  account: string;
  legalName: string;
  employeeNumber: string;
  enterprise: string;
}

export interface EmployeeKeys {
  signingKeySpki: Uint8Array;
  envelopeKeySpki: Uint8Array;
}

export interface IssuingCa {
  certificatePem: string;
  privateKey: CryptoKey;
}

async function sha256(bytes: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', concatBytes(bytes)));
}

export async function envelopeKeyUrn(envelopeKeySpki: Uint8Array): Promise<string> {
  return ENVELOPE_KEY_URN_PREFIX + toBase64url(await sha256(envelopeKeySpki));
}

export async function issueEmployeeCertificate(ca: IssuingCa, identity: EmployeeIdentity, keys: EmployeeKeys, now = new Date()): Promise<string> {
  const caCert = parseCertificate(ca.certificatePem, 'the enterprise CA certificate');
  const publicKey = new x509.PublicKey(concatBytes(keys.signingKeySpki));
  const notAfter = new Date(Math.min(now.getTime() + EMPLOYEE_CERT_DAYS * DAY_MS, caCert.notAfter.getTime()));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: [
      { [NAME_OIDS.commonName]: [identity.legalName] },
      { [NAME_OIDS.serialNumber]: [identity.employeeNumber] },
      { [NAME_OIDS.userId]: [identity.account] },
      { [NAME_OIDS.organization]: [identity.enterprise] },
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
      new x509.SubjectAlternativeNameExtension([{ type: 'url', value: await envelopeKeyUrn(keys.envelopeKeySpki) }], false),
    ],
  });
  return pemOf(cert);
}

export interface ExpectedEmployee {
  caCertificatePem: string;
  account: string;
  legalName: string;
  employeeNumber: string;
  signingKeySpki: Uint8Array;
  envelopeKeySpki: Uint8Array;
  now: Date;
}

export interface VerifiedEmployeeCertificate {
  serial: string;
  fingerprint: string;
  notAfter: Date;
}

/**
 * Verifies that `pem` was issued by the enterprise CA to exactly this account, name and key
 * bundle, and is valid at `now`. E_FORMAT (not a certificate), E_SIGNATURE (not the CA's),
 * E_CONTEXT (another account, name, key or time), E_KEY_WEAK (not P-256).
 */
export async function verifyEmployeeCertificate(pem: string, expected: ExpectedEmployee): Promise<VerifiedEmployeeCertificate> {
  const { cert, ca } = await checkEnterpriseLeaf(pem, expected.caCertificatePem, expected.now, 'the employee certificate');
  const usage = cert.getExtension(x509.KeyUsagesExtension);
  if (!usage || (usage.usages & x509.KeyUsageFlags.digitalSignature) === 0) fail('E_CONTEXT', 'the employee certificate does not allow digital signatures');

  if (subjectField(cert, NAME_OIDS.userId, 'account id (UID)') !== expected.account) fail('E_CONTEXT', 'the certificate names another account');
  if (subjectField(cert, NAME_OIDS.commonName, 'legal name (CN)') !== expected.legalName) fail('E_CONTEXT', "the certificate's legal name is not the account's");
  if (subjectField(cert, NAME_OIDS.serialNumber, 'employee number (serialNumber)') !== expected.employeeNumber) fail('E_CONTEXT', "the certificate's employee number is not the account's");
  // The enterprise the CA names, so a certificate cannot claim another organisation under this root.
  if (subjectField(cert, NAME_OIDS.organization, 'organization (O)') !== subjectField(ca, NAME_OIDS.organization, 'organization (O) of the CA')) {
    fail('E_CONTEXT', "the certificate's organization is not the enterprise of the CA");
  }

  if (!equalBytes(new Uint8Array(cert.publicKey.rawData), expected.signingKeySpki)) fail('E_CONTEXT', "the certificate's key is not the account's signing key");
  const urns = (cert.getExtension(x509.SubjectAlternativeNameExtension)?.names.items ?? []).filter((n) => n.type === 'url' && n.value.startsWith(ENVELOPE_KEY_URN_PREFIX));
  if (urns.length !== 1 || urns[0]!.value !== (await envelopeKeyUrn(expected.envelopeKeySpki))) {
    fail('E_CONTEXT', "the certificate does not bind the account's envelope key");
  }
  return { serial: cert.serialNumber, fingerprint: await certificateFingerprint(cert), notAfter: cert.notAfter };
}
