/**
 * The keys service's SQLite file (<dataDir>/keys.sqlite). It holds only wrapped or public
 * material: AES-GCM-wrapped private keys, opaque recovery wrappings, RSA-OAEP envelopes and the
 * signed statements of their granters, and the enterprise CA key wrapped to security
 * administrators. Nothing here opens anything without a user's password.
 */
import { join } from 'node:path';
import { openDatabase, type Db, type Migration } from '../common/db';
import type { GrantRole } from '../../shared/schemas/keys';

const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE private_keys (
        account TEXT NOT NULL,
        version INTEGER NOT NULL CHECK (version >= 1),
        body TEXT NOT NULL,          -- canonical JSON of {envelopeKey, signingKey, kek}
        created_at INTEGER NOT NULL,
        PRIMARY KEY (account, version)
      ) STRICT;
      CREATE TABLE recovery (
        account TEXT NOT NULL,
        version INTEGER NOT NULL CHECK (version >= 1),
        blob TEXT NOT NULL,          -- base64url, opaque
        created_at INTEGER NOT NULL,
        PRIMARY KEY (account, version)
      ) STRICT;
      CREATE TABLE spaces (
        space TEXT PRIMARY KEY,
        name TEXT,
        manager TEXT NOT NULL,
        key_version INTEGER NOT NULL CHECK (key_version >= 1),
        created_at INTEGER NOT NULL
      ) STRICT;
      -- the current members of each space and their role (one row per member)
      CREATE TABLE members (
        space TEXT NOT NULL REFERENCES spaces(space),
        member TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('manager', 'viewer', 'editor', 'signer')),
        granter TEXT NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (space, member)
      ) STRICT;
      CREATE INDEX members_by_member ON members(member);
      -- the space-key envelopes of each member, one per key version, with the signed grant
      CREATE TABLE space_envelopes (
        space TEXT NOT NULL,
        member TEXT NOT NULL,
        key_version INTEGER NOT NULL,
        role TEXT NOT NULL,
        envelope TEXT NOT NULL,
        statement TEXT NOT NULL,
        granter TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (space, member, key_version),
        FOREIGN KEY (space, member) REFERENCES members(space, member) ON DELETE CASCADE
      ) STRICT;
      CREATE INDEX space_envelopes_by_member ON space_envelopes(member, space);
      -- envelopes shared to one account (DEKs), with the granter's signed statement
      CREATE TABLE envelopes (
        id TEXT PRIMARY KEY,         -- envelopeDigest of the envelope
        recipient TEXT NOT NULL,
        purpose TEXT NOT NULL,
        space TEXT,
        contract TEXT,
        envelope TEXT NOT NULL,
        statement TEXT NOT NULL,
        granter TEXT NOT NULL,
        created_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX envelopes_by_recipient ON envelopes(recipient, purpose, contract);
    `,
  },
  {
    version: 2,
    sql: `
      -- the enterprise CA private key wrapped to each security administrator, one per CA certificate
      CREATE TABLE ca_key_envelopes (
        recipient TEXT NOT NULL,
        ca TEXT NOT NULL,            -- SHA-256 fingerprint of the CA certificate, base64url
        envelope TEXT NOT NULL,      -- canonical JSON of the envelope
        created_by TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (recipient, ca)
      ) STRICT;
    `,
  },
  {
    version: 3,
    sql: `
      -- single shares of one contract, listed for the space's writers
      CREATE INDEX envelopes_by_contract ON envelopes(space, contract);
    `,
  },
  {
    // A space's name sealed under its space key (JSON {keyVersion, nonce, ct}): the relay keeps
    // a name it cannot read; the plaintext column stays for spaces named before.
    version: 4,
    sql: `ALTER TABLE spaces ADD COLUMN sealed_name TEXT;`,
  },
  {
    // Seals (docs/SIGNING.md section 2): one row per seal with the signed statements of its life,
    // the seal key wrapped to each user, the history every statement lands in, and use requests.
    version: 5,
    sql: `
      CREATE TABLE seals (
        id TEXT PRIMARY KEY,
        type TEXT NOT NULL CHECK (type IN ('company', 'contract', 'finance', 'legal-representative')),
        name TEXT NOT NULL,
        stamp_png TEXT NOT NULL,     -- base64 PNG
        requester TEXT NOT NULL,
        managers TEXT NOT NULL,      -- JSON array of account ids
        users TEXT NOT NULL,
        auditors TEXT NOT NULL,
        use_needs_approval INTEGER NOT NULL CHECK (use_needs_approval IN (0, 1)),
        status TEXT NOT NULL CHECK (status IN ('requested', 'active', 'rejected', 'disabled', 'destroyed')),
        request TEXT NOT NULL,       -- canonical JSON of the signed request
        request_digest TEXT NOT NULL,
        certificate TEXT,
        serial TEXT,                 -- lower-case hex
        approval TEXT,               -- canonical JSON of the signed approval or rejection
        pending TEXT,                -- JSON {action, by, statement, requestedAt}
        revoked_at INTEGER,
        revoke_reason TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      ) STRICT;
      CREATE TABLE seal_envelopes (
        seal TEXT NOT NULL REFERENCES seals(id),
        recipient TEXT NOT NULL,
        envelope TEXT NOT NULL,      -- canonical JSON of the envelope
        PRIMARY KEY (seal, recipient)
      ) STRICT;
      CREATE TABLE seal_history (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        seal TEXT NOT NULL REFERENCES seals(id),
        kind TEXT NOT NULL,
        actor TEXT NOT NULL,
        statement TEXT NOT NULL,     -- canonical JSON of the signed statement
        at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX seal_history_by_seal ON seal_history(seal, seq);
      CREATE TABLE seal_use_requests (
        seal TEXT NOT NULL REFERENCES seals(id),
        id TEXT NOT NULL,
        user TEXT NOT NULL,
        contract TEXT NOT NULL,
        flow TEXT NOT NULL,
        request TEXT NOT NULL,
        approval TEXT,
        created_at INTEGER NOT NULL,
        approved_at INTEGER,
        PRIMARY KEY (seal, id)
      ) STRICT;
    `,
  },
];

export interface VersionedRow {
  account: string;
  version: number;
  created_at: number;
}
export interface PrivateKeysRow extends VersionedRow {
  body: string;
}
export interface RecoveryRow extends VersionedRow {
  blob: string;
}
export interface SpaceRow {
  space: string;
  name: string | null;
  sealed_name: string | null;
  manager: string;
  key_version: number;
  created_at: number;
}
export interface MemberRow {
  space: string;
  member: string;
  role: GrantRole;
  granter: string;
  updated_at: number;
}
export interface SpaceEnvelopeRow {
  space: string;
  member: string;
  key_version: number;
  role: GrantRole;
  envelope: string;
  statement: string;
  granter: string;
  created_at: number;
}
/** A space the account is a member of, with the account's role in it. */
export interface MySpaceRow extends SpaceRow {
  role: GrantRole;
}
export interface EnvelopeRow {
  id: string;
  recipient: string;
  purpose: string;
  space: string | null;
  contract: string | null;
  envelope: string;
  statement: string;
  granter: string;
  created_at: number;
}

export interface CaKeyEnvelopeRow {
  recipient: string;
  ca: string;
  envelope: string;
  created_by: string;
  created_at: number;
}

/** Rows answered by one listing, at most. */
export const LIST_LIMIT = 1000;

export type KeysStore = ReturnType<typeof openKeysStore>;

export function openKeysStore(dataDir: string) {
  const db: Db = openDatabase(join(dataDir, 'keys.sqlite'), MIGRATIONS);

  const versioned = (table: 'private_keys' | 'recovery', column: 'body' | 'blob') => ({
    get: db.prepare<[string, number], VersionedRow & Record<string, unknown>>(`SELECT account, version, ${column}, created_at FROM ${table} WHERE account = ? AND version = ?`),
    latest: db.prepare<[string], VersionedRow & Record<string, unknown>>(`SELECT account, version, ${column}, created_at FROM ${table} WHERE account = ? ORDER BY version DESC LIMIT 1`),
    insert: db.prepare<[string, number, string, number]>(`INSERT INTO ${table} (account, version, ${column}, created_at) VALUES (?, ?, ?, ?)`),
  });
  const priv = versioned('private_keys', 'body');
  const rec = versioned('recovery', 'blob');

  const q = {
    space: db.prepare<[string], SpaceRow>('SELECT * FROM spaces WHERE space = ?'),
    insertSpace: db.prepare<[string, string | null, string | null, string, number]>('INSERT INTO spaces (space, name, sealed_name, manager, key_version, created_at) VALUES (?, ?, ?, ?, 1, ?)'),
    setSealedName: db.prepare<[string, string]>('UPDATE spaces SET sealed_name = ? WHERE space = ?'),
    bumpKeyVersion: db.prepare<[string]>('UPDATE spaces SET key_version = key_version + 1 WHERE space = ?'),
    member: db.prepare<[string, string], MemberRow>('SELECT * FROM members WHERE space = ? AND member = ?'),
    members: db.prepare<[string], MemberRow>('SELECT * FROM members WHERE space = ? ORDER BY member LIMIT 10000'),
    upsertMember: db.prepare<[string, string, string, string, number]>(
      `INSERT INTO members (space, member, role, granter, updated_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (space, member) DO UPDATE SET role = excluded.role, granter = excluded.granter, updated_at = excluded.updated_at`,
    ),
    // sorted by name (case-insensitively, unnamed last), then id
    mySpaces: db.prepare<[string], MySpaceRow>(
      `SELECT s.space, s.name, s.sealed_name, s.manager, s.key_version, s.created_at, m.role FROM members m JOIN spaces s ON s.space = m.space
       WHERE m.member = ? ORDER BY s.name IS NULL, s.name COLLATE NOCASE, s.name, s.space LIMIT ${LIST_LIMIT}`,
    ),
    deleteMember: db.prepare<[string, string]>('DELETE FROM members WHERE space = ? AND member = ?'),
    spaceEnvelope: db.prepare<[string, string, number], SpaceEnvelopeRow>('SELECT * FROM space_envelopes WHERE space = ? AND member = ? AND key_version = ?'),
    spaceEnvelopes: db.prepare<[string], SpaceEnvelopeRow>('SELECT * FROM space_envelopes WHERE space = ? ORDER BY member, key_version LIMIT 10000'),
    upsertSpaceEnvelope: db.prepare<[string, string, number, string, string, string, string, number]>(
      `INSERT INTO space_envelopes (space, member, key_version, role, envelope, statement, granter, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (space, member, key_version) DO UPDATE SET role = excluded.role, envelope = excluded.envelope,
         statement = excluded.statement, granter = excluded.granter, created_at = excluded.created_at`,
    ),
    // space-key envelopes carry no contract: a query for one contract gets none of them
    mySpaceEnvelopes: db.prepare<[{ member: string; space: string | null; contract: string | null }], SpaceEnvelopeRow>(
      `SELECT * FROM space_envelopes WHERE member = @member AND (@space IS NULL OR space = @space) AND @contract IS NULL
       ORDER BY space, key_version LIMIT ${LIST_LIMIT}`,
    ),
    envelope: db.prepare<[string], EnvelopeRow>('SELECT * FROM envelopes WHERE id = ?'),
    insertEnvelope: db.prepare<[string, string, string, string | null, string | null, string, string, string, number]>(
      'INSERT INTO envelopes (id, recipient, purpose, space, contract, envelope, statement, granter, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    myEnvelopes: db.prepare<[{ recipient: string; purpose: string | null; space: string | null; contract: string | null }], EnvelopeRow>(
      `SELECT * FROM envelopes WHERE recipient = @recipient AND (@purpose IS NULL OR purpose = @purpose)
         AND (@space IS NULL OR space = @space) AND (@contract IS NULL OR contract = @contract)
       ORDER BY created_at, id LIMIT ${LIST_LIMIT}`,
    ),
    // A single share counts only while its granter may still write in the space (the client checks the same).
    liveShare: db.prepare<[{ recipient: string; space: string; contract: string | null }], EnvelopeRow>(
      `SELECT e.* FROM envelopes e JOIN members m ON m.space = e.space AND m.member = e.granter
       WHERE e.recipient = @recipient AND e.purpose = 'dek' AND e.space = @space AND (@contract IS NULL OR e.contract = @contract)
         AND m.role IN ('manager', 'editor', 'signer')
       LIMIT 1`,
    ),
    contractShares: db.prepare<[string, string], EnvelopeRow>(
      `SELECT * FROM envelopes WHERE purpose = 'dek' AND space = ? AND contract = ? ORDER BY created_at, id LIMIT ${LIST_LIMIT}`,
    ),
    deleteEnvelope: db.prepare<[string]>('DELETE FROM envelopes WHERE id = ?'),
    caKeyEnvelope: db.prepare<[string, string], CaKeyEnvelopeRow>('SELECT * FROM ca_key_envelopes WHERE recipient = ? AND ca = ?'),
    caKeyRecipients: db.prepare<[string], { recipient: string }>(`SELECT recipient FROM ca_key_envelopes WHERE ca = ? ORDER BY recipient LIMIT ${LIST_LIMIT}`),
    myCaKeyEnvelopes: db.prepare<[string], CaKeyEnvelopeRow>(`SELECT * FROM ca_key_envelopes WHERE recipient = ? ORDER BY created_at, ca LIMIT ${LIST_LIMIT}`),
    putCaKeyEnvelope: db.prepare<[string, string, string, string, number]>(
      `INSERT INTO ca_key_envelopes (recipient, ca, envelope, created_by, created_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (recipient, ca) DO UPDATE SET envelope = excluded.envelope, created_by = excluded.created_by, created_at = excluded.created_at`,
    ),
  };

  return {
    db,
    privateKeys: {
      get: (account: string, version: number) => priv.get.get(account, version) as PrivateKeysRow | undefined,
      latest: (account: string) => priv.latest.get(account) as PrivateKeysRow | undefined,
      insert: (account: string, version: number, body: string, now: number) => priv.insert.run(account, version, body, now),
    },
    recovery: {
      get: (account: string, version: number) => rec.get.get(account, version) as RecoveryRow | undefined,
      latest: (account: string) => rec.latest.get(account) as RecoveryRow | undefined,
      insert: (account: string, version: number, blob: string, now: number) => rec.insert.run(account, version, blob, now),
    },
    space: (space: string) => q.space.get(space),
    member: (space: string, member: string) => q.member.get(space, member),
    members: (space: string) => q.members.all(space),
    /** The spaces the account is a member of (any role), with its role; at most LIST_LIMIT. */
    mySpaces: (member: string) => q.mySpaces.all(member),
    createSpace: db.transaction((space: string, name: string | null, sealedName: string | null, manager: string, now: number): boolean => {
      if (q.space.get(space)) return false;
      q.insertSpace.run(space, name, sealedName, manager, now);
      q.upsertMember.run(space, manager, 'manager', manager, now);
      return true;
    }),
    setSealedName: (space: string, sealedName: string) => q.setSealedName.run(sealedName, space),
    spaceEnvelope: (space: string, member: string, keyVersion: number) => q.spaceEnvelope.get(space, member, keyVersion),
    spaceEnvelopes: (space: string) => q.spaceEnvelopes.all(space),
    /** Writes a grant, re-checking under the write lock what the handler checked before awaiting. */
    putGrant: db.transaction(
      (g: { space: string; member: string; role: GrantRole; keyVersion: number; envelope: string; statement: string; granter: string }, now: number): 'ok' | 'gone' => {
        const space = q.space.get(g.space);
        const granter = q.member.get(g.space, g.granter);
        if (!space || granter?.role !== 'manager' || g.keyVersion > space.key_version) return 'gone';
        q.upsertMember.run(g.space, g.member, g.role, g.granter, now);
        q.upsertSpaceEnvelope.run(g.space, g.member, g.keyVersion, g.role, g.envelope, g.statement, g.granter, now);
        return 'ok';
      },
    ),
    /** Deletes the member's grant and envelopes and rotates the space key version; returns the new version. */
    revoke: db.transaction((space: string, member: string): number | null => {
      const row = q.member.get(space, member);
      if (!row || row.role === 'manager') return null;
      q.deleteMember.run(space, member);
      q.bumpKeyVersion.run(space);
      return q.space.get(space)!.key_version;
    }),
    envelope: (id: string) => q.envelope.get(id),
    insertEnvelope: (e: Omit<EnvelopeRow, 'created_at'>, now: number) =>
      q.insertEnvelope.run(e.id, e.recipient, e.purpose, e.space, e.contract, e.envelope, e.statement, e.granter, now),
    myEnvelopes: (recipient: string, purpose: string | null, space: string | null, contract: string | null) => q.myEnvelopes.all({ recipient, purpose, space, contract }),
    mySpaceEnvelopes: (member: string, space: string | null, contract: string | null) => q.mySpaceEnvelopes.all({ member, space, contract }),
    /** A DEK envelope to `recipient` in `space` (of `contract`, or of any contract) whose granter is still a writer there. */
    liveShare: (recipient: string, space: string, contract: string | null) => q.liveShare.get({ recipient, space, contract }),
    /** The DEK envelopes of one contract of a space, whoever holds them (at most LIST_LIMIT). */
    contractShares: (space: string, contract: string) => q.contractShares.all(space, contract),
    deleteEnvelope: (id: string): boolean => q.deleteEnvelope.run(id).changes > 0,
    caKeyEnvelope: (recipient: string, ca: string) => q.caKeyEnvelope.get(recipient, ca),
    myCaKeyEnvelopes: (recipient: string) => q.myCaKeyEnvelopes.all(recipient),
    caKeyRecipients: (ca: string) => q.caKeyRecipients.all(ca).map((r) => r.recipient),
    /** Stores or replaces the envelope of one recipient and CA. */
    putCaKeyEnvelope: (e: Omit<CaKeyEnvelopeRow, 'created_at'>, now: number) => q.putCaKeyEnvelope.run(e.recipient, e.ca, e.envelope, e.created_by, now),
    seals: sealQueries(db),
    close: (): void => {
      db.close();
    },
  };
}

export interface SealRow {
  id: string;
  type: string;
  name: string;
  stamp_png: string;
  requester: string;
  managers: string;
  users: string;
  auditors: string;
  use_needs_approval: number;
  status: string;
  request: string;
  request_digest: string;
  certificate: string | null;
  serial: string | null;
  approval: string | null;
  pending: string | null;
  revoked_at: number | null;
  revoke_reason: string | null;
  created_at: number;
  updated_at: number;
}
export interface SealHistoryRow {
  seq: number;
  seal: string;
  kind: string;
  actor: string;
  statement: string;
  at: number;
}
export interface SealUseRequestRow {
  seal: string;
  id: string;
  user: string;
  contract: string;
  flow: string;
  request: string;
  approval: string | null;
  created_at: number;
  approved_at: number | null;
}

function sealQueries(db: Db) {
  const q = {
    seal: db.prepare<[string], SealRow>('SELECT * FROM seals WHERE id = ?'),
    all: db.prepare<[], SealRow>(`SELECT * FROM seals ORDER BY created_at, id LIMIT ${LIST_LIMIT}`),
    liveCompany: db.prepare<[], { id: string }>(`SELECT id FROM seals WHERE type = 'company' AND status NOT IN ('rejected', 'destroyed') LIMIT 1`),
    insert: db.prepare<[SealRow]>(
      `INSERT INTO seals (id, type, name, stamp_png, requester, managers, users, auditors, use_needs_approval, status, request, request_digest,
         certificate, serial, approval, pending, revoked_at, revoke_reason, created_at, updated_at)
       VALUES (@id, @type, @name, @stamp_png, @requester, @managers, @users, @auditors, @use_needs_approval, @status, @request, @request_digest,
         @certificate, @serial, @approval, @pending, @revoked_at, @revoke_reason, @created_at, @updated_at)`,
    ),
    update: db.prepare<[{ id: string; status: string; certificate: string | null; serial: string | null; approval: string | null; pending: string | null; revoked_at: number | null; revoke_reason: string | null; updated_at: number }]>(
      `UPDATE seals SET status = @status, certificate = @certificate, serial = @serial, approval = @approval, pending = @pending,
         revoked_at = @revoked_at, revoke_reason = @revoke_reason, updated_at = @updated_at WHERE id = @id`,
    ),
    envelope: db.prepare<[string, string], { envelope: string }>('SELECT envelope FROM seal_envelopes WHERE seal = ? AND recipient = ?'),
    insertEnvelope: db.prepare<[string, string, string]>('INSERT INTO seal_envelopes (seal, recipient, envelope) VALUES (?, ?, ?)'),
    deleteEnvelopes: db.prepare<[string]>('DELETE FROM seal_envelopes WHERE seal = ?'),
    countEnvelopes: db.prepare<[string], { n: number }>('SELECT COUNT(*) AS n FROM seal_envelopes WHERE seal = ?'),
    history: db.prepare<[string], SealHistoryRow>('SELECT * FROM seal_history WHERE seal = ? ORDER BY seq LIMIT 10000'),
    addHistory: db.prepare<[string, string, string, string, number]>('INSERT INTO seal_history (seal, kind, actor, statement, at) VALUES (?, ?, ?, ?, ?)'),
    useRequest: db.prepare<[string, string], SealUseRequestRow>('SELECT * FROM seal_use_requests WHERE seal = ? AND id = ?'),
    useRequests: db.prepare<[{ seal: string; user: string | null; contract: string | null; flow: string | null }], SealUseRequestRow>(
      `SELECT * FROM seal_use_requests WHERE seal = @seal AND (@user IS NULL OR user = @user) AND (@contract IS NULL OR contract = @contract)
         AND (@flow IS NULL OR flow = @flow) ORDER BY created_at, id LIMIT ${LIST_LIMIT}`,
    ),
    insertUseRequest: db.prepare<[string, string, string, string, string, string, number]>(
      'INSERT INTO seal_use_requests (seal, id, user, contract, flow, request, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ),
    approveUseRequest: db.prepare<[string, number, string, string]>('UPDATE seal_use_requests SET approval = ?, approved_at = ? WHERE seal = ? AND id = ? AND approval IS NULL'),
    revoked: db.prepare<[], Pick<SealRow, 'id' | 'serial' | 'revoked_at' | 'revoke_reason'>>(
      "SELECT id, serial, revoked_at, revoke_reason FROM seals WHERE status = 'destroyed' AND serial IS NOT NULL ORDER BY revoked_at, id LIMIT 100000",
    ),
  };
  type Change = Partial<Pick<SealRow, 'status' | 'certificate' | 'serial' | 'approval' | 'pending' | 'revoked_at' | 'revoke_reason'>>;
  const apply = (row: SealRow, change: Change, now: number) => q.update.run({ ...row, ...change, id: row.id, updated_at: now });
  const history = (seal: string, kind: string, actor: string, statement: string, now: number) => q.addHistory.run(seal, kind, actor, statement, now);

  return {
    get: (id: string) => q.seal.get(id),
    all: () => q.all.all(),
    envelope: (seal: string, recipient: string) => q.envelope.get(seal, recipient)?.envelope,
    envelopeCount: (seal: string) => q.countEnvelopes.get(seal)!.n,
    history: (seal: string) => q.history.all(seal),
    useRequest: (seal: string, id: string) => q.useRequest.get(seal, id),
    useRequests: (seal: string, user: string | null, contract: string | null, flow: string | null) => q.useRequests.all({ seal, user, contract, flow }),
    revoked: () => q.revoked.all(),
    /** Inserts a requested seal unless its id exists ('exists') or it is a second live company seal ('company'). */
    create: db.transaction((row: SealRow, actor: string): 'ok' | 'exists' | 'company' => {
      if (q.seal.get(row.id)) return 'exists';
      if (row.type === 'company' && q.liveCompany.get()) return 'company';
      q.insert.run(row);
      history(row.id, 'request', actor, row.request, row.created_at);
      return 'ok';
    }),
    /**
     * Applies a change if the seal is still in `from` status with the same pending action (what
     * the handler checked before awaiting), records the statement in the history, and runs
     * `more` in the same transaction. False when the seal changed meanwhile.
     */
    transition: db.transaction(
      (id: string, from: readonly string[], pending: string | null, change: Change, entry: { kind: string; actor: string; statement: string }, now: number, more?: () => void): boolean => {
        const row = q.seal.get(id);
        if (!row || !from.includes(row.status) || row.pending !== pending) return false;
        apply(row, change, now);
        history(id, entry.kind, entry.actor, entry.statement, now);
        more?.();
        return true;
      },
    ),
    insertEnvelope: (seal: string, recipient: string, envelope: string) => q.insertEnvelope.run(seal, recipient, envelope),
    deleteEnvelopes: (seal: string) => q.deleteEnvelopes.run(seal).changes,
    addUseRequest: db.transaction((r: Omit<SealUseRequestRow, 'approval' | 'approved_at'>, actor: string): boolean => {
      if (q.useRequest.get(r.seal, r.id)) return false;
      q.insertUseRequest.run(r.seal, r.id, r.user, r.contract, r.flow, r.request, r.created_at);
      history(r.seal, 'use-request', actor, r.request, r.created_at);
      return true;
    }),
    approveUseRequest: db.transaction((seal: string, id: string, approval: string, actor: string, now: number): boolean => {
      if (q.approveUseRequest.run(approval, now, seal, id).changes === 0) return false;
      history(seal, 'use-approval', actor, approval, now);
      return true;
    }),
  };
}
