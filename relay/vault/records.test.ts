/** Contracts and sealed records: creation, listing, versions that only go up, strict input. */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveRecordKey, generateDek } from '../../shared/crypto/contract-keys';
import { openRecord, sealRecord, type SealedRecord } from '../../shared/crypto/records';
import { createFakePeers, startVault, type FakePeers, type VaultHarness } from './test-fixture';
import { call, errorCode, nonCanonical } from './test-http';

let fake: FakePeers;
let h: VaultHarness;
let alice: string;
let recordKey: CryptoKey;

beforeAll(async () => {
  fake = await createFakePeers();
  fake.grant('space-1', 'alice', 'editor');
  fake.grant('space-1', 'mia', 'manager');
  fake.grant('space-1', 'sam', 'signer');
  fake.grant('space-1', 'bob', 'viewer');
  fake.grant('space-2', 'alice', 'viewer');
  h = await startVault(fake);
  alice = await fake.session('alice');
  recordKey = await deriveRecordKey(await generateDek({ extractable: false }));
});
afterAll(async () => {
  await h.close();
  rmSync(h.dataDir, { recursive: true, force: true });
});

let n = 0;
async function contract(space = 'space-1', token = alice): Promise<string> {
  const id = `rc-${++n}`;
  const res = await call(h.app, 'POST', '/contracts', { token, json: { contract: id, space } });
  expect(res.status).toBe(201);
  return id;
}

const seal = (contractId: string, version: number, value: Record<string, string>, kind = 'contract-fields') => sealRecord(recordKey, { kind, contract: contractId, version }, value);
const put = (record: SealedRecord | Record<string, unknown>, path: { contract: string; kind: string; version: number | string }, token = alice) =>
  call(h.app, 'PUT', `/contracts/${path.contract}/records/${path.kind}/${path.version}`, { token, json: record });
const at = (r: SealedRecord) => ({ contract: r.contract, kind: r.kind, version: r.version });

describe('contracts', () => {
  it('creates a contract for an editor or manager, idempotently, and never moves it to another space', async () => {
    const res = await call(h.app, 'POST', '/contracts', { token: alice, json: { contract: 'k-1', space: 'space-1' } });
    expect(res.status).toBe(201);
    expect(await res.json()).toEqual({ contract: 'k-1', space: 'space-1', created: true });
    const again = await call(h.app, 'POST', '/contracts', { token: await fake.session('mia'), json: { contract: 'k-1', space: 'space-1' } });
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ contract: 'k-1', space: 'space-1', created: false });
    fake.grant('space-3', 'alice', 'manager');
    const moved = await call(h.app, 'POST', '/contracts', { token: alice, json: { contract: 'k-1', space: 'space-3' } });
    expect(moved.status).toBe(409);
    for (const who of ['sam', 'bob']) {
      const r = await call(h.app, 'POST', '/contracts', { token: await fake.session(who), json: { contract: `k-${who}`, space: 'space-1' } });
      expect(r.status).toBe(403);
    }
    // A viewer in space-2 cannot create there.
    expect((await call(h.app, 'POST', '/contracts', { token: alice, json: { contract: 'k-2', space: 'space-2' } })).status).toBe(403);
  });

  it('refuses malformed ids, unknown fields and other media types', async () => {
    for (const json of [{ contract: 'a b', space: 'space-1' }, { contract: 'x'.repeat(65), space: 'space-1' }, { contract: 'ok', space: 'space-1', name: 'NDA' }, { contract: 'ok' }]) {
      const res = await call(h.app, 'POST', '/contracts', { token: alice, json });
      expect(res.status).toBe(400);
      expect(await errorCode(res)).toBe('E_VALIDATION');
    }
    const text = await call(h.app, 'POST', '/contracts', { token: alice, body: '{"contract":"ok","space":"space-1"}', headers: { 'content-type': 'text/plain' } });
    expect(text.status).toBe(415);
    const broken = await call(h.app, 'POST', '/contracts', { token: alice, body: '{"contract":', headers: { 'content-type': 'application/json' } });
    expect(broken.status).toBe(400);
  });

  it('lists contract ids, record versions and file ids of a space, to members only', async () => {
    fake.grant('space-list', 'alice', 'editor');
    const a = await contract('space-list');
    const b = await contract('space-list');
    for (const v of [1, 2]) expect((await put(await seal(a, v, { title: `v${v}` }), { contract: a, kind: 'contract-fields', version: v })).status).toBe(201);
    expect((await put(await seal(a, 1, { note: 'x' }, 'notes'), { contract: a, kind: 'notes', version: 1 })).status).toBe(201);
    const res = await call(h.app, 'GET', '/contracts?space=space-list', { token: alice });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      space: 'space-list',
      contracts: [
        { contract: a, records: [{ kind: 'contract-fields', versions: [1, 2] }, { kind: 'notes', versions: [1] }], files: [] },
        { contract: b, records: [], files: [] },
      ],
    });
    expect((await call(h.app, 'GET', '/contracts?space=space-list', { token: await fake.session('bob') })).status).toBe(403);
    expect((await call(h.app, 'GET', '/contracts', { token: alice })).status).toBe(400);
    expect((await call(h.app, 'GET', '/contracts?space=space-list&extra=1', { token: alice })).status).toBe(400);
  });
});

