/**
 * The one place @peculiar/x509 is set up: reflect-metadata must be loaded before the library's
 * decorators run, and the library must use the platform's WebCrypto (browser or Node), never a
 * polyfill. Everything else in shared/pki imports x509 from here.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { toBase64url } from '../crypto/encoding';
import { fail } from '../crypto/errors';

x509.cryptoProvider.set(globalThis.crypto);

export { x509 };

export const EC_P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;
export const ECDSA_SHA256 = { name: 'ECDSA', hash: 'SHA-256' } as const;

/** Attribute types used in subject names (RFC 4519 / RFC 5280). */
export const NAME_OIDS = {
  commonName: '2.5.4.3',
  serialNumber: '2.5.4.5',
  organization: '2.5.4.10',
  organizationalUnit: '2.5.4.11',
  userId: '0.9.2342.19200300.100.1.1',
} as const;

/** Parses one PEM certificate; anything else is E_FORMAT. */
export function parseCertificate(pem: string, what: string): x509.X509Certificate {
  if (typeof pem !== 'string' || pem.length > 16 * 1024) fail('E_FORMAT', `${what} must be one PEM certificate of at most 16 KiB`);
  try {
    return new x509.X509Certificate(pem);
  } catch (e) {
    return fail('E_FORMAT', `${what} does not parse as an X.509 certificate`, e);
  }
}

/** SHA-256 of the DER certificate, base64url: how Sealvault names a certificate. */
export async function certificateFingerprint(cert: x509.X509Certificate): Promise<string> {
  return toBase64url(new Uint8Array(await crypto.subtle.digest('SHA-256', cert.rawData)));
}

/** The single value of a subject attribute, or E_CONTEXT when it is absent or repeated. */
export function subjectField(cert: x509.X509Certificate, oid: string, what: string): string {
  const values = cert.subjectName.getField(oid);
  if (values.length !== 1) fail('E_CONTEXT', `the certificate must name exactly one ${what}`);
  return values[0]!;
}

/** A 16-byte positive serial number in hex (RFC 5280 allows up to 20 octets; the top bit clear keeps it positive). */
export function randomSerial(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0]! & 0x7f) | 0x01;
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export function pemOf(cert: x509.X509Certificate): string {
  return `${cert.toString('pem').replace(/\r\n/g, '\n')}\n`;
}

/** Refuses a key that is not ECDSA P-256 (the only curve Sealvault certifies). */
export function checkP256(cert: x509.X509Certificate, what: string): void {
  const alg = cert.publicKey.algorithm as EcKeyAlgorithm;
  if (alg.name !== 'ECDSA' || alg.namedCurve !== 'P-256') fail('E_KEY_WEAK', `${what} key must be ECDSA P-256`);
}

export function checkValidAt(cert: x509.X509Certificate, now: Date, what: string): void {
  if (now < cert.notBefore) fail('E_CONTEXT', `${what} is not valid before ${cert.notBefore.toISOString()}`);
  if (now > cert.notAfter) fail('E_CONTEXT', `${what} expired on ${cert.notAfter.toISOString()}`);
}

/** The signature of `cert` checked against `issuerKey` only (dates and names are checked separately). */
export async function checkSignedBy(cert: x509.X509Certificate, issuer: x509.X509Certificate, what: string): Promise<void> {
  if (cert.signatureAlgorithm.name !== 'ECDSA' || (cert.signatureAlgorithm as EcdsaParams).hash === undefined) fail('E_SIGNATURE', `${what} must be signed with ECDSA`);
  let ok = false;
  try {
    ok = await cert.verify({ publicKey: issuer.publicKey, signatureOnly: true });
  } catch {
    ok = false;
  }
  if (!ok) fail('E_SIGNATURE', `${what} is not signed by the enterprise CA`);
}

/** `cert` was issued and signed by `ca`, for a P-256 key (E_SIGNATURE / E_KEY_WEAK otherwise). */
export async function checkIssuedBy(cert: x509.X509Certificate, ca: x509.X509Certificate, what: string): Promise<void> {
  if (cert.issuer !== ca.subject) fail('E_SIGNATURE', `${what} was not issued by the enterprise CA`);
  await checkSignedBy(cert, ca, what);
  checkP256(cert, what);
}

/**
 * The checks every end-entity certificate of the enterprise passes before its own names and
 * usages are looked at: parsed, issued by the CA, P-256, valid at `now` under a CA valid at
 * `now`, and not itself a CA. Returns both parsed certificates.
 */
export async function checkEnterpriseLeaf(pem: string, caCertificatePem: string, now: Date, what: string): Promise<{ cert: x509.X509Certificate; ca: x509.X509Certificate }> {
  const ca = parseCertificate(caCertificatePem, 'the enterprise CA certificate');
  const cert = parseCertificate(pem, what);
  await checkIssuedBy(cert, ca, what);
  checkValidAt(cert, now, what);
  checkValidAt(ca, now, 'the enterprise CA certificate');
  if (cert.getExtension(x509.BasicConstraintsExtension)?.ca) fail('E_CONTEXT', `${what} must not be a CA`);
  return { cert, ca };
}
