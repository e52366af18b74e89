/**
 * The keys service's single contract shares (envelopes.ts) through app.request: a DEK envelope
 * stored only from a writer of its space, for an active, certified recipient, with a statement
 * the granter signed for exactly that envelope; served to its recipient only; the recipient a
 * viewer of that one contract (GET /grants/mine?contract=) while its granter still writes in
 * the space; listed to the space's writers; removed by its granter or the space's manager.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { signStatement, type Statement } from '../../shared/crypto/statements';
import { envelopeDigest, type EnvelopeWire } from '../../shared/schemas/keys';
import { KEYS_LIMITS } from './index';
import { createFakeDirectory, type FakeDirectory, type TestAccount } from './testing/fake-directory';
import { dekBody, grantBody, keysHarness, makeSpace, type KeysCall } from './testing/harness';

let dir: FakeDirectory;
let manager: TestAccount;
let alice: TestAccount; // editor of "sp"
let bob: TestAccount; // viewer of "sp"
let carol: TestAccount; // outside "sp": the recipient of shares
let dave: TestAccount; // outside "sp"
let uncertified: TestAccount;
let inactive: TestAccount;
let revoked: TestAccount;

beforeAll(async () => {
  dir = await createFakeDirectory();
  manager = await dir.member('mgr-1', { roles: ['employee', 'space-manager'] });
  alice = await dir.member('alice');
  bob = await dir.member('bob');
  carol = await dir.member('carol');
  dave = await dir.member('dave', { envelopeKeys: carol.envelopeKeys });
  uncertified = await dir.member('uncert', { certified: false, envelopeKeys: carol.envelopeKeys });
  inactive = await dir.member('gone', { status: 'disabled', envelopeKeys: carol.envelopeKeys });
  revoked = await dir.member('revoked', { revoked: true, envelopeKeys: carol.envelopeKeys });
});

/** Space "sp": alice editor, bob viewer. */
async function setup() {
  const h = await keysHarness(dir);
  const sk = await makeSpace(h.call, 'sp', manager);
  expect((await h.call('POST', '/grants', { as: manager, body: await grantBody('sp', alice, 'editor', 1, manager, sk) })).status).toBe(200);
  expect((await h.call('POST', '/grants', { as: manager, body: await grantBody('sp', bob, 'viewer', 1, manager, sk) })).status).toBe(200);
  return { ...h, sk };
}

async function share(call: KeysCall, granter: TestAccount, recipient: TestAccount, contract: string): Promise<string> {
  const res = await call('POST', '/envelopes', { as: granter, body: await dekBody(recipient, granter, contract) });
  expect(res.status, JSON.stringify(res.json)).toBe(200);
  return res.json.id as string;
}

const roleOf = async (call: KeysCall, who: TestAccount, query: string) => (await call('GET', `/grants/mine?${query}`, { as: who })).json;

