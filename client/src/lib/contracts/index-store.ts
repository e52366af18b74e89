/**
 * The local search index at rest (docs/FORMATS.md, "Local search index"): one entry per contract
 * holding the fields this browser decrypted and verified, sealed with AES-256-GCM under the
 * account's local index key. Storage is a small backend interface (IndexedDB in the app, a Map in
 * tests) that only ever sees ciphertext and ids the relay already knows.
 *
 * The index is a cache: anything that does not open (another key after a password change, a
 * changed byte, an entry moved to another contract, space or account) is deleted and the
 * contract is opened from the relay again. Nothing here is ever sent to the relay.
 */
import { z } from 'zod';
import { checkId } from '$shared/crypto/account-keys';
import { concatBytes, fromUtf8, randomBytes, utf8 } from '$shared/crypto/bytes';
import { canonicalJson } from '$shared/crypto/encoding';
import { fail } from '$shared/crypto/errors';
import { ContractFieldsSchema, type ContractFields } from '$shared/schemas/contract';

/** Bumped when the sealed plaintext or the AAD changes; an entry of another version is dropped. */
export const INDEX_FORMAT_VERSION = 1;
const AAD_PREFIX = utf8('sealvault/v1/local-index\u0000');
const NONCE_SIZE = 12;
const TAG_SIZE = 16;
/** Fields are at most about 60 KB of JSON (shared/schemas/contract.ts); anything far larger was not written here. */
export const ENTRY_MAX_PLAINTEXT = 256 * 1024;

/** One stored entry. In clear: the contract and space ids (the relay assigned them) and the format version. */
export interface StoredEntry {
  contract: string;
  space: string;
  v: number;
  nonce: Uint8Array;
  ct: Uint8Array;
}

/** A sealed empty message whose only job is to tell, at open, whether the store was made under this key. */
export interface StoredCheck {
  v: number;
  nonce: Uint8Array;
  ct: Uint8Array;
}

export interface IndexBackend {
  /** The entries that say they belong to `space` (attacker-controlled until opened). */
  entries(space: string): Promise<StoredEntry[]>;
  put(entry: StoredEntry): Promise<void>;
  delete(contract: string): Promise<void>;
  getCheck(): Promise<StoredCheck | undefined>;
  /** Deletes every entry and stores `check`, atomically where the backend can. */
  reset(check: StoredCheck): Promise<void>;
}

/** What an entry holds once opened. */
export interface IndexEntry {
  contract: string;
  space: string;
  fieldsVersion: number;
  fields: ContractFields;
}

const SealedPlaintext = z.strictObject({ fieldsVersion: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER), fields: ContractFieldsSchema });

function aad(account: string, context: { kind: 'check' } | { kind: 'entry'; contract: string; space: string }): Uint8Array<ArrayBuffer> {
  return concatBytes(AAD_PREFIX, utf8(canonicalJson({ v: INDEX_FORMAT_VERSION, account, ...context })));
}

async function seal(key: CryptoKey, additionalData: Uint8Array<ArrayBuffer>, plaintext: Uint8Array<ArrayBuffer>): Promise<{ nonce: Uint8Array; ct: Uint8Array }> {
  // A fresh random nonce per write: entries are rewritten whenever a contract changes.
  const nonce = randomBytes(NONCE_SIZE);
  const ct = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv: nonce, additionalData }, key, plaintext));
  return { nonce, ct };
}

async function unseal(key: CryptoKey, additionalData: Uint8Array<ArrayBuffer>, sealed: { v: unknown; nonce: unknown; ct: unknown }): Promise<Uint8Array> {
  if (sealed.v !== INDEX_FORMAT_VERSION) fail('E_FORMAT', 'index entry of another format version');
  if (!(sealed.nonce instanceof Uint8Array) || sealed.nonce.length !== NONCE_SIZE) fail('E_FORMAT', 'index entry nonce must be 12 bytes');
  if (!(sealed.ct instanceof Uint8Array) || sealed.ct.length < TAG_SIZE) fail('E_TRUNCATED', 'index entry shorter than its tag');
  if (sealed.ct.length > ENTRY_MAX_PLAINTEXT + TAG_SIZE) fail('E_LIMIT', 'index entry too large');
  try {
    return new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv: new Uint8Array(sealed.nonce), additionalData }, key, new Uint8Array(sealed.ct)));
  } catch (e) {
    return fail('E_AUTH', 'index entry does not decrypt: another key, or changed or moved data', e);
  }
}

