/**
 * The vault's metadata in its own SQLite file (<dataDir>/vault.sqlite): contracts and their
 * space, sealed records with their authors' signed statements, file versions with their signed
 * manifests, the block plan (expected length and SHA-256 of every block) and where each stored
 * replica lives. Blocks themselves live in the block stores under random ids; this is the only
 * place that maps them back.
 */
import type Database from 'better-sqlite3';
import { openDatabase, type Db, type Migration } from '../common/db';
import type { FileState } from '../../shared/schemas/vault';

const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE contracts (
        id TEXT PRIMARY KEY,
        space TEXT NOT NULL,
        created_by TEXT NOT NULL,
        created_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX contracts_by_space ON contracts (space, id);

      CREATE TABLE records (
        contract TEXT NOT NULL REFERENCES contracts (id),
        kind TEXT NOT NULL,
        version INTEGER NOT NULL,
        body TEXT NOT NULL,
        stored_by TEXT NOT NULL,
        stored_at INTEGER NOT NULL,
        PRIMARY KEY (contract, kind, version)
      ) STRICT;

      CREATE TABLE files (
        id TEXT PRIMARY KEY,
        contract TEXT NOT NULL REFERENCES contracts (id)
      ) STRICT;
      CREATE INDEX files_by_contract ON files (contract, id);

      CREATE TABLE file_versions (
        file TEXT NOT NULL REFERENCES files (id),
        version INTEGER NOT NULL,
        uploader TEXT NOT NULL,
        manifest TEXT NOT NULL,
        ciphertext_length INTEGER NOT NULL,
        block_size INTEGER NOT NULL,
        block_count INTEGER NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('uploading', 'committed')),
        created_at INTEGER NOT NULL,
        committed_at INTEGER,
        PRIMARY KEY (file, version)
      ) STRICT;

      -- The plan the signed manifest fixes: what each block must be.
      CREATE TABLE blocks (
        file TEXT NOT NULL,
        version INTEGER NOT NULL,
        idx INTEGER NOT NULL,
        length INTEGER NOT NULL,
        sha256 BLOB NOT NULL,
        PRIMARY KEY (file, version, idx),
        FOREIGN KEY (file, version) REFERENCES file_versions (file, version)
      ) STRICT, WITHOUT ROWID;

      -- Stored copies: block (file, version, idx) is blob \`blob\` in store number \`store\`.
      CREATE TABLE replicas (
        file TEXT NOT NULL,
        version INTEGER NOT NULL,
        idx INTEGER NOT NULL,
        store INTEGER NOT NULL,
        blob TEXT NOT NULL UNIQUE,
        size INTEGER NOT NULL,
        stored_at INTEGER NOT NULL,
        PRIMARY KEY (file, version, idx, store),
        FOREIGN KEY (file, version, idx) REFERENCES blocks (file, version, idx)
      ) STRICT;

      -- Which store marker each configured position had (catches swapped folders at start).
      CREATE TABLE stores (
        idx INTEGER PRIMARY KEY,
        marker TEXT NOT NULL UNIQUE
      ) STRICT;
    `,
  },
  {
    // The author's signed statement about each record (shared/formats/record-statement.ts), as
    // JSON {statement, signature}. NULL only for records stored before records were signed.
    version: 2,
    sql: `ALTER TABLE records ADD COLUMN statement TEXT;`,
  },
  {
    // Deleting a contract takes two people (DESIGN.md section 1): one writer asks, another
    // writer or the manager decides. What is deleted leaves a tombstone: who asked, who agreed.
    version: 3,
    sql: `
      ALTER TABLE contracts ADD COLUMN deleted_at INTEGER;
      CREATE TABLE deletion_requests (
        contract TEXT PRIMARY KEY REFERENCES contracts (id),
        requested_by TEXT NOT NULL,
        requested_at INTEGER NOT NULL,
        record_version INTEGER NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('pending', 'rejected', 'approved')),
        decided_by TEXT,
        decided_at INTEGER,
        CHECK ((state = 'pending') = (decided_by IS NULL)),
        CHECK (decided_by IS NULL OR decided_by <> requested_by)
      ) STRICT;
    `,
  },
  {
    // Signing flows (docs/SIGNING.md section 3): the initiator's signed plan, each signer's signed
    // step, and the signed decline or cancel that ended a flow. At most one active flow per file
    // (the partial unique index), so the vault can hold a file's versions to the flow's order.
    version: 4,
    sql: `
      CREATE TABLE signing_flows (
        id TEXT PRIMARY KEY,
        contract TEXT NOT NULL REFERENCES contracts (id),
        space TEXT NOT NULL,
        file TEXT NOT NULL REFERENCES files (id),
        base_version INTEGER NOT NULL,
        initiator TEXT NOT NULL,
        plan TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('active', 'declined', 'cancelled', 'completed')),
        decline TEXT,
        cancel TEXT,
        created_at INTEGER NOT NULL,
        ended_at INTEGER,
        CHECK ((state = 'active') = (ended_at IS NULL)),
        CHECK ((state = 'declined') = (decline IS NOT NULL)),
        CHECK ((state = 'cancelled') = (cancel IS NOT NULL))
      ) STRICT;
      CREATE UNIQUE INDEX signing_one_active_flow_per_file ON signing_flows (file) WHERE state = 'active';
      CREATE INDEX signing_flows_by_contract ON signing_flows (contract, created_at);

      -- Who signs which flow: finds a caller's tasks without reading every plan.
      CREATE TABLE signing_signers (
        flow TEXT NOT NULL REFERENCES signing_flows (id),
        account TEXT NOT NULL,
        grp INTEGER NOT NULL,
        PRIMARY KEY (flow, account)
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX signing_signers_by_account ON signing_signers (account, flow);

      CREATE TABLE signing_steps (
        flow TEXT NOT NULL REFERENCES signing_flows (id),
        seq INTEGER NOT NULL,
        signer TEXT NOT NULL,
        version_before INTEGER NOT NULL,
        version_after INTEGER NOT NULL,
        hash_after TEXT NOT NULL,
        statement TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (flow, seq),
        UNIQUE (flow, signer),
        CHECK (version_after = version_before + 1)
      ) STRICT;
    `,
  },
];

