/**
 * The visible marks a signer puts on a page (a handwritten or typed signature, a date, a line of
 * text, a seal's stamp) as PNG bytes with a transparent background. The PAdES core draws PNGs
 * only: the browser's own fonts render any script (Chinese included) here, so the PDF needs no
 * embedded font, and what the signer previews is exactly what is stamped.
 */

/** Pixels per PDF point for marks: sharp when printed, small enough to keep each revision light. */
export const MARK_DENSITY = 3;
const INK = '#1b2a6b';
export const MAX_MARK_BYTES = 1024 * 1024;

export async function canvasPng(canvas: HTMLCanvasElement): Promise<Uint8Array> {
  const blob = await new Promise<Blob | null>((resolve) => canvas.toBlob(resolve, 'image/png'));
  if (!blob) throw new Error('this browser could not turn the drawing into an image');
  const bytes = new Uint8Array(await blob.arrayBuffer());
  if (bytes.length > MAX_MARK_BYTES) throw new Error('the image is larger than 1 MiB');
  return bytes;
}

function blankCanvas(widthPt: number, heightPt: number): { canvas: HTMLCanvasElement; ctx: CanvasRenderingContext2D } {
  const canvas = document.createElement('canvas');
  canvas.width = Math.max(1, Math.round(widthPt * MARK_DENSITY));
  canvas.height = Math.max(1, Math.round(heightPt * MARK_DENSITY));
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('this browser cannot draw on a canvas');
  return { canvas, ctx };
}

/**
 * One line of text, as large as fits the box (a typed signature uses a cursive face; dates and
 * text a plain one).
 */
export async function textMarkPng(text: string, box: { width: number; height: number }, style: 'signature' | 'plain'): Promise<Uint8Array> {
  const { canvas, ctx } = blankCanvas(box.width, box.height);
  const family = style === 'signature' ? '"Brush Script MT", "Segoe Script", "KaiTi", "STKaiti", cursive' : 'system-ui, "Noto Sans CJK SC", sans-serif';
  let size = canvas.height * 0.8;
  ctx.font = `${style === 'signature' ? 'italic ' : ''}${size}px ${family}`;
  const measured = ctx.measureText(text).width;
  if (measured > canvas.width * 0.95) {
    size *= (canvas.width * 0.95) / measured;
    ctx.font = `${style === 'signature' ? 'italic ' : ''}${size}px ${family}`;
  }
  ctx.fillStyle = INK;
  ctx.textBaseline = 'middle';
  ctx.textAlign = 'center';
  ctx.fillText(text, canvas.width / 2, canvas.height / 2);
  return canvasPng(canvas);
}

/** An SVG (a seal's stamp drawn in the browser) rasterised at `pixels` square, transparent around it. */
export async function svgPng(svg: string, pixels: number): Promise<Uint8Array> {
  const url = URL.createObjectURL(new Blob([svg], { type: 'image/svg+xml' }));
  try {
    const image = new Image();
    image.src = url;
    await image.decode();
    const canvas = document.createElement('canvas');
    canvas.width = pixels;
    canvas.height = pixels;
    const ctx = canvas.getContext('2d');
    if (!ctx) throw new Error('this browser cannot draw on a canvas');
    ctx.drawImage(image, 0, 0, pixels, pixels);
    return await canvasPng(canvas);
  } finally {
    URL.revokeObjectURL(url);
  }
}

/** A PNG's bytes as an object URL for an <img> preview; the caller revokes it. */
export function pngUrl(png: Uint8Array): string {
  return URL.createObjectURL(new Blob([png.slice()], { type: 'image/png' }));
}
