/**
 * The audit service's SQLite file: entries, the Merkle tree (merkle-store.ts), checkpoints,
 * witness keys and cosignatures. Only inserts and selects: see migrations.ts.
 */
import { join } from 'node:path';
import { openDatabase, type Db } from '../common/db';
import { MerkleStore, sha256LeafHash } from './merkle-store';
import { AUDIT_MIGRATIONS } from './migrations';

export const AUDIT_DB_FILE = 'audit.sqlite';

export interface EntryRow {
  idx: number;
  leaf: Buffer;
  leaf_hash: Buffer;
  actor: string;
  details_json: string | null;
  received_at: number;
}

export interface CheckpointRow {
  size: number;
  root: Buffer;
  note: string;
  created_at: number;
}

export interface WitnessRow {
  account: string;
  name: string;
  public_key: Buffer;
  registered_at: number;
}

export interface CosignatureRow {
  size: number;
  account: string;
  line: string;
  timestamp: number;
  received_at: number;
}

export interface AppendInput {
  leaf: Uint8Array;
  actor: string;
  detailsJson: string | null;
  receivedAt: number;
}

export interface AppendResult {
  index: number;
  leafHash: Buffer;
  /** true when the same leaf was already in the log (the earlier index is returned) */
  duplicate: boolean;
}

export class AuditStore {
  readonly db: Db;
  readonly tree: MerkleStore;
  private readonly q;

