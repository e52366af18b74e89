import { beforeAll, describe, expect, it } from 'vitest';
import { PDF, PdfArray, PdfDict, PdfName, PdfRef, PdfStream, type PdfObject } from '@libpdf/core';
import type { IssuingCa } from '../pki/employee-certificate';
import { parseCertificate } from '../pki/x509';
import { codeOf } from '../test-support/outcome';
import { signPdf, type PdfSignOptions } from './sign';
import { verifyPdfSignatures, type PdfRevocation } from './verify';
import { newCa, newEmployee, solidPng, threeSignatures, type SignedFixture, type TestSigner } from './test-support';

const NONE: ReadonlyMap<string, PdfRevocation> = new Map();

let ca: IssuingCa;
let alice: TestSigner;
let bob: TestSigner;
let seal: TestSigner;
let base: Uint8Array;
let signed: SignedFixture['signed'];
let red: Uint8Array;

function options(signer: TestSigner, fieldName: string, extra: Partial<PdfSignOptions> = {}): PdfSignOptions {
  return { privateKey: signer.privateKey, certificatePem: signer.certificatePem, chainPems: [ca.certificatePem], fieldName, ...extra };
}

beforeAll(async () => {
  const fixture = await threeSignatures();
  ({ ca, alice, bob, seal, base, signed } = fixture);
  red = await solidPng(2, 2, [255, 0, 0, 255]);
});

describe('three sequential signatures', () => {
  it('are all valid for our verifier, in file order, with their signers', async () => {
    const reports = await verifyPdfSignatures(signed[2]!, { caCertificatePem: ca.certificatePem, revoked: NONE });
    expect(reports.map((r) => [r.fieldName, r.status, r.problems])).toEqual([
      ['alice', 'valid', []],
      ['bob', 'valid', []],
      ['company-seal', 'valid', []],
    ]);
    expect(reports.map((r) => r.signer)).toEqual([
      { kind: 'employee', commonName: 'Alice Martin', account: 'acct-alice', employeeNumber: 'E-1001' },
      { kind: 'employee', commonName: 'Bob Chen', account: 'acct-bob', employeeNumber: 'E-1002' },
      { kind: 'seal', commonName: 'Acme Trading company seal', seal: 'seal-42', sealType: 'company' },
    ]);
    expect(reports.map((r) => r.serial)).toEqual([alice.serial, bob.serial, seal.serial]);
    expect(reports.map((r) => r.coversWholeDocument)).toEqual([false, false, true]);
    expect(reports[0]!.certificatePem).toBe(alice.certificatePem);
    expect(reports[0]!.chain).toEqual([parseCertificate(alice.certificatePem, 'alice').subject, parseCertificate(ca.certificatePem, 'ca').subject]);
    for (const [i, r] of reports.entries()) {
      const [a, b, c, d] = r.byteRange;
      expect(a).toBe(0);
      expect(c + d).toBe(signed[i]!.length);
      expect(r.signedLength).toBe(b + d);
      expect(Math.abs(r.signingTime! - Date.now())).toBeLessThan(10 * 60_000);
    }
  });

  it('each intermediate version is valid on its own and covers the whole file', async () => {
    for (const [i, version] of signed.entries()) {
      const reports = await verifyPdfSignatures(version, { caCertificatePem: ca.certificatePem, revoked: NONE });
      expect(reports.map((r) => r.status)).toEqual(Array(i + 1).fill('valid'));
      expect(reports.at(-1)!.coversWholeDocument).toBe(true);
    }
  });
});

const latin1 = (bytes: Uint8Array) => new TextDecoder('latin1').decode(bytes);
const revisions = (bytes: Uint8Array) => latin1(bytes).match(/%%EOF/g)?.length ?? 0;
const verify = (bytes: Uint8Array, revoked: ReadonlyMap<string, PdfRevocation> = NONE) => verifyPdfSignatures(bytes, { caCertificatePem: ca.certificatePem, revoked });

