/**
 * The vault's second wall behind the clients' signature checks: a record or manifest is stored
 * only if it is signed by the account storing it, with the signing key the directory holds for
 * that account (GET /accounts/:id/public-keys, as keys does), and only while that account is
 * active and certified with an unrevoked certificate.
 *
 * Nothing is cached: records and manifests are written once per edit or upload, never per
 * block, so one directory call each costs nothing and a revoked certificate stops writes at once.
 */
import { fromBase64url } from '../../shared/crypto/encoding';
import { isCryptoError } from '../../shared/crypto/errors';
import { importSigningPublicKey } from '../../shared/crypto/statements';
import { DirectoryPublicKeysSchema } from '../../shared/schemas/keys';
import type { Peers } from '../common/peers';
import { HttpError } from '../http/errors';

/**
 * The certified signing key of `account`: 409 E_NOT_CERTIFIED unless the directory lists it as
 * active, certified and not revoked, with a usable signing key.
 */
export async function certifiedSigningKey(peers: Peers, account: string): Promise<CryptoKey> {
  const res = await peers.fetch('directory', `/accounts/${encodeURIComponent(account)}/public-keys`, { headers: { accept: 'application/json' } });
  if (res.status === 404) throw new HttpError(409, 'E_NOT_CERTIFIED', `${account} is not a registered account`);
  if (!res.ok) throw new HttpError(503, 'E_PEER_UNAVAILABLE', `the directory could not answer for an account (HTTP ${res.status})`);
  const parsed = DirectoryPublicKeysSchema.safeParse(await res.json().catch(() => null));
  if (!parsed.success || parsed.data.account !== account) throw new HttpError(503, 'E_PEER_UNAVAILABLE', 'the directory answered with an unexpected account record');
  const info = parsed.data;
  if (info.status !== 'active' || !info.certified || info.revoked === true || !info.signingKey) {
    throw new HttpError(409, 'E_NOT_CERTIFIED', `${account} is not an active account with a certified, unrevoked signing key`);
  }
  try {
    return await importSigningPublicKey(fromBase64url(info.signingKey));
  } catch (e) {
    if (isCryptoError(e)) throw new HttpError(409, 'E_NOT_CERTIFIED', `${account} has no usable signing key`);
    throw e;
  }
}

/**
 * Runs a shared/crypto verification and maps its refusals to HTTP: E_CONTEXT stays 400
 * E_CONTEXT (a genuine statement about something else), anything else is 400 E_SIGNATURE.
 */
export async function verifiedOr400<T>(what: string, verify: () => Promise<T>): Promise<T> {
  try {
    return await verify();
  } catch (e) {
    if (isCryptoError(e, 'E_CONTEXT')) throw new HttpError(400, 'E_CONTEXT', `${what}: ${e.message.replace(/^E_CONTEXT: /, '')}`);
    if (isCryptoError(e)) throw new HttpError(400, 'E_SIGNATURE', `${what} is not signed by the caller's registered signing key`);
    throw e;
  }
}
