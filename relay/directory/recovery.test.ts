import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import { client, ready } from '@serenity-kit/opaque';
import { afterEach, describe, expect, it } from 'vitest';
import { fromBase64url, toBase64url } from '../../shared/crypto/encoding';
import { RECOVERY_CHALLENGE_DOMAIN, recoveryChallengeBytes, signRecoveryChallenge } from '../../shared/formats/recovery-challenge';
import { RecoveryStartResponse, SessionResponse } from '../../shared/schemas/directory';
import { RECOVERY_CHALLENGE_TTL_MS } from './recovery';
import { FRESH_SESSION_MS } from './sessions';
import { addEmployee, disableAccount, errorCode as code, json, loginPerson, makeDirectory, setUpEnterprise, type Enterprise, type Harness } from './test-harness';

let h: Harness;
afterEach(async () => h?.close());

/** What the browser makes from the recovery code: an Ed25519 key pair (here simply random). */
async function recoveryKeys(): Promise<{ privateKey: CryptoKey; publicKey: string }> {
  const pair = (await crypto.subtle.generateKey('Ed25519', false, ['sign', 'verify'])) as CryptoKeyPair;
  return { privateKey: pair.privateKey, publicKey: toBase64url(new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey))) };
}

async function start(username: string) {
  const res = await h.post('/recovery/start', { username });
  if (res.status !== 200) throw new Error(`recovery start failed: ${res.status} ${await res.text()}`);
  return RecoveryStartResponse.parse(await res.json());
}

async function recover(username: string, account: string, privateKey: CryptoKey): Promise<Response> {
  const { challengeId, challenge } = await start(username);
  const signature = toBase64url(await signRecoveryChallenge(privateKey, fromBase64url(challenge), username));
  return h.post('/recovery/finish', { username, challengeId, signature }, undefined);
}

async function withRecoveryKey(): Promise<{ e: Enterprise; emp: Awaited<ReturnType<typeof addEmployee>>; keys: Awaited<ReturnType<typeof recoveryKeys>> }> {
  const e = await setUpEnterprise(h);
  const emp = await addEmployee(e, 'E900');
  const keys = await recoveryKeys();
  const res = await h.put('/recovery-key', { publicKey: keys.publicKey }, emp.session);
  expect(await json(res)).toEqual({ ok: true });
  return { e, emp, keys };
}

describe('recovery challenge bytes (shared/formats/recovery-challenge.ts)', () => {
  it('are the domain, a NUL, the challenge and the username, and node:crypto verifies the signature', async () => {
    const challenge = crypto.getRandomValues(new Uint8Array(32));
    const bytes = recoveryChallengeBytes(challenge, 'emp_1');
    expect(Buffer.from(bytes)).toEqual(Buffer.concat([Buffer.from('sealvault/v1/recovery-login\0', 'utf8'), challenge, Buffer.from('emp_1', 'utf8')]));
    expect(RECOVERY_CHALLENGE_DOMAIN).toBe('sealvault/v1/recovery-login');
    const keys = await recoveryKeys();
    const signature = await signRecoveryChallenge(keys.privateKey, challenge, 'emp_1');
    const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), fromBase64url(keys.publicKey)]);
    expect(nodeVerify(null, bytes, createPublicKey({ key: spki, format: 'der', type: 'spki' }), signature)).toBe(true);
    expect(() => recoveryChallengeBytes(challenge.subarray(1), 'emp_1')).toThrow();
    expect(() => recoveryChallengeBytes(challenge, 'Bad Name')).toThrow(/E_FORMAT/);
  });
});

describe('directory: recovery key', () => {
  it('is stored with a fresh session only, checked, and audited', async () => {
    h = await makeDirectory();
    const e = await setUpEnterprise(h);
    const emp = await addEmployee(e, 'E901');
    const keys = await recoveryKeys();
    expect(await code(await h.put('/recovery-key', { publicKey: keys.publicKey }))).toEqual([401, 'E_UNAUTHORIZED']);
    for (const bad of [{}, { publicKey: toBase64url(new Uint8Array(31)) }, { publicKey: `${keys.publicKey}=` }, { publicKey: keys.publicKey, extra: 1 }]) {
      expect(await code(await h.put('/recovery-key', bad, emp.session))).toEqual([400, 'E_VALIDATION']);
    }
    h.clock.t += FRESH_SESSION_MS + 1000;
    const stale = await json<{ session: string }>(await h.post('/session/refresh', undefined, emp.session));
    expect(await code(await h.put('/recovery-key', { publicKey: keys.publicKey }, stale.session))).toEqual([403, 'E_STALE_SESSION']);
    const fresh = await loginPerson(h, emp);
    expect((await h.put('/recovery-key', { publicKey: keys.publicKey }, fresh.session)).status).toBe(200);
    expect(h.ctx.audit.events.at(-1)).toEqual({ actor: emp.account, action: 'recovery.key', target: `account:${emp.account}`, outcome: 'ok', details: { replaced: false } });
    expect((await h.put('/recovery-key', { publicKey: (await recoveryKeys()).publicKey }, fresh.session)).status).toBe(200);
    expect(h.ctx.audit.events.at(-1)).toMatchObject({ details: { replaced: true } });
  });
});