const flowColumns = (p: string) =>
  `${p}id AS id, ${p}contract AS contract, ${p}space AS space, ${p}file AS file, ${p}base_version AS baseVersion, ${p}initiator AS initiator,
   ${p}plan AS plan, ${p}state AS state, ${p}decline AS decline, ${p}cancel AS cancel, ${p}created_at AS createdAt, ${p}ended_at AS endedAt`;

export type SigningFlowState = 'active' | 'declined' | 'cancelled' | 'completed';

export interface SigningFlowRow {
  id: string;
  contract: string;
  space: string;
  file: string;
  baseVersion: number;
  initiator: string;
  /** the signed plan, JSON */
  plan: string;
  state: SigningFlowState;
  decline: string | null;
  cancel: string | null;
  createdAt: number;
  endedAt: number | null;
}

export interface SigningStepRow {
  seq: number;
  signer: string;
  versionBefore: number;
  versionAfter: number;
  hashAfter: string;
  /** the signed step, JSON */
  statement: string;
}

export interface DeletionRequestRow {
  requestedBy: string;
  requestedAt: number;
  recordVersion: number;
  state: 'pending' | 'rejected' | 'approved';
  decidedBy: string | null;
  decidedAt: number | null;
}

export type DeletionDecision =
  | { outcome: 'not-pending' }
  | { outcome: 'same-person' }
  | { outcome: 'rejected' }
  | { outcome: 'approved'; blobs: { store: number; blob: string }[]; files: number; records: number };