/** Opens one stored entry as the entry of `space` it claims to be; throws (E_FORMAT, E_AUTH, E_CONTEXT) otherwise. */
export async function openEntry(key: CryptoKey, account: string, space: string, stored: StoredEntry): Promise<IndexEntry> {
  if (stored.space !== space) fail('E_CONTEXT', 'index entry of another space');
  checkId('contract', stored.contract);
  const plaintext = await unseal(key, aad(account, { kind: 'entry', contract: stored.contract, space }), stored);
  let value: unknown;
  try {
    value = JSON.parse(fromUtf8(plaintext));
  } catch (e) {
    return fail('E_FORMAT', 'index entry is not JSON', e);
  }
  const parsed = SealedPlaintext.safeParse(value);
  if (!parsed.success) fail('E_FORMAT', 'index entry is not in the expected shape');
  return { contract: stored.contract, space, fieldsVersion: parsed.data.fieldsVersion, fields: parsed.data.fields };
}

export async function sealEntry(key: CryptoKey, account: string, entry: IndexEntry): Promise<StoredEntry> {
  checkId('contract', entry.contract);
  checkId('space', entry.space);
  const plaintext = utf8(canonicalJson({ fieldsVersion: entry.fieldsVersion, fields: entry.fields }));
  if (plaintext.length > ENTRY_MAX_PLAINTEXT) fail('E_LIMIT', 'index entry too large');
  const sealed = await seal(key, aad(account, { kind: 'entry', contract: entry.contract, space: entry.space }), plaintext);
  plaintext.fill(0);
  return { contract: entry.contract, space: entry.space, v: INDEX_FORMAT_VERSION, ...sealed };
}

/** The encrypted index of one account in one backend. */
export class EncryptedIndexStore {
  private constructor(
    private readonly backend: IndexBackend,
    private readonly key: CryptoKey,
    private readonly account: string,
  ) {}

  /**
   * The store under `key`. A store whose check does not open under `key` (made before a
   * password change, or tampered with) is emptied: none of its entries could open either.
   */
  static async open(backend: IndexBackend, key: CryptoKey, account: string): Promise<EncryptedIndexStore> {
    checkId('account', account);
    const checkAad = aad(account, { kind: 'check' });
    const check = await backend.getCheck();
    let current = false;
    if (check) {
      try {
        await unseal(key, checkAad, check);
        current = true;
      } catch {
        // another key: reset below
      }
    }
    if (!current) await backend.reset({ v: INDEX_FORMAT_VERSION, ...(await seal(key, checkAad, new Uint8Array(0))) });
    return new EncryptedIndexStore(backend, key, account);
  }

  /** The entries of `space` that open; the others are deleted and named in `dropped`. */
  async load(space: string): Promise<{ entries: Map<string, IndexEntry>; dropped: string[] }> {
    const entries = new Map<string, IndexEntry>();
    const dropped: string[] = [];
    for (const stored of await this.backend.entries(space)) {
      try {
        const entry = await openEntry(this.key, this.account, space, stored);
        entries.set(entry.contract, entry);
      } catch {
        dropped.push(String(stored.contract));
        await this.backend.delete(stored.contract).catch(() => {});
      }
    }
    return { entries, dropped };
  }

  async put(entry: IndexEntry): Promise<void> {
    await this.backend.put(await sealEntry(this.key, this.account, entry));
  }

  async delete(contract: string): Promise<void> {
    await this.backend.delete(contract);
  }
}

/** The newest version of a contract's fields record in the relay's list, or null if it has none. */
export function listedFieldsVersion(records: readonly { kind: string; versions: readonly number[] }[]): number | null {
  const versions = records.find((r) => r.kind === 'fields')?.versions ?? [];
  return versions.length === 0 ? null : Math.max(...versions);
}

export interface RefreshPlan {
  /** entries whose fields version is the newest listed: shown without opening the contract */
  current: IndexEntry[];
  /** contracts new to the index or changed since: opened from the relay and indexed again */
  open: string[];
  /** contracts the relay lists at an older fields version than this browser indexed */
  rolledBack: { contract: string; indexed: number; listed: number | null }[];
  /** entries of contracts the relay no longer lists in this space */
  gone: string[];
}

/** What a listing means for the index: which contracts to open, which entries to show or delete. */
export function planRefresh(listed: readonly { contract: string; records: readonly { kind: string; versions: readonly number[] }[] }[], indexed: ReadonlyMap<string, IndexEntry>): RefreshPlan {
  const plan: RefreshPlan = { current: [], open: [], rolledBack: [], gone: [] };
  const seen = new Set<string>();
  for (const c of listed) {
    seen.add(c.contract);
    const entry = indexed.get(c.contract);
    const version = listedFieldsVersion(c.records);
    if (!entry) plan.open.push(c.contract);
    else if (version === entry.fieldsVersion) plan.current.push(entry);
    else if (version === null || version < entry.fieldsVersion) plan.rolledBack.push({ contract: c.contract, indexed: entry.fieldsVersion, listed: version });
    else plan.open.push(c.contract);
  }
  for (const id of indexed.keys()) if (!seen.has(id)) plan.gone.push(id);
  return plan;
}
