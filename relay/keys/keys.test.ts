import { beforeAll, describe, expect, it } from 'vitest';
import { fromBase64url as fromB64u, toBase64url } from '../../shared/crypto/encoding';
import { ENVELOPE_ALG, envelopeLabel, openEnvelope, type Envelope, type EnvelopeContext } from '../../shared/crypto/envelopes';
import { MySpacesSchema, envelopeDigest, type EnvelopeWire } from '../../shared/schemas/keys';
import type { AuditEvent, AuditSink } from '../common/audit-sink';
import type { RelayServiceFactory } from '../services/service';
import { createKeysService, KEYS_LIMITS } from './index';

// catalog.ts can list the factory as it is.
const asFactory: RelayServiceFactory = createKeysService;
void asFactory;
import { createFakeDirectory, type FakeDirectory, type TestAccount } from './testing/fake-directory';
import { dekBody, grantBody, keysHarness, makeSpace as makeSharedSpace, spaceKey, type KeysCall } from './testing/harness';

let dir: FakeDirectory;
let manager: TestAccount; // space-manager
let otherManager: TestAccount; // space-manager of no space in particular
let alice: TestAccount;
let bob: TestAccount;
let uncertified: TestAccount;
let inactive: TestAccount;
let revoked: TestAccount; // active, certified, certificate revoked
let notRevoked: TestAccount; // a directory that sends revoked: false
let revokedManager: TestAccount;
// security administrators
let secFirst: TestAccount; // the first one: nobody could certify them yet
let secOther: TestAccount; // certified
let secUncertified: TestAccount;
let secRevoked: TestAccount;
let secDisabled: TestAccount;
let secDemoted: TestAccount; // the directory no longer lists the role; the session still does
let auditor: TestAccount;

beforeAll(async () => {
  dir = await createFakeDirectory();
  manager = await dir.member('mgr-1', { roles: ['employee', 'space-manager'] });
  alice = await dir.member('alice');
  bob = await dir.member('bob');
  otherManager = await dir.member('mgr-2', { roles: ['employee', 'space-manager'], envelopeKeys: bob.envelopeKeys });
  uncertified = await dir.member('uncert', { certified: false, envelopeKeys: bob.envelopeKeys });
  inactive = await dir.member('gone', { status: 'disabled', envelopeKeys: bob.envelopeKeys });
  revoked = await dir.member('revoked', { revoked: true, envelopeKeys: bob.envelopeKeys });
  notRevoked = await dir.member('kept', { revoked: false, envelopeKeys: bob.envelopeKeys });
  revokedManager = await dir.member('mgr-rev', { roles: ['employee', 'space-manager'], revoked: true, envelopeKeys: bob.envelopeKeys });
  secFirst = await dir.member('sec-1', { roles: ['security-admin'], certified: false });
  secOther = await dir.member('sec-2', { roles: ['security-admin'] });
  secUncertified = await dir.member('sec-3', { roles: ['security-admin'], certified: false, envelopeKeys: secOther.envelopeKeys });
  secRevoked = await dir.member('sec-4', { roles: ['security-admin'], revoked: true, envelopeKeys: secOther.envelopeKeys });
  secDisabled = await dir.member('sec-5', { roles: ['security-admin'], status: 'disabled', envelopeKeys: secOther.envelopeKeys });
  secDemoted = await dir.member('sec-6', { roles: ['employee'], envelopeKeys: secOther.envelopeKeys });
  auditor = await dir.member('aud-1', { roles: ['auditor'], envelopeKeys: secOther.envelopeKeys });
});

const setup = (opts: { audit?: AuditSink } = {}) =>
  // secDemoted's session was issued while it still was a security administrator
  keysHarness(dir, { ...opts, rolesOf: (a) => (a === secDemoted ? ['security-admin'] : a.record.roles) });

const b64 = (n: number, fill = 7) => toBase64url(new Uint8Array(n).fill(fill));

function privateKeysBody(fill = 1) {
  return {
    envelopeKey: { wrapped: b64(1800, fill), nonce: b64(12, fill) },
    signingKey: { wrapped: b64(154, fill), nonce: b64(12, fill) },
    kek: { salt: b64(16, fill), m: 65536, t: 3, p: 1, escrowVersion: 1 },
  };
}

/** A space with its manager's own copy of the space key. */
const makeSpace = (call: KeysCall, space: string) => makeSharedSpace(call, space, manager);

describe('keys service: every-service routes', () => {
  it('answers health, key and a complete OpenAPI document', async () => {
    const { call, ctx } = await setup();
    expect((await call('GET', '/health')).json).toEqual({ service: 'keys', version: 'test', ok: true });
    expect((await call('GET', '/key')).json).toEqual({ service: 'keys', publicKey: ctx.key.publicB64u });
    const doc = (await call('GET', '/openapi.json')).json;
    expect(doc.openapi).toBe('3.1.0');
    const paths = Object.keys(doc.paths);
    for (const p of [
      '/api/keys/private-keys/{version}',
      '/api/keys/private-keys/latest',
      '/api/keys/recovery/{version}',
      '/api/keys/recovery/latest',
      '/api/keys/spaces',
      '/api/keys/grants',
      '/api/keys/grants/{space}/{member}',
      '/api/keys/grants/mine',
      '/api/keys/envelopes',
      '/api/keys/envelopes/shares',
      '/api/keys/envelopes/{id}',
      '/api/keys/ca-key/{recipient}',
      '/api/keys/ca-key',
    ]) {
      expect(paths).toContain(p);
    }
    expect(doc.paths['/api/keys/grants'].post.requestBody).toBeDefined();
    expect(doc.paths['/api/keys/private-keys/{version}'].put.security).toEqual([{ bearer: [] }]);
  });
});