  constructor(dataDir: string) {
    this.db = openDatabase(join(dataDir, AUDIT_DB_FILE), AUDIT_MIGRATIONS);
    this.tree = new MerkleStore(this.db);
    const db = this.db;
    this.q = {
      getMeta: db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?'),
      putMeta: db.prepare<[string, string]>('INSERT INTO meta (key, value) VALUES (?, ?)'),
      byLeafHash: db.prepare<[Buffer], { idx: number }>('SELECT idx FROM entries WHERE leaf_hash = ?'),
      entryCount: db.prepare<[], { n: number }>('SELECT COALESCE(MAX(idx) + 1, 0) AS n FROM entries'),
      putEntry: db.prepare<[number, Buffer, Buffer, string, string | null, number]>(
        'INSERT INTO entries (idx, leaf, leaf_hash, actor, details_json, received_at) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      entries: db.prepare<[number, number], EntryRow>('SELECT * FROM entries WHERE idx >= ? ORDER BY idx LIMIT ?'),
      entriesOf: db.prepare<[string, number, number], EntryRow>('SELECT * FROM entries WHERE actor = ? AND idx >= ? ORDER BY idx LIMIT ?'),
      latestCheckpoint: db.prepare<[], CheckpointRow>('SELECT * FROM checkpoints ORDER BY size DESC LIMIT 1'),
      checkpoint: db.prepare<[number], CheckpointRow>('SELECT * FROM checkpoints WHERE size = ?'),
      checkpointsFrom: db.prepare<[number, number], CheckpointRow>('SELECT * FROM checkpoints WHERE size >= ? ORDER BY size LIMIT ?'),
      putCheckpoint: db.prepare<[number, Buffer, string, number]>('INSERT INTO checkpoints (size, root, note, created_at) VALUES (?, ?, ?, ?)'),
      witness: db.prepare<[string], WitnessRow>('SELECT * FROM witnesses WHERE account = ?'),
      witnessByName: db.prepare<[string], WitnessRow>('SELECT * FROM witnesses WHERE name = ?'),
      witnessByKey: db.prepare<[Buffer], WitnessRow>('SELECT * FROM witnesses WHERE public_key = ?'),
      witnesses: db.prepare<[], WitnessRow>('SELECT * FROM witnesses ORDER BY registered_at, account'),
      putWitness: db.prepare<[string, string, Buffer, number]>('INSERT INTO witnesses (account, name, public_key, registered_at) VALUES (?, ?, ?, ?)'),
      cosignatures: db.prepare<[number], CosignatureRow>('SELECT * FROM cosignatures WHERE size = ? ORDER BY received_at, account'),
      cosignature: db.prepare<[number, string], CosignatureRow>('SELECT * FROM cosignatures WHERE size = ? AND account = ?'),
      putCosignature: db.prepare<[number, string, string, number, number]>(
        'INSERT INTO cosignatures (size, account, line, timestamp, received_at) VALUES (?, ?, ?, ?, ?)',
      ),
    };
  }

  close(): void {
    this.db.close();
  }

  meta(key: string): string | undefined {
    return this.q.getMeta.get(key)?.value;
  }

  putMeta(key: string, value: string): void {
    this.q.putMeta.run(key, value);
  }

  /** The number of entries (and leaves). */
  size(): number {
    return this.tree.size();
  }

  /**
   * Appends one leaf in its own IMMEDIATE transaction: the entry row and every tree node it
   * completes commit together, and concurrent appends (even from another process) queue.
   * The same leaf twice is stored once: the second append answers with the first's index.
   */
  append(input: AppendInput): AppendResult {
    return this.appendMany([input])[0]!;
  }

  /**
   * Appends leaves in order in one IMMEDIATE transaction (group commit: the audit service
   * gathers the appends that arrive while one is being written). All or none are stored.
   */
  appendMany(inputs: readonly AppendInput[]): AppendResult[] {
    const hashed = inputs.map((input) => ({ input, leafHash: sha256LeafHash(input.leaf) }));
    return this.db
      .transaction((): AppendResult[] => {
        // Counted once per batch, inside the transaction that holds the write lock.
        let next = this.q.entryCount.get()!.n;
        const treeSize = this.tree.size();
        if (treeSize !== next) throw new Error(`audit tree has ${treeSize} leaves but ${next} entries`);
        return hashed.map(({ input, leafHash }): AppendResult => {
          const existing = this.q.byLeafHash.get(leafHash);
          if (existing) return { index: existing.idx, leafHash, duplicate: true };
          const index = this.tree.append(leafHash, next);
          this.q.putEntry.run(index, Buffer.from(input.leaf), leafHash, input.actor, input.detailsJson, input.receivedAt);
          next += 1;
          return { index, leafHash, duplicate: false };
        });
      })
      .immediate();
  }

  entries(start: number, limit: number): EntryRow[] {
    return this.q.entries.all(start, limit);
  }

  entriesOf(actor: string, start: number, limit: number): EntryRow[] {
    return this.q.entriesOf.all(actor, start, limit);
  }

  latestCheckpoint(): CheckpointRow | undefined {
    return this.q.latestCheckpoint.get();
  }

  checkpoint(size: number): CheckpointRow | undefined {
    return this.q.checkpoint.get(size);
  }

  /** Checkpoints of size >= start, smallest first. */
  checkpoints(start: number, limit: number): CheckpointRow[] {
    return this.q.checkpointsFrom.all(start, limit);
  }

  putCheckpoint(row: CheckpointRow): void {
    this.q.putCheckpoint.run(row.size, row.root, row.note, row.created_at);
  }

  witness(account: string): WitnessRow | undefined {
    return this.q.witness.get(account);
  }

  witnessByName(name: string): WitnessRow | undefined {
    return this.q.witnessByName.get(name);
  }

  witnessByKey(publicKey: Uint8Array): WitnessRow | undefined {
    return this.q.witnessByKey.get(Buffer.from(publicKey));
  }

  witnesses(): WitnessRow[] {
    return this.q.witnesses.all();
  }

  putWitness(row: WitnessRow): void {
    this.q.putWitness.run(row.account, row.name, row.public_key, row.registered_at);
  }

  cosignatures(size: number): CosignatureRow[] {
    return this.q.cosignatures.all(size);
  }

  cosignature(size: number, account: string): CosignatureRow | undefined {
    return this.q.cosignature.get(size, account);
  }

  putCosignature(row: CosignatureRow): void {
    this.q.putCosignature.run(row.size, row.account, row.line, row.timestamp, row.received_at);
  }
}
