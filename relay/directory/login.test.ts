import { client, ready } from '@serenity-kit/opaque';
import { afterEach, describe, expect, it } from 'vitest';
import { deriveOpaqueInput } from '../../shared/crypto/account-keys';
import { DEFAULT_ARGON2_PARAMS } from '../../shared/crypto/argon2';
import { login, OPAQUE_KEY_STRETCHING, prelogin } from '../../shared/protocol/directory-client';
import { LoginStartResponse, PreloginResponse } from '../../shared/schemas/directory';
import { LOGIN_STATE_TTL_MS } from './opaque';
import { addEmployee, disableAccount, json, loginPerson, makeDirectory, setUpEnterprise, type Harness } from './test-harness';

let h: Harness;
afterEach(async () => h?.close());

async function startLogin(username: string, passwordHalf: Uint8Array) {
  await ready;
  const password = await deriveOpaqueInput(passwordHalf);
  const { clientLoginState, startLoginRequest } = client.startLogin({ password });
  const res = await h.post('/login/start', { username, startLoginRequest });
  return { res, clientLoginState, password };
}

/** A well-formed finishLoginRequest that proves nothing (what an attacker without the password can send). */
function forgedFinish(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(64))).toString('base64url');
}

describe('directory: prelogin', () => {
  it('answers a stable fake of the same shape for unknown usernames', async () => {
    h = await makeDirectory();
    const { admins } = await setUpEnterprise(h);
    const known = await json(await h.post('/prelogin', { username: admins['auditor'].username }));
    const unknown1 = await json(await h.post('/prelogin', { username: 'nobody' }));
    const unknown2 = await json(await h.post('/prelogin', { username: 'NoBody' }));
    const other = await json(await h.post('/prelogin', { username: 'somebody-else' }));
    for (const answer of [known, unknown1, other]) PreloginResponse.parse(answer);
    expect(Object.keys(unknown1).sort()).toEqual(Object.keys(known).sort());
    expect(Object.keys(unknown1.kdf as object).sort()).toEqual(Object.keys(known.kdf as object).sort());
    expect((unknown1.salt as string).length).toBe((known.salt as string).length);
    expect(unknown1.kdf).toEqual(DEFAULT_ARGON2_PARAMS);
    expect(unknown2).toEqual(unknown1); // case-folded
    expect(other.salt).not.toBe(unknown1.salt);
    // Stable across restarts: the HMAC key is part of the installation.
    await h.restart();
    expect(await json(await h.post('/prelogin', { username: 'nobody' }))).toEqual(unknown1);
  });

  it('gives an invited, unregistered account the fake answer too', async () => {
    h = await makeDirectory();
    const e = await setUpEnterprise(h);
    const invited = await addEmployee(e, 'E100', { register: false });
    const a = await json(await h.post('/prelogin', { username: invited.username }));
    await h.restart();
    expect(await json(await h.post('/prelogin', { username: invited.username }))).toEqual(a);
    expect(a.kdf).toEqual(DEFAULT_ARGON2_PARAMS);
  });

  it('client helper refuses parameters below the floor before hashing', async () => {
    const transport = { post: async () => ({ salt: Buffer.alloc(16).toString('base64url'), kdf: { m: 1024, t: 1, p: 1 } }) };
    await expect(prelogin(transport, 'x')).rejects.toThrow(/E_KDF_PARAMS/);
    const shortSalt = { post: async () => ({ salt: Buffer.alloc(8).toString('base64url'), kdf: DEFAULT_ARGON2_PARAMS }) };
    await expect(prelogin(shortSalt, 'x')).rejects.toThrow(/E_FORMAT|E_KDF_PARAMS/);
  });
});

