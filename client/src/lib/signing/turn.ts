/**
 * One signer's turn, wired for the browser: the marks drawn here (handwritten or typed
 * signature, dates, texts, seal stamps) become PNGs sized to their fields, the personal PAdES
 * signature uses the account's own signing key and certificate, each seal its own key opened
 * from the envelope addressed to this account. shared/protocol/signing signMyTurn does the rest
 * (download and check, sign, upload, signed step).
 */
import { signPdf } from '$shared/pdf';
import { fromBase64 } from '$shared/crypto/encoding';
import { signMyTurn, type VerifiedSigningFlow } from '$shared/protocol/signing';
import type { SigningField } from '$shared/schemas/signing';
import { checkSealUseApproval, openSealKey, recordSealUse, type SealWire } from '$shared/protocol/seals';
import { PublicKeysResponse } from '$shared/schemas/directory';
import { parseAnswer } from '$shared/protocol/account';
import { verifyEmployeeCertificate } from '$shared/pki/employee-certificate';
import { NAME_OIDS, parseCertificate, subjectField } from '$shared/pki/x509';
import { transport } from '$lib/relay';
import { fileTransport, me } from '$lib/contracts/session';
import type { SigningContract } from './contract';
import { canvasPng, MARK_DENSITY, textMarkPng } from './marks';

export type TurnPhase = 'preparing' | 'signing' | 'uploading' | 'recording';

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

/** The account's own certificate, checked to certify exactly the keys this browser holds. */
export async function myCertificatePem(caPem: string): Promise<string> {
  const account = me();
  const keys = parseAnswer(PublicKeysResponse, await transport.request('GET', `/api/directory/accounts/${encodeURIComponent(account.account)}/public-keys`), 'public keys');
  if (!keys.certificate || keys.revoked) throw new Error('your account has no valid certificate; ask the security administrator');
  const cert = parseCertificate(keys.certificate, 'your certificate');
  await verifyEmployeeCertificate(keys.certificate, {
    caCertificatePem: caPem,
    account: account.account,
    legalName: subjectField(cert, NAME_OIDS.commonName, 'legal name (CN)'),
    employeeNumber: subjectField(cert, NAME_OIDS.serialNumber, 'employee number (serialNumber)'),
    signingKeySpki: account.signing.spki,
    envelopeKeySpki: account.envelope.spki,
    now: new Date(),
  });
  return keys.certificate;
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
  const account = me();
  inputs.onPhase('preparing');
  const certificatePem = await myCertificatePem(loaded.caPem);
  const boxOf = (f: SigningField) => {
    const page = inputs.pageSizes.get(f.page);
    if (!page) throw new Error(`page ${f.page + 1} of the PDF is missing`);
    return { width: f.width * page.width, height: f.height * page.height };
  };
  const opened = new Map<string, { serial: string }>();
  const result = await signMyTurn(fileTransport, account, loaded.opened, flow, {
    certificatePem,
    chainPems: [loaded.caPem],
    async signPdf(pdf, options) {
      inputs.onPhase('signing');
      const out = await signPdf(pdf, options);
      inputs.onPhase('uploading');
      return out;
    },
    async openSealKey(seal) {
      const key = await openSealKey(transport, account, loaded.caPem, seal);
      opened.set(seal, { serial: key.serial });
      return key;
    },
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
    async sealApprovalFor(seal) {
      const wire = inputs.seals.get(seal);
      if (!wire) return null;
      const approval = await checkSealUseApproval(transport, account, loaded.caPem, wire, { contract: flow.contract, flow: flow.id, user: account.account });
      return approval?.statement.request ?? null;
    },
  });
  inputs.onPhase('recording');
  for (const [seal, { serial }] of opened) await recordSealUse(transport, account, seal, { contract: flow.contract, flow: flow.id, serial });
  return result;
}
