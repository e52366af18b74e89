import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { X509Certificate as NodeCertificate, createPrivateKey, randomBytes, webcrypto } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { LOOPBACK_ONLY, NAME_CONSTRAINTS_OID, encodeNameConstraints } from './name-constraints';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export const LOCAL_CA_FILES = {
  caCert: 'ca.pem',
  caKey: 'ca-key.pem',
  serverCert: 'server.pem',
  serverKey: 'server-key.pem',
} as const;

const DAY_MS = 86_400_000;
const CA_LIFETIME_DAYS = 3650;
const SERVER_LIFETIME_DAYS = 365;
export const RENEW_WITHIN_DAYS = 30;
// Backdated so a client whose clock runs a little behind does not see "not yet valid".
const BACKDATE_MS = 60 * 60 * 1000;

const EC_KEY = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING = { name: 'ECDSA', hash: 'SHA-256' } as const;
const subtle = webcrypto.subtle as unknown as SubtleCrypto;

export interface LocalCaResult {
  tlsDir: string;
  caCertPath: string;
  caKeyPath: string;
  certPath: string;
  keyPath: string;
  /** SHA-256 over the CA certificate's DER, colon-separated upper-case hex (as openssl prints). */
  caFingerprint256: string;
  serverNotAfter: Date;
  created: { ca: boolean; server: boolean };
  /** Things the operator should read: replaced files and why. */
  notes: string[];
}

export interface LocalCa {
  certPem: string;
  /** Non-extractable once loaded from disk; it only ever signs server certificates. */
  signingKey: CryptoKey;
}

/**
 * Creates or reuses the local CA and `localhost` certificate in `tlsDir`.
 *
 * The CA key is kept (ca-key.pem, 0600) so the yearly server certificate renews under the
 * same root and nobody has to re-trust anything. What makes keeping it acceptable: the CA
 * carries a critical nameConstraints extension limiting it to localhost, 127.0.0.0/8 and
 * ::1, so a stolen key cannot mint a certificate that a constraint-enforcing client (OpenSSL,
 * hence Node, as local-ca.test.ts shows; NSS) accepts for any real site.
 */
export async function ensureLocalCa({ tlsDir, now = new Date() }: { tlsDir: string; now?: Date }): Promise<LocalCaResult> {
  mkdirSync(tlsDir, { recursive: true, mode: 0o700 });
  const paths = {
    caCertPath: join(tlsDir, LOCAL_CA_FILES.caCert),
    caKeyPath: join(tlsDir, LOCAL_CA_FILES.caKey),
    certPath: join(tlsDir, LOCAL_CA_FILES.serverCert),
    keyPath: join(tlsDir, LOCAL_CA_FILES.serverKey),
  };
  const notes: string[] = [];
  const created = { ca: false, server: false };

  const ca = await readCa(paths.caCertPath, paths.caKeyPath, now);
  let caCert = ca.kind === 'ok' ? ca.cert : null;
  let signer = ca.kind === 'ok' ? ca.signingKey : null;
  let serverIssue = caCert ? readServerProblem(paths.certPath, paths.keyPath, caCert, now) : 'missing';

  if (!caCert || (serverIssue !== null && !signer)) {
    if (ca.kind === 'unusable') notes.push(`Replaced the local CA: ${ca.reason}. Clients must trust the new ${LOCAL_CA_FILES.caCert}.`);
    if (ca.kind === 'ok') {
      notes.push(`Replaced the local CA: ${LOCAL_CA_FILES.caKey} is missing and the server certificate needs renewal (${serverIssue}). Clients must trust the new ${LOCAL_CA_FILES.caCert}.`);
    }
    const fresh = await createLocalCa(now);
    writePem(paths.caKeyPath, await exportPrivateKeyPemForDisk(fresh.privateKey), 0o600);
    writePem(paths.caCertPath, fresh.certPem, 0o644);
    caCert = new NodeCertificate(fresh.certPem);
    signer = fresh.privateKey;
    serverIssue = 'new CA';
    created.ca = true;
  } else if (!signer) {
    notes.push(`${LOCAL_CA_FILES.caKey} is missing: ${LOCAL_CA_FILES.serverCert} cannot be renewed, and a new CA will be created when it nears expiry.`);
  }

  if (serverIssue !== null && signer) {
    if (!created.ca && serverIssue !== 'missing') notes.push(`Renewed ${LOCAL_CA_FILES.serverCert}: ${serverIssue}.`);
    const server = await issueServerCertificate({ certPem: caCert.toString(), signingKey: signer }, { now });
    writePem(paths.keyPath, server.keyPem, 0o600);
    writePem(paths.certPath, server.certPem, 0o644);
    created.server = true;
  }

  const serverCert = new NodeCertificate(readFileSync(paths.certPath));
  return {
    tlsDir,
    ...paths,
    caFingerprint256: caCert.fingerprint256,
    serverNotAfter: new Date(serverCert.validTo),
    created,
    notes,
  };
}

type CaState =
  | { kind: 'missing' }
  | { kind: 'unusable'; reason: string }
  | { kind: 'ok'; cert: NodeCertificate; signingKey: CryptoKey | null };

