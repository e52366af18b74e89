/**
 * Contract spaces with the browser's protocol code against the real relay over HTTPS: a space
 * manager makes a space and grants certified employees; members open the space key only from a
 * grant the manager signed; an uncertified account cannot be granted; a relay that plants or
 * re-labels an envelope is refused; revocation moves new contracts to a key the revoked member
 * never gets, and the relay stops serving them the space.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importEnvelopePublicKey, sealEnvelope } from '../../shared/crypto/envelopes';
import { signStatement } from '../../shared/crypto/statements';
import type { RegisteredAccount } from '../../shared/protocol/account';
import type { RelayTransport } from '../../shared/protocol/relay-transport';
import { createContract } from '../../shared/protocol/contracts';
import { VersionMemory } from '../../shared/protocol/version-memory';
import { createSpace, grantAccess, openSpaceKey, revokeAccess, spaceGrants, spaceKeyContext, spaceNameOf } from '../../shared/protocol/spaces';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { envelopeDigest, GRANT_STATEMENT_TYPE, type EnvelopeWire } from '../../shared/schemas/keys';
import { codeOf, relayCode } from '../../shared/test-support/outcome';
import { startEnterprise, type Enterprise } from './enterprise-fixture';

let e: Enterprise;
let manager: RegisteredAccount;
let zhang: RegisteredAccount;
let chen: RegisteredAccount;
let wang: RegisteredAccount;
let space: string;

beforeAll(async () => {
  e = await startEnterprise();
  manager = await e.employee('li', '李四', { spaceManager: true });
  zhang = await e.employee('zhang', '张三');
  chen = await e.employee('chen', '陈五');
  wang = await e.employee('wang', '王六', { certify: false });
}, 120_000);
afterAll(async () => e?.close());

/** Same key if what one encrypts the other decrypts. */
async function sameKey(a: CryptoKey, b: CryptoKey): Promise<boolean> {
  const iv = new Uint8Array(12);
  const ct = await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, a, new Uint8Array([1, 2, 3]));
  return crypto.subtle.decrypt({ name: 'AES-GCM', iv }, b, ct).then(
    () => true,
    () => false,
  );
}

function relayRewriting(rewrite: (path: string, answer: any) => unknown): RelayTransport {
  return {
    async request(method, path, body, session) {
      return rewrite(path, await e.transport.request(method, path, body, session));
    },
  };
}