describe('keys service: wrapped private keys', () => {
  it('stores versions that only go up, idempotently, and serves them to their account only', async () => {
    const { call, events } = await setup();
    expect((await call('PUT', '/private-keys/1', { as: alice, body: privateKeysBody(1) })).json).toEqual({ account: 'alice', version: 1 });
    expect((await call('PUT', '/private-keys/1', { as: alice, body: privateKeysBody(1) })).status).toBe(200);
    const conflict = await call('PUT', '/private-keys/1', { as: alice, body: privateKeysBody(2) });
    expect(conflict.status).toBe(409);
    expect(conflict.json.error.code).toBe('E_ROLLBACK');
    expect((await call('PUT', '/private-keys/3', { as: alice, body: privateKeysBody(3) })).status).toBe(200);
    const lower = await call('PUT', '/private-keys/2', { as: alice, body: privateKeysBody(2) });
    expect([lower.status, lower.json.error.code]).toEqual([409, 'E_ROLLBACK']);

    const latest = await call('GET', '/private-keys/latest', { as: alice });
    expect(latest.status).toBe(200);
    expect(latest.json).toMatchObject({ ...privateKeysBody(3), account: 'alice', version: 3 });
    expect(typeof latest.json.createdAt).toBe('number');
    expect((await call('GET', '/private-keys/1', { as: alice })).json).toMatchObject(privateKeysBody(1));
    expect((await call('GET', '/private-keys/2', { as: alice })).status).toBe(404);

    // Another account learns nothing: the same 404 as for keys that do not exist.
    for (const path of ['/private-keys/latest', '/private-keys/1', '/private-keys/3']) {
      const other = await call('GET', path, { as: bob });
      expect([other.status, other.json.error.code]).toEqual([404, 'E_NOT_FOUND']);
    }
    expect(events.filter((e) => e.action === 'keys.private.store').map((e) => e.details?.version)).toEqual([1, 3]);
  });

  it('needs a session', async () => {
    const { call } = await setup();
    expect((await call('GET', '/private-keys/latest')).status).toBe(401);
    expect((await call('PUT', '/private-keys/1', { body: privateKeysBody() })).status).toBe(401);
    const crossSite = await call('PUT', '/private-keys/1', { as: alice, body: privateKeysBody(), headers: { origin: 'https://evil.example' } });
    expect([crossSite.status, crossSite.json.error.code]).toEqual([403, 'E_CROSS_ORIGIN']);
    const forged = await call('GET', '/private-keys/latest', { headers: { authorization: `Bearer ${await dir.session('alice', [], { exp: Math.floor(Date.now() / 1000) - 120, iat: Math.floor(Date.now() / 1000) - 200 })}` } });
    expect(forged.status).toBe(401);
  });

  it('refuses bad input with a 4xx', async () => {
    const { call } = await setup();
    const body = privateKeysBody();
    const cases: [unknown, number, string][] = [
      [{ ...body, extra: 1 }, 400, 'E_VALIDATION'],
      [{ ...body, kek: { ...body.kek, m: '65536' } }, 400, 'E_VALIDATION'],
      [{ ...body, kek: { ...body.kek, m: 1024 } }, 400, 'E_VALIDATION'],
      [{ ...body, kek: { ...body.kek, t: 11 } }, 400, 'E_VALIDATION'],
      [{ ...body, kek: { ...body.kek, salt: b64(8) } }, 400, 'E_VALIDATION'],
      [{ ...body, envelopeKey: { ...body.envelopeKey, nonce: `${body.envelopeKey.nonce}=` } }, 400, 'E_VALIDATION'],
      [{ ...body, signingKey: { ...body.signingKey, wrapped: `${body.signingKey.wrapped.slice(0, -1)}R` } }, 400, 'E_VALIDATION'], // non-zero trailing bits
      [{ ...body, envelopeKey: { wrapped: body.envelopeKey.wrapped.replace(/^./, '+'), nonce: body.envelopeKey.nonce } }, 400, 'E_VALIDATION'],
      [{ ...body, signingKey: { wrapped: b64(600), nonce: body.signingKey.nonce } }, 400, 'E_VALIDATION'],
      [{ ...body, signingKey: undefined }, 400, 'E_VALIDATION'],
      [[], 400, 'E_VALIDATION'],
    ];
    for (const [b, status, code] of cases) {
      const res = await call('PUT', '/private-keys/1', { as: alice, body: b });
      expect([res.status, res.json.error.code], JSON.stringify(b).slice(0, 120)).toEqual([status, code]);
    }
    expect((await call('PUT', '/private-keys/1', { as: alice, raw: '{"envelopeKey":' })).json.error.code).toBe('E_BAD_JSON');
    expect((await call('PUT', '/private-keys/1', { as: alice, raw: '{}', headers: { 'content-type': 'text/plain' } })).status).toBe(415);
    const huge = await call('PUT', '/private-keys/1', { as: alice, raw: JSON.stringify({ ...body, pad: 'x'.repeat(KEYS_LIMITS.privateKeys) }) });
    expect([huge.status, huge.json.error.code]).toEqual([413, 'E_TOO_LARGE']);
    for (const v of ['0', '01', '-1', '1.5', 'abc', '9999999999999999']) {
      const res = await call('PUT', `/private-keys/${v}`, { as: alice, body });
      expect(res.status, v).toBe(400);
    }
    expect((await call('GET', '/private-keys/latest', { as: alice })).status).toBe(404);
  });

  it('stores recovery wrappings the same way', async () => {
    const { call, events } = await setup();
    const blob = b64(2000, 3);
    expect((await call('PUT', '/recovery/1', { as: alice, body: { blob } })).status).toBe(200);
    expect((await call('PUT', '/recovery/1', { as: alice, body: { blob } })).status).toBe(200);
    expect((await call('PUT', '/recovery/1', { as: alice, body: { blob: b64(2000, 4) } })).json.error.code).toBe('E_ROLLBACK');
    expect((await call('PUT', '/recovery/2', { as: alice, body: { blob: b64(2000, 5) } })).status).toBe(200);
    expect((await call('GET', '/recovery/latest', { as: alice })).json).toMatchObject({ account: 'alice', version: 2, blob: b64(2000, 5) });
    expect((await call('GET', '/recovery/latest', { as: bob })).status).toBe(404);
    expect((await call('PUT', '/recovery/3', { as: alice, body: { blob, more: 1 } })).status).toBe(400);
    expect((await call('PUT', '/recovery/3', { as: alice, body: { blob: b64(20000) } })).status).toBe(400);
    expect((await call('GET', '/recovery/latest')).status).toBe(401);
    expect(events.filter((e) => e.action === 'keys.recovery.store')).toHaveLength(2);
  });
});

