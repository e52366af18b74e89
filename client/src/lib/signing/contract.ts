/**
 * What every signing page needs about one contract: the contract opened in this browser (its
 * DEK and verified writers), the caller's role, the space's members, the enterprise CA, and the
 * latest committed version of each file. The relay's word on roles is only used to offer
 * choices; the protocol checks the manager's signed grants before anything is signed.
 */
import { openContract, type OpenedContract } from '$shared/protocol/contracts';
import { openSharedContract } from '$shared/protocol/sharing';
import { spaceGrants, type SpaceGrants } from '$shared/protocol/spaces';
import type { GrantRole } from '$shared/schemas/keys';
import { transport } from '$lib/relay';
import { caPem, me, versionMemory } from '$lib/contracts/session';
import { contractFiles } from '$lib/contracts/directory';
import { fileMetas } from '$lib/contracts/fields';
import type { FileMeta } from '$lib/contracts/schemas';

export interface SigningContract {
  opened: OpenedContract;
  role: GrantRole | null;
  members: SpaceGrants['members'];
  caPem: string;
  files: { id: string; meta: FileMeta | null; latest: number | null }[];
}

export async function openSigningContract(space: string, contract: string): Promise<SigningContract> {
  const account = me();
  const pem = await caPem();
  const grants = await spaceGrants(transport, account, space);
  const role = grants.members.find((m) => m.member === account.account)?.role ?? null;
  const opened =
    role === null
      ? await openSharedContract(transport, account, pem, space, contract, versionMemory(account.account))
      : await openContract(transport, account, pem, space, contract, versionMemory(account.account));
  const listed = await contractFiles(contract);
  const metas = fileMetas(opened.fields);
  const memory = versionMemory(account.account);
  const files = listed.files.map((f) => {
    const latest = f.versions.filter((v) => v.state === 'committed').reduce((n, v) => Math.max(n, v.version), 0);
    // A relay that hides a version this browser has already seen committed is rolling back.
    if (latest > 0) memory.check(`${contract}/file:${f.file}`, latest);
    return { id: f.file, meta: metas.get(f.file) ?? null, latest: latest === 0 ? null : latest };
  });
  return { opened, role, members: grants.members, caPem: pem, files };
}
