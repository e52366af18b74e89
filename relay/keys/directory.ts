/**
 * What the keys service asks the directory (docs/relay-api.md): an account's status, roles, public
 * keys and certification. Keys refuses to record a grant or envelope for anyone who is not an
 * active, certified account whose certificate is not revoked, and checks every granter's
 * statement with the granter's signing key.
 */
import { fromBase64url } from '../../shared/crypto/encoding';
import { importEnvelopePublicKey } from '../../shared/crypto/envelopes';
import { isCryptoError } from '../../shared/crypto/errors';
import { importSigningPublicKey, verifyStatement, type Statement } from '../../shared/crypto/statements';
import { DirectoryPublicKeysSchema, type DirectoryPublicKeys } from '../../shared/schemas/keys';
import type { Peers } from '../common/peers';
import { HttpError } from '../http/errors';

export async function lookupAccount(peers: Peers, account: string): Promise<DirectoryPublicKeys | null> {
  const res = await peers.fetch('directory', `/accounts/${encodeURIComponent(account)}/public-keys`, { headers: { accept: 'application/json' } });
  if (res.status === 404) return null;
  if (!res.ok) throw new HttpError(503, 'E_PEER_UNAVAILABLE', `the directory could not answer for an account (HTTP ${res.status})`);
  const parsed = DirectoryPublicKeysSchema.safeParse(await res.json().catch(() => null));
  if (!parsed.success || parsed.data.account !== account) throw new HttpError(503, 'E_PEER_UNAVAILABLE', 'the directory answered with an unexpected account record');
  return parsed.data;
}

/** Active, certified, and its certificate not revoked. */
function isCertifiedActive(a: DirectoryPublicKeys | null): a is DirectoryPublicKeys {
  return a !== null && a.status === 'active' && a.certified && a.revoked !== true;
}

/** The RSA modulus size in bytes of the account's envelope key (E_KEY_WEAK if it has none usable). */
async function envelopeModulusBytes(info: DirectoryPublicKeys): Promise<number> {
  if (!info.envelopeKey) throw new HttpError(409, 'E_NOT_CERTIFIED', `${info.account} has no envelope key`);
  try {
    const key = await importEnvelopePublicKey(fromBase64url(info.envelopeKey));
    return (key.algorithm as RsaHashedKeyAlgorithm).modulusLength / 8;
  } catch (e) {
    if (isCryptoError(e)) throw new HttpError(409, 'E_KEY_WEAK', `${info.account} has no usable envelope key`);
    throw e;
  }
}

/**
 * The recipient of a key: an active, certified (not revoked) account with an envelope key.
 * Returns the RSA modulus size in bytes, so the caller can refuse an envelope that was not
 * wrapped to that key.
 */
export async function requireCertifiedRecipient(peers: Peers, account: string): Promise<number> {
  const info = await lookupAccount(peers, account);
  if (!isCertifiedActive(info) || !info.envelopeKey) {
    throw new HttpError(409, 'E_NOT_CERTIFIED', `${account} is not an active account with a certified, unrevoked key`);
  }
  return envelopeModulusBytes(info);
}

export const SECURITY_ADMIN_ROLE = 'security-admin';

/**
 * The recipient of an enterprise CA key envelope: an active account that holds the
 * security-admin role now (not only when its session was issued), whose certificate is not
 * revoked. Another administrator must also be certified; the caller's own key need not be,
 * because a security administrator cannot certify their own keys (the first one holds the CA key
 * before anyone can certify them) and the caller's browser wraps to a key it holds itself.
 * Returns the RSA modulus size in bytes.
 */
export async function requireCaKeyRecipient(peers: Peers, caller: string, recipient: string): Promise<number> {
  const me = await lookupAccount(peers, caller);
  if (!me || me.status !== 'active' || !me.roles.includes(SECURITY_ADMIN_ROLE)) {
    throw new HttpError(403, 'E_FORBIDDEN', 'the directory no longer lists the caller as an active security administrator');
  }
  const info = recipient === caller ? me : await lookupAccount(peers, recipient);
  if (!info || info.status !== 'active' || !info.roles.includes(SECURITY_ADMIN_ROLE)) {
    throw new HttpError(409, 'E_NOT_SECURITY_ADMIN', `${recipient} is not an active security administrator`);
  }
  if (info.revoked === true || (recipient !== caller && !info.certified)) {
    throw new HttpError(409, 'E_NOT_CERTIFIED', `${recipient} has no certified, unrevoked key`);
  }
  return envelopeModulusBytes(info);
}

/**
 * Checks `signed` with the signing key the directory holds for `signer` (who must be an active,
 * certified account). Any failure of the signature, its encoding or its type is E_SIGNATURE.
 */
export async function verifySignedBy<T extends Statement>(peers: Peers, signer: string, signed: unknown, type: T['type']): Promise<T> {
  const info = await lookupAccount(peers, signer);
  if (!isCertifiedActive(info)) throw new HttpError(409, 'E_NOT_CERTIFIED', 'the granter is not an active account with a certified key');
  if (!info.signingKey) throw new HttpError(400, 'E_SIGNATURE', 'the granter has no signing key');
  try {
    const key = await importSigningPublicKey(fromBase64url(info.signingKey));
    return await verifyStatement<T>(key, signed, type);
  } catch (e) {
    if (isCryptoError(e)) throw new HttpError(400, 'E_SIGNATURE', "the statement is not signed by its granter's signing key");
    throw e;
  }
}