describe('contract spaces in the browser protocol', () => {
  it('a manager makes a space and grants certified employees, who open the same space key', async () => {
    ({ space } = await createSpace(e.transport, manager, e.caPem, 'Procurement 采购'));
    await grantAccess(e.transport, manager, e.caPem, space, zhang.account, 'viewer');
    await grantAccess(e.transport, manager, e.caPem, space, chen.account, 'editor');
    const mine = await openSpaceKey(e.transport, manager, e.caPem, space);
    const zhangs = await openSpaceKey(e.transport, zhang, e.caPem, space);
    expect(zhangs).toMatchObject({ keyVersion: 1, role: 'viewer' });
    expect(zhangs.key.extractable).toBe(false);
    expect(await sameKey(mine.key, zhangs.key)).toBe(true);
    const grants = await spaceGrants(e.transport, manager, space);
    expect(grants.members.map((m) => [m.member, m.role]).sort()).toEqual([[chen.account, 'editor'], [manager.account, 'manager'], [zhang.account, 'viewer']].sort());
  });

  it('refuses to grant an account that is not certified, in the client and at the relay', async () => {
    expect(await codeOf(grantAccess(e.transport, manager, e.caPem, space, wang.account, 'viewer'))).toBe('E_CONTEXT');
    // A client that skipped the check meets the relay's.
    const { key, keyVersion } = await openSpaceKey(e.transport, manager, e.caPem, space, { extractable: true });
    const envelope = await sealEnvelope(await importEnvelopePublicKey(wang.envelope.spki), key, spaceKeyContext(space, wang.account, keyVersion));
    const grantStatement = await signStatement(manager.signing.privateKey, { type: GRANT_STATEMENT_TYPE, space, member: wang.account, role: 'viewer', keyVersion, granter: manager.account, envelopeDigest: await envelopeDigest(envelope as EnvelopeWire) });
    expect(await relayCode(e.transport.request('POST', '/api/keys/grants', { space, member: wang.account, role: 'viewer', keyVersion, envelope, grantStatement }, manager.session))).toBe('E_NOT_CERTIFIED');
  });

  it('refuses an envelope the relay planted or re-labelled, and a grant not signed by the manager', async () => {
    // Planted: wrapped to Zhang's real key, but the key is one the relay chose.
    const relayKey = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, true, ['encrypt', 'decrypt']);
    const planted = await sealEnvelope(await importEnvelopePublicKey(zhang.envelope.spki), relayKey, spaceKeyContext(space, zhang.account, 1));
    const plantEnvelope = relayRewriting((path, answer) =>
      path.startsWith('/api/keys/grants?') ? { ...answer, grants: answer.grants.map((g: any) => (g.member === zhang.account ? { ...g, envelope: planted } : g)) } : answer,
    );
    expect(await codeOf(openSpaceKey(plantEnvelope, zhang, e.caPem, space))).toBe('E_CONTEXT');

    // A grant signed by another certified employee, presented as the manager's.
    const forged = await signStatement(chen.signing.privateKey, { type: GRANT_STATEMENT_TYPE, space, member: zhang.account, role: 'viewer', keyVersion: 1, granter: manager.account, envelopeDigest: await envelopeDigest(planted as EnvelopeWire) });
    const forgeGrant = relayRewriting((path, answer) =>
      path.startsWith('/api/keys/grants?') ? { ...answer, grants: answer.grants.map((g: any) => (g.member === zhang.account ? { ...g, envelope: planted, grantStatement: forged } : g)) } : answer,
    );
    expect(await codeOf(openSpaceKey(forgeGrant, zhang, e.caPem, space))).toBe('E_SIGNATURE');

    // The relay names another manager: the grant's signer is then not the space's manager.
    const otherManager = relayRewriting((path, answer) => (path.startsWith('/api/keys/grants?') ? { ...answer, manager: chen.account } : answer));
    expect(await codeOf(openSpaceKey(otherManager, zhang, e.caPem, space))).toBe('E_SIGNATURE');

    // Zhang's own grant offered as version 2 (re-labelled): the envelope context does not match.
    const relabel = relayRewriting((path, answer) =>
      path.startsWith('/api/keys/grants?') ? { ...answer, keyVersion: 2, grants: answer.grants.map((g: any) => (g.member === zhang.account ? { ...g, keyVersion: 2 } : g)) } : answer,
    );
    expect(['E_CONTEXT', 'E_SIGNATURE']).toContain(await codeOf(openSpaceKey(relabel, zhang, e.caPem, space)));
  });

  it('administrators without a grant cannot read the space, nor learn that it exists', async () => {
    for (const admin of [e.sys, e.sec, e.auditor]) {
      expect(await relayCode(spaceGrants(e.transport, admin, space))).toBe('E_NOT_FOUND');
    }
  });

  it('revoking a member rotates the space key: the others get the new version, the revoked member nothing', async () => {
    const before = await openSpaceKey(e.transport, chen, e.caPem, space);
    const { keyVersion } = await revokeAccess(e.transport, manager, e.caPem, space, zhang.account);
    expect(keyVersion).toBe(2);
    const chenNew = await openSpaceKey(e.transport, chen, e.caPem, space);
    const managerNew = await openSpaceKey(e.transport, manager, e.caPem, space);
    expect(chenNew.keyVersion).toBe(2);
    expect(await sameKey(chenNew.key, managerNew.key)).toBe(true);
    expect(await sameKey(chenNew.key, before.key)).toBe(false);
    // Older contracts stay readable for remaining members.
    expect(await sameKey((await openSpaceKey(e.transport, chen, e.caPem, space, { keyVersion: 1 })).key, before.key)).toBe(true);
    // The revoked member is no longer served the space at all.
    expect(await relayCode(spaceGrants(e.transport, zhang, space))).toBe('E_NOT_FOUND');
  });

  it('keeps the space name sealed: members read it, a member granted after a revocation too, the relay never', async () => {
    const keys = new Database(join(e.dataDir, 'keys', 'keys.sqlite'), { readonly: true });
    const rows = JSON.stringify(keys.prepare('SELECT * FROM spaces').all());
    keys.close();
    expect(rows).not.toContain('采购');
    expect(rows).not.toContain('Procurement');
    const grants = await spaceGrants(e.transport, chen, space);
    // After the revocation above, the name is sealed under key version 2, which Chen holds.
    expect(grants.sealedName?.keyVersion).toBe(2);
    expect(await spaceNameOf(e.transport, chen, e.caPem, space, grants)).toBe('Procurement 采购');
    const late = await e.employee('qian', '钱八');
    await grantAccess(e.transport, manager, e.caPem, space, late.account, 'viewer');
    expect(await spaceNameOf(e.transport, late, e.caPem, space, await spaceGrants(e.transport, late, space))).toBe('Procurement 采购');
    // A name the relay moved from another space does not open.
    const other = await createSpace(e.transport, manager, e.caPem, 'Other');
    const moved = { ...grants, sealedName: (await spaceGrants(e.transport, manager, other.space)).sealedName };
    expect(await codeOf(spaceNameOf(e.transport, manager, e.caPem, space, { ...moved, sealedName: { ...moved.sealedName!, keyVersion: 2 } }))).toBe('E_AUTH');
  });

  it('refuses the member list and key from before a revocation, served again by the relay (rollback)', async () => {
    const other = await e.employee('sun', '孙七');
    const { space: rotated } = await createSpace(e.transport, manager, e.caPem, 'Legal 法务');
    await grantAccess(e.transport, manager, e.caPem, rotated, other.account, 'editor');
    const me = { ...manager, seen: new VersionMemory() };
    const old = await spaceGrants(e.transport, me, rotated);
    await revokeAccess(e.transport, me, e.caPem, rotated, other.account);
    // The relay answers with the grants of key version 1, which the revoked member holds.
    const posted: string[] = [];
    const replaying: RelayTransport = {
      async request(method, path, body, session) {
        if (method !== 'GET') posted.push(`${method} ${path}`);
        if (method === 'GET' && path.startsWith('/api/keys/grants?')) return old;
        return e.transport.request(method, path, body, session);
      },
    };
    expect(await codeOf(spaceGrants(replaying, me, rotated))).toBe('E_ROLLBACK');
    const fields = { title: 'After the revocation', counterparties: [], amount: null, dates: { signed: null, effective: null, expires: null }, status: 'draft' as const, extra: {} };
    expect(await codeOf(createContract(replaying, me, e.caPem, rotated, fields))).toBe('E_ROLLBACK');
    // Refused before anything was written: no contract, no wrapped key.
    expect(posted).toEqual([]);
  });
});