/** The decoded content streams of a page and the subtype of each XObject it names. */
async function pageContent(bytes: Uint8Array, pageIndex: number): Promise<{ content: string; xobjects: Map<string, string> }> {
  const doc = await PDF.load(bytes);
  const resolve = (ref: PdfRef): PdfObject | null => doc.getObject(ref);
  const page = doc.getPage(pageIndex)!;
  const contents = page.dict.get('Contents', resolve);
  const streams = contents instanceof PdfArray ? Array.from({ length: contents.length }, (_, i) => contents.at(i)) : [contents];
  let content = '';
  for (let item of streams) {
    if (item instanceof PdfRef) item = resolve(item) ?? undefined;
    if (item instanceof PdfStream) content += `${latin1(item.getDecodedData())}\n`;
  }
  const xobjects = new Map<string, string>();
  const dict = page.dict.get('Resources', resolve);
  const xobject = dict instanceof PdfDict ? dict.get('XObject', resolve) : undefined;
  if (xobject instanceof PdfDict) {
    for (const [name, value] of xobject) {
      const stream = value instanceof PdfRef ? resolve(value) : value;
      const subtype = stream instanceof PdfDict ? stream.get('Subtype', resolve) : undefined;
      xobjects.set(name.value, subtype instanceof PdfName ? subtype.value : '');
    }
  }
  return { content, xobjects };
}

describe('stamps', () => {
  it('are drawn in the revision the signature covers: the page content paints an image XObject', async () => {
    // Each signature adds exactly one revision: the stamp is not in an unsigned one before it.
    expect(signed.map(revisions)).toEqual([2, 3, 4].map((n) => n + revisions(base) - 1));
    const [alices] = await verify(signed[2]!);
    const [, , c, d] = alices!.byteRange;
    const aliceRevision = signed[2]!.subarray(0, c + d);
    expect(await verify(aliceRevision)).toMatchObject([{ fieldName: 'alice', status: 'valid', coversWholeDocument: true }]);
    const { content, xobjects } = await pageContent(aliceRevision, 0);
    const painted = [...content.matchAll(/\/([A-Za-z0-9]+) Do/g)].map((m) => m[1]!);
    expect(painted.length).toBe(1);
    expect(xobjects.get(painted[0]!)).toBe('Image');
    expect((await pageContent(base, 0)).content).not.toMatch(/ Do/);
  });
});

