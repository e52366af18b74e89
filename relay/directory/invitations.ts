/**
 * Invitation codes: 32 random bytes given once to the invitee (out of band, by an administrator);
 * the directory keeps only their SHA-256, so a copy of its database cannot be used to register
 * in someone's place. Valid for 7 days, spent by the registration that uses them.
 */
import type { Db } from '../common/db';
import { HttpError } from '../http/errors';
import { randomSecret, sha256B64u } from './util';

export const INVITATION_LIFETIME_MS = 7 * 24 * 3600 * 1000;

interface InvitationRow {
  code_sha256: string;
  account: string;
  expires_at: number;
  used_at: number | null;
}

/** Makes an invitation for the account; returns the code (shown once) and its expiry. */
export function createInvitation(db: Db, account: string, createdBy: string, now: number): { code: string; expiresAt: number } {
  const code = randomSecret();
  const expiresAt = now + INVITATION_LIFETIME_MS;
  db.prepare('INSERT INTO invitations (code_sha256, account, created_by, created_at, expires_at) VALUES (?, ?, ?, ?, ?)').run(sha256B64u(code), account, createdBy, now, expiresAt);
  return { code, expiresAt };
}

/**
 * The account an unspent, unexpired invitation is for. The code is 256 bits, so distinct
 * answers for unknown, used and expired codes reveal nothing guessable and help the invitee.
 */
export function usableInvitation(db: Db, code: string, now: number): InvitationRow {
  const row = db.prepare('SELECT code_sha256, account, expires_at, used_at FROM invitations WHERE code_sha256 = ?').get(sha256B64u(code)) as InvitationRow | undefined;
  if (!row) throw new HttpError(404, 'E_INVITATION_UNKNOWN', 'no such invitation code');
  if (row.used_at !== null) throw new HttpError(409, 'E_INVITATION_USED', 'this invitation was already used');
  if (row.expires_at <= now) throw new HttpError(410, 'E_INVITATION_EXPIRED', 'this invitation has expired; ask an administrator for a new one');
  return row;
}

/** Spends the invitation; false if another request spent it first (call inside the registering transaction). */
export function spendInvitation(db: Db, code: string, now: number): boolean {
  return db.prepare('UPDATE invitations SET used_at = ? WHERE code_sha256 = ? AND used_at IS NULL AND expires_at > ?').run(now, sha256B64u(code), now).changes === 1;
}