describe('keys service: spaces and grants', () => {
  it('creates spaces for space managers only', async () => {
    const { call } = await setup();
    expect((await call('POST', '/spaces', { body: { space: 's1' } })).status).toBe(401);
    const employee = await call('POST', '/spaces', { as: alice, body: { space: 's1' } });
    expect([employee.status, employee.json.error.code]).toEqual([403, 'E_FORBIDDEN']);
    expect((await call('POST', '/spaces', { as: manager, body: { space: 's1', name: 'Sales' } })).json).toEqual({ space: 's1', name: 'Sales', sealedName: null, manager: 'mgr-1', keyVersion: 1 });
    expect((await call('POST', '/spaces', { as: otherManager, body: { space: 's1' } })).json.error.code).toBe('E_CONFLICT');
    expect((await call('POST', '/spaces', { as: manager, body: { space: 'bad id' } })).status).toBe(400);
    expect((await call('POST', '/spaces', { as: manager, body: { space: 's2', owner: 'x' } })).status).toBe(400);
    expect((await call('GET', '/grants/mine?space=s1', { as: manager })).json).toEqual({ space: 's1', role: 'manager' });
  });

  it('keeps a sealed space name it cannot read; only the manager replaces it, under the current key version', async () => {
    const { call, events } = await setup();
    const sealedName = { keyVersion: 1, nonce: 'AAAAAAAAAAAAAAAA', ct: 'c2VhbGVkLW5hbWUtY2lwaGVydGV4dA' };
    const made = await call('POST', '/spaces', { as: manager, body: { space: 'sn', sealedName } });
    expect(made.json).toEqual({ space: 'sn', name: null, sealedName, manager: 'mgr-1', keyVersion: 1 });
    expect((await call('POST', '/spaces', { as: manager, body: { space: 'sn2', sealedName: { ...sealedName, keyVersion: 2 } } })).json.error.code).toBe('E_KEY_VERSION');
    expect((await call('POST', '/spaces', { as: manager, body: { space: 'sn3', sealedName: { ...sealedName, extra: 1 } } })).status).toBe(400);
    expect((await call('GET', '/spaces', { as: manager })).json.spaces.find((x: { space: string }) => x.space === 'sn').sealedName).toEqual(sealedName);
    const renamed = { ...sealedName, ct: 'YW5vdGhlci1zZWFsZWQtbmFtZQ' };
    expect((await call('PUT', '/spaces/sn/name', { as: alice, body: { sealedName: renamed } })).json.error.code).toBe('E_FORBIDDEN');
    expect((await call('PUT', '/spaces/sn/name', { as: manager, body: { sealedName: { ...renamed, keyVersion: 2 } } })).json.error.code).toBe('E_KEY_VERSION');
    expect((await call('PUT', '/spaces/sn/name', { as: manager, body: { sealedName: renamed } })).json.sealedName).toEqual(renamed);
    expect((await call('GET', '/grants?space=sn', { as: manager })).json.sealedName).toEqual(renamed);
    // The audit log says a name was set, never what it is.
    expect(events.filter((e) => e.target === 'space:sn').map((e) => [e.action, e.details])).toEqual([
      ['space.create', { name: null, sealedName: true }],
      ['space.rename', { keyVersion: 1 }],
    ]);
  });

  it('grants a certified member, serves the envelope to that member only, and audits it', async () => {
    const { call, events } = await setup();
    const sk = await makeSpace(call, 'sp');
    const body = await grantBody('sp', alice, 'editor', 1, manager, sk);
    expect((await call('POST', '/grants', { as: manager, body })).json).toEqual({ space: 'sp', member: 'alice', role: 'editor', keyVersion: 1 });
    expect((await call('POST', '/grants', { as: manager, body })).status).toBe(200); // idempotent
    expect(events.filter((e) => e.action === 'grant.create' && e.details?.member === 'alice')).toHaveLength(1);
    expect(events.find((e) => e.action === 'grant.create' && e.details?.member === 'alice')).toMatchObject({ actor: 'mgr-1', target: 'space:sp', outcome: 'ok' });

    expect((await call('GET', '/grants/mine?space=sp', { as: alice })).json).toEqual({ space: 'sp', role: 'editor' });
    expect((await call('GET', '/grants/mine?space=sp', { as: bob })).json).toEqual({ space: 'sp', role: null });
    expect((await call('GET', '/grants/mine?space=nope', { as: bob })).json).toEqual({ space: 'nope', role: null });
    expect((await call('GET', '/grants/mine?space=sp')).status).toBe(401);

    const list = await call('GET', '/grants?space=sp', { as: alice });
    expect(list.status).toBe(200);
    expect(list.json.members).toEqual([
      { member: 'alice', role: 'editor' },
      { member: 'mgr-1', role: 'manager' },
    ]);
    const own = list.json.grants.find((g: { member: string }) => g.member === 'alice');
    const managers = list.json.grants.find((g: { member: string }) => g.member === 'mgr-1');
    expect(own.envelope).toEqual(body.envelope);
    expect(own.grantStatement).toEqual(body.grantStatement);
    expect(managers.envelope).toBeUndefined(); // never someone else's envelope
    expect(managers.grantStatement.statement.role).toBe('manager');

    // The served envelope opens for alice with the context she expects.
    const envs = await call('GET', '/envelopes?purpose=space-key&space=sp', { as: alice });
    expect(envs.json.envelopes).toHaveLength(1);
    expect(envs.json.envelopes[0]).toMatchObject({ purpose: 'space-key', space: 'sp', keyVersion: 1, granter: 'mgr-1', signedBy: body.grantStatement });
    const opened = await openEnvelope(alice.envelopeKeys.privateKey, envs.json.envelopes[0].envelope, { purpose: 'space-key', recipient: 'alice', space: 'sp', keyVersion: 1 }, {
      algorithm: { name: 'AES-GCM', length: 256 },
      usages: ['encrypt'],
      extractable: true,
    });
    expect(new Uint8Array(await crypto.subtle.exportKey('raw', opened))).toEqual(new Uint8Array(await crypto.subtle.exportKey('raw', sk)));
    expect((await call('GET', '/envelopes?purpose=space-key', { as: bob })).json.envelopes).toEqual([]);

    // Non-members do not see the member list, nor whether the space exists.
    for (const space of ['sp', 'nope']) {
      const denied = await call('GET', `/grants?space=${space}`, { as: bob });
      expect([denied.status, denied.json.error.code]).toEqual([404, 'E_NOT_FOUND']);
    }
    expect((await call('GET', '/grants?space=sp&x=1', { as: alice })).status).toBe(400);
  });

  it('refuses grants by anyone but the space manager', async () => {
    const { call, events } = await setup();
    const sk = await makeSpace(call, 'sp');
    await call('POST', '/grants', { as: manager, body: await grantBody('sp', alice, 'editor', 1, manager, sk) });
    const before = events.length;
    // an employee (even a member) lacks the role
    const byMember = await call('POST', '/grants', { as: alice, body: await grantBody('sp', bob, 'viewer', 1, alice, sk) });
    expect([byMember.status, byMember.json.error.code]).toEqual([403, 'E_FORBIDDEN']);
    // a space manager who does not manage this space
    const byOther = await call('POST', '/grants', { as: otherManager, body: await grantBody('sp', bob, 'viewer', 1, otherManager, sk) });
    expect([byOther.status, byOther.json.error.code]).toEqual([403, 'E_FORBIDDEN']);
    // nobody can be made a manager
    const promote = await call('POST', '/grants', { as: manager, body: await grantBody('sp', bob, 'manager', 1, manager, sk) });
    expect(promote.status).toBe(403);
    expect((await call('POST', '/grants', { body: await grantBody('sp', bob, 'viewer', 1, manager, sk) })).status).toBe(401);
    const revoke = await call('DELETE', '/grants/sp/alice', { as: otherManager });
    expect([revoke.status, revoke.json.error.code]).toEqual([403, 'E_FORBIDDEN']);
    expect((await call('DELETE', '/grants/sp/alice', { as: alice })).status).toBe(403);
    expect(events.length).toBe(before);
    expect((await call('GET', '/grants/mine?space=sp', { as: bob })).json.role).toBeNull();
  });

  it('refuses members who are not active, certified accounts', async () => {
    const { call } = await setup();
    const sk = await makeSpace(call, 'sp');
    for (const member of [uncertified, inactive, revoked]) {
      const res = await call('POST', '/grants', { as: manager, body: await grantBody('sp', member, 'viewer', 1, manager, sk) });
      expect([res.status, res.json.error.code], member.id).toEqual([409, 'E_NOT_CERTIFIED']);
    }
    const ghost = { ...bob, id: 'ghost' };
    const unknown = await call('POST', '/grants', { as: manager, body: await grantBody('sp', ghost, 'viewer', 1, manager, sk) });
    expect([unknown.status, unknown.json.error.code]).toEqual([409, 'E_NOT_CERTIFIED']);
    expect((await call('GET', '/grants/mine?space=sp', { as: uncertified })).json.role).toBeNull();
    expect((await call('GET', '/grants/mine?space=sp', { as: revoked })).json.role).toBeNull();
    // a directory answer with revoked: false is an ordinary certified account
    expect((await call('POST', '/grants', { as: manager, body: await grantBody('sp', notRevoked, 'viewer', 1, manager, sk) })).status).toBe(200);
  });

  it('refuses grants by a manager whose certificate was revoked', async () => {
    const { call, events } = await setup();
    const sk = await spaceKey();
    expect((await call('POST', '/spaces', { as: revokedManager, body: { space: 'sp' } })).status).toBe(200);
    const own = await call('POST', '/grants', { as: revokedManager, body: await grantBody('sp', alice, 'viewer', 1, revokedManager, sk) });
    expect([own.status, own.json.error.code]).toEqual([409, 'E_NOT_CERTIFIED']);
    expect(events.filter((e) => e.action === 'grant.create')).toEqual([]);
    // nor share a contract
    const env = await call('POST', '/envelopes', { as: revokedManager, body: await dekBody(alice, revokedManager, 'c-1') });
    expect([env.status, env.json.error.code]).toEqual([409, 'E_NOT_CERTIFIED']);
  });

  it('refuses grants that are unsigned, signed by someone else, or signed for something else', async () => {
    const { call, events } = await setup();
    const sk = await makeSpace(call, 'sp');
    const good = await grantBody('sp', alice, 'viewer', 1, manager, sk);
    const before = events.length;
    const expectRefused = async (body: unknown, code: string, status = 400) => {
      const res = await call('POST', '/grants', { as: manager, body });
      expect([res.status, res.json?.error?.code]).toEqual([status, code]);
    };
    await expectRefused({ ...good, grantStatement: { statement: good.grantStatement.statement } }, 'E_SIGNATURE');
    await expectRefused({ ...good, grantStatement: undefined }, 'E_SIGNATURE');
    // signed with alice's key, naming the manager as granter
    await expectRefused(await grantBody('sp', alice, 'viewer', 1, manager, sk, { signWith: alice }), 'E_SIGNATURE');
    // a statement naming another granter, even if validly signed by that granter
    await expectRefused(await grantBody('sp', alice, 'viewer', 1, otherManager, sk), 'E_SIGNATURE');
    // statement changed after signing (role raised in both places)
    const tampered = structuredClone(good);
    tampered.role = 'signer';
    tampered.grantStatement.statement.role = 'signer';
    await expectRefused(tampered, 'E_SIGNATURE');
    // signature bytes flipped
    const flipped = structuredClone(good);
    flipped.grantStatement.signature = toBase64url(new Uint8Array(64).fill(1));
    await expectRefused(flipped, 'E_SIGNATURE');
    // statement and request disagree
    await expectRefused({ ...good, role: 'signer' }, 'E_CONTEXT');
    // envelope context for another recipient, purpose or version
    await expectRefused(await grantBody('sp', alice, 'viewer', 1, manager, sk, { context: { recipient: 'bob' } }), 'E_CONTEXT');
    await expectRefused(await grantBody('sp', alice, 'viewer', 1, manager, sk, { context: { purpose: 'dek' } }), 'E_CONTEXT');
    await expectRefused(await grantBody('sp', alice, 'viewer', 1, manager, sk, { context: { keyVersion: 2 } }), 'E_CONTEXT');
    await expectRefused(await grantBody('sp', alice, 'viewer', 1, manager, sk, { context: { space: 'other' } }), 'E_CONTEXT');
    await expectRefused(await grantBody('sp', alice, 'viewer', 1, manager, sk, { context: { extra: 'x' } }), 'E_CONTEXT');
    // the statement names another envelope than the one sent
    const swapped = { ...good, envelope: (await grantBody('sp', alice, 'viewer', 1, manager, sk)).envelope };
    await expectRefused(swapped, 'E_CONTEXT');
    // a statement without the envelope digest is refused outright
    const undigested = await grantBody('sp', alice, 'viewer', 1, manager, sk, { statement: { envelopeDigest: undefined } });
    await expectRefused(undigested, 'E_VALIDATION');
    // a key version the space does not have yet
    await expectRefused(await grantBody('sp', alice, 'viewer', 2, manager, sk), 'E_KEY_VERSION', 409);
    // malformed envelopes
    await expectRefused({ ...good, envelope: { ...good.envelope, v: 2 } }, 'E_VALIDATION');
    await expectRefused({ ...good, envelope: { ...good.envelope, alg: 'RSA-OAEP-2048-SHA1' } }, 'E_VALIDATION');
    await expectRefused({ ...good, envelope: { ...good.envelope, wrapped: `${good.envelope.wrapped}=` } }, 'E_VALIDATION');
    await expectRefused({ ...good, grantStatement: { ...good.grantStatement, statement: { ...good.grantStatement.statement, note: 'hi' } } }, 'E_VALIDATION');
    await expectRefused({ ...good, keyVersion: '1' }, 'E_VALIDATION');
    expect(events.length).toBe(before);
    expect((await call('GET', '/grants/mine?space=sp', { as: alice })).json.role).toBeNull();
    // and the good one is accepted
    expect((await call('POST', '/grants', { as: manager, body: good })).status).toBe(200);
  });

  it('revokes a grant, rotates the key version, and the revoked member gets nothing', async () => {
    const { call, events } = await setup();
    const sk = await makeSpace(call, 'sp');
    await call('POST', '/grants', { as: manager, body: await grantBody('sp', alice, 'editor', 1, manager, sk) });
    await call('POST', '/grants', { as: manager, body: await grantBody('sp', bob, 'signer', 1, manager, sk) });
    const res = await call('DELETE', '/grants/sp/alice', { as: manager });
    expect(res.json).toEqual({ space: 'sp', member: 'alice', keyVersion: 2 });
    expect(events.at(-1)).toMatchObject({ actor: 'mgr-1', action: 'grant.revoke', target: 'space:sp', outcome: 'ok', details: { member: 'alice' } });

    expect((await call('GET', '/grants/mine?space=sp', { as: alice })).json).toEqual({ space: 'sp', role: null });
    expect((await call('GET', '/grants?space=sp', { as: alice })).status).toBe(404);
    expect((await call('GET', '/envelopes?space=sp', { as: alice })).json.envelopes).toEqual([]);
    const list = (await call('GET', '/grants?space=sp', { as: bob })).json;
    expect(list.keyVersion).toBe(2);
    expect(list.members.map((m: { member: string }) => m.member)).toEqual(['bob', 'mgr-1']);

    // New grants use the rotated key; remaining members get it too and keep the old one.
    const sk2 = await spaceKey();
    expect((await call('POST', '/grants', { as: manager, body: await grantBody('sp', manager, 'manager', 2, manager, sk2) })).status).toBe(200);
    expect((await call('POST', '/grants', { as: manager, body: await grantBody('sp', bob, 'signer', 2, manager, sk2) })).status).toBe(200);
    expect((await call('GET', '/envelopes?purpose=space-key&space=sp', { as: bob })).json.envelopes.map((e: { keyVersion: number }) => e.keyVersion)).toEqual([1, 2]);
    expect((await call('POST', '/grants', { as: manager, body: await grantBody('sp', bob, 'signer', 3, manager, sk2) })).json.error.code).toBe('E_KEY_VERSION');

    expect((await call('DELETE', '/grants/sp/alice', { as: manager })).status).toBe(404);
    expect((await call('DELETE', '/grants/sp/mgr-1', { as: manager })).json.error.code).toBe('E_CONFLICT');
    expect((await call('DELETE', '/grants/sp/bad%20id', { as: manager })).status).toBe(400);
    expect((await call('DELETE', '/grants/sp/bob')).status).toBe(401);
    expect((await call('DELETE', '/grants/sp/bob', { as: manager })).json.keyVersion).toBe(3);
  });
});

