/**
 * The escrow service's SQLite file (<dataDir>/escrow.sqlite): each account's escrow shares E and
 * escrow-auth public keys by version, the directory tickets already spent, outstanding
 * challenges, and failed signatures for the lockout. Escrow holds E and nothing that opens it:
 * no wrapped key, no password-derived secret (only the public half of the escrow-auth key).
 */
import { join } from 'node:path';
import { openDatabase, type Db, type Migration } from '../common/db';

const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE shares (
        account TEXT NOT NULL,
        version INTEGER NOT NULL CHECK (version >= 1),
        share BLOB NOT NULL CHECK (length(share) = 32),
        auth_key BLOB NOT NULL CHECK (length(auth_key) = 32),
        created_at INTEGER NOT NULL,
        PRIMARY KEY (account, version)
      ) STRICT;
      CREATE TABLE spent_tickets (
        jti TEXT PRIMARY KEY,
        account TEXT NOT NULL,
        expires_at INTEGER NOT NULL,   -- ms; after this (plus clock skew) the ticket cannot verify anyway
        spent_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX spent_tickets_expiry ON spent_tickets(expires_at);
      CREATE TABLE challenges (
        id TEXT PRIMARY KEY,
        account TEXT NOT NULL,
        jti TEXT NOT NULL,
        challenge BLOB NOT NULL CHECK (length(challenge) = 32),
        expires_at INTEGER NOT NULL,
        used_at INTEGER
      ) STRICT;
      CREATE INDEX challenges_expiry ON challenges(expires_at);
      CREATE TABLE failures (
        account TEXT NOT NULL,
        at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX failures_by_account ON failures(account, at);
      CREATE TABLE lockouts (
        account TEXT PRIMARY KEY,
        until INTEGER NOT NULL
      ) STRICT;
    `,
  },
  {
    version: 2,
    sql: `
      -- each account's recovery-auth public key (Ed25519, from its recovery code): it may register
      -- a new share version without the old escrow-auth key, and never releases E
      CREATE TABLE recovery_keys (
        account TEXT PRIMARY KEY,
        recovery_key BLOB NOT NULL CHECK (length(recovery_key) = 32),
        updated_at INTEGER NOT NULL
      ) STRICT;
    `,
  },
];

export interface ShareRow {
  account: string;
  version: number;
  share: Buffer;
  auth_key: Buffer;
  created_at: number;
}

export interface RecoveryKeyRow {
  account: string;
  recovery_key: Buffer;
  updated_at: number;
}

export interface ChallengeRow {
  id: string;
  account: string;
  jti: string;
  challenge: Buffer;
  expires_at: number;
  used_at: number | null;
}

export type TakeChallenge = { ok: true; row: ChallengeRow } | { ok: false; why: 'unknown' | 'used' | 'expired'; row?: ChallengeRow };

export type EscrowStore = ReturnType<typeof openEscrowStore>;

export function openEscrowStore(dataDir: string) {
  const db: Db = openDatabase(join(dataDir, 'escrow.sqlite'), MIGRATIONS);
  const q = {
    share: db.prepare<[string, number], ShareRow>('SELECT * FROM shares WHERE account = ? AND version = ?'),
    latest: db.prepare<[string], ShareRow>('SELECT * FROM shares WHERE account = ? ORDER BY version DESC LIMIT 1'),
    insertShare: db.prepare<[string, number, Buffer, Buffer, number]>('INSERT INTO shares (account, version, share, auth_key, created_at) VALUES (?, ?, ?, ?, ?)'),
    deleteShare: db.prepare<[string, number]>('DELETE FROM shares WHERE account = ? AND version = ?'),
    spend: db.prepare<[string, string, number, number]>('INSERT INTO spent_tickets (jti, account, expires_at, spent_at) VALUES (?, ?, ?, ?) ON CONFLICT (jti) DO NOTHING'),
    isSpent: db.prepare<[string], { jti: string }>('SELECT jti FROM spent_tickets WHERE jti = ?'),
    pruneTickets: db.prepare<[number]>('DELETE FROM spent_tickets WHERE expires_at < ?'),
    insertChallenge: db.prepare<[string, string, string, Buffer, number]>('INSERT INTO challenges (id, account, jti, challenge, expires_at) VALUES (?, ?, ?, ?, ?)'),
    challenge: db.prepare<[string], ChallengeRow>('SELECT * FROM challenges WHERE id = ?'),
    useChallenge: db.prepare<[number, string]>('UPDATE challenges SET used_at = ? WHERE id = ? AND used_at IS NULL'),
    pruneChallenges: db.prepare<[number]>('DELETE FROM challenges WHERE expires_at < ?'),
    addFailure: db.prepare<[string, number]>('INSERT INTO failures (account, at) VALUES (?, ?)'),
    countFailures: db.prepare<[string, number], { n: number }>('SELECT count(*) AS n FROM failures WHERE account = ? AND at > ?'),
    clearFailures: db.prepare<[string]>('DELETE FROM failures WHERE account = ?'),
    pruneFailures: db.prepare<[number]>('DELETE FROM failures WHERE at < ?'),
    lockout: db.prepare<[string], { until: number }>('SELECT until FROM lockouts WHERE account = ?'),
    lock: db.prepare<[string, number]>('INSERT INTO lockouts (account, until) VALUES (?, ?) ON CONFLICT (account) DO UPDATE SET until = excluded.until'),
    pruneLockouts: db.prepare<[number]>('DELETE FROM lockouts WHERE until < ?'),
    recoveryKey: db.prepare<[string], RecoveryKeyRow>('SELECT * FROM recovery_keys WHERE account = ?'),
    putRecoveryKey: db.prepare<[string, Buffer, number]>(
      'INSERT INTO recovery_keys (account, recovery_key, updated_at) VALUES (?, ?, ?) ON CONFLICT (account) DO UPDATE SET recovery_key = excluded.recovery_key, updated_at = excluded.updated_at',
    ),
    deleteRecoveryKey: db.prepare<[string]>('DELETE FROM recovery_keys WHERE account = ?'),
  };

  return {
    db,
    share: (account: string, version: number) => q.share.get(account, version),
    latest: (account: string) => q.latest.get(account),
    /**
     * Inserts the next version only if `expectedLatest` is still the newest (null: none yet), and
     * with it the account's recovery key when one is given.
     */
    insertShare: db.transaction(
      (account: string, version: number, share: Buffer, authKey: Buffer, expectedLatest: number | null, now: number, recoveryKey: Buffer | null = null): boolean => {
        const top = q.latest.get(account);
        if ((top?.version ?? null) !== expectedLatest) return false;
        q.insertShare.run(account, version, share, authKey, now);
        if (recoveryKey !== null) q.putRecoveryKey.run(account, recoveryKey, now);
        return true;
      },
    ),
    deleteShare: (account: string, version: number) => q.deleteShare.run(account, version),
    recoveryKey: (account: string) => q.recoveryKey.get(account),
    /** Sets (or, with null, removes) the account's recovery key; returns the row it replaced. */
    setRecoveryKey: db.transaction((account: string, recoveryKey: Buffer | null, now: number): RecoveryKeyRow | undefined => {
      const previous = q.recoveryKey.get(account);
      if (recoveryKey === null) q.deleteRecoveryKey.run(account);
      else q.putRecoveryKey.run(account, recoveryKey, now);
      return previous;
    }),
    isSpent: (jti: string) => q.isSpent.get(jti) !== undefined,
    /** Marks a ticket spent; false if it already was (one statement, so two racing releases cannot both win). */
    spend: (jti: string, account: string, expiresAtMs: number, now: number) => q.spend.run(jti, account, expiresAtMs, now).changes === 1,
    addChallenge: (id: string, account: string, jti: string, challenge: Uint8Array, expiresAt: number) => q.insertChallenge.run(id, account, jti, Buffer.from(challenge), expiresAt),
    /** Uses a challenge up, whatever happens next: a challenge is answered at most once. */
    takeChallenge: db.transaction((id: string, now: number): TakeChallenge => {
      const row = q.challenge.get(id);
      if (!row) return { ok: false, why: 'unknown' };
      if (row.used_at !== null) return { ok: false, why: 'used', row };
      q.useChallenge.run(now, id);
      if (row.expires_at <= now) return { ok: false, why: 'expired', row };
      return { ok: true, row };
    }),
    lockedUntil: (account: string, now: number): number | null => {
      const row = q.lockout.get(account);
      return row && row.until > now ? row.until : null;
    },
    /** Records a failed signature; locks the account (and forgets its failures) at `max` failures within `windowMs`. */
    recordFailure: db.transaction((account: string, now: number, max: number, windowMs: number, lockMs: number): { failures: number; lockedUntil: number | null } => {
      q.addFailure.run(account, now);
      const failures = q.countFailures.get(account, now - windowMs)!.n;
      if (failures < max) return { failures, lockedUntil: null };
      q.lock.run(account, now + lockMs);
      q.clearFailures.run(account);
      return { failures, lockedUntil: now + lockMs };
    }),
    clearFailures: (account: string) => q.clearFailures.run(account),
    prune: (now: number, keepMs: number) => {
      q.pruneTickets.run(now - keepMs);
      q.pruneChallenges.run(now - keepMs);
      q.pruneFailures.run(now - keepMs);
      q.pruneLockouts.run(now);
    },
    close: (): void => {
      db.close();
    },
  };
}
