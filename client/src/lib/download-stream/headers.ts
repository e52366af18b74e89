/**
 * The headers of a streamed download (RFC 6266, RFC 8187 / 5987): the browser saves the body
 * under the file's own name, Chinese included, and never renders or sniffs it.
 */
import type { DownloadOffer } from './protocol';

// RFC 8187 attr-char: what may stand unencoded in filename*. encodeURIComponent also leaves
// ' ( ) * alone, and those are not attr-chars ("'" would even end the charset part).
const NOT_ATTR_CHAR = /['()*]/g;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const CONTROL = /[\u0000-\u001f\u007f]/g;

/** The name a person sees, made safe to put in a header and to save as a file name. */
function cleanName(name: string): string {
  const clean = name.replace(LONE_SURROGATE, '\uFFFD').replace(CONTROL, '').replace(/[/\\]/g, '_').trim();
  return clean === '' || clean === '.' || clean === '..' ? 'download' : clean;
}

/**
 * `attachment; filename="…"; filename*=UTF-8''…`: filename* carries the exact name; the quoted
 * filename is an ASCII stand-in for clients that read only that (non-ASCII, quote, backslash
 * and % become "_", since some clients percent-decode it).
 */
export function contentDisposition(name: string): string {
  const clean = cleanName(name);
  const fallback = clean.replace(/[^\x20-\x7e]|["\\%]/g, '_');
  const encoded = encodeURIComponent(clean).replace(NOT_ATTR_CHAR, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}

const MIME = /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/i;

/** A bare type/subtype as recorded with the file, else the neutral octet-stream. */
export function safeContentType(mimeType: string): string {
  return MIME.test(mimeType) ? mimeType.toLowerCase() : 'application/octet-stream';
}

export function downloadHeaders(offer: Pick<DownloadOffer, 'name' | 'size' | 'mimeType'>): Record<string, string> {
  return {
    'Content-Type': safeContentType(offer.mimeType),
    // The browser checks the received length against it: a stream that ends short is a failed download.
    'Content-Length': String(offer.size),
    'Content-Disposition': contentDisposition(offer.name),
    'X-Content-Type-Options': 'nosniff',
    'Cache-Control': 'no-store',
    // Never rendered (attachment), and if a browser ever did, it could run nothing.
    'Content-Security-Policy': "default-src 'none'; sandbox",
  };
}