export interface ContractRow {
  id: string;
  space: string;
  /** set once the contract's deletion was approved: its records and blocks are gone */
  deletedAt: number | null;
}

export interface FileVersionRow {
  file: string;
  version: number;
  contract: string;
  space: string;
  uploader: string;
  manifest: string;
  ciphertextLength: number;
  blockSize: number;
  blockCount: number;
  state: FileState;
}

export interface BlockRow {
  length: number;
  sha256: Buffer;
}

export interface ReplicaRow {
  idx: number;
  store: number;
  blob: string;
  size: number;
}

export type RecordPut = { outcome: 'stored' } | { outcome: 'same' } | { outcome: 'conflict'; latest: number };

export interface RecordRow {
  /** the sealed record, JSON */
  body: string;
  /** the signed statement {statement, signature}, JSON; null for records stored before signing */
  statement: string | null;
}

export type FileVersionCreate =
  | { outcome: 'created' }
  | { outcome: 'same' }
  | { outcome: 'other-contract' }
  | { outcome: 'conflict' }
  | { outcome: 'rollback'; latest: number };

export class VaultDb {
  readonly db: Db;
  private readonly statements = new Map<string, Database.Statement>();

  constructor(file: string) {
    this.db = openDatabase(file, MIGRATIONS);
  }

