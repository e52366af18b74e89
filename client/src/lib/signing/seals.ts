/**
 * Seals as the signing pages use them: the active ones, who may apply each, and its stamp. What
 * the relay lists only offers choices: applying a seal opens its key through
 * shared/protocol/seals openSealKey, which checks the signed request, approval and certificate.
 */
import { listSeals, type SealWire } from '$shared/protocol/seals';
import { fromBase64 } from '$shared/crypto/encoding';
import { transport } from '$lib/relay';
import { me } from '$lib/contracts/session';

export interface UsableSeal {
  id: string;
  name: string;
  type: SealWire['type'];
  users: readonly string[];
  useNeedsApproval: boolean;
  stampPng: Uint8Array;
}

export async function usableSeals(): Promise<UsableSeal[]> {
  const seals = await listSeals(transport, me());
  return seals
    .filter((s) => s.status === 'active')
    .map((s) => ({ id: s.id, name: s.name, type: s.type, users: s.users, useNeedsApproval: s.useNeedsApproval, stampPng: fromBase64(s.stampPng) }));
}
