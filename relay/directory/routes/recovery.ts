/**
 * Sign-in with the recovery code, directory side (DESIGN.md section 4). The browser turns the
 * recovery code into an Ed25519 recovery-auth key and registers its public half here (with a
 * fresh session); later, with the code alone, it signs a single-use challenge
 * (shared/formats/recovery-challenge.ts) and gets a session that counts as fresh, so it can set a
 * new password. Like login, nothing before a valid signature tells whether a name exists, has a
 * recovery key or is disabled, and attempts are rate-limited per name and per address.
 */
import type { Hono } from 'hono';
import { fromBase64url, toBase64url } from '../../../shared/crypto/encoding';
import { importRecoveryPublicKey, verifyRecoveryChallenge } from '../../../shared/formats/recovery-challenge';
import { OkResponse, RecoveryFinishRequest, RecoveryKeyRequest, RecoveryStartRequest, RecoveryStartResponse, SessionResponse } from '../../../shared/schemas/directory';
import { readJson } from '../../common/validate';
import { HttpError } from '../../http/errors';
import { foldUsername, getAccount, getAccountByUsername } from '../accounts-store';
import { accountTarget, type DirectoryDeps } from '../deps';
import type { PendingRecovery } from '../recovery';
import { requireFreshSession, requireSession, sessionAnswer, type DirectoryEnv } from '../sessions';
import { clientAddress, clientCrypto } from '../util';
import { startAuditedSession, usernameTarget } from './login';

const SMALL_BODY = 1024;
const RECOVERY_FAILED = 'recovery failed: wrong username or recovery code';

/** Limiter keys apart from login's, so recovery attempts and sign-ins are counted separately. */
const nameKey = (username: string) => `recovery:${username}`;
const addressKey = (address: string) => `recovery:${address}`;

/**
 * A throwaway key to verify against when there is no account or recovery key, so that path does
 * the same work as a real one.
 */
let dummyKey: Promise<CryptoKey> | undefined;
function throwawayKey(): Promise<CryptoKey> {
  dummyKey ??= crypto.subtle.generateKey('Ed25519', true, ['sign', 'verify']).then((k) => (k as CryptoKeyPair).publicKey);
  return dummyKey;
}

export function recoveryRoutes(app: Hono<DirectoryEnv>, deps: DirectoryDeps): void {
  const { db, api, now, ctx, sessions, limits, pendingRecoveries } = deps;

  const refuse = async (r: PendingRecovery, reason: string) =>
    ctx.audit.record({ action: 'account.recover', target: r.account ? accountTarget(r.account) : usernameTarget(r.username), outcome: 'refused', details: { reason, address: r.address } });

  api.add({
    method: 'put',
    path: '/recovery-key',
    summary: "Register the account's recovery-auth public key (raw Ed25519), replacing any earlier one (session that began with a sign-in at most 5 minutes ago)",
    auth: 'session',
    body: RecoveryKeyRequest,
    response: OkResponse,
    errors: { 400: 'not an Ed25519 public key (E_KEY_WEAK)', 403: 'the session is not fresh (E_STALE_SESSION)' },
  });
  app.put('/recovery-key', requireSession(sessions), requireFreshSession(sessions), async (c) => {
    const body = await readJson(c, RecoveryKeyRequest, SMALL_BODY);
    const { account } = c.get('caller');
    await clientCrypto('publicKey', () => importRecoveryPublicKey(fromBase64url(body.publicKey)));
    const at = now();
    db.prepare('UPDATE accounts SET recovery_key = ?, recovery_key_at = ?, updated_at = ? WHERE id = ?').run(body.publicKey, at, at, account.id);
    await ctx.audit.record({ actor: account.id, action: 'recovery.key', target: accountTarget(account.id), outcome: 'ok', details: { replaced: account.recovery_key !== null } });
    return c.json({ ok: true as const });
  });

  api.add({
    method: 'post',
    path: '/recovery/start',
    summary: 'A single-use recovery challenge (2 minutes) for a username; the same shape for every name',
    body: RecoveryStartRequest,
    response: RecoveryStartResponse,
    errors: { 429: 'too many unsuccessful recoveries for this username or address' },
  });
  app.post('/recovery/start', async (c) => {
    const body = await readJson(c, RecoveryStartRequest, SMALL_BODY);
    const username = foldUsername(body.username);
    const address = clientAddress(c);
    if (limits.username.blocked(nameKey(username)) || limits.address.blocked(addressKey(address))) {
      throw new HttpError(429, 'E_RATE_LIMITED', 'too many unsuccessful recoveries; wait 15 minutes and try again');
    }
    limits.username.hit(nameKey(username));
    limits.address.hit(addressKey(address));
    const account = getAccountByUsername(db, username);
    const { id, recovery } = pendingRecoveries.add({ account: account?.recovery_key ? account.id : null, username, address });
    return c.json({ challengeId: id, challenge: toBase64url(recovery.challenge), expiresAt: Math.floor(recovery.expiresAt / 1000) });
  });

  api.add({
    method: 'post',
    path: '/recovery/finish',
    summary: 'Sign in with a signature of the recovery challenge by the recovery-auth key; the session counts as fresh',
    body: RecoveryFinishRequest,
    response: SessionResponse,
    errors: {
      401: 'wrong username or recovery code (E_RECOVERY_FAILED), or the challenge is unknown, used or expired (E_RECOVERY_EXPIRED)',
      403: 'correct recovery code, but the account is disabled (E_DISABLED)',
    },
  });
  app.post('/recovery/finish', async (c) => {
    const body = await readJson(c, RecoveryFinishRequest, SMALL_BODY);
    const pending = pendingRecoveries.take(body.challengeId);
    if (!pending) throw new HttpError(401, 'E_RECOVERY_EXPIRED', 'this recovery attempt is unknown or already used; start again');
    if (pending.expiresAt <= now()) {
      await refuse(pending, 'expired');
      throw new HttpError(401, 'E_RECOVERY_EXPIRED', 'this recovery attempt took longer than 2 minutes; start again');
    }
    const account = pending.account && pending.username === foldUsername(body.username) ? getAccount(db, pending.account) : undefined;
    // The current key: one replaced since the challenge was made no longer signs anyone in.
    const key = account?.recovery_key ? await clientCrypto('recovery key', () => importRecoveryPublicKey(fromBase64url(account.recovery_key!))) : await throwawayKey();
    const proved = await verifyRecoveryChallenge(key, fromBase64url(body.signature), pending.challenge, pending.username);
    if (!proved || !account?.recovery_key) {
      await refuse(pending, 'signature-failed');
      throw new HttpError(401, 'E_RECOVERY_FAILED', RECOVERY_FAILED);
    }
    if (account.status === 'disabled') {
      await refuse(pending, 'account-disabled');
      throw new HttpError(403, 'E_DISABLED', 'this account is disabled; contact your administrator');
    }
    limits.username.reset(nameKey(pending.username));
    limits.address.refund(addressKey(pending.address));
    const issued = await startAuditedSession(deps, account.id, 'recovery', { address: pending.address }, 'account.recover');
    return c.json(sessionAnswer(issued));
  });
}
