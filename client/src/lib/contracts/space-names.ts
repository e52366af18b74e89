/**
 * Space names as members read them: sealed under the space key, opened here through the
 * caller's verified grant (shared/protocol/spaces.ts spaceNameOf), once per sealed value in this
 * tab. A name that cannot be opened (no grant of its key version, or changed) shows as the id.
 */
import { spaceNameOf, type SpaceGrants } from '$shared/protocol/spaces';
import type { SealedSpaceName } from '$shared/schemas/keys';
import { transport } from '$lib/relay';
import { caPem, me } from './session';

const opened = new Map<string, Promise<string | null>>();

export function spaceName(space: string, listed: { name: string | null; sealedName: SealedSpaceName | null }, grants?: SpaceGrants): Promise<string | null> {
  const account = me();
  const key = `${account.account}/${space}/${listed.sealedName ? `${listed.sealedName.keyVersion}/${listed.sealedName.ct}` : `plain/${listed.name}`}`;
  let name = opened.get(key);
  if (!name) {
    name = caPem()
      .then((pem) => spaceNameOf(transport, account, pem, space, listed, grants))
      .catch(() => null);
    opened.set(key, name);
  }
  return name;
}
