/**
 * The audit service's SQLite schema (`<dataDir>/audit.sqlite`). Every table is append-only: the
 * service has no code path that updates or deletes a row, and triggers refuse it too, so a bug
 * cannot rewrite history. (Someone with the file can drop the triggers: that is what the Merkle
 * tree, the signed checkpoints and the witnesses are for.)
 */
import type { Migration } from '../common/db';

const APPEND_ONLY_TABLES = ['meta', 'entries', 'nodes', 'checkpoints', 'witnesses', 'cosignatures'] as const;

function appendOnlyTriggers(): string {
  return APPEND_ONLY_TABLES.map(
    (t) => `
CREATE TRIGGER ${t}_no_update BEFORE UPDATE ON ${t} BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER ${t}_no_delete BEFORE DELETE ON ${t} BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;`,
  ).join('\n');
}

export const AUDIT_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `
CREATE TABLE meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;

-- One row per appended entry. leaf is the Merkle leaf (JCS of {entry, signature}); the
-- columns beside it are derived from it for lookups only.
CREATE TABLE entries (
  idx INTEGER PRIMARY KEY,
  leaf BLOB NOT NULL,
  leaf_hash BLOB NOT NULL UNIQUE,
  actor TEXT NOT NULL,
  details_json TEXT,
  received_at INTEGER NOT NULL
) STRICT;
CREATE INDEX entries_by_actor ON entries (actor, idx);

-- Complete aligned subtrees: (level, idx) is the MTH of leaves [idx * 2^level, (idx + 1) * 2^level).
CREATE TABLE nodes (
  level INTEGER NOT NULL,
  idx INTEGER NOT NULL,
  hash BLOB NOT NULL,
  PRIMARY KEY (level, idx)
) STRICT, WITHOUT ROWID;

CREATE TABLE checkpoints (
  size INTEGER PRIMARY KEY,
  root BLOB NOT NULL,
  note TEXT NOT NULL,
  created_at INTEGER NOT NULL
) STRICT;

-- One witness key per auditor account (c2sp.org/tlog-cosignature, type 0x04).
CREATE TABLE witnesses (
  account TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  public_key BLOB NOT NULL UNIQUE,
  registered_at INTEGER NOT NULL
) STRICT;

CREATE TABLE cosignatures (
  size INTEGER NOT NULL REFERENCES checkpoints (size),
  account TEXT NOT NULL REFERENCES witnesses (account),
  line TEXT NOT NULL,
  timestamp INTEGER NOT NULL,
  received_at INTEGER NOT NULL,
  PRIMARY KEY (size, account)
) STRICT;
${appendOnlyTriggers()}
`,
  },
];
