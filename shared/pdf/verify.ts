/**
 * PAdES verification (docs/SIGNING.md section 1): every signature dictionary in the file is
 * checked on its own bytes, with our own code and WebCrypto only, against the one enterprise
 * CA. Everything in the file is attacker input: a malformed signature becomes an `invalid`
 * report with a problem, never an exception for the whole document.
 *
 * Signatures are found by their /ByteRange in the raw bytes, not through the document's
 * latest cross-reference table, so a later revision cannot hide or re-point an earlier
 * signature; the field names (the only thing read through the object structure) come from
 * the latest revision.
 */
import { PDF } from '@libpdf/core';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { equalBytes } from '../crypto/bytes';
import { fail } from '../crypto/errors';
import { checkP256, checkSignedBy, EC_P256, ECDSA_SHA256, NAME_OIDS, parseCertificate, pemOf, x509 } from '../pki/x509';
import { checkPdfHeader, latin1 } from './pdf-bytes';

export type PdfSignatureStatus = 'valid' | 'invalid' | 'changed';

export interface PdfSigner {
  /** 'employee' also when the certificate names neither (the report is then `invalid`) */
  kind: 'employee' | 'seal';
  commonName: string;
  /** employee: account id (UID) */
  account?: string;
  /** seal: seal id (from UID `seal:<id>`) */
  seal?: string;
  /** seal: seal type (OU) */
  sealType?: string;
  /** employee: employee number (serialNumber) */
  employeeNumber?: string;
}

export interface PdfSignatureReport {
  /** '' when no signature field refers to the signature */
  fieldName: string;
  signer: PdfSigner;
  /** hex, lower case; '' when no certificate could be read */
  serial: string;
  /** '' when no certificate could be read */
  certificatePem: string;
  /** subjects, leaf first; the CA only when the leaf is signed by it */
  chain: string[];
  /** the signer's claimed time (CMS signing-time), ms since the epoch */
  signingTime: number | null;
  byteRange: [number, number, number, number];
  signedLength: number;
  coversWholeDocument: boolean;
  status: PdfSignatureStatus;
  /** short English sentences, shown as they are */
  problems: string[];
}

export interface PdfRevocation {
  revokedAt: number;
  reason: string;
}

export interface VerifyPdfOptions {
  caCertificatePem: string;
  /** serial (hex, lower case) -> revocation */
  revoked: ReadonlyMap<string, PdfRevocation>;
}

const OID = {
  signedData: '1.2.840.113549.1.7.2',
  data: '1.2.840.113549.1.7.1',
  sha256: '2.16.840.1.101.3.4.2.1',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  signingTime: '1.2.840.113549.1.9.5',
  signingCertificateV2: '1.2.840.113549.1.9.16.2.47',
} as const;

const SEAL_UID_PREFIX = 'seal:';
/** Far more than any contract carries; bounds the work an attacker's file can cause. */
const MAX_SIGNATURES = 256;

/**
 * One report per signature dictionary, in file order. Throws only for the call itself: a
 * `pdf` that is not a PDF (E_FORMAT), a CA certificate that does not parse (E_FORMAT), or a
 * file with more than MAX_SIGNATURES signature dictionaries (E_LIMIT).
 */
export async function verifyPdfSignatures(pdf: Uint8Array, options: VerifyPdfOptions): Promise<PdfSignatureReport[]> {
  checkPdfHeader(pdf);
  const ca = parseCertificate(options?.caCertificatePem, 'the enterprise CA certificate');
  const revoked = options.revoked;
  if (!(revoked instanceof Map)) fail('E_FORMAT', 'revoked must be a Map from serial to revocation');

  const text = latin1(pdf);
  const found = findSignatureDictionaries(text);
  const names = found.length > 0 ? await signatureFieldNames(pdf) : new Map<string, string>();

  const checked: Checked[] = [];
  for (const dict of found) {
    const report = emptyReport(names.get(dict.objectKey) ?? '');
    let sound = false;
    try {
      sound = await checkSignature(pdf, text, dict, ca, revoked, report);
    } catch {
      // A parser deep in pkijs or x509 refusing attacker bytes in a way not foreseen below.
      report.problems.push('The signature could not be read.');
    }
    checked.push({ report, sound });
  }
  return decideStatuses(checked, pdf.length);
}

interface FoundDictionary {
  /** "<number> <generation>", as a signature field's /V names it */
  objectKey: string;
  /** where /ByteRange stands */
  position: number;
  /** end of the object (its `endobj`, or the end of the file) */
  objectEnd: number;
  objectStart: number;
}

