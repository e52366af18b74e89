import { beforeAll, describe, expect, it } from 'vitest';
import { PDF } from '@libpdf/core';
import { isCryptoError } from '../crypto/errors';
import type { IssuingCa } from '../pki/employee-certificate';
import { signPdf, type PdfSignOptions } from './sign';
import { verifyPdfSignatures, type PdfRevocation } from './verify';
import { newCa, newEmployee, newSeal, nssDatabaseTrusting, opensslVerifies, pdfsig, renderPage, requireExternalTools, solidPng, twoPagePdf, type TestSigner } from './test-support';

const RED = solidPng(8, 4, [255, 0, 0, 255]);
const BLUE = solidPng(4, 4, [0, 0, 255, 255]);
const NONE: ReadonlyMap<string, PdfRevocation> = new Map();

let ca: IssuingCa;
let alice: TestSigner;
let bob: TestSigner;
let seal: TestSigner;
let base: Uint8Array;
/** alice (stamp on page 0), bob (stamp on the rotated page 1), then the company seal */
let signed: Uint8Array[];

function options(signer: TestSigner, fieldName: string, extra: Partial<PdfSignOptions> = {}): PdfSignOptions {
  return { privateKey: signer.privateKey, certificatePem: signer.certificatePem, chainPems: [ca.certificatePem], fieldName, ...extra };
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(isCryptoError(error) ? error.code : error).toBe(code);
}

beforeAll(async () => {
  ca = await newCa();
  alice = await newEmployee(ca, 'acct-alice', 'Alice Martin', 'E-1001');
  bob = await newEmployee(ca, 'acct-bob', 'Bob Chen', 'E-1002');
  seal = await newSeal(ca, 'seal-42', 'company', 'Acme Trading company seal');
  base = await twoPagePdf();
  const first = await signPdf(base, options(alice, 'alice', { reason: 'Approved', stamps: [{ page: 0, rect: { x: 0.1, y: 0.7, width: 0.3, height: 0.1 }, png: RED }] }));
  const second = await signPdf(first, options(bob, 'bob', { stamps: [{ page: 1, rect: { x: 0.6, y: 0.1, width: 0.2, height: 0.3 }, png: BLUE }] }));
  const third = await signPdf(second, options(seal, 'company-seal', { stamps: [{ page: 0, rect: { x: 0.55, y: 0.75, width: 0.2, height: 0.2 }, png: BLUE }] }));
  signed = [first, second, third];
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
    expect(reports[0]!.chain).toEqual(['CN=Alice Martin, 2.5.4.5=E-1001, 0.9.2342.19200300.100.1.1=acct-alice, O=Acme Trading', 'CN=Acme Trading Sealvault Root CA, O=Acme Trading'].map((s) => expect.stringContaining(s.split(',')[0]!)));
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

  it('are valid for poppler (pdfsig, with the CA trusted) and for openssl cms', async () => {
    requireExternalTools();
    const nss = nssDatabaseTrusting(ca.certificatePem);
    expect(pdfsig(signed[2]!, nss)).toEqual([
      { fieldName: 'alice', signatureValidation: 'Signature is Valid.', certificateValidation: 'Certificate is Trusted.', wholeDocument: false },
      { fieldName: 'bob', signatureValidation: 'Signature is Valid.', certificateValidation: 'Certificate is Trusted.', wholeDocument: false },
      { fieldName: 'company-seal', signatureValidation: 'Signature is Valid.', certificateValidation: 'Certificate is Trusted.', wholeDocument: true },
    ]);
    const reports = await verifyPdfSignatures(signed[2]!, { caCertificatePem: ca.certificatePem, revoked: NONE });
    for (const r of reports) expect(opensslVerifies(signed[2]!, r.byteRange, ca.certificatePem)).toBe(true);
  });
});