describe('changes after signing', () => {
  it('a flipped byte in the last revision makes that signature invalid and the earlier ones changed', async () => {
    const original = signed[2]!;
    const reports = await verify(original);
    const sealRange = reports[2]!.byteRange;
    const bobEnd = reports[1]!.byteRange[2] + reports[1]!.byteRange[3];
    // The seal's /M date (after its /Contents): inside its signed range and after bob's.
    const at = latin1(original).indexOf('/M (D:', bobEnd) + 6;
    expect(at).toBeGreaterThan(sealRange[2]);
    expect(at).toBeLessThan(sealRange[2] + sealRange[3]);
    const tampered = new Uint8Array(original);
    tampered[at] = tampered[at] === 0x31 ? 0x32 : 0x31;

    const after = await verify(tampered);
    expect(after.map((r) => r.status)).toEqual(['changed', 'changed', 'invalid']);
    expect(after[2]!.problems).toEqual(['The document was changed after it was signed (the digest does not match).']);

  });

  it('an unsigned incremental update leaves every earlier signature changed, until a later signature covers it', async () => {
    const doc = await PDF.load(signed[2]!);
    doc.setTitle('Edited after signing');
    const edited = await doc.save({ incremental: true });
    expect(edited.length).toBeGreaterThan(signed[2]!.length);
    expect(edited.subarray(0, signed[2]!.length)).toEqual(signed[2]);

    const reports = await verify(edited);
    expect(reports.map((r) => r.status)).toEqual(['changed', 'changed', 'changed']);
    expect(reports.map((r) => r.coversWholeDocument)).toEqual([false, false, false]);
    expect(reports[2]!.problems).toEqual(['The document was changed after this signature without a later signature covering the change.']);

    const countersigned = await signPdf(edited, options(alice, 'alice-again'));
    expect((await verify(countersigned)).map((r) => r.status)).toEqual(['valid', 'valid', 'valid', 'valid']);
  });

  it('a truncated file gives reports, never a crash, and no signature is valid', async () => {
    const whole = signed[2]!;
    for (const fraction of [0.1, 0.3, 0.5, 0.7, 0.9, 0.97, 0.999]) {
      const cut = whole.subarray(0, Math.floor(whole.length * fraction));
      const reports = await verify(cut);
      for (const r of reports) expect(r.status).not.toBe('valid');
    }
    const lastCut = await verify(whole.subarray(0, whole.length - 10));
    expect(lastCut.map((r) => r.status)).toEqual(['changed', 'changed', 'invalid']);
    expect(lastCut[2]!.problems).toContain('The signed bytes go past the end of the file.');
  });

  it('a CMS that does not parse makes that signature invalid, and nothing covers its revision', async () => {
    const reports = await verify(signed[2]!);
    const [, b] = reports[2]!.byteRange;
    const broken = new Uint8Array(signed[2]!);
    // "<3082..." -> "<3182...", a SET where ContentInfo is a SEQUENCE; the gap is outside the
    // seal's own range (not bob's or alice's).
    broken.set(new TextEncoder().encode('31'), b + 1);
    const after = await verify(broken);
    expect(after.map((r) => r.status)).toEqual(['changed', 'changed', 'invalid']);
    expect(after[2]!.problems).toEqual(['The signature is not a CMS structure.']);
  });

  it("an earlier signature's /Contents is covered by the later ones: changing it breaks them all", async () => {
    const reports = await verify(signed[2]!);
    const [, b] = reports[0]!.byteRange;
    const broken = new Uint8Array(signed[2]!);
    broken.set(new TextEncoder().encode('0000'), b + 1);
    expect((await verify(broken)).map((r) => r.status)).toEqual(['invalid', 'invalid', 'invalid']);
  });
});

describe('malformed signature dictionaries', () => {
  const replaceLast = (bytes: Uint8Array, from: string, to: string): Uint8Array => {
    expect(to.length).toBe(from.length);
    const at = latin1(bytes).lastIndexOf(from);
    expect(at).toBeGreaterThan(0);
    const out = new Uint8Array(bytes);
    out.set(new TextEncoder().encode(to), at);
    return out;
  };

  it('a byte range that does not parse makes that signature invalid', async () => {
    const reports = await verify(signed[2]!);
    const [, b] = reports[2]!.byteRange;
    const broken = replaceLast(signed[2]!, `/ByteRange [0 ${b}`, `/ByteRange [x ${b}`);
    const after = await verify(broken);
    expect(after.map((r) => r.status)).toEqual(['changed', 'changed', 'invalid']);
    expect(after[2]!.problems).toEqual(['The byte range of the signature does not parse.']);
  });

  it('a byte range whose gap is not exactly the /Contents hex string makes that signature invalid', async () => {
    const reports = await verify(signed[2]!);
    const [, b] = reports[2]!.byteRange;
    // One byte less in the first range: the gap now starts before the "<".
    const broken = replaceLast(signed[2]!, `/ByteRange [0 ${b} `, `/ByteRange [0 ${String(b - 1).padEnd(String(b).length)} `);
    const after = await verify(broken);
    expect(after[2]!.status).toBe('invalid');
    expect(after[2]!.problems).toEqual(['The unsigned gap is not the /Contents of this signature.']);
  });

  it('a file stuffed with signature dictionaries is refused before any work (E_LIMIT)', async () => {
    const stuffed = new TextEncoder().encode(`%PDF-1.7\n${'1 0 obj << /ByteRange [0 1 2 3] >> endobj\n'.repeat(257)}%%EOF\n`);
    expect(await codeOf(verify(stuffed))).toBe('E_LIMIT');
    const fine = new TextEncoder().encode(`%PDF-1.7\n${'1 0 obj << /ByteRange [0 1 2 3] >> endobj\n'.repeat(3)}%%EOF\n`);
    expect((await verify(fine)).map((r) => r.status)).toEqual(['invalid', 'invalid', 'invalid']);
  });
});