interface Checked {
  report: PdfSignatureReport;
  /** the signature verifies and its certificate is acceptable (before looking at later bytes) */
  sound: boolean;
}

/**
 * Every /ByteRange that stands in the dictionary of an indirect object (not in a stream).
 * Signature dictionaries cannot sit in object streams: their /Contents must be readable at a
 * fixed byte offset, which compression would prevent.
 */
function findSignatureDictionaries(text: string): FoundDictionary[] {
  const out: FoundDictionary[] = [];
  const pattern = /\/ByteRange(?![A-Za-z0-9#])/g;
  for (let m = pattern.exec(text), count = 1; m !== null; m = pattern.exec(text), count++) {
    // Each match costs a backward scan: a file stuffed with the key must not cost quadratic time.
    if (count > MAX_SIGNATURES) fail('E_LIMIT', `the PDF holds more than ${MAX_SIGNATURES} signature dictionaries`);
    const object = enclosingObject(text, m.index);
    if (object) out.push({ ...object, position: m.index });
  }
  return out;
}

function enclosingObject(text: string, position: number): Omit<FoundDictionary, 'position'> | null {
  for (let k = text.lastIndexOf('obj', position); k >= 0; k = k > 0 ? text.lastIndexOf('obj', k - 1) : -1) {
    // Reaching an `endobj` first means the /ByteRange is outside any object.
    if (k >= 3 && text.startsWith('end', k - 3)) return null;
    const head = /(?:^|[^0-9])(\d{1,10})\s+(\d{1,5})\s+$/.exec(text.slice(Math.max(0, k - 24), k));
    if (!head || /[A-Za-z0-9]/.test(text[k + 3] ?? '')) continue;
    const body = text.slice(k + 3, position);
    if (/(?:^|[^A-Za-z])stream\r?\n/.test(body)) return null;
    const end = text.indexOf('endobj', position);
    return { objectKey: `${Number(head[1])} ${Number(head[2])}`, objectStart: k + 3, objectEnd: end < 0 ? text.length : end };
  }
  return null;
}

/** Signature object "<n> <g>" -> fully qualified field name, from the latest revision. */
async function signatureFieldNames(pdf: Uint8Array): Promise<Map<string, string>> {
  const names = new Map<string, string>();
  try {
    const doc = await PDF.load(pdf);
    for (const field of doc.getForm()?.getFields() ?? []) {
      if (field.type !== 'signature') continue;
      const ref = field.acroField().getRef('V');
      if (ref) names.set(`${ref.objectNumber} ${ref.generation}`, field.name);
    }
  } catch {
    // A damaged file still has its signatures checked; only their field names are lost.
  }
  return names;
}

function emptyReport(fieldName: string): PdfSignatureReport {
  return {
    fieldName,
    signer: { kind: 'employee', commonName: '' },
    serial: '',
    certificatePem: '',
    chain: [],
    signingTime: null,
    byteRange: [0, 0, 0, 0],
    signedLength: 0,
    coversWholeDocument: false,
    status: 'invalid',
    problems: [],
  };
}

/**
 * Fills `report` and returns whether the signature is sound. Every check that fails adds a
 * problem; checks go on where they still make sense, so the report says all that is wrong.
 */
async function checkSignature(
  pdf: Uint8Array,
  text: string,
  dict: FoundDictionary,
  ca: x509.X509Certificate,
  revoked: ReadonlyMap<string, PdfRevocation>,
  report: PdfSignatureReport,
): Promise<boolean> {
  const problems = report.problems;
  const range = /^\/ByteRange\s*\[\s*(\d{1,15})\s+(\d{1,15})\s+(\d{1,15})\s+(\d{1,15})\s*\]/.exec(text.slice(dict.position, dict.position + 128));
  if (!range) {
    problems.push('The byte range of the signature does not parse.');
    return false;
  }
  const [a, b, c, d] = [range[1], range[2], range[3], range[4]].map(Number) as [number, number, number, number];
  report.byteRange = [a, b, c, d];
  report.signedLength = b + d;
  report.coversWholeDocument = c + d === pdf.length;

  // The ranges must be the whole file up to its end, less exactly this dictionary's /Contents.
  if (a !== 0) problems.push('The signed bytes do not start at the beginning of the file.');
  if (b === 0 || a + b >= c) problems.push('The byte range of the signature is not in order.');
  if (c + d > pdf.length) problems.push('The signed bytes go past the end of the file.');
  if (problems.length > 0) return false;
  const inFirst = dict.position >= a && dict.position < a + b;
  const inSecond = dict.position >= c && dict.position < c + d;
  if (!inFirst && !inSecond) problems.push('The byte range itself is not signed.');
  const gapStart = a + b;
  const gapEnd = c;
  const gapInObject = gapStart > dict.objectStart && gapEnd <= dict.objectEnd;
  const keyBefore = /\/Contents\s*$/.test(text.slice(Math.max(dict.objectStart, gapStart - 64), gapStart));
  if (!gapInObject || !keyBefore || text[gapStart] !== '<' || text[gapEnd - 1] !== '>') {
    problems.push('The unsigned gap is not the /Contents of this signature.');
    return false;
  }
  const hex = text.slice(gapStart + 1, gapEnd - 1);
  if (hex.length % 2 !== 0 || !/^[0-9A-Fa-f]*$/.test(hex)) {
    problems.push('The unsigned gap holds more than one hex string.');
    return false;
  }

  const cms = parseCms(hexBytes(hex), problems);
  if (!cms) return false;
  const { signerInfo, certificates } = cms;

  const sid = signerInfo.sid;
  const leafPkijs = sid instanceof pkijs.IssuerAndSerialNumber ? certificates.find((cert) => cert.issuer.isEqual(sid.issuer) && cert.serialNumber.isEqual(sid.serialNumber)) : undefined;
  if (!leafPkijs) {
    problems.push("The signer's certificate is not in the signature.");
    return false;
  }
  const leafDer = new Uint8Array(leafPkijs.toSchema().toBER(false));
  let leaf: x509.X509Certificate;
  try {
    leaf = new x509.X509Certificate(leafDer);
  } catch {
    problems.push("The signer's certificate does not parse.");
    return false;
  }
  report.serial = leaf.serialNumber.toLowerCase();
  report.certificatePem = pemOf(leaf);
  report.chain = [leaf.subject];
  report.signer = signerOf(leaf, problems);

  const attributes = signedAttributes(signerInfo, problems);
  if (!attributes) return false;
  if (attributes.signingTime !== null) report.signingTime = attributes.signingTime;

  const signed = new Uint8Array(b + d);
  signed.set(pdf.subarray(a, a + b), 0);
  signed.set(pdf.subarray(c, c + d), b);
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', signed));
  if (!equalBytes(digest, attributes.messageDigest)) problems.push('The document was changed after it was signed (the digest does not match).');

  if (attributes.certificateHash && !equalBytes(attributes.certificateHash, new Uint8Array(await crypto.subtle.digest('SHA-256', leafDer)))) {
    problems.push('The signature names another certificate than the one it carries.');
  }

  let key: CryptoKey | null = null;
  try {
    checkP256(leaf, 'the signing certificate');
    key = await crypto.subtle.importKey('spki', new Uint8Array(leaf.publicKey.rawData), EC_P256, false, ['verify']);
  } catch {
    problems.push("The signer's key is not an ECDSA P-256 key.");
  }
  const signature = ecdsaDerToP1363(signerInfo.signature.valueBlock.valueHexView, 32);
  if (!signature) problems.push('The signature value is not a DER ECDSA signature.');
  if (key && signature) {
    const signedAttributesDer = new Uint8Array(attributes.der);
    // The signature is over the attributes as a DER SET (RFC 5652 5.4), not the [0] they are sent as.
    signedAttributesDer[0] = 0x31;
    if (!(await crypto.subtle.verify(ECDSA_SHA256, key, signature, signedAttributesDer))) problems.push("The signature does not verify with the signer's key.");
  }

  await checkCertificate(leaf, ca, report, revoked, problems);
  return problems.length === 0;
}

interface ParsedCms {
  signerInfo: pkijs.SignerInfo;
  certificates: pkijs.Certificate[];
}

function parseCms(der: Uint8Array<ArrayBuffer>, problems: string[]): ParsedCms | null {
  const asn1 = asn1js.fromBER(der);
  if (asn1.offset === -1) {
    problems.push('The signature is not a CMS structure.');
    return null;
  }
  // The /Contents placeholder is padded with zeros after the CMS; anything else there is not ours.
  if (der.subarray(asn1.offset).some((byte) => byte !== 0)) {
    problems.push('The signature holds data after its CMS structure.');
    return null;
  }
  let signedData: pkijs.SignedData;
  try {
    const info = new pkijs.ContentInfo({ schema: asn1.result });
    if (info.contentType !== OID.signedData) {
      problems.push('The signature is not CMS SignedData.');
      return null;
    }
    signedData = new pkijs.SignedData({ schema: info.content });
  } catch {
    problems.push('The signature is not a CMS structure.');
    return null;
  }
  if (signedData.encapContentInfo.eContent !== undefined) {
    problems.push('The signature is not detached.');
    return null;
  }
  if (signedData.signerInfos.length !== 1) {
    problems.push('The signature must have exactly one signer.');
    return null;
  }
  const signerInfo = signedData.signerInfos[0]!;
  if (signerInfo.digestAlgorithm.algorithmId !== OID.sha256) problems.push('The signature does not use SHA-256.');
  if (signerInfo.signatureAlgorithm.algorithmId !== OID.ecdsaWithSha256) problems.push('The signature is not ECDSA with SHA-256.');
  const certificates = (signedData.certificates ?? []).filter((cert): cert is pkijs.Certificate => cert instanceof pkijs.Certificate);
  return problems.length === 0 ? { signerInfo, certificates } : null;
}

interface SignedAttributes {
  /** as received, with its [0] tag */
  der: ArrayBuffer;
  messageDigest: Uint8Array;
  signingTime: number | null;
  /** ESS signing-certificate-v2 hash of the signer's certificate, when present */
  certificateHash: Uint8Array | null;
}

function signedAttributes(signerInfo: pkijs.SignerInfo, problems: string[]): SignedAttributes | null {
  const attrs = signerInfo.signedAttrs;
  if (!attrs || attrs.attributes.length === 0) {
    problems.push('The signature has no signed attributes.');
    return null;
  }
  const byType = new Map<string, unknown[]>();
  for (const attr of attrs.attributes) {
    // RFC 5652 5.3: each of these may appear once; a second copy could say something else.
    if (byType.has(attr.type)) {
      problems.push('The signature repeats a signed attribute.');
      return null;
    }
    byType.set(attr.type, attr.values);
  }
  const single = (oid: string): unknown => {
    const values = byType.get(oid);
    return values && values.length === 1 ? values[0] : undefined;
  };

  const contentType = single(OID.contentType);
  if (!(contentType instanceof asn1js.ObjectIdentifier) || contentType.valueBlock.toString() !== OID.data) problems.push('The signed content type is not data.');
  const digest = single(OID.messageDigest);
  if (!(digest instanceof asn1js.OctetString) || digest.valueBlock.valueHexView.length !== 32) {
    problems.push('The signature has no SHA-256 message digest.');
    return null;
  }
  let signingTime: number | null = null;
  if (byType.has(OID.signingTime)) {
    const time = single(OID.signingTime);
    if (time instanceof asn1js.UTCTime || time instanceof asn1js.GeneralizedTime) signingTime = time.toDate().getTime();
    if (signingTime === null || !Number.isFinite(signingTime)) {
      problems.push('The signing time does not parse.');
      signingTime = null;
    }
  }
  let certificateHash: Uint8Array | null = null;
  if (byType.has(OID.signingCertificateV2)) {
    certificateHash = essCertificateHash(single(OID.signingCertificateV2));
    if (!certificateHash) problems.push('The signing-certificate attribute does not parse or does not use SHA-256.');
  }
  return { der: attrs.encodedValue, messageDigest: new Uint8Array(digest.valueBlock.valueHexView), signingTime, certificateHash };
}

/** SigningCertificateV2 ::= SEQUENCE { certs SEQUENCE OF ESSCertIDv2, ... } (RFC 5035); the first names the signer. */
function essCertificateHash(value: unknown): Uint8Array | null {
  if (!(value instanceof asn1js.Sequence)) return null;
  const certs = value.valueBlock.value[0];
  if (!(certs instanceof asn1js.Sequence)) return null;
  const first = certs.valueBlock.value[0];
  if (!(first instanceof asn1js.Sequence)) return null;
  let [algorithm, hash] = first.valueBlock.value;
  // hashAlgorithm defaults to SHA-256 and is then omitted.
  if (algorithm instanceof asn1js.OctetString) [algorithm, hash] = [undefined, algorithm];
  if (algorithm !== undefined) {
    if (!(algorithm instanceof asn1js.Sequence)) return null;
    const oid = algorithm.valueBlock.value[0];
    if (!(oid instanceof asn1js.ObjectIdentifier) || oid.valueBlock.toString() !== OID.sha256) return null;
  }
  if (!(hash instanceof asn1js.OctetString) || hash.valueBlock.valueHexView.length !== 32) return null;
  return new Uint8Array(hash.valueBlock.valueHexView);
}

function signerOf(cert: x509.X509Certificate, problems: string[]): PdfSigner {
  const one = (oid: string): string | undefined => {
    const values = cert.subjectName.getField(oid);
    return values.length === 1 ? values[0] : undefined;
  };
  const commonName = one(NAME_OIDS.commonName) ?? '';
  const uid = one(NAME_OIDS.userId);
  if (uid?.startsWith(SEAL_UID_PREFIX)) {
    const seal = uid.slice(SEAL_UID_PREFIX.length);
    const sealType = one(NAME_OIDS.organizationalUnit);
    if (seal.length === 0 || sealType === undefined) problems.push('The seal certificate does not name its seal and type.');
    return { kind: 'seal', commonName, seal, ...(sealType === undefined ? {} : { sealType }) };
  }
  const employeeNumber = one(NAME_OIDS.serialNumber);
  if (uid === undefined) problems.push('The certificate names no account or seal.');
  return { kind: 'employee', commonName, ...(uid === undefined ? {} : { account: uid }), ...(employeeNumber === undefined ? {} : { employeeNumber }) };
}

async function checkCertificate(leaf: x509.X509Certificate, ca: x509.X509Certificate, report: PdfSignatureReport, revoked: ReadonlyMap<string, PdfRevocation>, problems: string[]): Promise<void> {
  let chained = leaf.issuer === ca.subject;
  if (chained) {
    try {
      await checkSignedBy(leaf, ca, 'the signing certificate');
    } catch {
      chained = false;
    }
  }
  if (!chained) {
    problems.push('The certificate was not issued by the enterprise CA.');
  } else {
    report.chain.push(ca.subject);
    const leafOrganization = leaf.subjectName.getField(NAME_OIDS.organization);
    const caOrganization = ca.subjectName.getField(NAME_OIDS.organization);
    if (leafOrganization.length !== 1 || leafOrganization[0] !== caOrganization[0]) problems.push('The certificate names another organization than the enterprise CA.');
  }

  // Without a claimed signing time the certificate must be valid now.
  const at = new Date(report.signingTime ?? Date.now());
  if (at < leaf.notBefore || at > leaf.notAfter) problems.push(`The certificate was not valid at the signing time (${at.toISOString()}).`);
  if (at < ca.notBefore || at > ca.notAfter) problems.push(`The enterprise CA was not valid at the signing time (${at.toISOString()}).`);

  if (leaf.getExtension(x509.BasicConstraintsExtension)?.ca) problems.push('The certificate is a CA certificate, not a signer certificate.');
  const usage = leaf.getExtension(x509.KeyUsagesExtension);
  if (!usage || (usage.usages & x509.KeyUsageFlags.digitalSignature) === 0) problems.push('The certificate does not allow digital signatures.');

  const revocation = revoked.get(report.serial);
  if (revocation) {
    const when = Number.isFinite(revocation.revokedAt) ? new Date(revocation.revokedAt).toISOString() : 'an unknown date';
    problems.push(`The certificate was revoked on ${when}: ${revocation.reason}.`);
  }
}

/**
 * `changed` for a sound signature whose revision is not the end of the file, unless a later
 * sound signature covers the whole file, and so everything after the earlier one.
 */
function decideStatuses(checked: Checked[], fileLength: number): PdfSignatureReport[] {
  const wholeFileEnds = checked.filter((x) => x.sound && x.report.coversWholeDocument).map((x) => x.report.byteRange[0] + x.report.byteRange[1]);
  return checked.map(({ report, sound }) => {
    if (!sound) return { ...report, status: 'invalid' };
    const end = report.byteRange[2] + report.byteRange[3];
    if (end === fileLength || wholeFileEnds.some((gapStart) => gapStart >= end)) return { ...report, status: 'valid' };
    return { ...report, status: 'changed', problems: [...report.problems, 'The document was changed after this signature without a later signature covering the change.'] };
  });
}

function hexBytes(hex: string): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/**
 * DER `SEQUENCE { INTEGER r, INTEGER s }` -> r || s as WebCrypto wants (IEEE P1363). Strict:
 * minimal integers, positive, nothing after, so one signature has one spelling.
 */
function ecdsaDerToP1363(der: Uint8Array, size: number): Uint8Array<ArrayBuffer> | null {
  if (der.length < 8 || der[0] !== 0x30 || der[1] !== der.length - 2) return null;
  const out = new Uint8Array(2 * size);
  let offset = 2;
  for (let k = 0; k < 2; k++) {
    const length = der[offset + 1];
    if (der[offset] !== 0x02 || length === undefined || length === 0 || length > size + 1 || offset + 2 + length > der.length) return null;
    let int = der.subarray(offset + 2, offset + 2 + length);
    if ((int[0]! & 0x80) !== 0) return null;
    if (int.length > 1 && int[0] === 0 && (int[1]! & 0x80) === 0) return null;
    if (int[0] === 0) int = int.subarray(1);
    if (int.length > size) return null;
    out.set(int, k * size + size - int.length);
    offset += 2 + length;
  }
  return offset === der.length ? out : null;
}