describe('directory: recovery sign-in', () => {
  it('signs in with the recovery key; the session is fresh enough to set a new password and recovery key', async () => {
    h = await makeDirectory();
    const { emp, keys } = await withRecoveryKey();
    h.clock.t += 60 * 60_000; // long after the registration session went stale
    const res = await recover(emp.username, emp.account, keys.privateKey);
    expect(res.status).toBe(200);
    const session = SessionResponse.parse(await res.json());
    expect(session).toMatchObject({ account: emp.account, roles: ['employee'] });
    expect(h.ctx.audit.events.at(-1)).toMatchObject({ actor: emp.account, action: 'account.recover', target: `account:${emp.account}`, outcome: 'ok', details: { via: 'recovery', session: expect.any(String) } });
    expect((await h.put('/recovery-key', { publicKey: (await recoveryKeys()).publicKey }, session.session)).status).toBe(200);
    await ready;
    const { registrationRequest } = client.startRegistration({ password: 'a new password' });
    expect((await h.post('/password/start', { registrationRequest }, session.session)).status).toBe(200);
    // The replaced key no longer signs anyone in.
    expect(await code(await recover(emp.username, emp.account, keys.privateKey))).toEqual([401, 'E_RECOVERY_FAILED']);
  });

  it('answers the same shape for unknown names, accounts without a recovery key and real ones', async () => {
    h = await makeDirectory();
    const { e, emp } = await withRecoveryKey();
    const without = await addEmployee(e, 'E902');
    const answers = [await start(emp.username), await start(without.username), await start('nobody-here')];
    for (const a of answers) {
      expect(Object.keys(a).sort()).toEqual(['challenge', 'challengeId', 'expiresAt']);
      expect(fromBase64url(a.challenge)).toHaveLength(32);
      expect(a.challengeId).toHaveLength(answers[0]!.challengeId.length);
      expect(a.expiresAt).toBe(Math.floor((h.clock.t + RECOVERY_CHALLENGE_TTL_MS) / 1000));
    }
    expect(new Set(answers.map((a) => a.challenge)).size).toBe(3);
    // And the same refusal for each when the signature is not from the registered key.
    const stranger = await recoveryKeys();
    const refusals = [];
    for (const [username, account] of [[emp.username, emp.account], [without.username, without.account], ['nobody-here', 'nobody-here']] as const) {
      const res = await recover(username, account, stranger.privateKey);
      refusals.push([res.status, await res.json()]);
    }
    expect(refusals).toEqual(Array(3).fill([401, { error: { code: 'E_RECOVERY_FAILED', message: 'recovery failed: wrong username or recovery code' } }]));
    const failures = h.ctx.audit.events.filter((x) => x.action === 'account.recover');
    expect(failures.map((f) => [f.outcome, f.target])).toEqual([
      ['refused', `account:${emp.account}`],
      ['refused', expect.stringMatching(/^username-sha256:/)],
      ['refused', expect.stringMatching(/^username-sha256:/)],
    ]);
    expect(failures.every((f) => f.actor === undefined)).toBe(true);
  });

  it('uses a challenge once, for its own name and account, and for 2 minutes only', async () => {
    h = await makeDirectory();
    const { e, emp, keys } = await withRecoveryKey();
    const { challengeId, challenge } = await start(emp.username);
    const signature = toBase64url(await signRecoveryChallenge(keys.privateKey, fromBase64url(challenge), emp.username));
    expect((await h.post('/recovery/finish', { username: emp.username, challengeId, signature })).status).toBe(200);
    expect(await code(await h.post('/recovery/finish', { username: emp.username, challengeId, signature }))).toEqual([401, 'E_RECOVERY_EXPIRED']);

    // Signed for another username, or presented under another name: refused.
    const other = await addEmployee(e, 'E903');
    const c2 = await start(emp.username);
    const wrongAccount = toBase64url(await signRecoveryChallenge(keys.privateKey, fromBase64url(c2.challenge), other.username));
    expect(await code(await h.post('/recovery/finish', { username: emp.username, challengeId: c2.challengeId, signature: wrongAccount }))).toEqual([401, 'E_RECOVERY_FAILED']);
    const c3 = await start(other.username);
    const underOtherName = toBase64url(await signRecoveryChallenge(keys.privateKey, fromBase64url(c3.challenge), emp.username));
    expect(await code(await h.post('/recovery/finish', { username: emp.username, challengeId: c3.challengeId, signature: underOtherName }))).toEqual([401, 'E_RECOVERY_FAILED']);

    const c4 = await start(emp.username);
    const late = toBase64url(await signRecoveryChallenge(keys.privateKey, fromBase64url(c4.challenge), emp.username));
    h.clock.t += RECOVERY_CHALLENGE_TTL_MS;
    expect(await code(await h.post('/recovery/finish', { username: emp.username, challengeId: c4.challengeId, signature: late }))).toEqual([401, 'E_RECOVERY_EXPIRED']);
    expect(h.ctx.audit.events.at(-1)).toMatchObject({ action: 'account.recover', outcome: 'refused', details: { reason: 'expired' } });
    expect(await code(await h.post('/recovery/finish', { username: emp.username, challengeId: 'never-issued', signature: late }))).toEqual([401, 'E_RECOVERY_EXPIRED']);
  });

  it('tells a disabled account so, but only after a valid signature (403 E_DISABLED)', async () => {
    h = await makeDirectory();
    const { e, emp, keys } = await withRecoveryKey();
    await disableAccount(e, emp.account);
    expect(await code(await recover(emp.username, emp.account, (await recoveryKeys()).privateKey))).toEqual([401, 'E_RECOVERY_FAILED']);
    expect(await code(await recover(emp.username, emp.account, keys.privateKey))).toEqual([403, 'E_DISABLED']);
    expect(h.ctx.audit.events.at(-1)).toMatchObject({ action: 'account.recover', outcome: 'refused', target: `account:${emp.account}`, details: { reason: 'account-disabled' } });
  });

  it('rate-limits recoveries per name (429), apart from sign-ins, and a success resets the count', async () => {
    h = await makeDirectory({ loginLimits: { perUsername: { limit: 3, windowMs: 60_000 }, perAddress: { limit: 100, windowMs: 60_000 } } });
    const { emp, keys } = await withRecoveryKey();
    const stranger = await recoveryKeys();
    expect((await recover(emp.username, emp.account, keys.privateKey)).status).toBe(200);
    for (let i = 0; i < 3; i++) expect(await code(await recover(emp.username, emp.account, stranger.privateKey))).toEqual([401, 'E_RECOVERY_FAILED']);
    expect(await code(await h.post('/recovery/start', { username: emp.username }))).toEqual([429, 'E_RATE_LIMITED']);
    expect(await code(await h.post('/recovery/start', { username: emp.username.toUpperCase() }))).toEqual([429, 'E_RATE_LIMITED']);
    // Sign-in is counted separately, and other names are unaffected.
    expect((await loginPerson(h, emp)).account).toBe(emp.account);
    expect((await h.post('/recovery/start', { username: 'someone-else' })).status).toBe(200);
    h.clock.t += 60_000;
    expect((await recover(emp.username, emp.account, keys.privateKey)).status).toBe(200);
  });

  it('refuses malformed bodies (400 JSON)', async () => {
    h = await makeDirectory();
    const sig = toBase64url(new Uint8Array(64));
    for (const body of [{}, { username: 'a b' }, { username: 'a', extra: true }]) expect(await code(await h.post('/recovery/start', body))).toEqual([400, 'E_VALIDATION']);
    for (const body of [
      { username: 'a', challengeId: 'x' },
      { username: 'a', challengeId: 'x', signature: toBase64url(new Uint8Array(63)) },
      { username: 'a', challengeId: 'bad id', signature: sig },
      { username: 'a', challengeId: 'x', signature: sig, session: 'x' },
    ]) {
      expect(await code(await h.post('/recovery/finish', body))).toEqual([400, 'E_VALIDATION']);
    }
  });
});
