/**
 * Test fixtures for shared/pdf (tests only: Node APIs allowed here). Certificates come from the
 * real shared/pki code; seal certificates are built here with the profile docs/SIGNING.md
 * section 2 gives until shared/pki/seal-certificate.ts exists.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { PDF, PdfArray, PdfNumber } from '@libpdf/core';
import { issueEmployeeCertificate, type IssuingCa } from '../pki/employee-certificate';
import { createEnterpriseCa } from '../pki/enterprise-ca';
import { EC_P256, ECDSA_SHA256, NAME_OIDS, parseCertificate, pemOf, randomSerial, x509 } from '../pki/x509';

export interface TestSigner {
  privateKey: CryptoKey;
  certificatePem: string;
  serial: string;
}

export async function newCa(enterprise = 'Acme Trading'): Promise<IssuingCa> {
  const ca = await createEnterpriseCa(enterprise);
  return { certificatePem: ca.certificatePem, privateKey: ca.privateKey };
}

async function newKeyPair(): Promise<CryptoKeyPair> {
  // Non-extractable, as the browser keeps signing keys.
  return (await crypto.subtle.generateKey(EC_P256, false, ['sign', 'verify'])) as CryptoKeyPair;
}

export async function newEmployee(ca: IssuingCa, account: string, legalName: string, employeeNumber: string): Promise<TestSigner> {
  const keys = await newKeyPair();
  const signingKeySpki = new Uint8Array(await crypto.subtle.exportKey('spki', keys.publicKey));
  // Only its hash goes into the certificate; these tests never wrap keys to it.
  const envelopeKeySpki = crypto.getRandomValues(new Uint8Array(294));
  const certificatePem = await issueEmployeeCertificate(ca, { account, legalName, employeeNumber, enterprise: 'Acme Trading' }, { signingKeySpki, envelopeKeySpki });
  return { privateKey: keys.privateKey, certificatePem, serial: parseCertificate(certificatePem, 'test').serialNumber };
}

/** The seal certificate profile of docs/SIGNING.md section 2 (CN name, OU type, UID seal:<id>). */
export async function newSeal(ca: IssuingCa, sealId: string, sealType: string, name: string): Promise<TestSigner> {
  const keys = await newKeyPair();
  const caCert = parseCertificate(ca.certificatePem, 'test CA');
  const publicKey = new x509.PublicKey(await crypto.subtle.exportKey('spki', keys.publicKey));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: [
      { [NAME_OIDS.commonName]: [name] },
      { [NAME_OIDS.organizationalUnit]: [sealType] },
      { [NAME_OIDS.userId]: [`seal:${sealId}`] },
      { [NAME_OIDS.organization]: [caCert.subjectName.getField(NAME_OIDS.organization)[0]!] },
    ],
    issuer: caCert.subjectName.toString(),
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 365 * 86_400_000),
    publicKey,
    signingKey: ca.privateKey,
    signingAlgorithm: ECDSA_SHA256,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.nonRepudiation, true),
      new x509.ExtendedKeyUsageExtension(['1.3.6.1.5.5.7.3.4'], false),
      await x509.SubjectKeyIdentifierExtension.create(publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(caCert.publicKey),
    ],
  });
  return { privateKey: keys.privateKey, certificatePem: pemOf(cert), serial: cert.serialNumber };
}

/** A4 portrait page 0; page 1 a landscape-shown page (/Rotate 90) whose CropBox is inset from its MediaBox. */
export async function twoPagePdf(): Promise<Uint8Array> {
  const pdf = PDF.create();
  const first = pdf.addPage({ size: 'a4' });
  first.drawText('Contract page 1', { x: 50, y: 780, size: 18 });
  const second = pdf.addPage({ size: 'a4' });
  second.drawText('Contract page 2', { x: 50, y: 780, size: 18 });
  second.dict.set('Rotate', PdfNumber.of(90));
  second.dict.set('CropBox', new PdfArray([20, 30, 575, 812].map((n) => PdfNumber.of(n))));
  return pdf.save();
}