describe('certificates', () => {
  it('a certificate from another CA (even one with the same name) is invalid', async () => {
    const otherCa = await newCa();
    const mallory = await newEmployee(otherCa, 'acct-alice', 'Alice Martin', 'E-1001');
    const forged = await signPdf(base, { privateKey: mallory.privateKey, certificatePem: mallory.certificatePem, chainPems: [otherCa.certificatePem], fieldName: 'alice' });
    const [report] = await verify(forged);
    expect(report!.status).toBe('invalid');
    expect(report!.problems).toEqual(['The certificate was not issued by the enterprise CA.']);
    expect(report!.chain).toEqual([parseCertificate(mallory.certificatePem, 'm').subject]);
  });

  it('a revoked serial makes its signature invalid and says so', async () => {
    const revoked = new Map([[bob.serial, { revokedAt: Date.UTC(2030, 0, 2), reason: 'key compromise' }]]);
    const reports = await verify(signed[2]!, revoked);
    expect(reports.map((r) => r.status)).toEqual(['valid', 'invalid', 'valid']);
    expect(reports[1]!.problems).toEqual(['The certificate was revoked on 2030-01-02T00:00:00.000Z: key compromise.']);
  });
});

describe('refusals', () => {
  it('a file that is not a PDF', async () => {
    const text = new TextEncoder().encode('hello, this is not a PDF');
    expect(await codeOf(signPdf(text, options(alice, 'x')))).toBe('E_FORMAT');
    expect(await codeOf(verify(text))).toBe('E_FORMAT');
  });

  it('an encrypted PDF', async () => {
    for (const userPassword of ['', 'secret']) {
      const doc = await PDF.load(base);
      doc.setProtection({ userPassword, ownerPassword: 'owner' });
      const encrypted = await doc.save();
      expect(await codeOf(signPdf(encrypted, options(alice, 'x')))).toBe('E_FORMAT');
    }
  });

  it('a stamp outside the page, on a missing page, or not a PNG', async () => {
    const stamp = (page: number, rect: { x: number; y: number; width: number; height: number }, png = red) => signPdf(base, options(alice, 'x', { stamps: [{ page, rect, png }] }));
    expect(await codeOf(stamp(0, { x: 0.9, y: 0.1, width: 0.2, height: 0.1 }))).toBe('E_FORMAT');
    expect(await codeOf(stamp(0, { x: 0.1, y: -0.01, width: 0.2, height: 0.1 }))).toBe('E_FORMAT');
    expect(await codeOf(stamp(0, { x: 0.1, y: 0.1, width: 0, height: 0.1 }))).toBe('E_FORMAT');
    expect(await codeOf(stamp(0, { x: Number.NaN, y: 0.1, width: 0.1, height: 0.1 }))).toBe('E_FORMAT');
    expect(await codeOf(stamp(2, { x: 0.1, y: 0.1, width: 0.1, height: 0.1 }))).toBe('E_FORMAT');
    expect(await codeOf(stamp(0, { x: 0.1, y: 0.1, width: 0.1, height: 0.1 }, new TextEncoder().encode('GIF89a')))).toBe('E_FORMAT');
    // Flush with the bottom-right corner still fits.
    expect((await verify(await stamp(0, { x: 0.8, y: 0.9, width: 0.2, height: 0.1 }))).map((r) => r.status)).toEqual(['valid']);
  });

  it("a key that is not the certificate's", async () => {
    expect(await codeOf(signPdf(base, { ...options(bob, 'x'), privateKey: alice.privateKey }))).toBe('E_CONTEXT');
  });

  it('a field that is already signed', async () => {
    expect(await codeOf(signPdf(signed[0]!, options(bob, 'alice')))).toBe('E_CONTEXT');
  });

  it('an unsigned PDF has no reports', async () => {
    expect(await verify(base)).toEqual([]);
  });
});
