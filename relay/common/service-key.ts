/**
 * Each relay service has its own Ed25519 signing key, kept in its own data folder (0600). It
 * signs what that service issues or observes: session tokens (directory), audit entries,
 * checkpoints (audit). Other services know it by its raw public key.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { toBase64url } from '../../shared/crypto/encoding';

export interface ServiceKey {
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  /** raw 32-byte public key */
  publicRaw: Uint8Array;
  /** base64url of publicRaw */
  publicB64u: string;
}

const FILE = 'service-key.pkcs8';

export async function loadOrCreateServiceKey(dataDir: string, file = FILE): Promise<ServiceKey> {
  const path = join(dataDir, file);
  let pkcs8: Uint8Array;
  if (existsSync(path)) {
    pkcs8 = new Uint8Array(readFileSync(path));
  } else {
    const pair = (await crypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify'])) as CryptoKeyPair;
    pkcs8 = new Uint8Array(await crypto.subtle.exportKey('pkcs8', pair.privateKey));
    writeFileSync(path, pkcs8, { mode: 0o600, flag: 'wx' });
  }
  const extractable = await crypto.subtle.importKey('pkcs8', pkcs8 as BufferSource, { name: 'Ed25519' }, true, ['sign']);
  const jwk = await crypto.subtle.exportKey('jwk', extractable);
  const publicRaw = new Uint8Array(Buffer.from(jwk.x!, 'base64url'));
  const privateKey = await crypto.subtle.importKey('pkcs8', pkcs8 as BufferSource, { name: 'Ed25519' }, false, ['sign']);
  const publicKey = await crypto.subtle.importKey('raw', publicRaw as BufferSource, { name: 'Ed25519' }, true, ['verify']);
  pkcs8.fill(0);
  return { privateKey, publicKey, publicRaw, publicB64u: toBase64url(publicRaw) };
}
