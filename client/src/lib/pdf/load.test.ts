import { describe, expect, it } from 'vitest';
import { looksLikePdf, MAX_ZOOM, MIN_ZOOM, pdfErrorKind, stepZoom } from './load';

describe('looksLikePdf', () => {
  it('knows a PDF by its type or by its first bytes', async () => {
    expect(await looksLikePdf(new Blob(['anything'], { type: 'application/pdf' }))).toBe(true);
    expect(await looksLikePdf(new Blob(['%PDF-1.7\n…']))).toBe(true);
    expect(await looksLikePdf(new Blob(['%PDF']))).toBe(false);
    expect(await looksLikePdf(new Blob(['PK\x03\x04'], { type: 'application/zip' }))).toBe(false);
  });
});

describe('stepZoom', () => {
  it('moves to the next step, also from a scale between steps, and stops at the ends', () => {
    expect(stepZoom(1, 1)).toBe(1.25);
    expect(stepZoom(1, -1)).toBe(0.75);
    expect(stepZoom(1.1, 1)).toBe(1.25);
    expect(stepZoom(1.1, -1)).toBe(1);
    expect(stepZoom(MAX_ZOOM, 1)).toBe(MAX_ZOOM);
    expect(stepZoom(MIN_ZOOM, -1)).toBe(MIN_ZOOM);
  });
});

describe('pdfErrorKind', () => {
  const named = (name: string) => Object.assign(new Error('x'), { name });
  it('tells a broken or non-PDF file and a locked one from other failures', () => {
    expect(pdfErrorKind(named('InvalidPDFException'))).toBe('invalid');
    expect(pdfErrorKind(named('PasswordException'))).toBe('password');
    expect(pdfErrorKind(new TypeError('boom'))).toBe('other');
    expect(pdfErrorKind('nope')).toBe('other');
  });
});
