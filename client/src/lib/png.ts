/**
 * What makes an uploaded PNG usable as a mark on a contract page (a stamp or a signature): it is
 * a PNG, small enough, and can be transparent (colour type 6 RGBA or 4 grey + alpha, or a tRNS
 * chunk before the image data), so the paper and text show through it instead of a white box.
 */
const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

export type PngProblem = 'not-png' | 'too-large' | 'no-alpha';

export function pngProblem(bytes: Uint8Array, maxBytes: number): PngProblem | null {
  if (bytes.length < 33 || PNG_MAGIC.some((b, i) => bytes[i] !== b)) return 'not-png';
  if (bytes.length > maxBytes) return 'too-large';
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const chunkType = (at: number) => String.fromCharCode(...bytes.subarray(at + 4, at + 8));
  if (chunkType(8) !== 'IHDR') return 'not-png';
  const colourType = bytes[25];
  if (colourType === 6 || colourType === 4) return null;
  for (let at = 8; at + 8 <= bytes.length; ) {
    const length = view.getUint32(at);
    const type = chunkType(at);
    if (type === 'tRNS') return null;
    if (type === 'IDAT' || type === 'IEND') break;
    at += 12 + length;
  }
  return 'no-alpha';
}
