/**
 * Sessions: Ed25519-signed tokens (shared/formats/token.ts) whose jti is a row here. Other
 * services can only check a token's signature and lifetime (at most 15 minutes); the directory
 * also checks the row, so logout, disabling an account or removing a role ends the session here
 * at once, and everywhere else within one token lifetime because refresh is refused.
 */
import type { MiddlewareHandler } from 'hono';
import { isCryptoError } from '../../shared/crypto/errors';
import { signToken, verifyToken, type TokenPayload } from '../../shared/formats/token';
import type { Role } from '../../shared/schemas/directory';
import { bearerToken, SESSION_LIFETIME_SECONDS } from '../common/auth';
import type { Db } from '../common/db';
import type { ServiceKey } from '../common/service-key';
import { HttpError } from '../http/errors';
import { getAccount, rolesOf, type AccountRow } from './accounts-store';
import { randomId } from './util';

/** A login is good for at most 12 hours of refreshes; then the password is asked again. */
export const SESSION_MAX_AGE_MS = 12 * 3600 * 1000;
/**
 * Changing the password or the recovery key needs a session that began this recently with a
 * proof of the password (OPAQUE login or registration) or of the recovery code: the relay never
 * sees the old password, so a fresh proof is how it knows the caller still has it, and a stolen
 * or unattended session (refreshed for hours) cannot lock the owner out.
 */
export const FRESH_SESSION_MS = 5 * 60 * 1000;

/** How a session began (sessions.via). Each is a proof of the password or the recovery code. */
export type SessionOrigin = 'login' | 'registration' | 'recovery' | 'password-change';
const FRESH_ORIGINS: readonly SessionOrigin[] = ['login', 'registration', 'recovery', 'password-change'];
export const ESCROW_TICKET_LIFETIME_SECONDS = 60;

export interface Caller {
  account: AccountRow;
  /** roles as the database holds them now (stricter than the token's roles at issue time) */
  roles: Role[];
  token: TokenPayload;
}

export type DirectoryEnv = { Variables: { caller: Caller; requestId?: string } };

interface SessionRow {
  id: string;
  account: string;
  expires_at: number;
  not_after: number;
  ended_at: number | null;
}

export interface IssuedSession {
  /** the session id (token jti): for audit details, not sent to the client beside the token */
  id: string;
  session: string;
  account: string;
  roles: Role[];
  expiresAt: number;
}

const seconds = (ms: number) => Math.floor(ms / 1000);

export class Sessions {
  constructor(
    private readonly db: Db,
    private readonly key: ServiceKey,
    private readonly now: () => number,
  ) {}

  /** Starts a new session for the account and signs its first token. */
  async start(account: string, via: SessionOrigin): Promise<IssuedSession> {
    const now = this.now();
    const id = randomId();
    const notAfter = now + SESSION_MAX_AGE_MS;
    // Forget rows that can no longer be refreshed, so the table does not grow forever.
    this.db.prepare('DELETE FROM sessions WHERE not_after < ?').run(now - SESSION_MAX_AGE_MS);
    this.db.prepare('INSERT INTO sessions (id, account, created_at, expires_at, not_after, via) VALUES (?, ?, ?, ?, ?, ?)').run(id, account, now, now, notAfter, via);
    return this.sign(id, account, notAfter);
  }

  /** True if the session began with a password or recovery-code proof at most FRESH_SESSION_MS ago. */
  isFresh(id: string): boolean {
    const row = this.db.prepare('SELECT created_at, via FROM sessions WHERE id = ?').get(id) as { created_at: number; via: string | null } | undefined;
    if (!row || row.via === null || !(FRESH_ORIGINS as readonly string[]).includes(row.via)) return false;
    return this.now() - row.created_at <= FRESH_SESSION_MS;
  }

  /** A new token for a live session, with the account's current roles. */
  async refresh(id: string, account: string): Promise<IssuedSession> {
    const row = this.live(id, account);
    return this.sign(row.id, account, row.not_after);
  }