describe('keys service: the caller\'s spaces (GET /spaces)', () => {
  it('lists the spaces the caller is a member of, with its role, and nothing else', async () => {
    const { call } = await setup();
    expect((await call('GET', '/spaces')).status).toBe(401);
    expect((await call('GET', '/spaces', { as: alice })).json).toEqual({ spaces: [] });

    const sk = await makeSpace(call, 'sp-b'); // named "Contracts"
    const sk2 = await spaceKey();
    expect((await call('POST', '/spaces', { as: manager, body: { space: 'sp-a', name: 'Archive' } })).status).toBe(200);
    expect((await call('POST', '/grants', { as: manager, body: await grantBody('sp-a', manager, 'manager', 1, manager, sk2) })).status).toBe(200);
    expect((await call('POST', '/spaces', { as: manager, body: { space: 'sp-c' } })).status).toBe(200); // unnamed
    // a space of another manager that alice is not in
    expect((await call('POST', '/spaces', { as: otherManager, body: { space: 'other', name: 'Another' } })).status).toBe(200);

    expect((await call('POST', '/grants', { as: manager, body: await grantBody('sp-b', alice, 'editor', 1, manager, sk) })).status).toBe(200);
    expect((await call('POST', '/grants', { as: manager, body: await grantBody('sp-a', alice, 'viewer', 1, manager, sk2) })).status).toBe(200);

    const mine = await call('GET', '/spaces', { as: alice });
    expect(mine.status).toBe(200);
    expect(MySpacesSchema.parse(mine.json)).toEqual({
      spaces: [
        { space: 'sp-a', name: 'Archive', sealedName: null, manager: 'mgr-1', keyVersion: 1, role: 'viewer' },
        { space: 'sp-b', name: 'Contracts', sealedName: null, manager: 'mgr-1', keyVersion: 1, role: 'editor' },
      ],
    });
    // the manager sees its own spaces as manager, sorted by name then id, unnamed last
    expect((await call('GET', '/spaces', { as: manager })).json.spaces).toEqual([
      { space: 'sp-a', name: 'Archive', sealedName: null, manager: 'mgr-1', keyVersion: 1, role: 'manager' },
      { space: 'sp-b', name: 'Contracts', sealedName: null, manager: 'mgr-1', keyVersion: 1, role: 'manager' },
      { space: 'sp-c', name: null, sealedName: null, manager: 'mgr-1', keyVersion: 1, role: 'manager' },
    ]);
    expect((await call('GET', '/spaces', { as: otherManager })).json.spaces.map((x: { space: string }) => x.space)).toEqual(['other']);
    // a non-member sees nothing, not even that the spaces exist
    expect((await call('GET', '/spaces', { as: bob })).json).toEqual({ spaces: [] });

    // after revocation the space disappears from alice's list; the rotated key version shows to the others
    expect((await call('DELETE', '/grants/sp-b/alice', { as: manager })).status).toBe(200);
    expect((await call('GET', '/spaces', { as: alice })).json.spaces).toEqual([{ space: 'sp-a', name: 'Archive', sealedName: null, manager: 'mgr-1', keyVersion: 1, role: 'viewer' }]);
    expect((await call('GET', '/spaces', { as: manager })).json.spaces.find((x: { space: string }) => x.space === 'sp-b')).toMatchObject({ keyVersion: 2, role: 'manager' });
  });
});

