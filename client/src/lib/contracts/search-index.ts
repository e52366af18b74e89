/**
 * The search index of one contract space as the space page uses it. Tokens are made here, in
 * the browser, from fields this browser decrypted and verified; the fields are kept as entries
 * sealed under the account's local index key in IndexedDB (index-store.ts), so a later visit
 * shows and searches the space without opening every contract again. The tokens themselves are
 * recomputed from the fields when loaded (microseconds a contract), so a better tokenizer needs
 * no migration of what is stored. Nothing of the index is sent to the relay.
 */
import type { UnlockedAccount } from '$shared/protocol/account';
import type { ContractFields } from '$shared/schemas/contract';
import { messages } from '$lib/i18n/messages';
import { openIdbBackend, type ClosableBackend } from './index-idb';
import { EncryptedIndexStore, type IndexEntry } from './index-store';
import { contractTexts, indexTexts, type SearchDoc } from './search-tokens';

/** The search document of some fields; the status is findable in every language the app speaks. */
export function searchDocOf(fields: ContractFields): SearchDoc {
  const status = `contracts.status.${fields.status}` as const;
  return indexTexts(contractTexts(fields, [messages.en[status], messages.zh[status]]));
}

export class SpaceIndex {
  private constructor(
    private store: EncryptedIndexStore | null,
    private backend: ClosableBackend | null,
    readonly space: string,
    /** the entries of this space that opened under this account's key */
    readonly entries: Map<string, IndexEntry>,
  ) {}

  /**
   * The account's index for `space`. Where IndexedDB is missing or refuses (a private window, a
   * full disk) search still works, in memory for this visit only: the index is a cache.
   */
  static async open(account: UnlockedAccount, space: string): Promise<SpaceIndex> {
    let backend: ClosableBackend | null = null;
    try {
      backend = await openIdbBackend(account.account);
      const store = await EncryptedIndexStore.open(backend, account.localIndexKey, account.account);
      const { entries } = await store.load(space);
      return new SpaceIndex(store, backend, space, entries);
    } catch {
      backend?.close();
      return new SpaceIndex(null, null, space, new Map());
    }
  }

  /** Keeps a freshly opened contract's fields; a failed write only means it is opened again next time. */
  save(contract: string, fieldsVersion: number, fields: ContractFields): void {
    const entry: IndexEntry = { contract, space: this.space, fieldsVersion, fields };
    this.entries.set(contract, entry);
    void this.store?.put(entry).catch(() => {});
  }

  forget(contracts: readonly string[]): void {
    for (const contract of contracts) {
      this.entries.delete(contract);
      void this.store?.delete(contract).catch(() => {});
    }
  }

  /** Drops the key reference and the decrypted entries (sign-out, leaving the page); the database stays sealed. */
  close(): void {
    this.store = null;
    this.backend?.close();
    this.backend = null;
    this.entries.clear();
  }
}
