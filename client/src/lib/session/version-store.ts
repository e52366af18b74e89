/**
 * The rollback memory kept past a reload: the newest versions this browser has seen (space key
 * versions, contract records and files), sealed with AES-256-GCM under the account's local key
 * (made at unlock from P and E, like the search index's; see docs/FORMATS.md section 13) in an
 * IndexedDB database of the account's own. A relay cannot read or change it; a record that does
 * not open (a new local key after a password change, a changed byte) is dropped, and the memory
 * starts again from what this session sees.
 */
import { openDB } from 'idb';
import { concatBytes, fromUtf8, randomBytes, utf8 } from '$shared/crypto/bytes';
import { fromBase64url, toBase64url } from '$shared/crypto/encoding';
import type { VersionMemory } from '$shared/protocol/version-memory';

const STORE = 'memory';
const KEY = 'versions';
const MAX_ENTRIES = 100_000;

export interface SealedVersions {
  nonce: string;
  ct: string;
}

const aad = (account: string) => concatBytes(utf8('sealvault/v1/local-versions\u0000'), utf8(account));

export async function sealVersions(key: CryptoKey, account: string, entries: [string, number][]): Promise<SealedVersions> {
  const nonce = randomBytes(12);
  const ct = await crypto.subtle.encrypt({ name: 'AES-GCM', iv: nonce, additionalData: aad(account) }, key, utf8(JSON.stringify(entries.slice(-MAX_ENTRIES))));
  return { nonce: toBase64url(nonce), ct: toBase64url(new Uint8Array(ct)) };
}

/** The entries, or null when the record does not open or is not in shape. */
export async function openVersions(key: CryptoKey, account: string, sealed: SealedVersions): Promise<[string, number][] | null> {
  try {
    const plain = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: fromBase64url(sealed.nonce), additionalData: aad(account) }, key, fromBase64url(sealed.ct));
    const value: unknown = JSON.parse(fromUtf8(new Uint8Array(plain)));
    if (!Array.isArray(value)) return null;
    return value.filter((e): e is [string, number] => Array.isArray(e) && typeof e[0] === 'string' && Number.isSafeInteger(e[1]) && e[1] > 0);
  } catch {
    return null;
  }
}

/** The account's own database of sealed memories (this file's versions, and audit/checkpoint-store.ts). */
export const MEMORY_STORE = STORE;
export const openMemoryDb = (account: string) => openDB(`sealvault-versions-${account}`, 1, { upgrade: (db) => void db.createObjectStore(STORE) });
const open = openMemoryDb;

/**
 * Fills `memory` with what was sealed before, then keeps it sealed after every change (written
 * at most every 500 ms). Without IndexedDB (a private window that refuses it) the memory lasts
 * for the tab only.
 */
export async function keepVersions(memory: VersionMemory, account: string, key: CryptoKey): Promise<void> {
  let db: Awaited<ReturnType<typeof open>>;
  try {
    db = await open(account);
  } catch {
    return;
  }
  const stored = (await db.get(STORE, KEY).catch(() => undefined)) as SealedVersions | undefined;
  const entries = stored ? await openVersions(key, account, stored) : null;
  memory.merge(entries ?? []);
  let timer: ReturnType<typeof setTimeout> | null = null;
  memory.onChange = () => {
    timer ??= setTimeout(() => {
      timer = null;
      void sealVersions(key, account, memory.entries())
        .then((sealed) => db.put(STORE, sealed, KEY))
        .catch(() => {});
    }, 500);
  };
}
