/**
 * The newest version this browser has seen of each thing a relay could roll back: a contract's
 * records and files, a space's key version. A relay that later serves an older one is refused
 * with E_ROLLBACK. Kept in memory here; the app keeps one per account, sealed in IndexedDB.
 */
import { fail } from '../crypto/errors';

export class VersionMemory {
  private readonly seen = new Map<string, number>();
  /** Called after a newer version was recorded: where the app keeps the memory past a reload. */
  onChange: (() => void) | null = null;

  constructor(initial: Iterable<[string, number]> = []) {
    for (const [k, v] of initial) this.seen.set(k, v);
  }

  /** Records `version` for `key`, or refuses it if older than one already seen. */
  check(key: string, version: number): void {
    const newest = this.seen.get(key) ?? 0;
    if (version < newest) fail('E_ROLLBACK', `${key}: version ${version} is older than version ${newest} seen before`);
    if (version === newest) return;
    this.seen.set(key, version);
    this.onChange?.();
  }

  /** Takes the newer of what is known and `entries` (what was kept from an earlier session), refusing nothing. */
  merge(entries: Iterable<[string, number]>): void {
    for (const [k, v] of entries) if (v > (this.seen.get(k) ?? 0)) this.seen.set(k, v);
  }

  entries(): [string, number][] {
    return [...this.seen];
  }
}
