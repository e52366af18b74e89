/**
 * Prelogin and OPAQUE login. Everything an unauthenticated caller sees is the same for an
 * unknown username as for a known one: prelogin answers a stable fake salt with the default
 * parameters, login/start runs OPAQUE on a fake record, and login/finish fails with one status
 * and message for "no such user" and "wrong password". Only after a correct password proof does
 * a disabled account learn that it is disabled (403 E_ACCOUNT_DISABLED).
 */
import type { Hono } from 'hono';
import { DEFAULT_ARGON2_PARAMS } from '../../../shared/crypto/argon2';
import { LoginFinishRequest, LoginStartRequest, LoginStartResponse, PreloginRequest, PreloginResponse, SessionResponse } from '../../../shared/schemas/directory';
import { readJson } from '../../common/validate';
import { HttpError } from '../../http/errors';
import { foldUsername, getAccount, getAccountByUsername } from '../accounts-store';
import { accountTarget, type DirectoryDeps } from '../deps';
import type { PendingLogin } from '../opaque';
import { sessionAnswer, type DirectoryEnv, type IssuedSession, type SessionOrigin } from '../sessions';
import { clientAddress, sha256B64u } from '../util';

const LOGIN_BODY = 2 * 1024;
const LOGIN_FAILED = 'wrong username or password';

/** Audit target for a username that may not exist: its hash, so typed names (often passwords by mistake) stay out of the log. */
export function usernameTarget(username: string): string {
  return `username-sha256:${sha256B64u(username)}`;
}

/**
 * Starts the session and records it (login.success, or the action that began it, such as
 * account.recover); if the audit log cannot take the entry, the session ends before it is handed out.
 */
export async function startAuditedSession(
  deps: DirectoryDeps,
  account: string,
  via: SessionOrigin,
  details: Record<string, unknown> = {},
  action = 'login.success',
): Promise<IssuedSession> {
  const issued = await deps.sessions.start(account, via);
  try {
    await deps.ctx.audit.record({ actor: account, action, target: accountTarget(account), outcome: 'ok', details: { ...details, via, session: issued.id } });
  } catch (e) {
    deps.sessions.end(issued.id, 'audit-unavailable');
    throw e;
  }
  return issued;
}

export async function auditLoginFailure(deps: DirectoryDeps, login: PendingLogin, reason: string): Promise<void> {
  await deps.ctx.audit.record({
    action: 'login.failure',
    target: login.account ? accountTarget(login.account) : usernameTarget(login.username),
    outcome: 'refused',
    details: { reason, address: login.address },
  });
}

export function loginRoutes(app: Hono<DirectoryEnv>, deps: DirectoryDeps): void {
  const { db, api, now, opaque, secrets, pendingLogins, limits } = deps;

  api.add({
    method: 'post',
    path: '/prelogin',
    summary: "The account's Argon2id salt and parameters (a stable fake for unknown usernames)",
    body: PreloginRequest,
    response: PreloginResponse,
  });
  app.post('/prelogin', async (c) => {
    const { username } = await readJson(c, PreloginRequest, LOGIN_BODY);
    const name = foldUsername(username);
    // Computed for every name, used only for unknown ones, so both paths do the same work.
    const fake = secrets.fakeSalt(name).toString('base64url');
    const account = getAccountByUsername(db, name);
    if (account && account.opaque_record !== null && account.kdf_salt !== null) {
      return c.json({ salt: account.kdf_salt, kdf: { m: account.kdf_m!, t: account.kdf_t!, p: account.kdf_p! } });
    }
    const { m, t, p } = DEFAULT_ARGON2_PARAMS;
    return c.json({ salt: fake, kdf: { m, t, p } });
  });

  api.add({
    method: 'post',
    path: '/login/start',
    summary: 'OPAQUE login, first message; the server state stays on the relay for 60 s under loginId',
    body: LoginStartRequest,
    response: LoginStartResponse,
    errors: { 429: 'too many unsuccessful logins for this username or address' },
  });
  app.post('/login/start', async (c) => {
    const body = await readJson(c, LoginStartRequest, LOGIN_BODY);
    const username = foldUsername(body.username);
    const address = clientAddress(c);
    if (limits.username.blocked(username) || limits.address.blocked(address)) {
      throw new HttpError(429, 'E_RATE_LIMITED', 'too many unsuccessful sign-ins; wait 15 minutes and try again');
    }
    limits.username.hit(username);
    limits.address.hit(address);
    const account = getAccountByUsername(db, username);
    const record = account?.opaque_record ?? null;
    const known = account !== undefined && record !== null;
    // Unknown names use "unknown:<name>" as credential identifier: stable per name, and never an account id (ids have no ':').
    const { serverLoginState, loginResponse } = opaque.startLogin(known ? account.id : `unknown:${username}`, record, body.startLoginRequest);
    const loginId = pendingLogins.add({ account: known ? account.id : null, username, address, serverLoginState });
    return c.json({ loginId, loginResponse });
  });

  api.add({
    method: 'post',
    path: '/login/finish',
    summary: 'OPAQUE login, final message: a session, or 401 E_LOGIN_FAILED (unknown user and wrong password alike)',
    body: LoginFinishRequest,
    response: SessionResponse,
    errors: { 401: 'wrong username or password (E_LOGIN_FAILED), or the login expired (E_LOGIN_EXPIRED)', 403: 'correct password, but the account is disabled (E_ACCOUNT_DISABLED)' },
  });
  app.post('/login/finish', async (c) => {
    const body = await readJson(c, LoginFinishRequest, LOGIN_BODY);
    const login = pendingLogins.take(body.loginId);
    if (!login) throw new HttpError(401, 'E_LOGIN_EXPIRED', 'this sign-in attempt is unknown or already used; start again');
    if (login.expiresAt <= now()) {
      await auditLoginFailure(deps, login, 'expired');
      throw new HttpError(401, 'E_LOGIN_EXPIRED', 'this sign-in attempt took longer than a minute; start again');
    }
    // Run the OPAQUE check for unknown names too (it fails on the fake state), so both take the same time.
    const proved = opaque.finishLogin(login.serverLoginState, body.finishLoginRequest);
    const account = login.account ? getAccount(db, login.account) : undefined;
    if (!proved || !account) {
      await auditLoginFailure(deps, login, 'opaque-proof-failed');
      throw new HttpError(401, 'E_LOGIN_FAILED', LOGIN_FAILED);
    }
    if (account.status === 'disabled') {
      await auditLoginFailure(deps, login, 'account-disabled');
      throw new HttpError(403, 'E_ACCOUNT_DISABLED', 'this account is disabled; contact your administrator');
    }
    // A success was not a guess: the name starts afresh and the address gets its attempt back.
    limits.username.reset(login.username);
    limits.address.refund(login.address);
    const issued = await startAuditedSession(deps, account.id, 'login', { address: login.address });
    return c.json(sessionAnswer(issued));
  });
}
