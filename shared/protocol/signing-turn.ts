/**
 * One signer's whole turn with the real PAdES core (docs/SIGNING.md): the personal signature
 * with the account's own signing key and certificate (checked to certify exactly the keys this
 * browser holds), each seal with its own key opened from the envelope addressed to the signer,
 * the seal's use approval when it needs one, then signing.ts signMyTurn (download and check,
 * sign, upload, signed step) and the seal.use audit entries. The caller draws the marks.
 */
import { signPdf } from '../pdf/sign';
import { verifyEmployeeCertificate } from '../pki/employee-certificate';
import { NAME_OIDS, parseCertificate, subjectField } from '../pki/x509';
import { fail } from '../crypto/errors';
import { PublicKeysResponse } from '../schemas/directory';
import type { SigningField } from '../schemas/signing';
import { parseAnswer, type UnlockedAccount } from './account';
import type { OpenedContract } from './contracts';
import type { FileTransport } from './files';
import type { RelayTransport } from './relay-transport';
import { checkSealUseApproval, getSeal, openSealKey, recordSealUse, type OpenedSeal } from './seals';
import { signMyTurn, type SigningFlowView, type VerifiedSigningFlow } from './signing';

export type TurnPhase = 'preparing' | 'signing' | 'uploading' | 'recording';

/** The account's own certificate, refused unless it certifies exactly the keys `me` holds now. */
export async function myCertificatePem(transport: RelayTransport, me: UnlockedAccount, caPem: string): Promise<string> {
  const keys = parseAnswer(PublicKeysResponse, await transport.request('GET', `/api/directory/accounts/${encodeURIComponent(me.account)}/public-keys`), 'public keys');
  if (keys.account !== me.account) fail('E_CONTEXT', 'the relay answered with the keys of another account');
  if (!keys.certificate || keys.revoked) fail('E_CONTEXT', 'your account has no valid certificate; ask the security administrator');
  const cert = parseCertificate(keys.certificate, 'your certificate');
  await verifyEmployeeCertificate(keys.certificate, {
    caCertificatePem: caPem,
    account: me.account,
    legalName: subjectField(cert, NAME_OIDS.commonName, 'legal name (CN)'),
    employeeNumber: subjectField(cert, NAME_OIDS.serialNumber, 'employee number (serialNumber)'),
    signingKeySpki: me.signing.spki,
    envelopeKeySpki: me.envelope.spki,
    now: new Date(),
  });
  return keys.certificate;
}

export interface TurnOptions {
  /** the PNG drawn in `field`: the signer's mark, a rendered date or text, the seal's stamp */
  stampFor(field: SigningField): Promise<Uint8Array>;
  onPhase?(phase: TurnPhase): void;
}

export async function signTurn(transport: FileTransport, me: UnlockedAccount, caPem: string, opened: OpenedContract, flow: VerifiedSigningFlow, options: TurnOptions): Promise<SigningFlowView> {
  const phase = options.onPhase ?? (() => {});
  phase('preparing');
  const certificatePem = await myCertificatePem(transport, me, caPem);
  const used = new Map<string, OpenedSeal>();
  const result = await signMyTurn(transport, me, opened, flow, {
    certificatePem,
    chainPems: [caPem],
    async signPdf(pdf, signOptions) {
      phase('signing');
      const out = await signPdf(pdf, signOptions);
      phase('uploading');
      return out;
    },
    async openSealKey(seal) {
      const key = await openSealKey(transport, me, caPem, seal);
      used.set(seal, key);
      return key;
    },
    stampFor: options.stampFor,
    async sealApprovalFor(seal) {
      // signMyTurn opens the seal's key first, which read and verified the seal already.
      const wire = used.get(seal)?.seal ?? (await getSeal(transport, me, seal));
      const approval = await checkSealUseApproval(transport, me, caPem, wire, { contract: flow.contract, flow: flow.id, user: me.account });
      return approval?.statement.request ?? null;
    },
  });
  phase('recording');
  for (const [seal, { serial }] of used) await recordSealUse(transport, me, seal, { contract: flow.contract, flow: flow.id, serial });
  return result;
}