/** A solid-colour RGBA PNG (colour type 6, no filter), enough to test stamps. */
export function solidPng(width: number, height: number, rgba: [number, number, number, number]): Uint8Array {
  const row = new Uint8Array(1 + width * 4);
  for (let x = 0; x < width; x++) row.set(rgba, 1 + x * 4);
  const raw = new Uint8Array(row.length * height);
  for (let y = 0; y < height; y++) raw.set(row, y * row.length);
  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  header.set([8, 6, 0, 0, 0], 8);
  return concat([new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', header), chunk('IDAT', new Uint8Array(deflateSync(raw))), chunk('IEND', new Uint8Array(0))]);
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  out.set(new TextEncoder().encode(type), 4);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

// ---- independent verifiers (poppler's pdfsig, OpenSSL) ----

const TOOLS = [
  { path: '/usr/bin/pdfsig', apt: 'poppler-utils' },
  { path: '/usr/bin/pdftoppm', apt: 'poppler-utils' },
  { path: '/usr/bin/openssl', apt: 'openssl' },
  { path: '/usr/bin/certutil', apt: 'libnss3-tools' },
];

/** Fails (never skips) when an external verifier is missing: CI must install it. */
export function requireExternalTools(): void {
  const missing = TOOLS.filter((t) => !existsSync(t.path));
  if (missing.length > 0) {
    throw new Error(`missing ${missing.map((t) => t.path).join(', ')}: install the Debian packages ${[...new Set(missing.map((t) => t.apt))].join(' ')} (apt-get install -y poppler-utils openssl libnss3-tools)`);
  }
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'sealvault-pdf-'));
}

/** An NSS database that trusts `caPem` for signing, for pdfsig. */
export function nssDatabaseTrusting(caPem: string): string {
  const dir = tempDir();
  writeFileSync(join(dir, 'ca.pem'), caPem);
  execFileSync('/usr/bin/certutil', ['-N', '--empty-password', '-d', `sql:${dir}`]);
  execFileSync('/usr/bin/certutil', ['-A', '-n', 'sealvault-test-ca', '-t', 'CT,C,C', '-i', join(dir, 'ca.pem'), '-d', `sql:${dir}`]);
  return dir;
}

export interface PdfsigSignature {
  fieldName: string;
  signatureValidation: string;
  certificateValidation: string;
  wholeDocument: boolean;
}

/** pdfsig's verdict per signature, in file order. */
export function pdfsig(pdf: Uint8Array, nssDir: string): PdfsigSignature[] {
  const file = join(tempDir(), 'doc.pdf');
  writeFileSync(file, pdf);
  const run = spawnSync('/usr/bin/pdfsig', ['-nssdir', `sql:${nssDir}`, file], { encoding: 'utf8' });
  const out = `${run.stdout}\n${run.stderr}`;
  return out
    .split(/^Signature #\d+:$/m)
    .slice(1)
    .map((block) => ({
      fieldName: /- Signature Field Name: (.*)$/m.exec(block)?.[1] ?? '',
      signatureValidation: /- Signature Validation: (.*)$/m.exec(block)?.[1] ?? '',
      certificateValidation: /- Certificate Validation: (.*)$/m.exec(block)?.[1] ?? '',
      wholeDocument: /- Total document signed/m.test(block),
    }));
}

/** `openssl cms -verify` over one signature's byte range; true when OpenSSL accepts it. */
export function opensslVerifies(pdf: Uint8Array, byteRange: readonly [number, number, number, number], caPem: string): boolean {
  const [a, b, c, d] = byteRange;
  const dir = tempDir();
  const hex = new TextDecoder('latin1').decode(pdf.subarray(a + b + 1, c - 1));
  writeFileSync(join(dir, 'sig.der'), derPrefix(Buffer.from(hex, 'hex')));
  writeFileSync(join(dir, 'content.bin'), Buffer.concat([pdf.subarray(a, a + b), pdf.subarray(c, c + d)]));
  writeFileSync(join(dir, 'ca.pem'), caPem);
  const run = spawnSync('/usr/bin/openssl', ['cms', '-verify', '-binary', '-inform', 'DER', '-in', join(dir, 'sig.der'), '-content', join(dir, 'content.bin'), '-CAfile', join(dir, 'ca.pem'), '-purpose', 'any', '-out', '/dev/null'], { encoding: 'utf8' });
  return run.status === 0;
}

/** The DER element at the start of `bytes` (the /Contents placeholder pads the CMS with zeros). */
function derPrefix(bytes: Buffer): Buffer {
  const first = bytes[1] ?? 0;
  if (first < 0x80) return bytes.subarray(0, 2 + first);
  const n = first & 0x7f;
  return bytes.subarray(0, 2 + n + bytes.subarray(2, 2 + n).reduce((len, b) => len * 256 + b, 0));
}

/** Page `page` (0-based) rendered by poppler at `dpi`, as RGB rows. */
export function renderPage(pdf: Uint8Array, page: number, dpi: number): { width: number; height: number; rgb(x: number, y: number): [number, number, number] } {
  const dir = tempDir();
  writeFileSync(join(dir, 'doc.pdf'), pdf);
  const ppm = execFileSync('/usr/bin/pdftoppm', ['-r', String(dpi), '-f', String(page + 1), '-l', String(page + 1), '-singlefile', join(dir, 'doc.pdf')]);
  // Binary PPM: "P6\n<w> <h>\n<max>\n" then the pixels.
  const head = /^P6\s+(\d+)\s+(\d+)\s+255\s/.exec(ppm.subarray(0, 64).toString('latin1'));
  if (!head) throw new Error('pdftoppm did not write a PPM');
  const [width, height, offset] = [Number(head[1]), Number(head[2]), head[0].length];
  return {
    width,
    height,
    rgb: (x, y) => {
      const i = offset + (y * width + x) * 3;
      return [ppm[i]!, ppm[i + 1]!, ppm[i + 2]!];
    },
  };
}
