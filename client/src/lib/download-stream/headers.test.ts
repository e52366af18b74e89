import { describe, expect, it } from 'vitest';
import { contentDisposition, downloadHeaders, safeContentType } from './headers';

/** The name a reader of filename* gets back (RFC 8187: charset, empty language, percent-encoded UTF-8). */
function extendedName(header: string): string {
  const m = /; filename\*=UTF-8''([A-Za-z0-9!#$&+\-.^_`|~%]+)$/.exec(header);
  if (!m) throw new Error(`no filename* in ${header}`);
  return decodeURIComponent(m[1]!);
}

function quotedName(header: string): string {
  const m = /^attachment; filename="([\x20-\x7e]*)"; /.exec(header);
  if (!m) throw new Error(`no quoted filename in ${header}`);
  expect(m[1]).not.toMatch(/["\\%]/);
  return m[1]!;
}

describe('Content-Disposition of a streamed download', () => {
  it('names an ASCII file the same both ways', () => {
    expect(contentDisposition('framework-agreement_v2.pdf')).toBe(`attachment; filename="framework-agreement_v2.pdf"; filename*=UTF-8''framework-agreement_v2.pdf`);
  });

  it('carries a Chinese name exactly in filename*, with an ASCII stand-in beside it', () => {
    const header = contentDisposition('采购框架协议 2025.pdf');
    expect(header).toBe(`attachment; filename="______ 2025.pdf"; filename*=UTF-8''%E9%87%87%E8%B4%AD%E6%A1%86%E6%9E%B6%E5%8D%8F%E8%AE%AE%202025.pdf`);
    expect(extendedName(header)).toBe('采购框架协议 2025.pdf');
  });

  it('keeps quotes, apostrophes, brackets and percent signs from breaking either form', () => {
    for (const name of ['the "final" one.pdf', "O'Brien (v2) *draft*.pdf", '100% done.txt', 'a\\b.txt']) {
      const header = contentDisposition(name);
      expect(extendedName(header)).toBe(name.replace('\\', '_'));
      expect(quotedName(header)).toHaveLength(name.length);
    }
    expect(contentDisposition("O'Brien (v2).pdf")).toContain(`filename*=UTF-8''O%27Brien%20%28v2%29.pdf`);
  });

  it('cannot be used to add a header line or a path', () => {
    const header = contentDisposition('x.pdf\r\nSet-Cookie: a=b');
    expect(header).not.toMatch(/[\r\n]/);
    expect(extendedName(contentDisposition('../../etc/passwd'))).toBe('.._.._etc_passwd');
    expect(extendedName(contentDisposition('..'))).toBe('download');
    expect(extendedName(contentDisposition(' \u0000 '))).toBe('download');
  });

  it('survives a broken UTF-16 name (a lone surrogate) instead of throwing', () => {
    expect(extendedName(contentDisposition('bad\uD800name.pdf'))).toBe('bad\uFFFDname.pdf');
  });

  it('is a valid header value (a ByteString) for every name', () => {
    for (const name of ['合同.pdf', 'émigré résumé.pdf', '😀.txt', 'tab\there']) {
      expect(() => new Headers({ 'Content-Disposition': contentDisposition(name) })).not.toThrow();
    }
  });
});

describe('the other download headers', () => {
  it('announce the plaintext length, forbid sniffing and caching', () => {
    expect(downloadHeaders({ name: '合同.pdf', size: 1_073_741_824, mimeType: 'application/pdf' })).toEqual({
      'Content-Type': 'application/pdf',
      'Content-Length': '1073741824',
      'Content-Disposition': contentDisposition('合同.pdf'),
      'X-Content-Type-Options': 'nosniff',
      'Cache-Control': 'no-store',
      'Content-Security-Policy': "default-src 'none'; sandbox",
    });
  });

  it('keep a bare recorded type, and fall back to octet-stream for anything else', () => {
    expect(safeContentType('Application/PDF')).toBe('application/pdf');
    expect(safeContentType('application/vnd.openxmlformats-officedocument.wordprocessingml.document')).toBe('application/vnd.openxmlformats-officedocument.wordprocessingml.document');
    for (const odd of ['', 'pdf', 'text/html; charset=utf-8', 'text/plain\r\nX: y', 'a/b/c']) expect(safeContentType(odd)).toBe('application/octet-stream');
  });
});