describe('keys service: single contract shares', () => {
  it('stores a DEK envelope from a writer of the space, serves it to its recipient only, and audits it', async () => {
    const { call, events } = await setup();
    const body = await dekBody(carol, alice, 'c-1');
    const res = await call('POST', '/envelopes', { as: alice, body });
    expect(res.json).toEqual({ id: await envelopeDigest(body.envelope as EnvelopeWire) });
    expect((await call('POST', '/envelopes', { as: alice, body })).json).toEqual(res.json); // idempotent
    expect(events.filter((e) => e.action === 'envelope.create')).toEqual([
      expect.objectContaining({ actor: 'alice', target: 'contract:c-1', outcome: 'ok', details: expect.objectContaining({ recipient: 'carol', purpose: 'dek', space: 'sp' }) }),
    ]);

    const got = await call('GET', '/envelopes?purpose=dek&contract=c-1', { as: carol });
    expect(got.json.envelopes).toHaveLength(1);
    expect(got.json.envelopes[0]).toMatchObject({ id: res.json.id, purpose: 'dek', space: 'sp', contract: 'c-1', granter: 'alice', envelope: body.envelope, signedBy: body.signedBy });
    expect((await call('GET', '/envelopes', { as: carol })).json.envelopes).toHaveLength(1);
    expect((await call('GET', '/envelopes?contract=c-2', { as: carol })).json.envelopes).toHaveLength(0);
    // Never served to anyone else: not the granter, not the manager, not a third account, whatever the query.
    for (const who of [alice, manager, bob, dave]) {
      for (const q of ['', '?purpose=dek', '?contract=c-1', '?purpose=dek&contract=c-1&space=sp']) {
        expect((await call('GET', `/envelopes${q}`, { as: who })).json.envelopes.filter((e: { purpose: string }) => e.purpose === 'dek'), `${who.id} ${q}`).toEqual([]);
      }
    }
    expect((await call('GET', '/envelopes')).status).toBe(401);
    expect((await call('GET', '/envelopes?purpose=seal-key', { as: carol })).status).toBe(400);
    expect((await call('GET', '/envelopes?recipient=alice', { as: carol })).status).toBe(400);
  });

  it('refuses unsigned, mis-signed, misdirected, mis-labelled or uncertified envelopes, and sharers who may not write', async () => {
    const { call, events } = await setup();
    const good = await dekBody(carol, alice, 'c-1');
    const expectRefused = async (body: unknown, code: string, status = 400, as: TestAccount = alice) => {
      const res = await call('POST', '/envelopes', { as, body });
      expect([res.status, res.json?.error?.code]).toEqual([status, code]);
    };
    await expectRefused({ envelope: good.envelope }, 'E_SIGNATURE');
    await expectRefused({ ...good, signedBy: { statement: good.signedBy.statement } }, 'E_SIGNATURE');
    await expectRefused(await dekBody(carol, alice, 'c-1', {}, bob), 'E_SIGNATURE'); // signed with another key
    await expectRefused(good, 'E_SIGNATURE', 400, manager); // posted by a writer other than the granter
    await expectRefused({ ...good, envelope: (await dekBody(carol, alice, 'c-1')).envelope }, 'E_CONTEXT');
    await expectRefused(await dekBody(carol, alice, 'c-1', { purpose: 'space-key' }), 'E_CONTEXT');
    await expectRefused(await dekBody(carol, alice, 'c-1', { space: undefined }), 'E_CONTEXT'); // no space
    await expectRefused(await dekBody(carol, alice, 'c-1', { note: 'x' }), 'E_CONTEXT'); // a field more
    await expectRefused(await dekBody(alice, alice, 'c-1'), 'E_CONTEXT'); // to oneself
    await expectRefused(await dekBody(uncertified, alice, 'c-1'), 'E_NOT_CERTIFIED', 409);
    await expectRefused(await dekBody(inactive, alice, 'c-1'), 'E_NOT_CERTIFIED', 409);
    await expectRefused(await dekBody(revoked, alice, 'c-1'), 'E_NOT_CERTIFIED', 409);
    // Wrapped to another key than the recipient's certified one (the length of a 4096-bit key).
    const long = { ...good.envelope, wrapped: good.envelope.wrapped + 'A'.repeat(171) };
    const longStatement = { ...good.signedBy.statement, envelopeDigest: await envelopeDigest(long as EnvelopeWire) };
    await expectRefused({ envelope: long, signedBy: await signStatement(alice.signingKeys.privateKey, longStatement as Statement) }, 'E_CONTEXT');
    // A viewer, a non-member and a space nobody manages.
    await expectRefused(await dekBody(carol, bob, 'c-1'), 'E_FORBIDDEN', 403, bob);
    await expectRefused(await dekBody(carol, dave, 'c-1'), 'E_FORBIDDEN', 403, dave);
    await expectRefused(await dekBody(carol, alice, 'c-1', { space: 'nowhere' }), 'E_FORBIDDEN', 403);
    await expectRefused({ ...good, extra: true }, 'E_VALIDATION');
    const huge = await call('POST', '/envelopes', { as: alice, raw: JSON.stringify({ ...good, pad: 'x'.repeat(KEYS_LIMITS.envelope) }) });
    expect(huge.status).toBe(413);
    expect(events.filter((e) => e.action === 'envelope.create')).toEqual([]);
    expect((await call('GET', '/envelopes', { as: carol })).json.envelopes).toEqual([]);
  });

  it("makes the recipient a viewer of that contract only, and lets it read the space's signed grants without any envelope", async () => {
    const { call } = await setup();
    await share(call, alice, carol, 'c-1');
    expect(await roleOf(call, carol, 'space=sp&contract=c-1')).toEqual({ space: 'sp', contract: 'c-1', role: 'viewer' });
    expect(await roleOf(call, carol, 'space=sp&contract=c-2')).toEqual({ space: 'sp', contract: 'c-2', role: null });
    expect(await roleOf(call, carol, 'space=sp')).toEqual({ space: 'sp', role: null }); // the space as a whole: nothing
    expect(await roleOf(call, carol, 'space=other&contract=c-1')).toEqual({ space: 'other', contract: 'c-1', role: null });
    expect(await roleOf(call, dave, 'space=sp&contract=c-1')).toEqual({ space: 'sp', contract: 'c-1', role: null });
    // Members keep their own role, asked about a contract or not.
    expect(await roleOf(call, alice, 'space=sp&contract=c-1')).toEqual({ space: 'sp', contract: 'c-1', role: 'editor' });
    expect((await call('GET', '/grants/mine?space=sp&contract=bad%20id', { as: carol })).status).toBe(400);

    const grants = await call('GET', '/grants?space=sp', { as: carol });
    expect(grants.status).toBe(200);
    expect(grants.json.grants.length).toBe(3);
    expect(grants.json.grants.every((g: { envelope?: unknown }) => g.envelope === undefined)).toBe(true);
    expect((await call('GET', '/grants?space=sp', { as: dave })).status).toBe(404);
    // No space listing, no space key.
    expect((await call('GET', '/spaces', { as: carol })).json.spaces).toEqual([]);
    expect((await call('GET', '/envelopes?purpose=space-key', { as: carol })).json.envelopes).toEqual([]);
  });

  it('counts a share only while its granter may write in the space', async () => {
    const { call, sk } = await setup();
    await share(call, alice, carol, 'c-1');
    await share(call, manager, dave, 'c-1');
    // Alice becomes a viewer: her share gives nothing any more; the manager's still does.
    expect((await call('POST', '/grants', { as: manager, body: await grantBody('sp', alice, 'viewer', 1, manager, sk) })).status).toBe(200);
    expect((await roleOf(call, carol, 'space=sp&contract=c-1')).role).toBeNull();
    expect((await call('GET', '/grants?space=sp', { as: carol })).status).toBe(404);
    expect((await roleOf(call, dave, 'space=sp&contract=c-1')).role).toBe('viewer');
    // Nor may she share again.
    const again = await call('POST', '/envelopes', { as: alice, body: await dekBody(bob, alice, 'c-1') });
    expect([again.status, again.json.error.code]).toEqual([403, 'E_FORBIDDEN']);
    // Editor again: the share she made counts again. Revoked: not.
    expect((await call('POST', '/grants', { as: manager, body: await grantBody('sp', alice, 'editor', 1, manager, sk) })).status).toBe(200);
    expect((await roleOf(call, carol, 'space=sp&contract=c-1')).role).toBe('viewer');
    expect((await call('DELETE', '/grants/sp/alice', { as: manager })).status).toBe(200);
    expect((await roleOf(call, carol, 'space=sp&contract=c-1')).role).toBeNull();
  });

  it("lists a contract's shares to the space's writers only, without the wrapped keys", async () => {
    const { call } = await setup();
    const id = await share(call, alice, carol, 'c-1');
    await share(call, alice, dave, 'c-2');
    for (const who of [alice, manager]) {
      const list = await call('GET', '/envelopes/shares?space=sp&contract=c-1', { as: who });
      expect(list.json).toEqual({ space: 'sp', contract: 'c-1', shares: [{ id, recipient: 'carol', granter: 'alice', createdAt: expect.any(Number), signedBy: expect.objectContaining({ signature: expect.any(String) }) }] });
    }
    for (const who of [bob, carol, dave]) {
      const denied = await call('GET', '/envelopes/shares?space=sp&contract=c-1', { as: who });
      expect([denied.status, denied.json.error.code], who.id).toEqual([403, 'E_FORBIDDEN']);
    }
    expect((await call('GET', '/envelopes/shares?space=sp', { as: alice })).status).toBe(400);
    expect((await call('GET', '/envelopes/shares?space=sp&contract=c-1&x=1', { as: alice })).status).toBe(400);
    expect((await call('GET', '/envelopes/shares?space=sp&contract=c-1')).status).toBe(401);
  });

  it('removes a share on the word of its granter or of the space manager only, audited; the recipient is refused from then on', async () => {
    const { call, events } = await setup();
    const byAlice = await share(call, alice, carol, 'c-1');
    const byAliceToo = await share(call, alice, dave, 'c-1');
    for (const who of [bob, carol, dave]) {
      const denied = await call('DELETE', `/envelopes/${byAlice}`, { as: who });
      expect([denied.status, denied.json.error.code], who.id).toEqual([403, 'E_FORBIDDEN']);
    }
    expect((await call('DELETE', `/envelopes/${byAlice}`, { as: alice })).json).toEqual({ id: byAlice, recipient: 'carol', contract: 'c-1', space: 'sp' });
    expect((await roleOf(call, carol, 'space=sp&contract=c-1')).role).toBeNull();
    expect((await call('GET', '/envelopes?purpose=dek', { as: carol })).json.envelopes).toEqual([]);
    expect((await call('DELETE', `/envelopes/${byAlice}`, { as: alice })).status).toBe(404);
    expect((await call('DELETE', `/envelopes/${byAliceToo}`, { as: manager })).status).toBe(200);
    expect((await roleOf(call, dave, 'space=sp&contract=c-1')).role).toBeNull();
    expect(events.filter((e) => e.action === 'envelope.delete').map((e) => [e.actor, e.target, e.details?.recipient])).toEqual([
      ['alice', 'contract:c-1', 'carol'],
      ['mgr-1', 'contract:c-1', 'dave'],
    ]);
    expect((await call('DELETE', '/envelopes/not-a-digest', { as: alice })).status).toBe(400);
    expect((await call('DELETE', `/envelopes/${byAlice}`)).status).toBe(401);
  });
});
