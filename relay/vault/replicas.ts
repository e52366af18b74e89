/**
 * Placing blocks on stores and reading them back (DESIGN.md section 6): block i of a file goes
 * to stores (i mod N) and ((i + 1) mod N), so no store holds every block of a file and any one
 * store can be lost. An upload streams the request body into both stores at once while hashing
 * it; nothing becomes visible unless the whole body has exactly the planned length and SHA-256.
 * A download streams from the first store that has a copy of the right length, verifying the
 * SHA-256 on the way out (unless turned off), and falls back to the replica.
 */
import type { Logger } from 'pino';
import type { Metrics } from '../common/observability';
import { HttpError } from '../http/errors';
import { blockStores } from '../../shared/crypto/blocks';
import { newBlobId, type BlockStore, type BlockWriter, type StreamCheck } from './block-store';
import type { BlockRow, ReplicaRow, VaultDb } from './db';
import type { HashPool } from './hasher';

export interface FileVersionRef {
  file: string;
  version: number;
  blockCount: number;
}

export class Replicas {
  constructor(
    private readonly stores: readonly BlockStore[],
    private readonly db: VaultDb,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly hashes: HashPool,
    /** Verify the SHA-256 of every block served (default); off, only the stored length is checked. */
    private readonly verifyDownloads = true,
  ) {}

  get storeCount(): number {
    return this.stores.length;
  }

  /** Size of a blob, or null when it is gone or its store cannot be reached. */
  private async sizeOf(row: ReplicaRow): Promise<number | null> {
    const store = this.stores[row.store];
    if (!store) return null;
    try {
      return await store.size(row.blob);
    } catch (e) {
      this.log.warn({ store: store.label, err: String(e) }, 'block store unreadable');
      return null;
    }
  }

  private async isGood(row: ReplicaRow, length: number): Promise<boolean> {
    return row.size === length && (await this.sizeOf(row)) === length;
  }

  /** Indexes of the blocks that have at least one good copy, and of those that have none. */
  async status(ref: FileVersionRef): Promise<{ present: number[]; missing: number[] }> {
    const byIndex = new Map<number, ReplicaRow[]>();
    for (const row of this.db.replicas(ref.file, ref.version)) {
      const list = byIndex.get(row.idx) ?? [];
      list.push(row);
      byIndex.set(row.idx, list);
    }
    const present: number[] = [];
    const missing: number[] = [];
    for (let idx = 0; idx < ref.blockCount; idx++) {
      let ok = false;
      for (const row of byIndex.get(idx) ?? []) {
        // Every replica was checked against the block's planned length and hash when stored.
        if ((await this.sizeOf(row)) === row.size) {
          ok = true;
          break;
        }
      }
      (ok ? present : missing).push(idx);
    }
    return { present, missing };
  }

