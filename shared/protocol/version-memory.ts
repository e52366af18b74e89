/**
 * The newest version this browser has seen of each thing a relay could roll back: a contract's
 * records and files, a space's key version. A relay that later serves an older one is refused
 * with E_ROLLBACK. Kept in memory here; the app keeps one per account for the tab.
 */
import { fail } from '../crypto/errors';

export class VersionMemory {
  private readonly seen = new Map<string, number>();

  constructor(initial: Iterable<[string, number]> = []) {
    for (const [k, v] of initial) this.seen.set(k, v);
  }

  /** Records `version` for `key`, or refuses it if older than one already seen. */
  check(key: string, version: number): void {
    const newest = this.seen.get(key) ?? 0;
    if (version < newest) fail('E_ROLLBACK', `${key}: version ${version} is older than version ${newest} seen before`);
    this.seen.set(key, version);
  }

  entries(): [string, number][] {
    return [...this.seen];
  }
}
