import { client, ready } from '@serenity-kit/opaque';
import { afterEach, describe, expect, it } from 'vitest';
import { deriveOpaqueInput } from '../../shared/crypto/account-keys';
import { DEFAULT_ARGON2_PARAMS } from '../../shared/crypto/argon2';
import { fromBase64url, toBase64url } from '../../shared/crypto/encoding';
import { login, OPAQUE_KEY_STRETCHING, prelogin } from '../../shared/protocol/directory-client';
import { SessionResponse } from '../../shared/schemas/directory';
import { FRESH_SESSION_MS } from './sessions';
import { errorCode as code, json, loginPerson, makeDirectory, setUpEnterprise, type Harness, type Person } from './test-harness';

let h: Harness;
afterEach(async () => h?.close());

/** The browser's side: a new OPAQUE registration for the new P, through /password/start and /password/finish. */
async function changePassword(session: string, newHalf: Uint8Array, kdf: Record<string, unknown> = {}): Promise<Response> {
  await ready;
  const password = await deriveOpaqueInput(newHalf);
  const { clientRegistrationState, registrationRequest } = client.startRegistration({ password });
  const start = await h.post('/password/start', { registrationRequest }, session);
  if (start.status !== 200) return start;
  const { registrationResponse } = await json<{ registrationResponse: string }>(start);
  // The same key stretching as registration and login in the client helper, or the record would not log in.
  const { registrationRecord } = client.finishRegistration({ password, registrationResponse, clientRegistrationState, keyStretching: OPAQUE_KEY_STRETCHING });
  return h.post('/password/finish', { registrationRecord, kdf: { salt: toBase64url(crypto.getRandomValues(new Uint8Array(16))), ...DEFAULT_ARGON2_PARAMS, ...kdf } }, session);
}

describe('directory: password change', () => {
  it('replaces the OPAQUE record and salt, ends every session, and answers a new one', async () => {
    h = await makeDirectory();
    const { admins } = await setUpEnterprise(h);
    const p: Person = admins['auditor'];
    const other = await loginPerson(h, p); // another browser
    const oldSalt = (await prelogin(h.transport, p.username)).salt;
    const newHalf = crypto.getRandomValues(new Uint8Array(32));

    const res = await changePassword(p.session, newHalf);
    expect(res.status).toBe(200);
    const fresh = SessionResponse.parse(await res.json());
    expect(fresh).toMatchObject({ account: p.account, roles: ['auditor'] });
    expect((await h.get('/me', fresh.session)).status).toBe(200);
    for (const ended of [p.session, other.session]) expect(await code(await h.get('/me', ended))).toEqual([401, 'E_UNAUTHORIZED']);

    await expect(login(h.transport, p.username, p.passwordHalf)).rejects.toMatchObject({ status: 401, code: 'E_LOGIN_FAILED' });
    expect((await login(h.transport, p.username, newHalf)).account).toBe(p.account);
    expect((await prelogin(h.transport, p.username)).salt).not.toEqual(oldSalt);

    const entry = h.ctx.audit.events.find((x) => x.action === 'password.change')!;
    expect(entry).toMatchObject({ actor: p.account, target: `account:${p.account}`, outcome: 'ok', details: { via: 'password-change', kdf: DEFAULT_ARGON2_PARAMS } });
    expect((entry.details as { session: string }).session).not.toBe((entry.details as { previousSession: string }).previousSession);
  });

  it('needs a session that began with a sign-in at most 5 minutes ago (403 E_STALE_SESSION), refreshed or not', async () => {
    h = await makeDirectory();
    const { admins } = await setUpEnterprise(h);
    const p = admins['system-admin'];
    const s = await loginPerson(h, p);
    h.clock.t += FRESH_SESSION_MS + 1000;
    const refreshed = await json<{ session: string }>(await h.post('/session/refresh', undefined, s.session));
    for (const session of [s.session, refreshed.session]) {
      expect(await code(await changePassword(session, new Uint8Array(32).fill(7)))).toEqual([403, 'E_STALE_SESSION']);
      expect(await code(await h.post('/password/finish', { registrationRecord: toBase64url(new Uint8Array(192)), kdf: { salt: toBase64url(new Uint8Array(16)), ...DEFAULT_ARGON2_PARAMS } }, session))).toEqual([403, 'E_STALE_SESSION']);
    }
    expect(await code(await h.post('/password/start', { registrationRequest: toBase64url(new Uint8Array(32)) }))).toEqual([401, 'E_UNAUTHORIZED']);
    // A new sign-in with the old password is the proof the relay asks for.
    const again = await loginPerson(h, p);
    expect((await changePassword(again.session, new Uint8Array(32).fill(7))).status).toBe(200);
  });

  it.each([
    ['memory below 64 MiB', { m: 65535 }, 'E_KDF_PARAMS'],
    ['two passes', { t: 2 }, 'E_KDF_PARAMS'],
    ['zero lanes', { p: 0 }, 'E_KDF_PARAMS'],
    ['a fractional memory size', { m: 65536.5 }, 'E_VALIDATION'],
    ['a short salt', { salt: toBase64url(new Uint8Array(15).fill(1)) }, 'E_VALIDATION'],
    ['an unknown field', { pepper: 'x' }, 'E_VALIDATION'],
  ])('refuses %s (400 %s) and keeps the old password', async (_name, kdf, expected) => {
    h = await makeDirectory();
    const { admins } = await setUpEnterprise(h);
    const p = admins['security-admin'];
    expect(await code(await changePassword(p.session, new Uint8Array(32).fill(8), kdf))).toEqual([400, expected]);
    expect((await loginPerson(h, p)).account).toBe(p.account);
  });

  it('refuses the old salt, a junk record, and malformed messages', async () => {
    h = await makeDirectory();
    const { admins } = await setUpEnterprise(h);
    const p = admins['security-admin'];
    const oldSalt = toBase64url((await prelogin(h.transport, p.username)).salt);
    expect(await code(await changePassword(p.session, new Uint8Array(32).fill(9), { salt: oldSalt }))).toEqual([400, 'E_VALIDATION']);
    const kdf = { salt: toBase64url(new Uint8Array(16).fill(3)), ...DEFAULT_ARGON2_PARAMS };
    expect(await code(await h.post('/password/finish', { registrationRecord: toBase64url(new Uint8Array(192).fill(0xee)), kdf }, p.session))).toEqual([400, 'E_VALIDATION']);
    expect(await code(await h.post('/password/finish', { registrationRecord: toBase64url(new Uint8Array(191)), kdf }, p.session))).toEqual([400, 'E_VALIDATION']);
    expect(await code(await h.post('/password/start', { registrationRequest: toBase64url(new Uint8Array(32).fill(0xff)) }, p.session))).toEqual([400, 'E_VALIDATION']);
    expect(await code(await h.post('/password/start', { registrationRequest: toBase64url(new Uint8Array(32)), old: 'x' }, p.session))).toEqual([400, 'E_VALIDATION']);
    expect(h.ctx.audit.events.filter((x) => x.action === 'password.change')).toEqual([]);
    expect(fromBase64url(oldSalt)).toEqual((await prelogin(h.transport, p.username)).salt);
  });
});
