/**
 * Independent checks of signed PDFs for tests (Node only): poppler's pdfsig with the enterprise
 * CA trusted in an NSS database, and `openssl cms -verify` over one signature's byte range.
 * CI installs the Debian packages poppler-utils, openssl and libnss3-tools; a missing tool fails
 * the test that needs it, it never skips it.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const TOOLS = [
  { path: '/usr/bin/pdfsig', apt: 'poppler-utils' },
  { path: '/usr/bin/pdftoppm', apt: 'poppler-utils' },
  { path: '/usr/bin/openssl', apt: 'openssl' },
  { path: '/usr/bin/certutil', apt: 'libnss3-tools' },
];

export function requirePdfTools(): void {
  const missing = TOOLS.filter((t) => !existsSync(t.path));
  if (missing.length > 0) {
    throw new Error(`missing ${missing.map((t) => t.path).join(', ')}: install the Debian packages ${[...new Set(missing.map((t) => t.apt))].join(' ')} (apt-get install -y poppler-utils openssl libnss3-tools)`);
  }
}

function tempDir(): string {
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

export interface PdfsigVerdict {
  fieldName: string;
  signatureValidation: string;
  certificateValidation: string;
  wholeDocument: boolean;
}

/** pdfsig's verdict per signature, in file order. */
export function pdfsig(pdf: Uint8Array, nssDir: string): PdfsigVerdict[] {
  const file = join(tempDir(), 'doc.pdf');
  writeFileSync(file, pdf);
  const run = spawnSync('/usr/bin/pdfsig', ['-nssdir', `sql:${nssDir}`, file], { encoding: 'utf8' });
  // stderr carries NSS shutdown noise; the verdicts are on stdout.
  return run.stdout
    .split(/^Signature #\d+:$/m)
    .slice(1)
    .map((block) => ({
      fieldName: /- Signature Field Name: (.*)$/m.exec(block)?.[1] ?? '',
      signatureValidation: /- Signature Validation: (.*)$/m.exec(block)?.[1] ?? '',
      certificateValidation: /- Certificate Validation: (.*)$/m.exec(block)?.[1] ?? '',
      wholeDocument: /- Total document signed/m.test(block),
    }));
}

/** The DER element at the start of `bytes` (the /Contents placeholder pads the CMS with zeros). */
function derPrefix(bytes: Buffer): Buffer {
  const first = bytes[1] ?? 0;
  if (first < 0x80) return bytes.subarray(0, 2 + first);
  const n = first & 0x7f;
  return bytes.subarray(0, 2 + n + bytes.subarray(2, 2 + n).reduce((len, b) => len * 256 + b, 0));
}

/** `openssl cms -verify` over one signature's byte range; true when OpenSSL accepts it. */
export function opensslVerifies(pdf: Uint8Array, byteRange: readonly [number, number, number, number], caPem: string): boolean {
  const [a, b, c, d] = byteRange;
  const dir = tempDir();
  const hex = Buffer.from(pdf.subarray(a + b + 1, c - 1)).toString('latin1');
  writeFileSync(join(dir, 'sig.der'), derPrefix(Buffer.from(hex, 'hex')));
  writeFileSync(join(dir, 'content.bin'), Buffer.concat([pdf.subarray(a, a + b), pdf.subarray(c, c + d)]));
  writeFileSync(join(dir, 'ca.pem'), caPem);
  const run = spawnSync('/usr/bin/openssl', ['cms', '-verify', '-binary', '-inform', 'DER', '-in', join(dir, 'sig.der'), '-content', join(dir, 'content.bin'), '-CAfile', join(dir, 'ca.pem'), '-purpose', 'any', '-out', '/dev/null'], { encoding: 'utf8' });
  return run.status === 0;
}