describe('records', () => {
  it('stores a sealed record as-is and serves it by version and as latest', async () => {
    const c = await contract();
    const r1 = await seal(c, 1, { title: 'Supply agreement', amount: '1200.00' });
    const res = await put(r1, at(r1));
    expect(res.status).toBe(201);
    expect(await res.json()).toEqual({ contract: c, kind: 'contract-fields', version: 1, stored: true });
    const r2 = await seal(c, 2, { title: 'Supply agreement (amended)' });
    expect((await put(r2, at(r2), await fake.session('sam'))).status).toBe(201);
    const latest = await call(h.app, 'GET', `/contracts/${c}/records/contract-fields/latest`, { token: await fake.session('bob') });
    expect(latest.status).toBe(200);
    const body = await latest.json();
    expect(body).toEqual(r2);
    expect(await openRecord(recordKey, body, at(r2))).toEqual({ title: 'Supply agreement (amended)' });
    const first = await call(h.app, 'GET', `/contracts/${c}/records/contract-fields/1`, { token: alice });
    expect(await openRecord(recordKey, await first.json(), at(r1))).toEqual({ title: 'Supply agreement', amount: '1200.00' });
    expect((await call(h.app, 'GET', `/contracts/${c}/records/contract-fields/3`, { token: alice })).status).toBe(404);
    expect((await call(h.app, 'GET', `/contracts/${c}/records/other-kind/latest`, { token: alice })).status).toBe(404);
    expect((await call(h.app, 'GET', `/contracts/nope/records/contract-fields/latest`, { token: alice })).status).toBe(404);
  });

  it('accepts an identical re-PUT and refuses rollbacks and forks (409 E_ROLLBACK)', async () => {
    const c = await contract();
    const r1 = await seal(c, 1, { title: 'one' });
    expect((await put(r1, at(r1))).status).toBe(201);
    const same = await put(r1, at(r1));
    expect(same.status).toBe(200);
    expect(await same.json()).toMatchObject({ stored: false });
    // The same version with other ciphertext: a fork.
    const fork = await seal(c, 1, { title: 'one, changed' });
    const forked = await put(fork, at(fork));
    expect(forked.status).toBe(409);
    expect(await errorCode(forked)).toBe('E_ROLLBACK');
    const r5 = await seal(c, 5, { title: 'five' });
    expect((await put(r5, at(r5))).status).toBe(201);
    // An older version that was never stored is a rollback too.
    const r3 = await seal(c, 3, { title: 'three' });
    const old = await put(r3, at(r3));
    expect(old.status).toBe(409);
    expect(await errorCode(old)).toBe('E_ROLLBACK');
    const latest = await call(h.app, 'GET', `/contracts/${c}/records/contract-fields/latest`, { token: alice });
    expect(await latest.json()).toEqual(r5);
  });

  it('refuses a record whose contract, kind or version differ from the path', async () => {
    const c = await contract();
    const other = await contract();
    const r = await seal(c, 2, { title: 'x' });
    for (const path of [{ ...at(r), contract: other }, { ...at(r), kind: 'notes' }, { ...at(r), version: 3 }]) {
      const res = await put(r, path);
      expect(res.status).toBe(400);
      expect(await errorCode(res)).toBe('E_CONTEXT');
    }
  });

  it('refuses malformed records: unknown fields, wrong v, non-canonical base64url, short ciphertext, bad paths', async () => {
    const c = await contract();
    const r = await seal(c, 1, { title: 'x' });
    const cases: Record<string, unknown>[] = [
      { ...r, name: 'NDA.pdf' },
      { ...r, v: 2 },
      { ...r, nonce: nonCanonical(r.nonce) },
      { ...r, nonce: r.nonce.slice(0, 12) },
      { ...r, ct: nonCanonical(r.ct) },
      { ...r, ct: `${r.ct}=` },
      { ...r, ct: 'AAAA' },
      { ...r, version: 1.5 },
      { ...r, kind: 'Contract' },
      (({ ct: _ct, ...rest }) => rest)(r),
    ];
    for (const body of cases) {
      const res = await put(body, at(r));
      expect(res.status, JSON.stringify(body).slice(0, 80)).toBe(400);
    }
    expect((await put(r, { ...at(r), version: '01' })).status).toBe(400);
    expect((await put(r, { ...at(r), version: '0' })).status).toBe(400);
    expect((await put(r, { ...at(r), kind: 'Bad_Kind' })).status).toBe(400);
    // A body over the limit is refused as too large.
    const huge = { ...r, ct: 'A'.repeat(2 * 1024 * 1024) };
    expect((await put(huge, at(r))).status).toBe(413);
  });

  it('lets viewers read but not write, and members of other spaces do neither', async () => {
    const c = await contract();
    const r = await seal(c, 1, { title: 'x' });
    const bob = await fake.session('bob');
    const res = await put(r, at(r), bob);
    expect(res.status).toBe(403);
    expect(await errorCode(res)).toBe('E_FORBIDDEN');
    expect((await put(r, at(r))).status).toBe(201);
    expect((await call(h.app, 'GET', `/contracts/${c}/records/contract-fields/latest`, { token: bob })).status).toBe(200);
    fake.grant('space-2', 'eve', 'manager');
    const eve = await fake.session('eve');
    expect((await call(h.app, 'GET', `/contracts/${c}/records/contract-fields/latest`, { token: eve })).status).toBe(403);
    expect((await put(await seal(c, 2, { title: 'evil' }), { contract: c, kind: 'contract-fields', version: 2 }, eve)).status).toBe(403);
  });
});
