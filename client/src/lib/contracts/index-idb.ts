/**
 * The IndexedDB backend of the encrypted search index: one database per account, entries keyed
 * by contract id with an index on the space, and one check record. It stores what
 * index-store.ts hands it (ids and ciphertext) and adds nothing.
 */
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import type { IndexBackend, StoredCheck, StoredEntry } from './index-store';

const DB_VERSION = 1;
const CHECK = 'check';

interface IndexDb extends DBSchema {
  entries: { key: string; value: StoredEntry; indexes: { space: string } };
  meta: { key: string; value: StoredCheck & { name: string } };
}

export const indexDbName = (account: string) => `sealvault-index-${account}`;

export interface ClosableBackend extends IndexBackend {
  close(): void;
}

export async function openIdbBackend(account: string): Promise<ClosableBackend> {
  const db: IDBPDatabase<IndexDb> = await openDB<IndexDb>(indexDbName(account), DB_VERSION, {
    upgrade(database) {
      const entries = database.createObjectStore('entries', { keyPath: 'contract' });
      entries.createIndex('space', 'space');
      database.createObjectStore('meta', { keyPath: 'name' });
    },
    // Another tab upgrading the schema: let it, this tab's index is only a cache.
    blocking() {
      db.close();
    },
  });
  return {
    entries: (space) => db.getAllFromIndex('entries', 'space', space),
    put: async (entry) => {
      await db.put('entries', entry);
    },
    delete: (contract) => db.delete('entries', contract),
    getCheck: () => db.get('meta', CHECK),
    reset: async (check) => {
      const tx = db.transaction(['entries', 'meta'], 'readwrite');
      await Promise.all([tx.objectStore('entries').clear(), tx.objectStore('meta').put({ name: CHECK, ...check }), tx.done]);
    },
    close: () => db.close(),
  };
}
