/**
 * Where this browser keeps what it saw of the audit log (shared/protocol/audit-memory.ts): the
 * last checkpoint seen at sign-in, and for an auditor the last one cosigned, each with the log
 * key pinned at first sight. Sealed with AES-256-GCM under the account's local key, in the same
 * per-account IndexedDB database as the version memory (session/version-store.ts): the relay can
 * neither read nor quietly rewind it. A record that does not open (a new local key after a
 * password change, a changed byte) counts as nothing kept: the memory starts again, trusting
 * the log key on first sight once more.
 */
import { concatBytes, fromUtf8, randomBytes, utf8 } from '$shared/crypto/bytes';
import { fromBase64url, toBase64url } from '$shared/crypto/encoding';
import type { CheckpointStore, RememberedCheckpoint } from '$shared/protocol/audit-memory';
import { MEMORY_STORE, openMemoryDb } from '../session/version-store';

/** 'seen': every client, at sign-in; 'cosigned': the auditor's witness. */
export type CheckpointSlot = 'seen' | 'cosigned';

export interface SealedCheckpoint {
  nonce: string;
  ct: string;
}

const aad = (account: string, slot: CheckpointSlot) => concatBytes(utf8('sealvault/v1/local-checkpoint\u0000'), utf8(account), utf8('\u0000'), utf8(slot));

export async function sealCheckpoint(key: CryptoKey, account: string, slot: CheckpointSlot, value: RememberedCheckpoint): Promise<SealedCheckpoint> {
  const nonce = randomBytes(12);
  const ct = await crypto.subtle.encrypt({ name: 'AES-GCM', iv: nonce, additionalData: aad(account, slot) }, key, utf8(JSON.stringify(value)));
  return { nonce: toBase64url(nonce), ct: toBase64url(new Uint8Array(ct)) };
}

function inShape(v: unknown): v is RememberedCheckpoint {
  const r = v as RememberedCheckpoint | null;
  return (
    typeof r === 'object' &&
    r !== null &&
    typeof r.origin === 'string' &&
    typeof r.logVkey === 'string' &&
    typeof r.root === 'string' &&
    Number.isSafeInteger(r.size) &&
    r.size >= 0 &&
    Number.isSafeInteger(r.seenAt)
  );
}

/** The remembered checkpoint, or null when the record does not open or is not in shape. */
export async function openSealedCheckpoint(key: CryptoKey, account: string, slot: CheckpointSlot, sealed: SealedCheckpoint): Promise<RememberedCheckpoint | null> {
  try {
    const plain = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: fromBase64url(sealed.nonce), additionalData: aad(account, slot) }, key, fromBase64url(sealed.ct));
    const value: unknown = JSON.parse(fromUtf8(new Uint8Array(plain)));
    return inShape(value) ? { origin: value.origin, logVkey: value.logVkey, size: value.size, root: value.root, seenAt: value.seenAt } : null;
  } catch {
    return null;
  }
}

/**
 * A CheckpointStore for `slot` of `account`. Without IndexedDB (a private window that refuses
 * it) the memory lasts for the tab only, in `fallback`.
 */
export function sealedCheckpointStore(account: string, key: CryptoKey, slot: CheckpointSlot): CheckpointStore {
  const name = `checkpoint-${slot}`;
  let fallback: RememberedCheckpoint | null = null;
  const db = () => openMemoryDb(account).catch(() => null);
  return {
    async load() {
      const d = await db();
      const sealed = d ? ((await d.get(MEMORY_STORE, name).catch(() => undefined)) as SealedCheckpoint | undefined) : undefined;
      return (sealed ? await openSealedCheckpoint(key, account, slot, sealed) : null) ?? fallback;
    },
    async save(value) {
      fallback = value;
      const d = await db();
      if (d) await d.put(MEMORY_STORE, await sealCheckpoint(key, account, slot, value), name);
    },
  };
}
