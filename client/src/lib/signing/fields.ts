/**
 * Fields of a signing plan as the initiator places them: fractions of the page, origin top left
 * (docs/SIGNING.md). Pure, so the placement rules are tested without a browser.
 */
export const FIELD_KINDS = ['signature', 'seal', 'date', 'text'] as const;
export type FieldKind = (typeof FIELD_KINDS)[number];

export interface PlacedField {
  id: string;
  signer: string;
  kind: FieldKind;
  /** 0-based page index */
  page: number;
  x: number;
  y: number;
  width: number;
  height: number;
  /** a seal field: the seal to apply (its user signs it) */
  seal?: string;
  /** a text field: what the signer is asked to write */
  label?: string;
}

/** Width as a fraction of the page, and height in points relative to width (seals are round). */
const SIZES: Record<FieldKind, { width: number; ratio: number }> = {
  signature: { width: 0.26, ratio: 0.32 },
  seal: { width: 0.2, ratio: 1 },
  date: { width: 0.2, ratio: 0.18 },
  text: { width: 0.3, ratio: 0.12 },
};

/** The size of a new field on a page whose height is `aspect` times its width. */
export function defaultFieldSize(kind: FieldKind, aspect: number): { width: number; height: number } {
  const { width, ratio } = SIZES[kind];
  return { width, height: Math.min(0.5, (width * ratio) / aspect) };
}

function clamp(value: number, max: number): number {
  return Math.min(max, Math.max(0, value));
}

/** A new field centred on `at` (the middle of the page when absent), kept inside the page. */
export function placeField(
  existing: readonly PlacedField[],
  input: { kind: FieldKind; signer: string; page: number; aspect: number; at?: { x: number; y: number }; seal?: string; label?: string },
): PlacedField {
  const size = defaultFieldSize(input.kind, input.aspect);
  const at = input.at ?? { x: 0.5, y: 0.5 };
  let n = existing.length + 1;
  const taken = new Set(existing.map((f) => f.id));
  while (taken.has(`f${n}`)) n += 1;
  return {
    id: `f${n}`,
    signer: input.signer,
    kind: input.kind,
    page: input.page,
    ...size,
    x: clamp(at.x - size.width / 2, 1 - size.width),
    y: clamp(at.y - size.height / 2, 1 - size.height),
    ...(input.kind === 'seal' && input.seal !== undefined ? { seal: input.seal } : {}),
    ...(input.kind === 'text' ? { label: input.label ?? 'Text' } : {}),
  };
}

/** What stops a plan from being sent: every signer needs at least one field. */
export function signersWithoutFields(signers: readonly string[], fields: readonly PlacedField[]): string[] {
  const placed = new Set(fields.map((f) => f.signer));
  return signers.filter((s) => !placed.has(s));
}

/** What stops a plan from being sent, in the order a person fixes them. */
export function planGaps(signers: readonly string[], fields: readonly PlacedField[]): { kind: 'no-signers' } | { kind: 'no-field'; signer: string } | { kind: 'no-seal'; field: string } | null {
  if (signers.length === 0) return { kind: 'no-signers' };
  const missing = signersWithoutFields(signers, fields.filter((f) => f.kind === 'signature' || f.kind === 'seal'));
  if (missing.length > 0) return { kind: 'no-field', signer: missing[0]! };
  const sealless = fields.find((f) => f.kind === 'seal' && !f.seal);
  if (sealless) return { kind: 'no-seal', field: sealless.id };
  return null;
}
