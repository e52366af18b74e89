/**
 * The seal routes' input checks through app.request(): every malformed body is a 4xx JSON
 * answer with a clear code, never a 500 (the harness fails the test on any 500), and nothing is
 * stored or audited. The whole life runs in relay/integration/seals.test.ts.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { toBase64 } from '../../shared/crypto/encoding';
import { signStatement } from '../../shared/crypto/statements';
import { SEAL_REQUEST_TYPE, STAMP_PNG_MAX_BYTES, stampDigest } from '../../shared/schemas/seals';
import { createFakeDirectory, type FakeDirectory, type TestAccount } from './testing/fake-directory';
import { keysHarness } from './testing/harness';

let dir: FakeDirectory;
let manager: TestAccount;
let user: TestAccount;
let auditor: TestAccount;
let sec: TestAccount;
let uncertified: TestAccount;

const PNG = toBase64(Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, ...new Array(120).fill(1)]));

async function body(o: { stampPng?: string; statement?: Record<string, unknown>; signer?: TestAccount } = {}) {
  const stampPng = o.stampPng ?? PNG;
  const statement = {
    type: SEAL_REQUEST_TYPE,
    seal: 'seal-1',
    sealType: 'contract',
    name: 'Contract seal',
    stampDigest: await stampDigest(PNG),
    managers: [manager.id],
    users: [user.id],
    auditors: [auditor.id],
    useNeedsApproval: false,
    requester: manager.id,
    ...o.statement,
  };
  return { stampPng, request: await signStatement((o.signer ?? manager).signingKeys.privateKey, statement as never) };
}

beforeAll(async () => {
  dir = await createFakeDirectory();
  manager = await dir.member('seal-mgr');
  user = await dir.member('seal-user');
  auditor = await dir.member('seal-aud');
  sec = await dir.member('seal-sec', { roles: ['security-admin'] });
  uncertified = await dir.member('seal-unc', { certified: false });
});

describe('seal routes: input', () => {
  it('accepts a well-formed request, and lists it for its people and security administrators only', async () => {
    const { call, events } = await keysHarness(dir);
    const created = await call('POST', '/seals', { as: manager, body: await body() });
    expect(created.status).toBe(200);
    expect(created.json).toMatchObject({ id: 'seal-1', status: 'requested', managers: [manager.id], certificate: null, pending: null });
    expect(events.map((x) => [x.action, x.target])).toEqual([['seal.request', 'seal:seal-1']]);
    expect((await call('GET', '/seals', { as: sec })).json.seals).toHaveLength(1);
    expect((await call('GET', '/seals', { as: user })).json.seals).toHaveLength(1);
    expect((await call('GET', '/seals', { as: uncertified })).json.seals).toHaveLength(0);
    expect((await call('GET', '/seals/seal-1', { as: uncertified })).status).toBe(404);
    expect((await call('GET', '/seals/revocations', { as: uncertified })).json).toEqual({ revocations: [] });
    expect((await call('GET', '/seals')).status).toBe(401);
  });

  it('refuses malformed bodies with 400 and a code, storing nothing', async () => {
    const { call, events } = await keysHarness(dir);
    const cases: [string, unknown, number, string][] = [
      ['not a PNG', await body({ stampPng: toBase64(new Uint8Array(128).fill(7)) }), 400, 'E_VALIDATION'],
      ['base64url instead of base64', { ...(await body()), stampPng: PNG.replace(/=+$/, '') }, 400, 'E_VALIDATION'],
      ['unsigned request', { stampPng: PNG, request: { statement: {} } }, 400, 'E_SIGNATURE'],
      ['unknown field', { ...(await body()), extra: 1 }, 400, 'E_VALIDATION'],
      ['unknown seal type', await body({ statement: { sealType: 'stamp' } }), 400, 'E_VALIDATION'],
      ['empty users', await body({ statement: { users: [] } }), 400, 'E_VALIDATION'],
      ['51 auditors', await body({ statement: { auditors: Array.from({ length: 51 }, (_, i) => `a${i}`) } }), 400, 'E_VALIDATION'],
      ['a person twice in one list', await body({ statement: { users: [user.id, user.id] } }), 400, 'E_VALIDATION'],
      ['a person on two lists', await body({ statement: { auditors: [user.id] } }), 400, 'E_SEAL_SEPARATION'],
      ['a reserved id', await body({ statement: { seal: 'revocations' } }), 400, 'E_VALIDATION'],
      ['a name with a newline', await body({ statement: { name: 'a\nb' } }), 400, 'E_VALIDATION'],
      ['another stamp', await body({ stampPng: toBase64(Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, ...new Array(120).fill(2)])) }), 400, 'E_CONTEXT'],
      ['signed by someone else', await body({ signer: user }), 400, 'E_SIGNATURE'],
      ['the requester is no manager', await body({ statement: { managers: [auditor.id], auditors: [sec.id] } }), 400, 'E_CONTEXT'],
      ['an uncertified user', await body({ statement: { users: [uncertified.id] } }), 409, 'E_NOT_CERTIFIED'],
    ];
    for (const [what, b, status, code] of cases) {
      const res = await call('POST', '/seals', { as: manager, body: b });
      expect([what, res.status, res.json?.error?.code]).toEqual([what, status, code]);
    }
    const big = await call('POST', '/seals', { as: manager, body: { ...(await body()), stampPng: toBase64(new Uint8Array(STAMP_PNG_MAX_BYTES + 3)) } });
    expect([400, 413]).toContain(big.status);
    expect(events).toEqual([]);
    expect((await call('GET', '/seals', { as: sec })).json.seals).toEqual([]);
  });

  it('refuses bad bodies on the decisions, and decisions by the wrong people, before anything changes', async () => {
    const { call } = await keysHarness(dir);
    await call('POST', '/seals', { as: manager, body: await body() });
    expect((await call('POST', '/seals/seal-1/approve', { as: manager, body: {} })).json.error.code).toBe('E_FORBIDDEN');
    expect((await call('POST', '/seals/seal-1/approve', { as: sec, body: { certificate: 'x', envelopes: [], approval: { statement: {}, signature: 'AA' } } })).json.error.code).toBe('E_VALIDATION');
    expect((await call('POST', '/seals/seal-1/reject', { as: sec, body: { rejection: { statement: {} } } })).json.error.code).toBe('E_SIGNATURE');
    expect((await call('POST', '/seals/seal-1/disable-request', { as: user, body: {} })).json.error.code).toBe('E_FORBIDDEN');
    expect((await call('POST', '/seals/seal-1/disable-request', { as: manager, body: { request: 'x' } })).json.error.code).toBe('E_SIGNATURE');
    expect((await call('POST', '/seals/seal-1/decide', { as: sec, body: { decision: { statement: {}, signature: 'AA' } } })).status).toBe(400);
    expect((await call('GET', '/seals/seal-1/key', { as: user })).json.error.code).toBe('E_SEAL_INACTIVE');
    expect((await call('POST', '/seals/seal-1/use-requests', { as: user, body: {} })).json.error.code).toBe('E_SEAL_INACTIVE');
    expect((await call('GET', '/seals/seal-1/use-requests?contract=bad%20id', { as: manager })).json.error.code).toBe('E_VALIDATION');
    expect((await call('GET', '/seals/seal-1', { as: sec })).json.status).toBe('requested');
  });
});
