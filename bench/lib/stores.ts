/**
 * Deletes the blobs a bench stored in the vault's block stores (the bench owns the data folder;
 * the API has no delete). The plain route replaces its one blob each round, so its writes land in
 * page-cache memory that was used before; without this, every block round would write into
 * memory never touched before, which on a VM like this one costs a page fault in the host per
 * page, and the block path would pay for it alone. The database keeps the rows; nothing reads
 * those files again.
 */
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/** `vaultDir` is the vault service's data folder (`<relay data>/vault`). */
export function dropBlobs(vaultDir: string): void {
  const stores = join(vaultDir, 'stores');
  for (const store of readdirSync(stores)) {
    const blobs = join(stores, store, 'blobs');
    for (const shard of readdirSync(blobs)) rmSync(join(blobs, shard), { recursive: true, force: true });
  }
}