describe('directory: login', () => {
  it('signs in with the right P and records login.success', async () => {
    h = await makeDirectory();
    const { admins } = await setUpEnterprise(h);
    const s = await loginPerson(h, admins['security-admin']);
    expect(s).toMatchObject({ account: admins['security-admin'].account, roles: ['security-admin'] });
    const last = h.ctx.audit.events.at(-1)!;
    expect(last).toMatchObject({ actor: admins['security-admin'].account, action: 'login.success', target: `account:${admins['security-admin'].account}`, outcome: 'ok' });
  });

  it('wrong password and unknown user look the same at every step', async () => {
    h = await makeDirectory();
    const { admins } = await setUpEnterprise(h);
    const wrongP = crypto.getRandomValues(new Uint8Array(32));

    const known = await startLogin(admins['auditor'].username, wrongP);
    const unknown = await startLogin('nobody-here', wrongP);
    expect(known.res.status).toBe(200);
    expect(unknown.res.status).toBe(200);
    const k = LoginStartResponse.parse(await known.res.json());
    const u = LoginStartResponse.parse(await unknown.res.json());
    expect(k.loginResponse.length).toBe(u.loginResponse.length);
    expect(k.loginId.length).toBe(u.loginId.length);
    // The OPAQUE client cannot finish either one.
    expect(client.finishLogin({ clientLoginState: known.clientLoginState, loginResponse: k.loginResponse, password: known.password, keyStretching: OPAQUE_KEY_STRETCHING })).toBeUndefined();
    expect(client.finishLogin({ clientLoginState: unknown.clientLoginState, loginResponse: u.loginResponse, password: unknown.password, keyStretching: OPAQUE_KEY_STRETCHING })).toBeUndefined();

    // Sending a finish anyway gets one and the same answer.
    const fk = await h.post('/login/finish', { loginId: k.loginId, finishLoginRequest: forgedFinish() });
    const fu = await h.post('/login/finish', { loginId: u.loginId, finishLoginRequest: forgedFinish() });
    expect(fk.status).toBe(401);
    expect(fu.status).toBe(401);
    const bk = await fk.json();
    expect(await fu.json()).toEqual(bk);
    expect(bk).toEqual({ error: { code: 'E_LOGIN_FAILED', message: 'wrong username or password' } });

    // And the client helper fails the same way for both.
    const e1 = await login(h.transport, admins['auditor'].username, wrongP).catch((e: unknown) => e);
    const e2 = await login(h.transport, 'nobody-here', wrongP).catch((e: unknown) => e);
    expect(e1).toMatchObject({ status: 401, code: 'E_LOGIN_FAILED', message: 'wrong username or password' });
    expect(e2).toMatchObject({ status: 401, code: 'E_LOGIN_FAILED', message: 'wrong username or password' });

    const failures = h.ctx.audit.events.filter((e) => e.action === 'login.failure');
    expect(failures.map((f) => f.target)).toEqual([`account:${admins['auditor'].account}`, expect.stringMatching(/^username-sha256:[A-Za-z0-9_-]{43}$/)]);
    expect(failures.every((f) => f.outcome === 'refused' && f.actor === undefined)).toBe(true);
  });

  it('records logins that were started and never finished as failures once they expire', async () => {
    h = await makeDirectory();
    const { admins } = await setUpEnterprise(h);
    await expect(login(h.transport, admins['auditor'].username, new Uint8Array(32).fill(1))).rejects.toMatchObject({ code: 'E_LOGIN_FAILED' });
    expect(h.ctx.audit.events.filter((e) => e.action === 'login.failure')).toEqual([]);
    h.clock.t += LOGIN_STATE_TTL_MS;
    await h.close(); // sweeps expired logins (as the 30 s timer does)
    expect(h.ctx.audit.events.filter((e) => e.action === 'login.failure')).toEqual([
      { action: 'login.failure', target: `account:${admins['auditor'].account}`, outcome: 'refused', details: { reason: 'not-finished', address: 'unknown' } },
    ]);
  });

  it('uses a login id once, and only for 60 seconds', async () => {
    h = await makeDirectory();
    const { admins } = await setUpEnterprise(h);
    const p = admins['auditor'];
    const { res, clientLoginState, password } = await startLogin(p.username, p.passwordHalf);
    const { loginId, loginResponse } = await json<{ loginId: string; loginResponse: string }>(res);
    const { finishLoginRequest } = client.finishLogin({ clientLoginState, loginResponse, password, keyStretching: OPAQUE_KEY_STRETCHING })!;
    h.clock.t += LOGIN_STATE_TTL_MS;
    const late = await h.post('/login/finish', { loginId, finishLoginRequest });
    expect(late.status).toBe(401);
    expect((await json<{ error: { code: string } }>(late)).error.code).toBe('E_LOGIN_EXPIRED');

    const second = await startLogin(p.username, p.passwordHalf);
    const s2 = await json<{ loginId: string; loginResponse: string }>(second.res);
    const f2 = client.finishLogin({ clientLoginState: second.clientLoginState, loginResponse: s2.loginResponse, password: second.password, keyStretching: OPAQUE_KEY_STRETCHING })!;
    expect((await h.post('/login/finish', { loginId: s2.loginId, finishLoginRequest: f2.finishLoginRequest })).status).toBe(200);
    const replay = await h.post('/login/finish', { loginId: s2.loginId, finishLoginRequest: f2.finishLoginRequest });
    expect(replay.status).toBe(401);
    expect((await json<{ error: { code: string } }>(replay)).error.code).toBe('E_LOGIN_EXPIRED');
  });

  it('tells a disabled account so, but only after the password proof', async () => {
    h = await makeDirectory();
    const e = await setUpEnterprise(h);
    const emp = await addEmployee(e, 'E200');
    await disableAccount(e, emp.account);
    // Wrong password: the same 401 as anyone else.
    await expect(login(h.transport, emp.username, new Uint8Array(32).fill(3))).rejects.toMatchObject({ status: 401, code: 'E_LOGIN_FAILED' });
    // Right password: now it may know.
    await expect(loginPerson(h, emp)).rejects.toMatchObject({ status: 403, code: 'E_ACCOUNT_DISABLED' });
    expect(h.ctx.audit.events.at(-1)).toMatchObject({ action: 'login.failure', target: `account:${emp.account}`, outcome: 'refused' });
  });

  it('rate-limits unsuccessful logins per username (429), and a success resets the count', async () => {
    h = await makeDirectory({ loginLimits: { perUsername: { limit: 3, windowMs: 60_000 }, perAddress: { limit: 100, windowMs: 60_000 } } });
    const { admins } = await setUpEnterprise(h);
    const p = admins['auditor'];
    const wrong = new Uint8Array(32).fill(5);
    await loginPerson(h, p); // a success first: does not count
    for (let i = 0; i < 3; i++) await expect(login(h.transport, p.username, wrong)).rejects.toMatchObject({ code: 'E_LOGIN_FAILED' });
    await expect(login(h.transport, p.username, wrong)).rejects.toMatchObject({ status: 429, code: 'E_RATE_LIMITED' });
    // Even the right password waits: the limit is on the name, whoever is typing.
    await expect(loginPerson(h, p)).rejects.toMatchObject({ status: 429 });
    // Unknown names are limited the same way (no difference to observe).
    for (let i = 0; i < 3; i++) await expect(login(h.transport, 'ghost', wrong)).rejects.toMatchObject({ code: 'E_LOGIN_FAILED' });
    await expect(login(h.transport, 'GHOST', wrong)).rejects.toMatchObject({ status: 429 });
    // Other names are unaffected; the window passes.
    await loginPerson(h, admins['system-admin']);
    h.clock.t += 60_000;
    await loginPerson(h, p);
  });

  it('rate-limits per client address across usernames', async () => {
    h = await makeDirectory({ loginLimits: { perUsername: { limit: 100, windowMs: 60_000 }, perAddress: { limit: 4, windowMs: 60_000 } } });
    const { admins } = await setUpEnterprise(h);
    const wrong = new Uint8Array(32).fill(6);
    for (const name of ['a1', 'a2', 'a3', 'a4']) await expect(login(h.transport, name, wrong)).rejects.toMatchObject({ code: 'E_LOGIN_FAILED' });
    await expect(login(h.transport, 'a5', wrong)).rejects.toMatchObject({ status: 429, code: 'E_RATE_LIMITED' });
    await expect(loginPerson(h, admins['auditor'])).rejects.toMatchObject({ status: 429 });
  });
});
