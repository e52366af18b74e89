/**
 * The "Shared with me" list: the contracts the relay says are shared with the signed-in
 * account, each then opened here (the share verified, the fields decrypted) for its title, so a
 * share that does not verify is shown as such and never with a title from unverified data.
 */
import { openSharedContract, sharedWithMe, type SharedWithMe } from '$shared/protocol/sharing';
import { spaceGrants } from '$shared/protocol/spaces';
import { transport } from '$lib/relay';
import { resolveName } from './directory';
import { errorText } from './errors';
import { caPem, me, versionMemory } from './session';

export interface SharedRow extends SharedWithMe {
  title: string | null;
  spaceName: string | null;
  granterName: string | null;
  /** why the share was refused when opened, or null */
  error: string | null;
}

export async function listSharedWithMe(): Promise<SharedWithMe[]> {
  return sharedWithMe(transport, me());
}

/** Opens one share for its title, space name and sharer's name; a refusal is reported, not thrown. */
export async function describeShare(s: SharedWithMe): Promise<Pick<SharedRow, 'title' | 'spaceName' | 'granterName' | 'error'>> {
  try {
    const account = me();
    const pem = await caPem();
    const opened = await openSharedContract(transport, account, pem, s.space, s.contract, versionMemory(account.account));
    const [grants, granterName] = await Promise.all([spaceGrants(transport, account, s.space).catch(() => null), resolveName(opened.sharedBy ?? s.granter, pem)]);
    return { title: opened.fields.title, spaceName: grants?.name ?? null, granterName, error: null };
  } catch (e) {
    return { title: null, spaceName: null, granterName: null, error: errorText(e) };
  }
}
