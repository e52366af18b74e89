import { client, ready } from '@serenity-kit/opaque';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deriveOpaqueInput } from '../../shared/crypto/account-keys';
import { toBase64url } from '../../shared/crypto/encoding';
import { OPAQUE_KEY_STRETCHING, register } from '../../shared/protocol/directory-client';
import { DEFAULT_ARGON2_PARAMS } from '../../shared/crypto/argon2';
import { INVITATION_LIFETIME_MS } from './invitations';
import { json, makeDirectory, registerPerson, setupBody, type Harness } from './test-harness';

let h: Harness;
let codes: Record<string, string>;
let accounts: Record<string, string>;

beforeEach(async () => {
  h = await makeDirectory();
  const body = await json<{ invitations: { role: string; account: string; invitationCode: string }[] }>(await h.post('/setup', setupBody(h.service.setupToken!)));
  codes = Object.fromEntries(body.invitations.map((i) => [i.role, i.invitationCode]));
  accounts = Object.fromEntries(body.invitations.map((i) => [i.role, i.account]));
});
afterEach(async () => h.close());

/** A registration body made by hand, so each test can spoil one field. */
async function finishBody(invitationCode: string, overrides: Record<string, unknown> = {}) {
  await ready;
  const password = await deriveOpaqueInput(crypto.getRandomValues(new Uint8Array(32)));
  const { clientRegistrationState, registrationRequest } = client.startRegistration({ password });
  const start = await h.post('/register/start', { invitationCode, registrationRequest });
  expect(start.status).toBe(200);
  const { registrationResponse } = await json<{ registrationResponse: string }>(start);
  const { registrationRecord } = client.finishRegistration({ password, registrationResponse, clientRegistrationState, keyStretching: OPAQUE_KEY_STRETCHING });
  const keys = await h.nextKeys();
  return {
    invitationCode,
    registrationRecord,
    kdf: { salt: toBase64url(crypto.getRandomValues(new Uint8Array(16))), ...DEFAULT_ARGON2_PARAMS },
    envelopeKey: toBase64url(keys.envelopeKey),
    signingKey: toBase64url(keys.signingKey),
    ...overrides,
  };
}

async function errorOf(res: Response): Promise<{ status: number; code: string }> {
  return { status: res.status, code: (await json<{ error: { code: string } }>(res)).error.code };
}

