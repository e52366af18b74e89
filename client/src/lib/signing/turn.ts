/**
 * The marks of one signer's turn drawn in this browser (handwritten or typed signature, dates,
 * texts, seal stamps), each a PNG of its field's shape, handed to shared/protocol/signing-turn,
 * which signs, uploads and records the step.
 */
import { signTurn as signWithMarks, type TurnPhase } from '$shared/protocol/signing-turn';
import type { VerifiedSigningFlow } from '$shared/protocol/signing';
import type { SigningField } from '$shared/schemas/signing';
import type { SealWire } from '$shared/protocol/seals';
import { fromBase64 } from '$shared/crypto/encoding';
import { fileTransport, me } from '$lib/contracts/session';
import type { SigningContract } from './contract';
import { canvasPng, MARK_DENSITY, textMarkPng } from './marks';

export type { TurnPhase };

export interface TurnInputs {
  /** the signer's mark, for signature fields */
  signature: Uint8Array | null;
  /** field id -> what the signer wrote */
  texts: Readonly<Record<string, string>>;
  /** the date as it is written into date fields */
  date: string;
  /** the page sizes in points (0-based page index), for drawing marks at the field's shape */
  pageSizes: ReadonlyMap<number, { width: number; height: number }>;
  seals: ReadonlyMap<string, SealWire>;
  onPhase(phase: TurnPhase): void;
}

/** `png` drawn centred and whole in a transparent image of the field's shape, so it is not stretched. */
async function fitted(png: Uint8Array, box: { width: number; height: number }): Promise<Uint8Array> {
  const image = await createImageBitmap(new Blob([png.slice()], { type: 'image/png' }));
  const canvas = document.createElement('canvas');
  canvas.width = Math.max(1, Math.round(box.width * MARK_DENSITY));
  canvas.height = Math.max(1, Math.round(box.height * MARK_DENSITY));
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('this browser cannot draw on a canvas');
  const scale = Math.min(canvas.width / image.width, canvas.height / image.height);
  const w = image.width * scale;
  const h = image.height * scale;
  ctx.drawImage(image, (canvas.width - w) / 2, (canvas.height - h) / 2, w, h);
  image.close();
  return canvasPng(canvas);
}

export async function signTurn(loaded: SigningContract, flow: VerifiedSigningFlow, inputs: TurnInputs) {
  const boxOf = (f: SigningField) => {
    const page = inputs.pageSizes.get(f.page);
    if (!page) throw new Error(`page ${f.page + 1} of the PDF is missing`);
    return { width: f.width * page.width, height: f.height * page.height };
  };
  return signWithMarks(fileTransport, me(), loaded.caPem, loaded.opened, flow, {
    onPhase: inputs.onPhase,
    async stampFor(field) {
      const box = boxOf(field);
      switch (field.kind) {
        case 'signature':
          if (!inputs.signature) throw new Error('draw, type or choose your signature first');
          return fitted(inputs.signature, box);
        case 'date':
          return textMarkPng(inputs.date, box, 'plain');
        case 'text':
          return textMarkPng(inputs.texts[field.id]?.trim() || ' ', box, 'plain');
        case 'seal': {
          const seal = field.seal ? inputs.seals.get(field.seal) : undefined;
          if (!seal) throw new Error('the seal of this field is not available to you');
          return fitted(fromBase64(seal.stampPng), box);
        }
      }
    },
  });
}
