/**
 * Contracts and sealed records: creation, listing, versions that only go up, strict input, and
 * records stored only with a statement signed by the caller's certified signing key.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveRecordKey, generateDek } from '../../shared/crypto/contract-keys';
import { openRecord, sealRecord, type SealedRecord } from '../../shared/crypto/records';
import { generateSigningKeyPair, type SignedStatement } from '../../shared/crypto/statements';
import { recordDigest, signRecord, verifyRecordStatement, type RecordStatement } from '../../shared/formats/record-statement';
import { StoredRecordSchema } from '../../shared/schemas/vault';
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

type Path = { contract: string; kind: string; version: number | string };
const seal = (contractId: string, version: number, value: Record<string, string>, kind = 'contract-fields') => sealRecord(recordKey, { kind, contract: contractId, version }, value);
const sign = async (record: SealedRecord, who = 'alice') => signRecord((await fake.signer(who)).privateKey, who, record);
/** PUT with any body, as `who`. */
const putBody = async (body: unknown, path: Path, who = 'alice') =>
  call(h.app, 'PUT', `/contracts/${path.contract}/records/${path.kind}/${path.version}`, { token: await fake.session(who), json: body });
/** PUT `record` signed by `who`, as `who`. */
const put = async (record: SealedRecord, path: Path, who = 'alice') => putBody({ record, signed: await sign(record, who) }, path, who);
const at = (r: SealedRecord) => ({ contract: r.contract, kind: r.kind, version: r.version });
const get = async (c: string, kind: string, version: number | 'latest', who = 'alice') => call(h.app, 'GET', `/contracts/${c}/records/${kind}/${version}`, { token: await fake.session(who) });
async function refusedWith(res: Response, status: number, code: string): Promise<void> {
  expect(res.status).toBe(status);
  expect(await errorCode(res)).toBe(code);
}

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
    const s2 = await sign(r2, 'sam');
    expect((await putBody({ record: r2, signed: s2 }, at(r2), 'sam')).status).toBe(201);
    const latest = await get(c, 'contract-fields', 'latest', 'bob');
    expect(latest.status).toBe(200);
    const body = StoredRecordSchema.parse(await latest.json());
    expect(body).toEqual({ record: r2, signed: s2 });
    expect(await openRecord(recordKey, body.record, at(r2))).toEqual({ title: 'Supply agreement (amended)' });
    const first = (await (await get(c, 'contract-fields', 1)).json()) as { record: SealedRecord };
    expect(await openRecord(recordKey, first.record, at(r1))).toEqual({ title: 'Supply agreement', amount: '1200.00' });
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
    const latest = await get(c, 'contract-fields', 'latest');
    expect(((await latest.json()) as { record: unknown }).record).toEqual(r5);
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
    const signed = await sign(r);
    for (const record of cases) {
      const res = await putBody({ record, signed }, at(r));
      expect(res.status, JSON.stringify(record).slice(0, 80)).toBe(400);
    }
    expect((await put(r, { ...at(r), version: '01' })).status).toBe(400);
    expect((await put(r, { ...at(r), version: '0' })).status).toBe(400);
    expect((await put(r, { ...at(r), kind: 'Bad_Kind' })).status).toBe(400);
    // A body over the limit is refused as too large.
    const huge = { ...r, ct: 'A'.repeat(2 * 1024 * 1024) };
    expect((await putBody({ record: huge, signed }, at(r))).status).toBe(413);
  });

  it('lets viewers read but not write, and members of other spaces do neither', async () => {
    const c = await contract();
    const r = await seal(c, 1, { title: 'x' });
    const res = await put(r, at(r), 'bob');
    expect(res.status).toBe(403);
    expect(await errorCode(res)).toBe('E_FORBIDDEN');
    expect((await put(r, at(r))).status).toBe(201);
    expect((await get(c, 'contract-fields', 'latest', 'bob')).status).toBe(200);
    fake.grant('space-2', 'eve', 'manager');
    expect((await get(c, 'contract-fields', 'latest', 'eve')).status).toBe(403);
    expect((await put(await seal(c, 2, { title: 'evil' }), { contract: c, kind: 'contract-fields', version: 2 }, 'eve')).status).toBe(403);
  });
});