async function readCa(certPath: string, keyPath: string, now: Date): Promise<CaState> {
  if (!existsSync(certPath)) return { kind: 'missing' };
  let cert: NodeCertificate;
  try {
    cert = new NodeCertificate(readFileSync(certPath));
  } catch {
    return { kind: 'unusable', reason: `${LOCAL_CA_FILES.caCert} does not parse` };
  }
  if (!cert.ca) return { kind: 'unusable', reason: `${LOCAL_CA_FILES.caCert} is not a CA certificate` };
  if (daysLeft(cert, now) < RENEW_WITHIN_DAYS) {
    return { kind: 'unusable', reason: `${LOCAL_CA_FILES.caCert} expires within ${RENEW_WITHIN_DAYS} days` };
  }
  if (!existsSync(keyPath)) return { kind: 'ok', cert, signingKey: null };
  try {
    const keyPem = readFileSync(keyPath, 'utf8');
    if (!cert.checkPrivateKey(createPrivateKey(keyPem))) {
      return { kind: 'unusable', reason: `${LOCAL_CA_FILES.caKey} does not match ${LOCAL_CA_FILES.caCert}` };
    }
    const signingKey = await subtle.importKey('pkcs8', x509.PemConverter.decodeFirst(keyPem), EC_KEY, false, ['sign']);
    return { kind: 'ok', cert, signingKey };
  } catch {
    return { kind: 'unusable', reason: `${LOCAL_CA_FILES.caKey} is not a P-256 private key` };
  }
}

/** Why the server certificate on disk cannot be reused, or null if it can. */
function readServerProblem(certPath: string, keyPath: string, ca: NodeCertificate, now: Date): string | null {
  if (!existsSync(certPath) || !existsSync(keyPath)) return 'missing';
  try {
    const cert = new NodeCertificate(readFileSync(certPath));
    if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) return 'not issued by the current CA';
    if (!cert.checkPrivateKey(createPrivateKey(readFileSync(keyPath)))) return 'key does not match';
    if (cert.checkHost('localhost') === undefined) return 'not valid for localhost';
    const left = daysLeft(cert, now);
    if (left < 0) return 'expired';
    if (left < RENEW_WITHIN_DAYS) return `expires within ${RENEW_WITHIN_DAYS} days`;
    return null;
  } catch {
    return 'unreadable';
  }
}

function daysLeft(cert: NodeCertificate, now: Date): number {
  return (Date.parse(cert.validTo) - now.getTime()) / DAY_MS;
}

async function createLocalCa(now: Date): Promise<{ certPem: string; privateKey: CryptoKey }> {
  // Extractable only because it must reach ca-key.pem once; see ensureLocalCa for why it is kept.
  const keys = (await subtle.generateKey(EC_KEY, true, ['sign', 'verify'])) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    // The OU tells several local CAs apart in a trust store that lists them by name.
    name: [{ CN: ['Sealvault local CA'] }, { O: ['Sealvault'] }, { OU: [`${hostname()} ${now.toISOString().slice(0, 10)}`] }],
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(now.getTime() + CA_LIFETIME_DAYS * DAY_MS),
    signingAlgorithm: SIGNING,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      new x509.Extension(NAME_CONSTRAINTS_OID, true, encodeNameConstraints(LOOPBACK_ONLY)),
    ],
  });
  return { certPem: cert.toString('pem'), privateKey: keys.privateKey };
}

export interface ServerCertificateOptions {
  now?: Date;
  dnsNames?: string[];
  ipAddresses?: string[];
  lifetimeDays?: number;
}

/** Issues a TLS server certificate with a fresh P-256 key, signed by `ca`. */
export async function issueServerCertificate(
  ca: LocalCa,
  { now = new Date(), dnsNames = ['localhost'], ipAddresses = ['127.0.0.1', '::1'], lifetimeDays = SERVER_LIFETIME_DAYS }: ServerCertificateOptions = {},
): Promise<{ certPem: string; keyPem: string }> {
  const caCert = new x509.X509Certificate(ca.certPem);
  // Extractable because Node's TLS stack reads the key from server-key.pem.
  const keys = (await subtle.generateKey(EC_KEY, true, ['sign', 'verify'])) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: [{ CN: [dnsNames[0] ?? 'localhost'] }],
    issuer: caCert.subjectName,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(now.getTime() + lifetimeDays * DAY_MS),
    signingAlgorithm: SIGNING,
    publicKey: keys.publicKey,
    signingKey: ca.signingKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([
        ...dnsNames.map((value) => ({ type: 'dns' as const, value })),
        ...ipAddresses.map((value) => ({ type: 'ip' as const, value })),
      ]),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(caCert.publicKey),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: await exportPrivateKeyPemForDisk(keys.privateKey) };
}

/** Private key bytes leave WebCrypto here and only here, straight into a 0600 file. */
async function exportPrivateKeyPemForDisk(key: CryptoKey): Promise<string> {
  return x509.PemConverter.encode(await subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
}

// Positive (top bit clear) and never zero, as RFC 5280 asks of serial numbers.
function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x01;
  return bytes.toString('hex');
}

// Write-then-rename: a crash or a second relay starting at the same moment never leaves a
// half-written PEM that the next start would misread.
function writePem(path: string, pem: string, mode: number): void {
  const temporary = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(temporary, pem.endsWith('\n') ? pem : `${pem}\n`, { mode, flag: 'wx' });
  chmodSync(temporary, mode);
  renameSync(temporary, path);
}
