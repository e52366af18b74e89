/**
 * Password change, directory side (DESIGN.md section 4): a new OPAQUE registration under the same
 * credential identifier as login (the account id) and a new Argon2id salt and parameters. The
 * relay never sees the old password, so it asks for a session that began with a password (or
 * recovery-code) proof at most 5 minutes ago. Afterwards every session of the account ends and
 * the caller gets a new one. Re-wrapping the private keys and the new escrow-auth key are the
 * browser's business with keys and escrow (before it calls finish: finish ends the old session).
 */
import type { Hono } from 'hono';
import { checkArgon2Params } from '../../../shared/crypto/argon2';
import { PasswordFinishRequest, PasswordStartRequest, PasswordStartResponse, SessionResponse } from '../../../shared/schemas/directory';
import { readJson } from '../../common/validate';
import { HttpError } from '../../http/errors';
import type { DirectoryDeps } from '../deps';
import { requireFreshSession, requireSession, sessionAnswer, type DirectoryEnv } from '../sessions';
import { clientCrypto } from '../util';
import { startAuditedSession } from './login';

const START_BODY = 2 * 1024;
const FINISH_BODY = 4 * 1024;

export function passwordRoutes(app: Hono<DirectoryEnv>, deps: DirectoryDeps): void {
  const { db, api, now, opaque, sessions } = deps;
  const auth = requireSession(sessions);
  const fresh = requireFreshSession(sessions);

  api.add({
    method: 'post',
    path: '/password/start',
    summary: 'Start a new OPAQUE registration for the session\'s account (session that began with a sign-in at most 5 minutes ago)',
    auth: 'session',
    body: PasswordStartRequest,
    response: PasswordStartResponse,
    errors: { 403: 'the session is not fresh (E_STALE_SESSION)' },
  });
  app.post('/password/start', auth, fresh, async (c) => {
    const body = await readJson(c, PasswordStartRequest, START_BODY);
    // The account id, as at registration and login: a record under any other identifier would not log in.
    return c.json({ registrationResponse: opaque.registrationResponse(c.get('caller').account.id, body.registrationRequest) });
  });

  api.add({
    method: 'post',
    path: '/password/finish',
    summary: 'Store the new OPAQUE record and Argon2id salt and parameters, end every session of the account, and answer a new session',
    auth: 'session',
    body: PasswordFinishRequest,
    response: SessionResponse,
    errors: { 400: 'invalid record, weak KDF parameters (E_KDF_PARAMS), or the old salt', 403: 'the session is not fresh (E_STALE_SESSION)' },
  });
  app.post('/password/finish', auth, fresh, async (c) => {
    const body = await readJson(c, PasswordFinishRequest, FINISH_BODY);
    const { account } = c.get('caller');
    if (!opaque.recordIsUsable(account.id, body.registrationRecord)) throw new HttpError(400, 'E_VALIDATION', 'registrationRecord is not a valid OPAQUE registration record');
    const kdf = await clientCrypto('kdf', () => checkArgon2Params(body.kdf));
    // A new password gets a new salt (DESIGN.md section 4); canonical base64url, so equal text is equal bytes.
    if (body.kdf.salt === account.kdf_salt) throw new HttpError(400, 'E_VALIDATION', 'kdf.salt: a new password needs a new salt');
    const at = now();
    const { changes } = db
      .prepare(`UPDATE accounts SET opaque_record = ?, kdf_salt = ?, kdf_m = ?, kdf_t = ?, kdf_p = ?, updated_at = ? WHERE id = ? AND status <> 'disabled'`)
      .run(body.registrationRecord, body.kdf.salt, kdf.m, kdf.t, kdf.p, at, account.id);
    if (changes !== 1) throw new HttpError(409, 'E_CONFLICT', 'the account is disabled');
    // Whoever holds another session (a forgotten browser, a thief) is out with the old password.
    sessions.endAllFor(account.id, 'password-changed');
    const issued = await startAuditedSession(deps, account.id, 'password-change', { kdf: { m: kdf.m, t: kdf.t, p: kdf.p }, previousSession: c.get('caller').token.jti }, 'password.change');
    return c.json(sessionAnswer(issued));
  });
}
