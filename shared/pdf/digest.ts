/** How statements name a PDF file version (docs/SIGNING.md section 1). */
import { abytes } from '../crypto/bytes';
import { toBase64url } from '../crypto/encoding';

/** SHA-256 of the whole file, base64url without padding. */
export async function pdfDigest(bytes: Uint8Array): Promise<string> {
  abytes('bytes', bytes);
  return toBase64url(new Uint8Array(await crypto.subtle.digest('SHA-256', new Uint8Array(bytes))));
}
