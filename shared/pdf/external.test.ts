/**
 * The same signatures checked by independent verifiers: poppler's pdfsig (with the enterprise
 * CA trusted in an NSS database), `openssl cms -verify` over each byte range, and poppler's
 * renderer for where the stamps land. These tools are required, not optional: CI installs
 * the Debian packages poppler-utils, openssl and libnss3-tools.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { nssDatabaseTrusting, opensslVerifies, pdfsig, requirePdfTools } from '../test-support/pdf-tools';
import { signPdf } from './sign';
import { STAMPS, newCa, newEmployee, threeSignatures, type SignedFixture } from './test-support';
import { verifyPdfSignatures } from './verify';


let fixture: SignedFixture;
let nssDir: string;

beforeAll(async () => {
  // Fails (never skips) when a verifier is missing.
  requirePdfTools();
  fixture = await threeSignatures();
  nssDir = nssDatabaseTrusting(fixture.ca.certificatePem);
});

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'sealvault-pdf-'));
}

/** Page `page` (0-based) as a reader shows it (the CropBox, rotated), rendered by poppler. */
function renderPage(pdf: Uint8Array, page: number, dpi: number): { width: number; height: number; at(fx: number, fy: number): [number, number, number] } {
  const dir = tempDir();
  writeFileSync(join(dir, 'doc.pdf'), pdf);
  const ppm = execFileSync('/usr/bin/pdftoppm', ['-cropbox', '-r', String(dpi), '-f', String(page + 1), '-l', String(page + 1), '-singlefile', join(dir, 'doc.pdf')]);
  // Binary PPM: "P6 <w> <h> 255" and one whitespace, then RGB pixels.
  const head = /^P6\s+(\d+)\s+(\d+)\s+255\s/.exec(ppm.subarray(0, 64).toString('latin1'));
  if (!head) throw new Error('pdftoppm did not write a PPM');
  const [width, height, offset] = [Number(head[1]), Number(head[2]), head[0].length];
  return {
    width,
    height,
    at: (fx, fy) => {
      const i = offset + (Math.floor(fy * height) * width + Math.floor(fx * width)) * 3;
      return [ppm[i]!, ppm[i + 1]!, ppm[i + 2]!];
    },
  };
}

const WHITE = [255, 255, 255];
const RED = [255, 0, 0];
const BLUE = [0, 0, 255];

describe('independent verifiers', () => {
  it('poppler and OpenSSL accept the three sequential signatures', async () => {
    const { ca, signed } = fixture;
    expect(pdfsig(signed[2], nssDir)).toEqual([
      { fieldName: 'alice', signatureValidation: 'Signature is Valid.', certificateValidation: 'Certificate is Trusted.', wholeDocument: false },
      { fieldName: 'bob', signatureValidation: 'Signature is Valid.', certificateValidation: 'Certificate is Trusted.', wholeDocument: false },
      { fieldName: 'company-seal', signatureValidation: 'Signature is Valid.', certificateValidation: 'Certificate is Trusted.', wholeDocument: true },
    ]);
    const reports = await verifyPdfSignatures(signed[2], { caCertificatePem: ca.certificatePem, revoked: new Map() });
    expect(reports).toHaveLength(3);
    for (const r of reports) expect(opensslVerifies(signed[2], r.byteRange, ca.certificatePem)).toBe(true);
  });

  it('poppler and OpenSSL refuse a signature whose signed bytes were changed, as we do', async () => {
    const { ca, signed } = fixture;
    const original = signed[2];
    const reports = await verifyPdfSignatures(original, { caCertificatePem: ca.certificatePem, revoked: new Map() });
    const sealRange = reports[2]!.byteRange;
    // The first signed byte after the seal's /Contents: "/" of the next key in its dictionary.
    const at = sealRange[2] + 1;
    const tampered = new Uint8Array(original);
    tampered[at] = tampered[at]! ^ 0x01;

    expect((await verifyPdfSignatures(tampered, { caCertificatePem: ca.certificatePem, revoked: new Map() })).map((r) => r.status)).toEqual(['changed', 'changed', 'invalid']);
    expect(pdfsig(tampered, nssDir).map((v) => v.signatureValidation)).toEqual(['Signature is Valid.', 'Signature is Valid.', 'Digest Mismatch.']);
    expect(opensslVerifies(tampered, sealRange, ca.certificatePem)).toBe(false);
    expect(opensslVerifies(original, sealRange, ca.certificatePem)).toBe(true);
  });

  it('OpenSSL, like us, refuses a certificate from another CA, though its CMS is sound', async () => {
    const { ca, base } = fixture;
    const otherCa = await newCa();
    const mallory = await newEmployee(otherCa, 'acct-alice', 'Alice Martin', 'E-1001');
    const forged = await signPdf(base, { privateKey: mallory.privateKey, certificatePem: mallory.certificatePem, chainPems: [otherCa.certificatePem], fieldName: 'alice' });
    const [report] = await verifyPdfSignatures(forged, { caCertificatePem: ca.certificatePem, revoked: new Map() });
    expect(report!.status).toBe('invalid');
    expect(opensslVerifies(forged, report!.byteRange, ca.certificatePem)).toBe(false);
    expect(opensslVerifies(forged, report!.byteRange, otherCa.certificatePem)).toBe(true);
  });
});

describe('stamps as poppler renders them', () => {
  it('land where the browser placed them on a plain page', () => {
    const page = renderPage(fixture.signed[2], 0, 40);
    const { alice, seal } = STAMPS;
    expect(alice.page).toBe(0);
    // alice: x 0.1-0.4, y 0.7-0.8 (red); the seal: x 0.55-0.75, y 0.75-0.95 (blue)
    expect([alice.rect, seal.rect]).toEqual([
      { x: 0.1, y: 0.7, width: 0.3, height: 0.1 },
      { x: 0.55, y: 0.75, width: 0.2, height: 0.2 },
    ]);
    expect(page.at(0.25, 0.75)).toEqual(RED);
    expect(page.at(0.12, 0.72)).toEqual(RED);
    expect(page.at(0.38, 0.78)).toEqual(RED);
    expect(page.at(0.25, 0.67)).toEqual(WHITE);
    expect(page.at(0.25, 0.83)).toEqual(WHITE);
    expect(page.at(0.07, 0.75)).toEqual(WHITE);
    expect(page.at(0.43, 0.75)).toEqual(WHITE);
    expect(page.at(0.65, 0.85)).toEqual(BLUE);
    expect(page.at(0.65, 0.72)).toEqual(WHITE);
    expect(page.at(0.78, 0.85)).toEqual(WHITE);
  });

  it('land where the browser placed them on a rotated page with a CropBox, upright', () => {
    const page = renderPage(fixture.signed[2], 1, 40);
    expect(STAMPS.bob).toEqual({ page: 1, rect: { x: 0.6, y: 0.1, width: 0.2, height: 0.3 } });
    // /Rotate 90 shows the 555 x 782 pt CropBox as a landscape page.
    expect(Math.abs(page.width / page.height - 782 / 555)).toBeLessThan(0.02);
    expect(page.at(0.7, 0.25)).toEqual(BLUE);
    expect(page.at(0.62, 0.12)).toEqual(BLUE);
    expect(page.at(0.78, 0.38)).toEqual(BLUE);
    expect(page.at(0.57, 0.25)).toEqual(WHITE);
    expect(page.at(0.83, 0.25)).toEqual(WHITE);
    expect(page.at(0.7, 0.07)).toEqual(WHITE);
    expect(page.at(0.7, 0.43)).toEqual(WHITE);
  });
});
