/**
 * Stamp images in the browser: the drawn SVG stamp rasterised to a transparent 480x480 PNG (what
 * is stored and later stamped into PDFs), and the checks an uploaded PNG must pass (a PNG, small
 * enough, with an alpha channel so the paper shows through the stamp).
 */
import { toBase64 } from '$shared/crypto/encoding';
import { STAMP_PNG_MAX_BYTES } from '$shared/schemas/seals';
import { pngProblem as checkPng, type PngProblem } from '$lib/png';
import { svgPng } from '$lib/signing/marks';

export const STAMP_PIXELS = 480;
export type { PngProblem } from '$lib/png';

/** Why a PNG cannot be a stamp, or null. */
export const pngProblem = (bytes: Uint8Array): PngProblem | null => checkPng(bytes, STAMP_PNG_MAX_BYTES);

/** Draws the SVG on a transparent canvas and returns the PNG as base64. */
export async function rasteriseSvg(svg: string): Promise<string> {
  return toBase64(await svgPng(svg, STAMP_PIXELS));
}

export const pngDataUrl = (base64: string) => `data:image/png;base64,${base64}`;