// Envelopes for one account (single contract shares): envelopes.test.ts.

describe('keys service: audit', () => {
  it('changes nothing when the audit log is unavailable', async () => {
    const failing: AuditSink & { events: AuditEvent[] } = {
      events: [],
      async record(event) {
        if (event.action === 'grant.create' || event.action === 'envelope.create' || event.action === 'grant.revoke') throw new Error('audit down');
        this.events.push(event);
      },
    };
    const { call } = await setup({ audit: failing });
    const sk = await spaceKey();
    expect((await call('POST', '/spaces', { as: manager, body: { space: 'sp' } })).status).toBe(200);
    const res = await call('POST', '/grants', { as: manager, body: await grantBody('sp', alice, 'viewer', 1, manager, sk) });
    expect([res.status, res.json.error.code]).toEqual([503, 'E_AUDIT_UNAVAILABLE']);
    expect((await call('GET', '/grants/mine?space=sp', { as: alice })).json.role).toBeNull();
    // The manager writes in "sp" from its creation on; only the audit entry is missing.
    const env = await call('POST', '/envelopes', { as: manager, body: await dekBody(bob, manager, 'c-1') });
    expect(env.status).toBe(503);
    expect((await call('GET', '/envelopes', { as: bob })).json.envelopes).toEqual([]);
  });
});

