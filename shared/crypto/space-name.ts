/**
 * A space's name, sealed under its space key SK so the keys service stores a name it cannot
 * read (docs/FORMATS.md section 8). AES-256-GCM with a random 96-bit nonce; the AAD binds the
 * space id and the SK version, so a relay cannot show one space's name on another, or claim a
 * key version the name was not sealed under.
 */
import { concatBytes, fromUtf8, randomBytes, utf8 } from './bytes';
import { canonicalJson, fromBase64url, toBase64url } from './encoding';
import { fail } from './errors';
import { checkId } from './account-keys';

export const SPACE_NAME_MAX_CHARS = 200;
const NONCE_BYTES = 12;
const AAD_PREFIX = utf8('sealvault/v1/space-name\u0000');

export interface SealedSpaceName {
  keyVersion: number;
  nonce: string;
  ct: string;
}

function aad(space: string, keyVersion: number): Uint8Array<ArrayBuffer> {
  checkId('space', space);
  if (!Number.isSafeInteger(keyVersion) || keyVersion < 1) fail('E_FORMAT', 'key version must be a positive integer');
  return concatBytes(AAD_PREFIX, utf8(canonicalJson({ keyVersion, space })));
}

export async function sealSpaceName(spaceKey: CryptoKey, space: string, keyVersion: number, name: string): Promise<SealedSpaceName> {
  const text = name.trim();
  if (text.length === 0 || [...text].length > SPACE_NAME_MAX_CHARS) fail('E_FORMAT', `a space name has 1 to ${SPACE_NAME_MAX_CHARS} characters`);
  const nonce = randomBytes(NONCE_BYTES);
  const ct = await crypto.subtle.encrypt({ name: 'AES-GCM', iv: nonce, additionalData: aad(space, keyVersion) }, spaceKey, utf8(text));
  return { keyVersion, nonce: toBase64url(nonce), ct: toBase64url(new Uint8Array(ct)) };
}

/** The name, from `sealed` opened with SK version `sealed.keyVersion` (`spaceKey`): E_AUTH if changed or moved. */
export async function openSpaceName(spaceKey: CryptoKey, space: string, sealed: SealedSpaceName): Promise<string> {
  const nonce = fromBase64url(sealed.nonce);
  if (nonce.length !== NONCE_BYTES) fail('E_FORMAT', 'space name nonce must be 12 bytes');
  const ct = fromBase64url(sealed.ct);
  if (ct.length < 17) fail('E_TRUNCATED', 'space name ciphertext shorter than its tag');
  let plain: Uint8Array;
  try {
    plain = new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv: nonce, additionalData: aad(space, sealed.keyVersion) }, spaceKey, ct));
  } catch (e) {
    return fail('E_AUTH', 'the space name does not decrypt: changed, or sealed for another space', e);
  }
  const name = fromUtf8(plain);
  if (name.trim().length === 0 || [...name].length > SPACE_NAME_MAX_CHARS) fail('E_FORMAT', 'the space name is not a name');
  return name;
}