  /** Prepared once, reused: preparing is most of the cost of a small query. */
  private q(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  close(): void {
    this.db.close();
  }

  // -- stores ---------------------------------------------------------------------------------

  storeMarkers(): Map<number, string> {
    const rows = this.q('SELECT idx, marker FROM stores').all() as { idx: number; marker: string }[];
    return new Map(rows.map((r) => [r.idx, r.marker]));
  }

  rememberStoreMarker(idx: number, marker: string): void {
    this.q('INSERT OR IGNORE INTO stores (idx, marker) VALUES (?, ?)').run(idx, marker);
  }

  bytesPerStore(): Map<number, number> {
    const rows = this.q('SELECT store, SUM(size) AS bytes FROM replicas GROUP BY store').all() as { store: number; bytes: number }[];
    return new Map(rows.map((r) => [r.store, r.bytes]));
  }

  // -- contracts ------------------------------------------------------------------------------

  contract(id: string): ContractRow | undefined {
    return this.q('SELECT id, space, deleted_at AS deletedAt FROM contracts WHERE id = ?').get(id) as ContractRow | undefined;
  }

  /** Creates the contract, or returns the existing row (whatever its space). */
  createContract(id: string, space: string, account: string): { row: ContractRow; created: boolean } {
    const info = this.q('INSERT OR IGNORE INTO contracts (id, space, created_by, created_at) VALUES (?, ?, ?, ?)').run(id, space, account, Date.now());
    return { row: this.contract(id)!, created: info.changes === 1 };
  }

  contractsInSpace(space: string): { contract: string; records: { kind: string; versions: number[] }[]; files: string[] }[] {
    const contracts = this.q('SELECT id FROM contracts WHERE space = ? AND deleted_at IS NULL ORDER BY id').all(space) as { id: string }[];
    const records = this.q('SELECT kind, version FROM records WHERE contract = ? ORDER BY kind, version');
    const files = this.q('SELECT id FROM files WHERE contract = ? ORDER BY id');
    return contracts.map(({ id }) => {
      const kinds = new Map<string, number[]>();
      for (const r of records.all(id) as { kind: string; version: number }[]) {
        const list = kinds.get(r.kind) ?? [];
        list.push(r.version);
        kinds.set(r.kind, list);
      }
      return {
        contract: id,
        records: [...kinds].map(([kind, versions]) => ({ kind, versions })),
        files: (files.all(id) as { id: string }[]).map((f) => f.id),
      };
    });
  }

  // -- deletion -------------------------------------------------------------------------------

  deletionRequest(contract: string): DeletionRequestRow | undefined {
    return this
      .q(
        `SELECT requested_by AS requestedBy, requested_at AS requestedAt, record_version AS recordVersion, state,
                decided_by AS decidedBy, decided_at AS decidedAt
           FROM deletion_requests WHERE contract = ?`,
      )
      .get(contract) as DeletionRequestRow | undefined;
  }

  /** Files a request; false when one is already pending (a rejected one is replaced). */
  requestDeletion(contract: string, account: string, recordVersion: number): boolean {
    return this.db.transaction((): boolean => {
      if (this.deletionRequest(contract)?.state === 'pending') return false;
      this
        .q(
          `INSERT OR REPLACE INTO deletion_requests (contract, requested_by, requested_at, record_version, state, decided_by, decided_at)
           VALUES (?, ?, ?, ?, 'pending', NULL, NULL)`,
        )
        .run(contract, account, Date.now(), recordVersion);
      return true;
    }).immediate();
  }

  /**
   * Decides the pending request. Approval removes every record, file version, block plan and
   * replica row of the contract in one transaction and returns the blobs for the caller to
   * remove from the stores; the contract row stays as a tombstone.
   */
  decideDeletion(contract: string, decider: string, approve: boolean): DeletionDecision {
    return this.db.transaction((): DeletionDecision => {
      const request = this.deletionRequest(contract);
      if (request?.state !== 'pending') return { outcome: 'not-pending' };
      if (request.requestedBy === decider) return { outcome: 'same-person' };
      const now = Date.now();
      this.q('UPDATE deletion_requests SET state = ?, decided_by = ?, decided_at = ? WHERE contract = ?').run(approve ? 'approved' : 'rejected', decider, now, contract);
      if (!approve) return { outcome: 'rejected' };
      const inContract = 'SELECT id FROM files WHERE contract = ?';
      const blobs = this.q(`SELECT store, blob FROM replicas WHERE file IN (${inContract})`).all(contract) as { store: number; blob: string }[];
      // A deleted contract's signing flows go with its files: nothing of it stays readable.
      const ofContract = 'SELECT id FROM signing_flows WHERE contract = ?';
      this.q(`DELETE FROM signing_steps WHERE flow IN (${ofContract})`).run(contract);
      this.q(`DELETE FROM signing_signers WHERE flow IN (${ofContract})`).run(contract);
      this.q('DELETE FROM signing_flows WHERE contract = ?').run(contract);
      this.q(`DELETE FROM replicas WHERE file IN (${inContract})`).run(contract);
      this.q(`DELETE FROM blocks WHERE file IN (${inContract})`).run(contract);
      this.q(`DELETE FROM file_versions WHERE file IN (${inContract})`).run(contract);
      const files = this.q('DELETE FROM files WHERE contract = ?').run(contract).changes;
      const records = this.q('DELETE FROM records WHERE contract = ?').run(contract).changes;
      this.q('UPDATE contracts SET deleted_at = ? WHERE id = ?').run(now, contract);
      return { outcome: 'approved', blobs, files, records };
    }).immediate();
  }

  // -- records --------------------------------------------------------------------------------

  /**
   * Versions only go up per (contract, kind): the same version again is accepted only with the
   * identical body (a retried PUT, possibly signed again: the first statement is kept, or given
   * to a record stored before records were signed); an older version, or the same one with other
   * content, is a rollback or a fork and is refused.
   */
  putRecord(contract: string, kind: string, version: number, body: string, statement: string, account: string): RecordPut {
    return this.db.transaction((): RecordPut => {
      const same = this.q('SELECT body FROM records WHERE contract = ? AND kind = ? AND version = ?').get(contract, kind, version) as { body: string } | undefined;
      if (same) {
        if (same.body !== body) return { outcome: 'conflict', latest: this.latestRecordVersion(contract, kind)! };
        this.q('UPDATE records SET statement = ? WHERE contract = ? AND kind = ? AND version = ? AND statement IS NULL').run(statement, contract, kind, version);
        return { outcome: 'same' };
      }
      const latest = this.latestRecordVersion(contract, kind);
      if (latest !== undefined && version < latest) return { outcome: 'conflict', latest };
      this.q('INSERT INTO records (contract, kind, version, body, statement, stored_by, stored_at) VALUES (?, ?, ?, ?, ?, ?, ?)').run(contract, kind, version, body, statement, account, Date.now());
      return { outcome: 'stored' };
    }).immediate();
  }

  private latestRecordVersion(contract: string, kind: string): number | undefined {
    const row = this.q('SELECT MAX(version) AS v FROM records WHERE contract = ? AND kind = ?').get(contract, kind) as { v: number | null };
    return row.v ?? undefined;
  }

  record(contract: string, kind: string, version: number | 'latest'): RecordRow | undefined {
    return version === 'latest'
      ? (this.q('SELECT body, statement FROM records WHERE contract = ? AND kind = ? ORDER BY version DESC LIMIT 1').get(contract, kind) as RecordRow | undefined)
      : (this.q('SELECT body, statement FROM records WHERE contract = ? AND kind = ? AND version = ?').get(contract, kind, version) as RecordRow | undefined);
  }

  /** Who stored a record version (the author whose signed statement the vault checked), or undefined. */
  recordAuthor(contract: string, kind: string, version: number): string | undefined {
    return (this.q('SELECT stored_by AS author FROM records WHERE contract = ? AND kind = ? AND version = ?').get(contract, kind, version) as { author: string } | undefined)?.author;
  }

  // -- files ----------------------------------------------------------------------------------

  /**
   * Registers a file version in state "uploading" with its block plan. File ids are global (the
   * block routes name no contract), so a file id belongs to one contract for good. A version
   * must be newer than every version the file already has, except an identical retry.
   */
  createFileVersion(input: {
    contract: string;
    file: string;
    version: number;
    uploader: string;
    manifest: string;
    ciphertextLength: number;
    blockSize: number;
    blocks: { length: number; sha256: Uint8Array }[];
  }): FileVersionCreate {
    return this.db.transaction((): FileVersionCreate => {
      const owner = this.q('SELECT contract FROM files WHERE id = ?').get(input.file) as { contract: string } | undefined;
      if (owner && owner.contract !== input.contract) return { outcome: 'other-contract' };
      const existing = this.q('SELECT manifest FROM file_versions WHERE file = ? AND version = ?').get(input.file, input.version) as { manifest: string } | undefined;
      if (existing) return existing.manifest === input.manifest ? { outcome: 'same' } : { outcome: 'conflict' };
      const latest = (this.q('SELECT MAX(version) AS v FROM file_versions WHERE file = ?').get(input.file) as { v: number | null }).v;
      if (latest !== null && input.version < latest) return { outcome: 'rollback', latest };
      if (!owner) this.q('INSERT INTO files (id, contract) VALUES (?, ?)').run(input.file, input.contract);
      this
        .q(
          `INSERT INTO file_versions (file, version, uploader, manifest, ciphertext_length, block_size, block_count, state, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, 'uploading', ?)`,
        )
        .run(input.file, input.version, input.uploader, input.manifest, input.ciphertextLength, input.blockSize, input.blocks.length, Date.now());
      const insert = this.q('INSERT INTO blocks (file, version, idx, length, sha256) VALUES (?, ?, ?, ?, ?)');
      input.blocks.forEach((b, i) => insert.run(input.file, input.version, i, b.length, Buffer.from(b.sha256)));
      return { outcome: 'created' };
    }).immediate();
  }

  fileVersion(file: string, version: number): FileVersionRow | undefined {
    return this
      .q(
        `SELECT v.file, v.version, f.contract, c.space, v.uploader, v.manifest, v.ciphertext_length AS ciphertextLength,
                v.block_size AS blockSize, v.block_count AS blockCount, v.state
           FROM file_versions v JOIN files f ON f.id = v.file JOIN contracts c ON c.id = f.contract
          WHERE v.file = ? AND v.version = ?`,
      )
      .get(file, version) as FileVersionRow | undefined;
  }

  filesOfContract(contract: string): { file: string; versions: { version: number; state: FileState; uploader: string; blockCount: number; ciphertextLength: number }[] }[] {
    const rows = this
      .q(
        `SELECT v.file, v.version, v.state, v.uploader, v.block_count AS blockCount, v.ciphertext_length AS ciphertextLength
           FROM file_versions v JOIN files f ON f.id = v.file
          WHERE f.contract = ? ORDER BY v.file, v.version`,
      )
      .all(contract) as { file: string; version: number; state: FileState; uploader: string; blockCount: number; ciphertextLength: number }[];
    const out = new Map<string, { version: number; state: FileState; uploader: string; blockCount: number; ciphertextLength: number }[]>();
    for (const { file, ...rest } of rows) {
      const list = out.get(file) ?? [];
      list.push(rest);
      out.set(file, list);
    }
    return [...out].map(([file, versions]) => ({ file, versions }));
  }

  markCommitted(file: string, version: number): void {
    this.q("UPDATE file_versions SET state = 'committed', committed_at = ? WHERE file = ? AND version = ? AND state = 'uploading'").run(Date.now(), file, version);
  }

  /** The newest version of a file in any state, or undefined for an unknown file. */
  latestFileVersion(file: string): number | undefined {
    return (this.q('SELECT MAX(version) AS v FROM file_versions WHERE file = ?').get(file) as { v: number | null }).v ?? undefined;
  }

  // -- signing flows --------------------------------------------------------------------------

  private static readonly FLOW_COLUMNS = flowColumns('');

  signingFlow(id: string): SigningFlowRow | undefined {
    return this.q(`SELECT ${VaultDb.FLOW_COLUMNS} FROM signing_flows WHERE id = ?`).get(id) as SigningFlowRow | undefined;
  }

  activeSigningFlowOfFile(file: string): SigningFlowRow | undefined {
    return this.q(`SELECT ${VaultDb.FLOW_COLUMNS} FROM signing_flows WHERE file = ? AND state = 'active'`).get(file) as SigningFlowRow | undefined;
  }

  signingFlowsOfContract(contract: string, limit: number): SigningFlowRow[] {
    return this.q(`SELECT ${VaultDb.FLOW_COLUMNS} FROM signing_flows WHERE contract = ? ORDER BY created_at DESC, id LIMIT ?`).all(contract, limit) as SigningFlowRow[];
  }

  /** Active flows of live contracts that name `account` as a signer who has not signed yet. */
  activeSigningFlowsOf(account: string, limit: number): SigningFlowRow[] {
    return this
      .q(
        `SELECT ${flowColumns('f.')} FROM signing_flows f
           JOIN signing_signers s ON s.flow = f.id AND s.account = ?
           JOIN contracts c ON c.id = f.contract AND c.deleted_at IS NULL
          WHERE f.state = 'active' AND NOT EXISTS (SELECT 1 FROM signing_steps t WHERE t.flow = f.id AND t.signer = s.account)
          ORDER BY f.created_at, f.id LIMIT ?`,
      )
      .all(account, limit) as SigningFlowRow[];
  }

  signingSigners(flow: string): { account: string; group: number }[] {
    return this.q('SELECT account, grp AS "group" FROM signing_signers WHERE flow = ?').all(flow) as { account: string; group: number }[];
  }

  signingSteps(flow: string): SigningStepRow[] {
    return this
      .q('SELECT seq, signer, version_before AS versionBefore, version_after AS versionAfter, hash_after AS hashAfter, statement FROM signing_steps WHERE flow = ? ORDER BY seq')
      .all(flow) as SigningStepRow[];
  }

  /**
   * Starts a flow: 'exists' when the id is taken, 'busy' when the file has an active flow. The
   * handler's own checks run synchronously just before (nothing else can write in between: one
   * process, no await), so the transaction is for the rows together, not for the checks.
   */
  createSigningFlow(row: Omit<SigningFlowRow, 'state' | 'decline' | 'cancel' | 'endedAt'>, signers: readonly { account: string; group: number }[]): 'created' | 'exists' | 'busy' {
    return this.db.transaction((): 'created' | 'exists' | 'busy' => {
      if (this.signingFlow(row.id)) return 'exists';
      if (this.activeSigningFlowOfFile(row.file)) return 'busy';
      this
        .q(
          `INSERT INTO signing_flows (id, contract, space, file, base_version, initiator, plan, state, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, 'active', ?)`,
        )
        .run(row.id, row.contract, row.space, row.file, row.baseVersion, row.initiator, row.plan, row.createdAt);
      const insert = this.q('INSERT INTO signing_signers (flow, account, grp) VALUES (?, ?, ?)');
      for (const s of signers) insert.run(row.id, s.account, s.group);
      return 'created';
    }).immediate();
  }

  /** Appends a step (order and versions checked by the handler); `completes` ends the flow as completed. */
  addSigningStep(flow: string, step: Omit<SigningStepRow, 'seq'>, completes: boolean): void {
    this.db.transaction(() => {
      const seq = (this.q('SELECT COUNT(*) AS n FROM signing_steps WHERE flow = ?').get(flow) as { n: number }).n;
      const now = Date.now();
      this
        .q('INSERT INTO signing_steps (flow, seq, signer, version_before, version_after, hash_after, statement, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
        .run(flow, seq, step.signer, step.versionBefore, step.versionAfter, step.hashAfter, step.statement, now);
      if (completes) this.q("UPDATE signing_flows SET state = 'completed', ended_at = ? WHERE id = ? AND state = 'active'").run(now, flow);
    }).immediate();
  }

  /** Ends an active flow as declined or cancelled, keeping the signed statement that ended it. */
  endSigningFlow(flow: string, state: 'declined' | 'cancelled', statement: string): boolean {
    const column = state === 'declined' ? 'decline' : 'cancel';
    return this.q(`UPDATE signing_flows SET state = ?, ${column} = ?, ended_at = ? WHERE id = ? AND state = 'active'`).run(state, statement, Date.now(), flow).changes === 1;
  }

  // -- blocks and replicas --------------------------------------------------------------------

  block(file: string, version: number, idx: number): BlockRow | undefined {
    return this.q('SELECT length, sha256 FROM blocks WHERE file = ? AND version = ? AND idx = ?').get(file, version, idx) as BlockRow | undefined;
  }

  replicas(file: string, version: number, idx?: number): ReplicaRow[] {
    if (idx === undefined) {
      return this.q('SELECT idx, store, blob, size FROM replicas WHERE file = ? AND version = ? ORDER BY idx, store').all(file, version) as ReplicaRow[];
    }
    return this.q('SELECT idx, store, blob, size FROM replicas WHERE file = ? AND version = ? AND idx = ? ORDER BY store').all(file, version, idx) as ReplicaRow[];
  }

  /** Records a stored replica; false when another upload recorded this (block, store) first. */
  addReplica(file: string, version: number, idx: number, store: number, blob: string, size: number): boolean {
    return this.q('INSERT OR IGNORE INTO replicas (file, version, idx, store, blob, size, stored_at) VALUES (?, ?, ?, ?, ?, ?, ?)').run(file, version, idx, store, blob, size, Date.now()).changes === 1;
  }

  /** Forgets a replica whose blob is gone from its store (lost store, damaged blob). */
  forgetReplica(file: string, version: number, idx: number, store: number, blob: string): boolean {
    return this.q('DELETE FROM replicas WHERE file = ? AND version = ? AND idx = ? AND store = ? AND blob = ?').run(file, version, idx, store, blob).changes === 1;
  }
}