describe('directory: registration', () => {
  it('answers the account and username at start, and activates setup administrators at finish', async () => {
    await ready;
    const { registrationRequest } = client.startRegistration({ password: 'x' });
    const start = await json(await h.post('/register/start', { invitationCode: codes['auditor'], registrationRequest }));
    expect(start).toMatchObject({ account: accounts['auditor'], username: 'e003' });
    const p = await registerPerson(h, codes['auditor']!);
    expect(p.roles).toEqual(['auditor']);
    expect((await json<{ status: string }>(await h.get(`/accounts/${p.account}/public-keys`))).status).toBe('active');
  });

  it('spends the invitation: a second registration with it is refused', async () => {
    await registerPerson(h, codes['system-admin']!);
    await expect(registerPerson(h, codes['system-admin']!)).rejects.toMatchObject({ status: 409, code: 'E_INVITATION_USED' });
  });

  it('refuses an expired invitation (7 days)', async () => {
    const body = await finishBody(codes['system-admin']!);
    h.clock.t += INVITATION_LIFETIME_MS;
    expect(await errorOf(await h.post('/register/finish', body))).toEqual({ status: 410, code: 'E_INVITATION_EXPIRED' });
    await ready;
    const { registrationRequest } = client.startRegistration({ password: 'x' });
    expect(await errorOf(await h.post('/register/start', { invitationCode: codes['auditor'], registrationRequest }))).toEqual({ status: 410, code: 'E_INVITATION_EXPIRED' });
  });

  it('refuses an unknown invitation', async () => {
    await expect(registerPerson(h, Buffer.alloc(32, 1).toString('base64url'))).rejects.toMatchObject({ status: 404, code: 'E_INVITATION_UNKNOWN' });
  });

  it.each([
    ['memory below 64 MiB', { m: 65535, t: 3, p: 1 }],
    ['memory above 1 GiB', { m: 1048577, t: 3, p: 1 }],
    ['two passes', { m: 65536, t: 2, p: 1 }],
    ['eleven passes', { m: 65536, t: 11, p: 1 }],
    ['zero lanes', { m: 65536, t: 3, p: 0 }],
  ])('refuses weak or absurd Argon2id parameters (%s) and keeps the invitation', async (_name, params) => {
    const body = await finishBody(codes['system-admin']!);
    const res = await h.post('/register/finish', { ...body, kdf: { salt: body.kdf.salt, ...params } });
    expect(await errorOf(res)).toEqual({ status: 400, code: 'E_KDF_PARAMS' });
    expect((await h.post('/register/finish', body)).status).toBe(200);
  });

  it('refuses a salt shorter than 16 or longer than 64 bytes', async () => {
    const body = await finishBody(codes['system-admin']!);
    for (const n of [15, 65]) {
      const res = await h.post('/register/finish', { ...body, kdf: { ...body.kdf, salt: toBase64url(new Uint8Array(n).fill(1)) } });
      expect(res.status).toBe(400);
    }
  });

  it('refuses an RSA-2048 envelope key', async () => {
    const weak = await crypto.subtle.generateKey({ name: 'RSA-OAEP', hash: 'SHA-256', modulusLength: 2048, publicExponent: Uint8Array.of(1, 0, 1) }, true, ['encrypt', 'decrypt']);
    const body = await finishBody(codes['system-admin']!, { envelopeKey: toBase64url(new Uint8Array(await crypto.subtle.exportKey('spki', weak.publicKey))) });
    const res = await h.post('/register/finish', body);
    const err = await json<{ error: { code: string; message: string } }>(res);
    expect(res.status).toBe(400);
    expect(err.error.code).toBe('E_KEY_WEAK');
    expect(err.error.message).toMatch(/2048 bits is below 3072/);
  });

  it('refuses a signing key that is not ECDSA P-256, and garbage keys', async () => {
    const p384 = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-384' }, true, ['sign', 'verify']);
    const spki384 = toBase64url(new Uint8Array(await crypto.subtle.exportKey('spki', p384.publicKey)));
    const body = await finishBody(codes['system-admin']!);
    expect(await errorOf(await h.post('/register/finish', { ...body, signingKey: spki384 }))).toEqual({ status: 400, code: 'E_KEY_WEAK' });
    expect(await errorOf(await h.post('/register/finish', { ...body, envelopeKey: toBase64url(new Uint8Array(300).fill(0x30)) }))).toEqual({ status: 400, code: 'E_KEY_WEAK' });
    // Swapped: the signing key where the envelope key goes.
    expect(await errorOf(await h.post('/register/finish', { ...body, envelopeKey: body.signingKey }))).toEqual({ status: 400, code: 'E_KEY_WEAK' });
  });

  it('refuses a public key already registered to another account', async () => {
    const first = await finishBody(codes['system-admin']!);
    expect((await h.post('/register/finish', first)).status).toBe(200);
    const second = await finishBody(codes['security-admin']!, { signingKey: first.signingKey });
    expect(await errorOf(await h.post('/register/finish', second))).toEqual({ status: 409, code: 'E_CONFLICT' });
  });

  it('refuses unknown fields and non-canonical base64url (400)', async () => {
    const body = await finishBody(codes['system-admin']!);
    expect(await errorOf(await h.post('/register/finish', { ...body, admin: true }))).toEqual({ status: 400, code: 'E_VALIDATION' });
    expect(await errorOf(await h.post('/register/finish', { ...body, kdf: { ...body.kdf, extra: 1 } }))).toEqual({ status: 400, code: 'E_VALIDATION' });
    // Padding, the standard alphabet, and non-zero trailing bits are all other spellings of bytes.
    const code = body.invitationCode;
    for (const bad of [`${code}=`, `+${code.slice(1)}`, `/${code.slice(1)}`, `${code.slice(0, -1)}B`, `${code.slice(0, -1)} `]) {
      expect(await errorOf(await h.post('/register/finish', { ...body, invitationCode: bad }))).toEqual({ status: 400, code: 'E_VALIDATION' });
    }
    expect(await errorOf(await h.post('/register/finish', { ...body, registrationRecord: `${body.registrationRecord}A` }))).toEqual({ status: 400, code: 'E_VALIDATION' });
    const junkRecord = Buffer.alloc(192, 0xee).toString('base64url');
    expect(await errorOf(await h.post('/register/finish', { ...body, registrationRecord: junkRecord }))).toEqual({ status: 400, code: 'E_VALIDATION' });
    expect((await h.post('/register/finish', body)).status).toBe(200);
  });

  it('answers 413 for an oversize body and 415 for another content type', async () => {
    const body = await finishBody(codes['system-admin']!);
    const big = await h.post('/register/finish', { ...body, envelopeKey: 'A'.repeat(9000) });
    expect(await errorOf(big)).toEqual({ status: 413, code: 'E_TOO_LARGE' });
    const text = await h.request('/register/finish', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify(body) });
    expect(text.status).toBe(415);
  });

  it('registers through the client helper, which refuses weak parameters before sending anything', async () => {
    const keys = await h.nextKeys();
    const sent: string[] = [];
    const counting = { post: (path: string, body: unknown, session?: string) => (sent.push(path), h.transport.post(path, body, session)) };
    await expect(register(counting, { invitationCode: codes['system-admin']!, passwordHalf: new Uint8Array(32).fill(9), salt: new Uint8Array(16), params: { m: 1024, t: 1, p: 1 }, ...keys })).rejects.toThrow(/E_KDF_PARAMS/);
    expect(sent).toEqual([]);
    const ok = await register(h.transport, { invitationCode: codes['system-admin']!, passwordHalf: new Uint8Array(32).fill(9), salt: new Uint8Array(16).fill(2), params: DEFAULT_ARGON2_PARAMS, ...keys });
    expect(ok.roles).toEqual(['system-admin']);
  });
});