  private async sign(id: string, account: string, notAfter: number): Promise<IssuedSession> {
    const now = this.now();
    const iat = seconds(now);
    const exp = Math.min(iat + SESSION_LIFETIME_SECONDS, seconds(notAfter));
    if (exp <= iat) throw new HttpError(401, 'E_UNAUTHORIZED', 'session is too old to refresh; sign in again');
    const roles = rolesOf(this.db, account);
    const session = await signToken(this.key.privateKey, { typ: 'session', iss: 'directory', sub: account, jti: id, iat, exp, roles });
    this.db.prepare('UPDATE sessions SET expires_at = ? WHERE id = ?').run(exp * 1000, id);
    return { id, session, account, roles, expiresAt: exp };
  }

  private live(id: string, account: string): SessionRow {
    const row = this.db.prepare('SELECT id, account, expires_at, not_after, ended_at FROM sessions WHERE id = ?').get(id) as SessionRow | undefined;
    if (!row || row.account !== account || row.ended_at !== null || row.not_after <= this.now()) {
      throw new HttpError(401, 'E_UNAUTHORIZED', 'session has ended; sign in again');
    }
    return row;
  }

  end(id: string, reason: string): void {
    this.db.prepare('UPDATE sessions SET ended_at = ?, end_reason = ? WHERE id = ? AND ended_at IS NULL').run(this.now(), reason, id);
  }

  endAllFor(account: string, reason: string): void {
    this.db.prepare('UPDATE sessions SET ended_at = ?, end_reason = ? WHERE account = ? AND ended_at IS NULL').run(this.now(), reason, account);
  }

  /** Verifies signature, type and lifetime, then that the session row is live and the account not disabled. */
  async check(token: string): Promise<Caller> {
    let payload: TokenPayload;
    try {
      payload = await verifyToken(this.key.publicKey, token, { typ: 'session', iss: 'directory', now: seconds(this.now()), maxLifetimeSeconds: SESSION_LIFETIME_SECONDS });
    } catch (e) {
      if (isCryptoError(e)) throw new HttpError(401, 'E_UNAUTHORIZED', 'session is invalid or expired; sign in again');
      throw e;
    }
    this.live(payload.jti, payload.sub);
    const account = getAccount(this.db, payload.sub);
    if (!account || account.status === 'disabled') throw new HttpError(401, 'E_UNAUTHORIZED', 'session has ended; sign in again');
    return { account, roles: rolesOf(this.db, account.id), token: payload };
  }

  /** Signs a single-use escrow ticket (escrow remembers spent jtis) for the account. */
  async escrowTicket(account: string): Promise<{ ticket: string; expiresAt: number; id: string }> {
    const iat = seconds(this.now());
    const exp = iat + ESCROW_TICKET_LIFETIME_SECONDS;
    const id = randomId();
    const ticket = await signToken(this.key.privateKey, { typ: 'escrow-ticket', iss: 'directory', sub: account, jti: id, iat, exp });
    return { ticket, expiresAt: exp, id };
  }
}

/** The wire answer (SessionResponse) for an issued session. */
export function sessionAnswer(s: IssuedSession): { session: string; account: string; roles: Role[]; expiresAt: number } {
  return { session: s.session, account: s.account, roles: s.roles, expiresAt: s.expiresAt };
}

/** The directory's own session check: signature AND a live session row (other services can only do the first). */
export function requireSession(sessions: Sessions): MiddlewareHandler<DirectoryEnv> {
  return async (c, next) => {
    c.set('caller', await sessions.check(bearerToken(c)));
    await next();
  };
}

/** A session that began with a password or recovery-code proof minutes ago (FRESH_SESSION_MS). */
export function requireFreshSession(sessions: Sessions): MiddlewareHandler<DirectoryEnv> {
  return async (c, next) => {
    if (!sessions.isFresh(c.get('caller').token.jti)) throw new HttpError(403, 'E_STALE_SESSION', 'sign in again with your password first (at most 5 minutes before this change)');
    await next();
  };
}

/** One of the roles, as the database holds them now. */
export function requireRole(...roles: Role[]): MiddlewareHandler<DirectoryEnv> {
  return async (c, next) => {
    const held = c.get('caller').roles;
    if (!roles.some((r) => held.includes(r))) throw new HttpError(403, 'E_FORBIDDEN', `needs one of the roles: ${roles.join(', ')}`);
    await next();
  };
}
