/**
 * Test fixtures for shared/pdf. Certificates come from the real shared/pki code; seal
 * certificates are built here with the profile docs/SIGNING.md section 2 gives until
 * shared/pki/seal-certificate.ts exists. Browser-safe like the code under test (it is type
 * checked with it); the Node-only helpers for the external verifiers are in external.test.ts.
 */
import { PDF, PdfArray, PdfNumber } from '@libpdf/core';
import { issueEmployeeCertificate, type IssuingCa } from '../pki/employee-certificate';
import { createEnterpriseCa } from '../pki/enterprise-ca';
import { signPdf } from './sign';
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
export async function solidPng(width: number, height: number, rgba: [number, number, number, number]): Promise<Uint8Array> {
  const row = new Uint8Array(1 + width * 4);
  for (let x = 0; x < width; x++) row.set(rgba, 1 + x * 4);
  const raw = new Uint8Array(row.length * height);
  for (let y = 0; y < height; y++) raw.set(row, y * row.length);
  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  header.set([8, 6, 0, 0, 0], 8);
  return concat([new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', header), chunk('IDAT', await zlibDeflate(raw)), chunk('IEND', new Uint8Array(0))]);
}

/** zlib (RFC 1950) as PNG wants: CompressionStream's "deflate". */
async function zlibDeflate(bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream('deflate'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
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

function concat(parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

export interface SignedFixture {
  ca: IssuingCa;
  alice: TestSigner;
  bob: TestSigner;
  seal: TestSigner;
  base: Uint8Array;
  /** after alice (red stamp on page 0), bob (blue stamp on the rotated page 1), the company seal (blue stamp on page 0) */
  signed: [Uint8Array, Uint8Array, Uint8Array];
}

export const STAMPS = {
  alice: { page: 0, rect: { x: 0.1, y: 0.7, width: 0.3, height: 0.1 } },
  bob: { page: 1, rect: { x: 0.6, y: 0.1, width: 0.2, height: 0.3 } },
  seal: { page: 0, rect: { x: 0.55, y: 0.75, width: 0.2, height: 0.2 } },
} as const;

/** Two employees then a seal sign the two-page PDF in turn, each with a stamp. */
export async function threeSignatures(): Promise<SignedFixture> {
  const ca = await newCa();
  const alice = await newEmployee(ca, 'acct-alice', 'Alice Martin', 'E-1001');
  const bob = await newEmployee(ca, 'acct-bob', 'Bob Chen', 'E-1002');
  const seal = await newSeal(ca, 'seal-42', 'company', 'Acme Trading company seal');
  const red = await solidPng(8, 4, [255, 0, 0, 255]);
  const blue = await solidPng(4, 4, [0, 0, 255, 255]);
  const chainPems = [ca.certificatePem];
  const base = await twoPagePdf();
  const first = await signPdf(base, { ...keyOf(alice), chainPems, fieldName: 'alice', reason: 'Approved', stamps: [{ ...STAMPS.alice, png: red }] });
  const second = await signPdf(first, { ...keyOf(bob), chainPems, fieldName: 'bob', stamps: [{ ...STAMPS.bob, png: blue }] });
  const third = await signPdf(second, { ...keyOf(seal), chainPems, fieldName: 'company-seal', stamps: [{ ...STAMPS.seal, png: blue }] });
  return { ca, alice, bob, seal, base, signed: [first, second, third] };
}

function keyOf(signer: TestSigner): { privateKey: CryptoKey; certificatePem: string } {
  return { privateKey: signer.privateKey, certificatePem: signer.certificatePem };
}
