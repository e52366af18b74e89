/**
 * PAdES signing (docs/SIGNING.md section 1, DESIGN.md section 8): one CMS signature per call,
 * appended as an incremental update so every earlier signature keeps verifying over its own
 * byte range. The key never leaves WebCrypto: @libpdf/core builds the CMS and asks the
 * CryptoKey to sign the DER of the signed attributes.
 *
 * Not strictly PAdES B-B: @libpdf/core always adds a CMS signing-time attribute (B-B wants
 * the time only in the signature dictionary's /M). Readers accept it; the verifier uses it as
 * the claimed signing time.
 */
import { CryptoKeySigner, PDF, PdfArray, PdfDict, PdfNumber, PdfRef, ops, type PdfObject, type PDFPage } from '@libpdf/core';
import { fail, isCryptoError } from '../crypto/errors';
import { checkP256, EC_P256, ECDSA_SHA256, parseCertificate, type x509 } from '../pki/x509';
import { checkPdfHeader } from './pdf-bytes';

export interface PdfStamp {
  /** 0-based page index */
  page: number;
  /** fractions of the visible page, origin top-left, as the browser places them */
  rect: { x: number; y: number; width: number; height: number };
  png: Uint8Array;
}

export interface PdfSignOptions {
  /** ECDSA P-256; non-extractable is fine */
  privateKey: CryptoKey;
  certificatePem: string;
  /** the enterprise CA (issuer first) */
  chainPems: string[];
  fieldName: string;
  reason?: string;
  stamps?: PdfStamp[];
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const MAX_STAMPS = 64;
/**
 * Room for the CMS besides the certificates: signed attributes, signer info and an ECDSA
 * signature take well under 1 KiB; the rest is margin.
 */
const CMS_OVERHEAD_BYTES = 4096;

export async function signPdf(pdf: Uint8Array, options: PdfSignOptions): Promise<Uint8Array> {
  checkPdfHeader(pdf);
  const { privateKey, certificatePem, chainPems, fieldName, reason, stamps = [] } = options;
  checkSigningKey(privateKey);
  const certificate = parseCertificate(certificatePem, 'the signing certificate');
  checkP256(certificate, 'the signing certificate');
  await checkKeyMatches(privateKey, certificate);
  if (!Array.isArray(chainPems) || chainPems.length === 0 || chainPems.length > 4) fail('E_FORMAT', 'chainPems must hold the enterprise CA certificate (1 to 4 certificates)');
  const chain = chainPems.map((pem, i) => new Uint8Array(parseCertificate(pem, `chain certificate ${i}`).rawData));
  // A '.' separates the parts of a fully qualified field name, so it cannot be in one field's name.
  if (typeof fieldName !== 'string' || fieldName.length === 0 || fieldName.length > 128 || /[.\p{Cc}]/u.test(fieldName)) {
    fail('E_FORMAT', 'fieldName must be 1 to 128 characters without dots or control characters');
  }
  if (reason !== undefined && (typeof reason !== 'string' || reason.length > 1000)) fail('E_FORMAT', 'reason must be a string of at most 1000 characters');
  if (!Array.isArray(stamps) || stamps.length > MAX_STAMPS) fail('E_FORMAT', `at most ${MAX_STAMPS} stamps per signature`);

  let doc: PDF;
  try {
    doc = await PDF.load(pdf);
  } catch (e) {
    return fail('E_FORMAT', 'the file does not parse as a PDF', e);
  }
  if (doc.isEncrypted) fail('E_FORMAT', 'encrypted PDFs cannot be signed');
  if (doc.recoveredViaBruteForce) fail('E_FORMAT', 'the PDF is damaged (its cross-reference table does not parse)');

  for (const [i, stamp] of stamps.entries()) drawStamp(doc, stamp, i);

  const signer = new CryptoKeySigner(privateKey, new Uint8Array(certificate.rawData), 'EC', 'ECDSA', chain);
  // pdf.sign() saves every pending change (the stamps' images and page contents above) in the
  // same incremental update as the signature dictionary, then signs that revision, so the
  // stamps and the signature are one revision and the signature covers them; no separate
  // unsigned revision is ever written.
  let result: Awaited<ReturnType<PDF['sign']>>;
  try {
    result = await doc.sign({
      signer,
      fieldName,
      subFilter: 'ETSI.CAdES.detached',
      digestAlgorithm: 'SHA-256',
      estimatedSize: CMS_OVERHEAD_BYTES + certificate.rawData.byteLength + chain.reduce((n, c) => n + c.length, 0),
      // libpdf 0.4.2 escapes ( ) \ in the reason and then encodes the escaped text, so readers
      // show those three characters with a backslash before them.
      ...(reason === undefined ? {} : { reason }),
    });
  } catch (e) {
    if (isCryptoError(e)) throw e;
    const code = (e as { code?: unknown }).code;
    if (code === 'FIELD_ALREADY_SIGNED') fail('E_CONTEXT', `the field "${fieldName}" is already signed`, e);
    if (code === 'FIELD_NOT_SIGNATURE') fail('E_CONTEXT', `the field "${fieldName}" is not a signature field`, e);
    return fail('E_FORMAT', 'the PDF could not be signed', e);
  }
  // A certified document (DocMDP) forbids the page changes a stamp makes, and our flows never
  // certify, so a certification here means the file came from elsewhere.
  if (result.warnings.some((w) => w.code === 'MDP_VIOLATION')) fail('E_CONTEXT', 'the PDF is certified (DocMDP) and may not be changed');
  return result.bytes;
}

function checkSigningKey(key: CryptoKey): void {
  if (!(key instanceof CryptoKey)) fail('E_FORMAT', 'privateKey must be a CryptoKey');
  const alg = key.algorithm as EcKeyAlgorithm;
  if (key.type !== 'private' || !key.usages.includes('sign')) fail('E_FORMAT', 'privateKey must be a private key allowed to sign');
  if (alg.name !== 'ECDSA' || alg.namedCurve !== 'P-256') fail('E_KEY_WEAK', 'privateKey must be ECDSA P-256');
}

/** A key that is not the certificate's would produce a file every reader calls invalid. */
async function checkKeyMatches(privateKey: CryptoKey, certificate: x509.X509Certificate): Promise<void> {
  const probe = crypto.getRandomValues(new Uint8Array(32));
  const signature = await crypto.subtle.sign(ECDSA_SHA256, privateKey, probe);
  const publicKey = await crypto.subtle.importKey('spki', new Uint8Array(certificate.publicKey.rawData), EC_P256, false, ['verify']);
  if (!(await crypto.subtle.verify(ECDSA_SHA256, publicKey, signature, probe))) fail('E_CONTEXT', 'privateKey does not belong to the signing certificate');
}

interface Box {
  llx: number;
  lly: number;
  urx: number;
  ury: number;
}

function drawStamp(doc: PDF, stamp: PdfStamp, index: number): void {
  const what = `stamp ${index}`;
  if (typeof stamp !== 'object' || stamp === null) fail('E_FORMAT', `${what} must be an object`);
  const page = Number.isInteger(stamp.page) ? doc.getPage(stamp.page) : null;
  if (!page) fail('E_FORMAT', `${what} names page ${String(stamp.page)}, which the PDF does not have`);
  const { x, y, width, height } = stamp.rect ?? {};
  const fractions = [x, y, width, height];
  if (!fractions.every((n) => typeof n === 'number' && Number.isFinite(n))) fail('E_FORMAT', `${what} rect must be four finite numbers`);
  // A small tolerance so a stamp placed flush with the edge by float arithmetic still fits.
  const eps = 1e-9;
  if (x! < 0 || y! < 0 || width! <= 0 || height! <= 0 || x! + width! > 1 + eps || y! + height! > 1 + eps) fail('E_FORMAT', `${what} lies outside the page`);
  if (!(stamp.png instanceof Uint8Array) || !PNG_SIGNATURE.every((b, i) => stamp.png[i] === b)) fail('E_FORMAT', `${what} is not a PNG image`);

  let image;
  try {
    image = doc.embedPng(stamp.png);
  } catch (e) {
    return fail('E_FORMAT', `${what} is not a PNG image libpdf can embed`, e);
  }
  const [a, b, c, d, e, f] = stampMatrix(doc, page, { x: x!, y: y!, width: width!, height: height! });
  const name = page.registerImage(image);
  page.drawOperators([ops.pushGraphicsState(), ops.concatMatrix(a, b, c, d, e, f), ops.paintXObject(name), ops.popGraphicsState()]);
}

/**
 * The matrix that maps the image's unit square onto the stamp rectangle as a reader shows the
 * page: the rectangle is in fractions of the visible area (CropBox within MediaBox) after
 * /Rotate, origin top-left; PDF user space is unrotated, origin bottom-left. The image is
 * turned with the page so it appears upright.
 */
function stampMatrix(doc: PDF, page: PDFPage, rect: PdfStamp['rect']): [number, number, number, number, number, number] {
  const resolve = (ref: PdfRef): PdfObject | null => doc.getObject(ref);
  // libpdf's getMediaBox/getCropBox ignore boxes inherited from the page tree and return
  // x2/y2 as width/height, so the boxes are read here.
  const media = readBox(inherited(page, 'MediaBox', resolve), resolve);
  if (!media) fail('E_FORMAT', `page ${page.index} has no valid MediaBox`);
  const crop = readBox(inherited(page, 'CropBox', resolve), resolve) ?? media;
  const box = { llx: Math.max(media.llx, crop.llx), lly: Math.max(media.lly, crop.lly), urx: Math.min(media.urx, crop.urx), ury: Math.min(media.ury, crop.ury) };
  if (box.urx <= box.llx || box.ury <= box.lly) fail('E_FORMAT', `page ${page.index} has an empty visible area`);
  const rotateObject = inherited(page, 'Rotate', resolve);
  const rotate = rotateObject instanceof PdfNumber ? rotateObject.value : 0;
  if (!Number.isInteger(rotate) || rotate % 90 !== 0) fail('E_FORMAT', `page ${page.index} has a rotation that is not a multiple of 90 degrees`);
  const turn = (((rotate % 360) + 360) % 360) as 0 | 90 | 180 | 270;

  const w = box.urx - box.llx;
  const h = box.ury - box.lly;
  const [viewWidth, viewHeight] = turn === 90 || turn === 270 ? [h, w] : [w, h];
  // (X, Y): points on the page as shown, origin top-left, Y down.
  const toUser = (X: number, Y: number): [number, number] => {
    switch (turn) {
      case 0:
        return [box.llx + X, box.ury - Y];
      case 90:
        return [box.llx + Y, box.lly + X];
      case 180:
        return [box.urx - X, box.lly + Y];
      case 270:
        return [box.urx - Y, box.ury - X];
    }
  };
  // Image space (i, j), j up: (0,0) is the stamp's bottom-left corner as shown.
  const at = (i: number, j: number) => toUser((rect.x + i * rect.width) * viewWidth, (rect.y + (1 - j) * rect.height) * viewHeight);
  const [e, f] = at(0, 0);
  const [ix, iy] = at(1, 0);
  const [jx, jy] = at(0, 1);
  return [ix - e, iy - f, jx - e, jy - f, e, f];
}

/** Page attributes a page may inherit from its ancestors in the page tree (ISO 32000-1 7.7.3.4). */
function inherited(page: PDFPage, key: 'MediaBox' | 'CropBox' | 'Rotate', resolve: (ref: PdfRef) => PdfObject | null): PdfObject | undefined {
  let dict: PdfDict | undefined = page.dict;
  // The page tree is attacker input: a Parent cycle must not loop forever.
  for (let depth = 0; dict && depth < 64; depth++) {
    const value = dict.get(key, resolve);
    if (value !== undefined) return value;
    const parent = dict.get('Parent', resolve);
    dict = parent instanceof PdfDict ? parent : undefined;
  }
  return undefined;
}

function readBox(value: PdfObject | undefined, resolve: (ref: PdfRef) => PdfObject | null): Box | null {
  if (!(value instanceof PdfArray) || value.length !== 4) return null;
  const n: number[] = [];
  for (let i = 0; i < 4; i++) {
    let item = value.at(i);
    if (item instanceof PdfRef) item = resolve(item) ?? undefined;
    if (!(item instanceof PdfNumber) || !Number.isFinite(item.value)) return null;
    n.push(item.value);
  }
  const [x1, y1, x2, y2] = n as [number, number, number, number];
  // Any two opposite corners may be given (ISO 32000-1 7.9.5).
  return { llx: Math.min(x1, x2), lly: Math.min(y1, y2), urx: Math.max(x1, x2), ury: Math.max(y1, y2) };
}
