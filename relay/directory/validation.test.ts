import { afterEach, describe, expect, it } from 'vitest';
import { json, makeDirectory, setupBody, type Harness } from './test-harness';

let h: Harness;
afterEach(async () => h?.close());

async function code(res: Response): Promise<[number, string]> {
  return [res.status, (await json<{ error: { code: string } }>(res)).error.code];
}

const START = Buffer.alloc(96, 1).toString('base64url');

describe('directory: input validation', () => {
  it('refuses unknown fields everywhere, nested too', async () => {
    h = await makeDirectory();
    expect(await code(await h.post('/prelogin', { username: 'a', extra: 1 }))).toEqual([400, 'E_VALIDATION']);
    expect(await code(await h.post('/login/start', { username: 'a', startLoginRequest: START, remember: true }))).toEqual([400, 'E_VALIDATION']);
    const setup = setupBody(h.service.setupToken!);
    expect(await code(await h.post('/setup', { ...setup, enterprise: { name: 'X', country: 'DE' } }))).toEqual([400, 'E_VALIDATION']);
    expect(await code(await h.post('/setup', { ...setup, administrators: setup.administrators.map((a) => ({ ...a, isRoot: true })) }))).toEqual([400, 'E_VALIDATION']);
  });

  it('refuses non-canonical base64url and wrong lengths', async () => {
    h = await makeDirectory();
    for (const bad of [`${START}=`, START.replace(/^./, '+'), `${START.slice(0, -1)}B`, START.slice(0, -4), `${START}AAAA`]) {
      expect(await code(await h.post('/login/start', { username: 'a', startLoginRequest: bad }))).toEqual([400, 'E_VALIDATION']);
    }
    expect(await code(await h.post('/login/finish', { loginId: 'x', finishLoginRequest: Buffer.alloc(63).toString('base64url') }))).toEqual([400, 'E_VALIDATION']);
  });

  it('refuses usernames outside the ASCII login-name alphabet', async () => {
    h = await makeDirectory();
    for (const username of ['', 'a b', 'ａｌｉｃｅ', '.hidden', 'x'.repeat(65), 'a\u0000b']) {
      expect(await code(await h.post('/prelogin', { username }))).toEqual([400, 'E_VALIDATION']);
    }
  });

  it('answers 413 past the body limit, 400 for bad JSON, 415 without JSON', async () => {
    h = await makeDirectory();
    expect(await code(await h.post('/prelogin', { username: 'a'.repeat(5000) }))).toEqual([413, 'E_TOO_LARGE']);
    expect(await code(await h.post('/setup', { ...setupBody(h.service.setupToken!), pad: 'x'.repeat(9000) }))).toEqual([413, 'E_TOO_LARGE']);
    expect(await code(await h.request('/prelogin', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"username":' }))).toEqual([400, 'E_BAD_JSON']);
    expect(await code(await h.request('/prelogin', { method: 'POST', body: 'username=a' }))).toEqual([415, 'E_UNSUPPORTED_MEDIA_TYPE']);
  });

  it('refuses cross-origin writes', async () => {
    h = await makeDirectory();
    const res = await h.request('/prelogin', { method: 'POST', headers: { 'content-type': 'application/json', origin: 'https://evil.example' }, body: JSON.stringify({ username: 'a' }) });
    expect(await code(res)).toEqual([403, 'E_CROSS_ORIGIN']);
  });

  it('never answers 500 for garbage OPAQUE messages of the right length', async () => {
    h = await makeDirectory();
    const junk = Buffer.alloc(96, 0xff).toString('base64url');
    expect(await code(await h.post('/login/start', { username: 'someone', startLoginRequest: junk }))).toEqual([400, 'E_VALIDATION']);
  });
});
