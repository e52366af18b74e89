/**
 * Stamp images in the browser: the drawn SVG stamp rasterised to a transparent 480x480 PNG (what
 * is stored and later stamped into PDFs), and the checks an uploaded PNG must pass (a PNG, small
 * enough, with an alpha channel so the paper shows through the stamp).
 */
import { toBase64 } from '$shared/crypto/encoding';
import { STAMP_PNG_MAX_BYTES } from '$shared/schemas/seals';

export const STAMP_PIXELS = 480;
const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

export type PngProblem = 'not-png' | 'too-large' | 'no-alpha';

/** Why a PNG cannot be a stamp, or null: colour type 6 (RGBA) or 4 (grey + alpha), or a tRNS chunk. */
export function pngProblem(bytes: Uint8Array): PngProblem | null {
  if (bytes.length < 33 || PNG_MAGIC.some((b, i) => bytes[i] !== b)) return 'not-png';
  if (bytes.length > STAMP_PNG_MAX_BYTES) return 'too-large';
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const chunkType = (at: number) => String.fromCharCode(...bytes.subarray(at + 4, at + 8));
  if (chunkType(8) !== 'IHDR') return 'not-png';
  const colourType = bytes[25];
  if (colourType === 6 || colourType === 4) return null;
  // Walk the chunks before the image data for a transparency chunk.
  for (let at = 8; at + 8 <= bytes.length; ) {
    const length = view.getUint32(at);
    const type = chunkType(at);
    if (type === 'tRNS') return null;
    if (type === 'IDAT' || type === 'IEND') break;
    at += 12 + length;
  }
  return 'no-alpha';
}

/** Draws the SVG on a transparent canvas and returns the PNG as base64. */
export async function rasteriseSvg(svg: string): Promise<string> {
  const url = URL.createObjectURL(new Blob([svg], { type: 'image/svg+xml' }));
  try {
    const image = new Image(STAMP_PIXELS, STAMP_PIXELS);
    image.src = url;
    await image.decode();
    const canvas = document.createElement('canvas');
    canvas.width = STAMP_PIXELS;
    canvas.height = STAMP_PIXELS;
    const context = canvas.getContext('2d');
    if (!context) throw new Error('no 2D canvas');
    context.clearRect(0, 0, STAMP_PIXELS, STAMP_PIXELS);
    context.drawImage(image, 0, 0, STAMP_PIXELS, STAMP_PIXELS);
    const blob = await new Promise<Blob | null>((resolve) => canvas.toBlob(resolve, 'image/png'));
    if (!blob) throw new Error('the stamp could not be drawn');
    return toBase64(new Uint8Array(await blob.arrayBuffer()));
  } finally {
    URL.revokeObjectURL(url);
  }
}

export const pngDataUrl = (base64: string) => `data:image/png;base64,${base64}`;