  /**
   * Stores block `idx` from `body`. Stores that already hold a good copy are not written again;
   * when every target store has one, the body is not read at all and `stored` is false.
   */
  async put(ref: FileVersionRef, idx: number, plan: BlockRow, body: ReadableStream<Uint8Array> | null): Promise<{ stored: boolean }> {
    const targets = blockStores(idx, this.stores.length);
    const rows = this.db.replicas(ref.file, ref.version, idx);
    const needed: number[] = [];
    for (const store of targets) {
      const row = rows.find((r) => r.store === store);
      if (row && (await this.isGood(row, plan.length))) continue;
      // A copy recorded here but gone (lost store, damaged blob): forget it and write it again.
      if (row) this.db.forgetReplica(ref.file, ref.version, idx, store, row.blob);
      needed.push(store);
    }
    if (needed.length === 0) {
      await body?.cancel().catch(() => undefined);
      return { stored: false };
    }

    const placed: { store: number; blob: string; writer: BlockWriter }[] = [];
    const abortAll = () => Promise.all(placed.map((p) => p.writer.abort().catch(() => undefined)));
    try {
      for (const store of needed) {
        const blob = newBlobId();
        let writer: BlockWriter;
        try {
          writer = await this.stores[store]!.create(blob);
        } catch (e) {
          this.log.error({ store: this.stores[store]!.label, err: String(e) }, 'block store refused a write');
          throw new HttpError(503, 'E_STORE_UNAVAILABLE', 'a block store is unavailable; try again later', { cause: e });
        }
        placed.push({ store, blob, writer });
      }

      // The hash job stages the body into 256 KiB segments, hands each to every target store and
      // hashes it off the event loop; at most its window of segments is in flight.
      const hash = this.hashes.job({ sink: (segment) => Promise.all(placed.map((p) => p.writer.write(segment))).then(() => undefined) });
      let total = 0;
      try {
        if (body) {
          const reader = body.getReader();
          try {
            for (;;) {
              let next: ReadableStreamReadResult<Uint8Array>;
              try {
                next = await reader.read();
              } catch (e) {
                throw new HttpError(400, 'E_BODY_ABORTED', 'the block upload ended before its body did', { cause: e });
              }
              if (next.done) break;
              const chunk = next.value;
              // Refuse before taking a byte past the planned length.
              if (total + chunk.length > plan.length) throw new HttpError(413, 'E_TOO_LARGE', `block ${idx} is ${plan.length} bytes; the body is longer`);
              total += chunk.length;
              const wait = hash.update(chunk);
              if (wait) await wait;
            }
          } catch (e) {
            await reader.cancel().catch(() => undefined);
            throw e;
          }
        }
      } catch (e) {
        hash.abort();
        throw e;
      }
      const digest = await hash.digest();
      if (total !== plan.length) throw new HttpError(422, 'E_HASH', `block ${idx} must be ${plan.length} bytes; got ${total}`);
      if (!digest.equals(plan.sha256)) throw new HttpError(422, 'E_HASH', `block ${idx} does not match the SHA-256 in the signed manifest`);

      await Promise.all(placed.map((p) => p.writer.commit()));
    } catch (e) {
      await abortAll();
      if (e instanceof HttpError) throw e;
      this.log.error({ err: String(e) }, 'block write failed');
      throw new HttpError(503, 'E_STORE_UNAVAILABLE', 'a block store failed while writing; try again later', { cause: e });
    }

    for (const p of placed) {
      if (this.db.addReplica(ref.file, ref.version, idx, p.store, p.blob, plan.length)) {
        this.metrics.bytesStored.inc({ store: this.stores[p.store]!.label }, plan.length);
      } else {
        // A concurrent upload of the same block recorded its copy first: keep one.
        await this.stores[p.store]!.delete(p.blob).catch(() => undefined);
      }
    }
    return { stored: true };
  }

  /**
   * Opens block `idx` from the first store holding a copy of the planned length, preferring the
   * block's own stores in order; a missing folder or file falls through to the replica. When
   * downloads are verified, the returned stream errors (instead of ending cleanly) if the bytes
   * do not hash to the plan, and that copy is forgotten so the next request gets the replica.
   */
  async open(ref: FileVersionRef, idx: number, plan: BlockRow): Promise<{ size: number; stream: ReadableStream<Uint8Array>; store: string } | null> {
    const [first, second] = blockStores(idx, this.stores.length);
    const rank = (s: number) => (s === first ? 0 : s === second ? 1 : 2);
    const rows = this.db.replicas(ref.file, ref.version, idx).sort((a, b) => rank(a.store) - rank(b.store));
    for (const row of rows) {
      const store = this.stores[row.store];
      if (!store) continue;
      const hash = this.verifyDownloads ? this.hashes.job() : undefined;
      const check: StreamCheck | undefined = hash && {
        update: (chunk) => hash.update(chunk),
        end: async () => {
          if (!(await hash.digest()).equals(plan.sha256)) {
            this.log.error({ store: store.label }, 'block copy failed its SHA-256 while being sent; forgetting it');
            this.db.forgetReplica(ref.file, ref.version, idx, row.store, row.blob);
            throw new Error('stored block failed its SHA-256');
          }
        },
        abort: () => hash.abort(),
      };
      let blob;
      try {
        blob = await store.get(row.blob, check);
      } catch (e) {
        hash?.abort();
        this.log.warn({ store: store.label, err: String(e) }, 'block store unreadable; trying the replica');
        continue;
      }
      if (!blob) {
        hash?.abort();
        this.log.warn({ store: store.label }, 'block copy missing; trying the replica');
        continue;
      }
      if (blob.size !== plan.length) {
        await blob.stream.cancel().catch(() => undefined);
        this.log.error({ store: store.label, size: blob.size, expected: plan.length }, 'block copy has the wrong length; trying the replica');
        continue;
      }
      return { size: blob.size, stream: blob.stream, store: store.label };
    }
    return null;
  }

  /** Sets the bytes-stored gauge from the database (at start). */
  publishUsage(): void {
    const bytes = this.db.bytesPerStore();
    this.stores.forEach((s, i) => this.metrics.bytesStored.set({ store: s.label }, bytes.get(i) ?? 0));
  }
}
