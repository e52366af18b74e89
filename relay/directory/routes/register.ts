/**
 * Registration from an invitation, before any session: OPAQUE registration (the directory
 * stores the record, never the OPAQUE input), the Argon2id salt and parameters the client used
 * for P, and the account's two public keys. It ends with a session so the browser can hand its
 * escrow share to escrow and its wrapped private keys to keys next.
 */
import type { Hono } from 'hono';
import { fromBase64url } from '../../../shared/crypto/encoding';
import { checkArgon2Params } from '../../../shared/crypto/argon2';
import { importEnvelopePublicKey } from '../../../shared/crypto/envelopes';
import { importSigningPublicKey, publicKeyId } from '../../../shared/crypto/statements';
import { RegisterFinishRequest, RegisterStartRequest, RegisterStartResponse, SessionResponse } from '../../../shared/schemas/directory';
import { readJson } from '../../common/validate';
import { HttpError } from '../../http/errors';
import { activateIfReady, mustGetAccount, type AccountRow } from '../accounts-store';
import { accountTarget, type DirectoryDeps } from '../deps';
import { spendInvitation, usableInvitation } from '../invitations';
import { sessionAnswer, type DirectoryEnv } from '../sessions';
import { startAuditedSession } from './login';
import { clientCrypto, conflictFromSqlite } from '../util';

const START_BODY = 2 * 1024;
const FINISH_BODY = 8 * 1024;

function registrableAccount(deps: DirectoryDeps, code: string): AccountRow {
  const invitation = usableInvitation(deps.db, code, deps.now());
  const account = mustGetAccount(deps.db, invitation.account);
  if (account.status === 'disabled') throw new HttpError(409, 'E_CONFLICT', 'this account is disabled');
  if (account.registered_at !== null) throw new HttpError(409, 'E_CONFLICT', 'this account is already registered');
  return account;
}

export function registerRoutes(app: Hono<DirectoryEnv>, deps: DirectoryDeps): void {
  const { db, api, now, ctx, opaque } = deps;

  api.add({
    method: 'post',
    path: '/register/start',
    summary: 'Start OPAQUE registration with an invitation code',
    body: RegisterStartRequest,
    response: RegisterStartResponse,
    errors: { 404: 'unknown invitation', 409: 'invitation used or account registered', 410: 'invitation expired' },
  });
  app.post('/register/start', async (c) => {
    const body = await readJson(c, RegisterStartRequest, START_BODY);
    const account = registrableAccount(deps, body.invitationCode);
    // The account id is the OPAQUE credential identifier: it never changes, unlike the username.
    const registrationResponse = opaque.registrationResponse(account.id, body.registrationRequest);
    return c.json({ account: account.id, username: account.username, registrationResponse });
  });

  api.add({
    method: 'post',
    path: '/register/finish',
    summary: 'Finish registration: OPAQUE record, Argon2id salt and parameters, public keys; spends the invitation and starts a session',
    body: RegisterFinishRequest,
    response: SessionResponse,
    errors: { 400: 'invalid input, weak KDF parameters (E_KDF_PARAMS) or weak key (E_KEY_WEAK)', 404: 'unknown invitation', 409: 'invitation used, account registered, or key already registered', 410: 'invitation expired' },
  });
  app.post('/register/finish', async (c) => {
    const body = await readJson(c, RegisterFinishRequest, FINISH_BODY);
    const account = registrableAccount(deps, body.invitationCode);
    if (!deps.opaque.recordIsUsable(account.id, body.registrationRecord)) throw new HttpError(400, 'E_VALIDATION', 'registrationRecord is not a valid OPAQUE registration record');
    // A relay must never store parameters that a client would refuse, or weak keys others would wrap to.
    const kdf = await clientCrypto('kdf', () => checkArgon2Params(body.kdf));
    await clientCrypto('envelopeKey', () => importEnvelopePublicKey(fromBase64url(body.envelopeKey)));
    const signingKeyId = await clientCrypto('signingKey', async () => publicKeyId(await importSigningPublicKey(fromBase64url(body.signingKey))));

    const at = now();
    db.transaction(() => {
      if (!spendInvitation(db, body.invitationCode, at)) throw new HttpError(409, 'E_INVITATION_USED', 'this invitation was already used');
      try {
        const changed = db.prepare(
          `UPDATE accounts SET opaque_record = ?, kdf_salt = ?, kdf_m = ?, kdf_t = ?, kdf_p = ?, envelope_key = ?, signing_key = ?, signing_key_id = ?,
             registered_at = ?, updated_at = ? WHERE id = ? AND registered_at IS NULL`,
        ).run(body.registrationRecord, body.kdf.salt, kdf.m, kdf.t, kdf.p, body.envelopeKey, body.signingKey, signingKeyId, at, at, account.id).changes;
        if (changed !== 1) throw new HttpError(409, 'E_CONFLICT', 'this account is already registered');
      } catch (e) {
        if (e instanceof HttpError) throw e;
        // The same public key under two accounts would let one claim the other's signatures or envelopes.
        conflictFromSqlite(e, { 'accounts.envelope_key': 'that envelope key is registered to another account', 'accounts.signing_key': 'that signing key is registered to another account' });
      }
      activateIfReady(db, account.id, at);
    })();

    await ctx.audit.record({ actor: account.id, action: 'account.register', target: accountTarget(account.id), outcome: 'ok', details: { signingKeyId, kdf: { m: kdf.m, t: kdf.t, p: kdf.p } } });
    const issued = await startAuditedSession(deps, account.id, 'registration');
    return c.json(sessionAnswer(issued));
  });
}
