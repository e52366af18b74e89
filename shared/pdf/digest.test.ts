import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { pdfDigest } from './digest';
import { twoPagePdf } from './test-support';

describe('pdfDigest', () => {
  it('is the base64url SHA-256 of the whole file, as node:crypto computes it', async () => {
    const pdf = await twoPagePdf();
    expect(await pdfDigest(pdf)).toBe(createHash('sha256').update(pdf).digest('base64url'));
    expect(await pdfDigest(new Uint8Array(0))).toBe('47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU');
  });

  it('refuses what is not bytes', async () => {
    await expect(pdfDigest('%PDF-1.7' as unknown as Uint8Array)).rejects.toThrow(TypeError);
  });
});