// ---- enterprise CA key envelopes ------------------------------------------------------------

async function caKeyPair(): Promise<CryptoKeyPair> {
  return crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']) as Promise<CryptoKeyPair>;
}

/** SHA-256 of some bytes standing in for the CA certificate's DER, base64url. */
async function fingerprint(seed: string): Promise<string> {
  return toBase64url(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(seed))));
}

/** The CA private key (PKCS#8) wrapped with RSA-OAEP to `to`, as the browser does it; context as given. */
async function caKeyEnvelope(to: TestAccount, ca: string, caKey: CryptoKey, context: Record<string, string | number> = {}): Promise<Envelope> {
  const ctx = { purpose: 'ca-key', recipient: to.id, ca, ...context } as EnvelopeContext;
  const wrapped = new Uint8Array(await crypto.subtle.wrapKey('pkcs8', caKey, to.envelopeKeys.publicKey, { name: 'RSA-OAEP', label: envelopeLabel(ctx) }));
  return { v: 1, alg: ENVELOPE_ALG, context: ctx, wrapped: toBase64url(wrapped) };
}

describe('keys service: enterprise CA key envelopes', () => {
  it('stores the CA key wrapped to a security administrator and serves it to that administrator only', async () => {
    const { call, events } = await setup();
    const ca = await fingerprint('ca-cert-1');
    const caKeys = await caKeyPair();
    // The first security administrator wraps the new CA key to themselves (nobody could certify them yet).
    const own = await caKeyEnvelope(secFirst, ca, caKeys.privateKey);
    const res = await call('PUT', `/ca-key/${secFirst.id}`, { as: secFirst, body: { envelope: own } });
    expect([res.status, res.json]).toEqual([200, { recipient: 'sec-1', ca, replaced: false }]);
    expect(events.filter((e) => e.action === 'ca-key.envelope')).toEqual([
      expect.objectContaining({ actor: 'sec-1', target: 'account:sec-1', outcome: 'ok', details: { recipient: 'sec-1', ca, replaced: false } }),
    ]);
    expect((await call('PUT', `/ca-key/${secFirst.id}`, { as: secFirst, body: { envelope: own } })).json).toEqual({ recipient: 'sec-1', ca, replaced: false });
    expect(events.filter((e) => e.action === 'ca-key.envelope')).toHaveLength(1); // idempotent, not audited twice
    // ... and to a certified colleague
    const theirs = await caKeyEnvelope(secOther, ca, caKeys.privateKey);
    expect((await call('PUT', `/ca-key/${secOther.id}`, { as: secFirst, body: { envelope: theirs } })).status).toBe(200);

    const mine = await call('GET', '/ca-key', { as: secFirst });
    expect(mine.status).toBe(200);
    expect(mine.json.envelopes).toEqual([{ ca, envelope: own, createdBy: 'sec-1', createdAt: expect.any(Number) }]);
    const got = await call('GET', '/ca-key', { as: secOther });
    expect(got.json.envelopes).toEqual([{ ca, envelope: theirs, createdBy: 'sec-1', createdAt: expect.any(Number) }]);
    // the recipient opens it: the same CA private key
    const env = got.json.envelopes[0].envelope as Envelope;
    const opened = await crypto.subtle.unwrapKey(
      'pkcs8',
      fromB64u(env.wrapped),
      secOther.envelopeKeys.privateKey,
      { name: 'RSA-OAEP', label: envelopeLabel(env.context) },
      { name: 'ECDSA', namedCurve: 'P-256' },
      false,
      ['sign'],
    );
    const sig = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, opened, new Uint8Array([1, 2, 3]));
    expect(await crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, caKeys.publicKey, sig, new Uint8Array([1, 2, 3]))).toBe(true);

    // Nobody else gets anything: another administrator, an auditor, an employee, no session.
    expect((await call('GET', '/ca-key', { as: secUncertified })).json.envelopes).toEqual([]);
    for (const who of [auditor, alice, manager]) {
      const other = await call('GET', '/ca-key', { as: who });
      expect([other.status, other.json.error.code], who.id).toEqual([403, 'E_FORBIDDEN']);
    }
    expect((await call('GET', '/ca-key')).status).toBe(401);
  });

  it('replaces the envelope of a recipient and CA, keeps one per CA, and audits the replacement', async () => {
    const { call, events } = await setup();
    const ca1 = await fingerprint('ca-cert-1');
    const ca2 = await fingerprint('ca-cert-2');
    const first = await caKeyEnvelope(secOther, ca1, (await caKeyPair()).privateKey);
    expect((await call('PUT', `/ca-key/${secOther.id}`, { as: secOther, body: { envelope: first } })).status).toBe(200);
    // another security administrator replaces it (say, after the recipient's envelope key changed)
    const second = await caKeyEnvelope(secOther, ca1, (await caKeyPair()).privateKey);
    const res = await call('PUT', `/ca-key/${secOther.id}`, { as: secFirst, body: { envelope: second } });
    expect(res.json).toEqual({ recipient: 'sec-2', ca: ca1, replaced: true });
    expect(events.filter((e) => e.action === 'ca-key.envelope').at(-1)).toMatchObject({ actor: 'sec-1', details: { recipient: 'sec-2', ca: ca1, replaced: true } });
    const next = await caKeyEnvelope(secOther, ca2, (await caKeyPair()).privateKey);
    expect((await call('PUT', `/ca-key/${secOther.id}`, { as: secOther, body: { envelope: next } })).json.replaced).toBe(false);
    const list = (await call('GET', '/ca-key', { as: secOther })).json.envelopes;
    expect(list.map((e: { ca: string; envelope: Envelope; createdBy: string }) => [e.ca, e.envelope.wrapped, e.createdBy])).toEqual(
      expect.arrayContaining([
        [ca1, second.wrapped, 'sec-1'],
        [ca2, next.wrapped, 'sec-2'],
      ]),
    );
    expect(list).toHaveLength(2);
  });

  it('refuses callers who are not security administrators, and recipients who are not active, certified ones', async () => {
    const { call, events } = await setup();
    const ca = await fingerprint('ca-cert-1');
    const caKey = (await caKeyPair()).privateKey;
    const put = async (as: TestAccount, to: TestAccount | string, envelope: unknown) =>
      call('PUT', `/ca-key/${typeof to === 'string' ? to : to.id}`, { as, body: { envelope } });
    const expectRefused = (res: { status: number; json: { error?: { code: string } } }, status: number, code: string, what: string) =>
      expect([res.status, res.json?.error?.code], what).toEqual([status, code]);

    for (const who of [alice, manager, auditor]) expectRefused(await put(who, secOther, await caKeyEnvelope(secOther, ca, caKey)), 403, 'E_FORBIDDEN', who.id);
    // a session issued before the role was taken away: the directory's current answer decides
    expectRefused(await put(secDemoted, secDemoted, await caKeyEnvelope(secDemoted, ca, caKey)), 403, 'E_FORBIDDEN', 'demoted');
    expectRefused(await put(secDisabled, secDisabled, await caKeyEnvelope(secDisabled, ca, caKey)), 403, 'E_FORBIDDEN', 'disabled caller');
    expect((await call('PUT', `/ca-key/${secOther.id}`, { body: { envelope: await caKeyEnvelope(secOther, ca, caKey) } })).status).toBe(401);

    expectRefused(await put(secFirst, alice, await caKeyEnvelope(alice, ca, caKey)), 409, 'E_NOT_SECURITY_ADMIN', 'employee recipient');
    expectRefused(await put(secFirst, auditor, await caKeyEnvelope(auditor, ca, caKey)), 409, 'E_NOT_SECURITY_ADMIN', 'auditor recipient');
    expectRefused(await put(secFirst, secDisabled, await caKeyEnvelope(secDisabled, ca, caKey)), 409, 'E_NOT_SECURITY_ADMIN', 'disabled recipient');
    expectRefused(await put(secFirst, 'ghost', await caKeyEnvelope({ ...secOther, id: 'ghost' }, ca, caKey)), 409, 'E_NOT_SECURITY_ADMIN', 'unknown recipient');
    expectRefused(await put(secFirst, secUncertified, await caKeyEnvelope(secUncertified, ca, caKey)), 409, 'E_NOT_CERTIFIED', 'uncertified colleague');
    expectRefused(await put(secFirst, secRevoked, await caKeyEnvelope(secRevoked, ca, caKey)), 409, 'E_NOT_CERTIFIED', 'revoked colleague');
    expectRefused(await put(secRevoked, secRevoked, await caKeyEnvelope(secRevoked, ca, caKey)), 409, 'E_NOT_CERTIFIED', 'revoked self');

    const good = await caKeyEnvelope(secOther, ca, caKey);
    expectRefused(await put(secFirst, secFirst, good), 400, 'E_CONTEXT', 'context names another recipient');
    expectRefused(await put(secFirst, secOther, { ...good, wrapped: toBase64url(crypto.getRandomValues(new Uint8Array(512))) }), 400, 'E_CONTEXT', 'wrong modulus size');
    const cases: [string, unknown][] = [
      ['purpose dek', await caKeyEnvelope(secOther, ca, caKey, { purpose: 'dek' })],
      ['extra context field', await caKeyEnvelope(secOther, ca, caKey, { space: 'sp' })],
      ['short fingerprint', await caKeyEnvelope(secOther, ca.slice(0, 40), caKey)],
      ['no fingerprint', { ...good, context: { purpose: 'ca-key', recipient: secOther.id } }],
      ['other alg', { ...good, alg: 'RSA-OAEP-2048-SHA1' }],
      ['extra envelope field', { ...good, extra: 1 }],
    ];
    for (const [what, envelope] of cases) expectRefused(await put(secFirst, secOther, envelope), 400, 'E_VALIDATION', what);
    expectRefused(await call('PUT', `/ca-key/${secOther.id}`, { as: secFirst, body: { envelope: good, more: 1 } }), 400, 'E_VALIDATION', 'extra body field');
    expect((await call('PUT', '/ca-key/bad%20id', { as: secFirst, body: { envelope: good } })).status).toBe(400);
    const huge = await call('PUT', `/ca-key/${secOther.id}`, { as: secFirst, raw: JSON.stringify({ envelope: good, pad: 'x'.repeat(KEYS_LIMITS.caKey) }) });
    expect(huge.status).toBe(413);

    expect(events.filter((e) => e.action === 'ca-key.envelope')).toEqual([]);
    for (const who of [secFirst, secOther, secUncertified, secRevoked]) expect((await call('GET', '/ca-key', { as: who })).json.envelopes, who.id).toEqual([]);
  });

  it('stores nothing when the audit log is unavailable', async () => {
    const failing: AuditSink & { events: AuditEvent[] } = {
      events: [],
      async record(event) {
        if (event.action === 'ca-key.envelope') throw new Error('audit down');
        this.events.push(event);
      },
    };
    const { call } = await setup({ audit: failing });
    const res = await call('PUT', `/ca-key/${secFirst.id}`, { as: secFirst, body: { envelope: await caKeyEnvelope(secFirst, await fingerprint('x'), (await caKeyPair()).privateKey) } });
    expect([res.status, res.json.error.code]).toEqual([503, 'E_AUDIT_UNAVAILABLE']);
    expect((await call('GET', '/ca-key', { as: secFirst })).json.envelopes).toEqual([]);
  });
});