describe('record signatures', () => {
  const stored = async (c: string, version: number) => (await get(c, 'contract-fields', version)).status;

  it('stores a record with its author\'s statement, serves both, and audits record.put', async () => {
    const c = await contract();
    const r = await seal(c, 1, { title: 'signed' });
    const signed = await sign(r);
    const before = fake.directoryLookups.length;
    const res = await putBody({ record: r, signed }, at(r));
    expect(res.status).toBe(201);
    expect(fake.directoryLookups.slice(before)).toEqual(['alice']);
    const body = StoredRecordSchema.parse(await (await get(c, 'contract-fields', 1, 'bob')).json());
    expect(body).toEqual({ record: r, signed });
    const statement = await verifyRecordStatement((await fake.signer('alice')).publicKey, body.signed, body.record);
    expect(statement).toEqual({ type: 'sealvault/v1/record', contract: c, kind: 'contract-fields', version: 1, author: 'alice', recordDigest: await recordDigest(r) });
    expect(h.audit.events.filter((e) => e.target === `contract:${c}/record:contract-fields/v1`)).toEqual([
      { actor: 'alice', action: 'record.put', target: `contract:${c}/record:contract-fields/v1`, outcome: 'ok', details: { kind: 'contract-fields', version: 1, recordDigest: await recordDigest(r), stored: true } },
      // Bob's read of it is a view of contract data, audited as such.
      { actor: 'bob', action: 'record.read', target: `contract:${c}/record:contract-fields/v1`, outcome: 'ok', details: { kind: 'contract-fields', version: 1 } },
    ]);
  });

  it('keeps the first statement when the identical record comes again, signed again or by another writer', async () => {
    const c = await contract();
    const r = await seal(c, 1, { title: 'once' });
    const first = await sign(r);
    expect((await putBody({ record: r, signed: first }, at(r))).status).toBe(201);
    for (const who of ['alice', 'sam']) {
      const again = await putBody({ record: r, signed: await sign(r, who) }, at(r), who);
      expect(again.status).toBe(200);
      expect(await again.json()).toMatchObject({ stored: false });
    }
    expect(((await (await get(c, 'contract-fields', 1)).json()) as { signed: unknown }).signed).toEqual(first);
  });

  it('refuses an unsigned record (400 E_VALIDATION)', async () => {
    const c = await contract();
    const r = await seal(c, 1, { title: 'unsigned' });
    const signed = await sign(r);
    const { signature: _signature, ...statementOnly } = signed;
    for (const body of [r, { record: r }, { record: r, signed: null }, { record: r, signed: statementOnly }, { record: r, signed: { ...signed, signature: '' } }, { record: r, signed, extra: 1 }]) {
      await refusedWith(await putBody(body, at(r)), 400, 'E_VALIDATION');
    }
    expect(await stored(c, 1)).toBe(404);
  });

  it('refuses a record signed by another account: named as author (E_CONTEXT) or only holding the key (E_SIGNATURE)', async () => {
    const c = await contract();
    const r = await seal(c, 1, { title: 'whose?' });
    // Sam's genuine statement, stored by alice.
    await refusedWith(await putBody({ record: r, signed: await sign(r, 'sam') }, at(r)), 400, 'E_CONTEXT');
    // A statement naming alice, signed with sam's key.
    const forged = await signRecord((await fake.signer('sam')).privateKey, 'alice', r);
    await refusedWith(await putBody({ record: r, signed: forged }, at(r)), 400, 'E_SIGNATURE');
    // Alice's statement with a signature that is not hers (another statement's).
    const other = await sign(await seal(c, 1, { title: 'other' }));
    await refusedWith(await putBody({ record: r, signed: { statement: (await sign(r)).statement, signature: other.signature } }, at(r)), 400, 'E_SIGNATURE');
    expect(await stored(c, 1)).toBe(404);
  });

  it('refuses a statement about another record: another digest, version, kind or contract (400 E_CONTEXT)', async () => {
    const c = await contract();
    const other = await contract();
    const r2 = await seal(c, 2, { title: 'two' });
    const cases: [string, SignedStatement<RecordStatement>][] = [
      ['the digest of another record of the same version', await sign(await seal(c, 2, { title: 'two, other' }))],
      ['a statement for version 1', await sign(await seal(c, 1, { title: 'two' }))],
      ['a statement for another kind', await sign(await seal(c, 2, { title: 'two' }, 'notes'))],
      ['a statement for another contract', await sign(await seal(other, 2, { title: 'two' }))],
    ];
    for (const [what, signed] of cases) {
      const res = await putBody({ record: r2, signed }, at(r2));
      expect(res.status, what).toBe(400);
      expect(await errorCode(res), what).toBe('E_CONTEXT');
    }
    // Fields edited after signing so that they name r2: the signature no longer holds.
    const v1 = await sign(await seal(c, 1, { title: 'one' }));
    const edited = { ...v1, statement: { ...v1.statement, version: 2, recordDigest: await recordDigest(r2) } };
    await refusedWith(await putBody({ record: r2, signed: edited }, at(r2)), 400, 'E_SIGNATURE');
    expect(await stored(c, 2)).toBe(404);
  });

  it('refuses an author who is not an active, certified account with a signing key (409 E_NOT_CERTIFIED)', async () => {
    const c = await contract();
    const r = await seal(c, 1, { title: 'uncertified' });
    fake.grant('space-1', 'nina', 'editor');
    const signed = await sign(r, 'nina');
    const key = fake.accounts.get('nina')!.signingKey;
    for (const state of [{ certified: false }, { revoked: true }, { status: 'disabled' as const }, { status: 'invited' as const }, { signingKey: null }]) {
      await fake.signer('nina', state);
      const res = await putBody({ record: r, signed }, at(r), 'nina');
      expect(res.status, JSON.stringify(state)).toBe(409);
      expect(await errorCode(res)).toBe('E_NOT_CERTIFIED');
      await fake.signer('nina', { certified: true, revoked: false, status: 'active', signingKey: key });
    }
    // Unknown to the directory.
    fake.grant('space-1', 'otto', 'editor');
    const otto = await signRecord((await generateSigningKeyPair()).privateKey, 'otto', r);
    await refusedWith(await putBody({ record: r, signed: otto }, at(r), 'otto'), 409, 'E_NOT_CERTIFIED');
    expect(await stored(c, 1)).toBe(404);
    expect(h.audit.events.filter((e) => e.target.startsWith(`contract:${c}/`))).toEqual([]);
    // Certified again: accepted.
    expect((await putBody({ record: r, signed }, at(r), 'nina')).status).toBe(201);
  });

  it('answers 503 and stores nothing when the directory cannot answer', async () => {
    const c = await contract();
    const r = await seal(c, 1, { title: 'later' });
    fake.directoryDown = true;
    try {
      await refusedWith(await put(r, at(r)), 503, 'E_PEER_UNAVAILABLE');
    } finally {
      fake.directoryDown = false;
    }
    expect(await stored(c, 1)).toBe(404);
  });
});

