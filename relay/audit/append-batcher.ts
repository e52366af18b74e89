/**
 * Group commit for the audit log: appends that arrive while the event loop is busy are written
 * together in one SQLite transaction at the next turn, instead of one transaction each. Each
 * caller still gets its own index once its entry is durable with the rest of its batch; a batch
 * that fails rejects every append in it (none of them was stored: one transaction).
 */
import type { AppendInput, AppendResult, AuditStore } from './store';

/** Enough to amortise a commit, small enough that one batch never holds the loop for long. */
const MAX_BATCH = 512;

interface Pending {
  input: AppendInput;
  resolve(result: AppendResult): void;
  reject(error: unknown): void;
}

export class AppendBatcher {
  private pending: Pending[] = [];
  private scheduled = false;

  constructor(private readonly store: AuditStore) {}

  append(input: AppendInput): Promise<AppendResult> {
    return new Promise((resolve, reject) => {
      this.pending.push({ input, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Writes everything pending now (also used before the store closes). */
  flush(): void {
    this.scheduled = false;
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, MAX_BATCH);
      let results: AppendResult[];
      try {
        results = this.store.appendMany(batch.map((p) => p.input));
      } catch (e) {
        for (const p of batch) p.reject(e);
        continue;
      }
      batch.forEach((p, i) => p.resolve(results[i]!));
    }
  }
}
