/** Byte-level helpers shared by signing and verification. */
import { abytes } from '../crypto/bytes';
import { fail } from '../crypto/errors';

const HEADER = '%PDF-';
/** ISO 32000-2 7.5.2 lets readers accept junk before the header; Acrobat looks within 1024 bytes. */
const HEADER_WINDOW = 1024;

/** E_FORMAT unless `pdf` starts (within the first KiB) with a PDF header. */
export function checkPdfHeader(pdf: unknown): asserts pdf is Uint8Array {
  const bytes = abytes('pdf', pdf);
  if (latin1(bytes.subarray(0, HEADER_WINDOW)).indexOf(HEADER) < 0) fail('E_FORMAT', 'the file is not a PDF (no %PDF- header)');
}

const latin1Decoder = new TextDecoder('latin1');

/**
 * One character per byte, so string offsets are byte offsets. WHATWG "latin1" is windows-1252,
 * which still maps every byte to exactly one UTF-16 code unit; only ASCII is ever searched.
 */
export function latin1(bytes: Uint8Array): string {
  return latin1Decoder.decode(bytes);
}