describe('records stored before signing (migration 2)', () => {
  it('adds the statement column to an existing database, serves old records with signed: null, and takes a signature for one', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'sealvault-vault-legacy-'));
    try {
      const first = await startVault(fake, { dataDir });
      const c = 'legacy-1';
      expect((await call(first.app, 'POST', '/contracts', { token: alice, json: { contract: c, space: 'space-1' } })).status).toBe(201);
      await first.close();
      // Back to the version-1 schema with one unsigned record, as a database from before.
      const r = await seal(c, 1, { title: 'old' });
      const raw = new Database(join(dataDir, 'vault.sqlite'));
      raw.exec('DROP TABLE signing_steps; DROP TABLE signing_signers; DROP TABLE signing_flows; DROP TABLE deletion_requests; ALTER TABLE contracts DROP COLUMN deleted_at; ALTER TABLE records DROP COLUMN statement');
      raw.pragma('user_version = 1');
      raw.prepare('INSERT INTO records (contract, kind, version, body, stored_by, stored_at) VALUES (?, ?, ?, ?, ?, ?)').run(c, r.kind, 1, JSON.stringify(r), 'alice', Date.now());
      raw.close();

      const again = await startVault(fake, { dataDir });
      try {
        const read = () => call(again.app, 'GET', `/contracts/${c}/records/${r.kind}/latest`, { token: alice });
        expect(StoredRecordSchema.parse(await (await read()).json())).toEqual({ record: r, signed: null });
        // The identical record, now signed, gives the old row its statement.
        const signed = await sign(r);
        const res = await call(again.app, 'PUT', `/contracts/${c}/records/${r.kind}/1`, { token: alice, json: { record: r, signed } });
        expect(res.status).toBe(200);
        expect(await (await read()).json()).toEqual({ record: r, signed });
      } finally {
        await again.close();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
