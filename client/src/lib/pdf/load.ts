/**
 * The small, always-loaded side of the PDF viewer: the lazy loader for pdf.js (./engine.ts) and
 * helpers that must work before or without it.
 */
export type PdfEngine = typeof import('./engine');

let engine: Promise<PdfEngine> | null = null;

/** Imports pdf.js once, on first use; a failed import (e.g. offline) may be tried again. */
export function loadPdfEngine(): Promise<PdfEngine> {
  engine ??= import('./engine').catch((e: unknown) => {
    engine = null;
    throw e;
  });
  return engine;
}

export type PdfErrorKind = 'invalid' | 'password' | 'other';

/** pdf.js names its refusals; a file that is not a PDF and a locked one get their own sentence. */
export function pdfErrorKind(e: unknown): PdfErrorKind {
  const name = e instanceof Error ? e.name : '';
  if (name === 'PasswordException') return 'password';
  if (name === 'InvalidPDFException' || name === 'FormatError') return 'invalid';
  return 'other';
}

export function isRenderCancellation(e: unknown): boolean {
  return e instanceof Error && e.name === 'RenderingCancelledException';
}

const PDF_MAGIC = [0x25, 0x50, 0x44, 0x46, 0x2d]; // "%PDF-"

/** A PDF by its declared type or by its first bytes (files often come without a type). */
export async function looksLikePdf(file: Blob): Promise<boolean> {
  if (file.type === 'application/pdf') return true;
  const head = new Uint8Array(await file.slice(0, PDF_MAGIC.length).arrayBuffer());
  return PDF_MAGIC.every((byte, i) => head[i] === byte);
}

export const ZOOM_STEPS = [0.25, 0.5, 0.75, 1, 1.25, 1.5, 2, 3, 4] as const;
export const MIN_ZOOM = ZOOM_STEPS[0];
export const MAX_ZOOM = ZOOM_STEPS[ZOOM_STEPS.length - 1]!;

/** The next step above (direction 1) or below (-1) the current scale, which may lie between steps. */
export function stepZoom(current: number, direction: 1 | -1): number {
  if (direction === 1) return ZOOM_STEPS.find((s) => s > current * 1.001) ?? MAX_ZOOM;
  return [...ZOOM_STEPS].reverse().find((s) => s < current * 0.999) ?? MIN_ZOOM;
}
