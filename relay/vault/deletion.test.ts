/**
 * Deleting a contract takes four eyes: a writer asks (naming their own sealed reason record),
 * another writer or the manager decides; the requester can never decide, viewers can do neither.
 * Approval removes every record, file version and stored blob of the contract and leaves a
 * tombstone; writes to a deleted contract are refused in words, and each step is audited.
 */
import { readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveRecordKey, generateDek } from '../../shared/crypto/contract-keys';
import { sealRecord, type SealedRecord } from '../../shared/crypto/records';
import { signRecord } from '../../shared/formats/record-statement';
import { DeletionStateSchema } from '../../shared/schemas/vault';
import { createFakePeers, encryptFile, startVault, type FakePeers, type VaultHarness } from './test-fixture';
import { call, errorCode, putBlock } from './test-http';

let fake: FakePeers;
let h: VaultHarness;
let dek: CryptoKey;
let recordKey: CryptoKey;

beforeAll(async () => {
  fake = await createFakePeers();
  fake.grant('space-1', 'alice', 'editor');
  fake.grant('space-1', 'erin', 'editor');
  fake.grant('space-1', 'mia', 'manager');
  fake.grant('space-1', 'sam', 'signer');
  fake.grant('space-1', 'bob', 'viewer');
  h = await startVault(fake);
  dek = await generateDek({ extractable: false });
  recordKey = await deriveRecordKey(dek);
});
afterAll(async () => {
  await h.close();
  rmSync(h.dataDir, { recursive: true, force: true });
});

const as = async (who: string) => fake.session(who);
async function putRecord(contract: string, kind: string, version: number, who: string): Promise<void> {
  const record: SealedRecord = await sealRecord(recordKey, { kind, contract, version }, { reason: 'superseded by the 2027 agreement' });
  const signed = await signRecord((await fake.signer(who)).privateKey, who, record);
  const res = await call(h.app, 'PUT', `/contracts/${contract}/records/${kind}/${version}`, { token: await as(who), json: { record, signed } });
  expect(res.status).toBe(201);
}

let n = 0;
/** A contract with a fields record and one uploaded file of three blocks. */
async function contractWithFile(): Promise<{ contract: string; file: string; blocks: number }> {
  const contract = `del-${++n}`;
  const file = `fdel-${n}`;
  expect((await call(h.app, 'POST', '/contracts', { token: await as('alice'), json: { contract, space: 'space-1' } })).status).toBe(201);
  await putRecord(contract, 'fields', 1, 'alice');
  const enc = await encryptFile({ dek, signer: (await fake.signer('alice')).privateKey, contract, file, version: 1, uploader: 'alice', plaintext: new Uint8Array(200_000).fill(7), maxBlockSize: 64 * 1024 });
  const alice = await as('alice');
  expect((await call(h.app, 'POST', `/contracts/${contract}/files`, { token: alice, json: { file, version: 1, manifest: enc.signed } })).status).toBe(201);
  for (const b of enc.blocks) expect((await putBlock(h.app, alice, file, 1, b.index, b.bytes)).status).toBeLessThan(300);
  expect((await call(h.app, 'POST', `/files/${file}/versions/1/commit`, { token: alice, json: {} })).status).toBe(200);
  return { contract, file, blocks: enc.blocks.length };
}

const ask = async (contract: string, who: string, recordVersion = 1) => call(h.app, 'POST', `/contracts/${contract}/deletion`, { token: await as(who), json: { recordVersion } });
const decide = async (contract: string, who: string, approve: boolean) => call(h.app, 'POST', `/contracts/${contract}/deletion/decision`, { token: await as(who), json: { approve } });
const state = async (contract: string, who = 'alice') => DeletionStateSchema.parse(await (await call(h.app, 'GET', `/contracts/${contract}/deletion`, { token: await as(who) })).json());
async function refused(res: Response, status: number, code: string): Promise<void> {
  expect(res.status).toBe(status);
  expect(await errorCode(res)).toBe(code);
}
function storedBlobs(): number {
  const walk = (dir: string): number => readdirSync(dir).reduce((sum, name) => {
    const path = join(dir, name);
    return sum + (statSync(path).isDirectory() ? walk(path) : /\.(part|marker)$|marker/.test(name) ? 0 : 1);
  }, 0);
  return walk(join(h.dataDir, 'stores'));
}

describe('deleting a contract', () => {
  it('needs a reason record of the requester\'s own, and refuses viewers', async () => {
    const { contract } = await contractWithFile();
    await refused(await ask(contract, 'alice'), 400, 'E_CONTEXT');
    await putRecord(contract, 'deletion', 1, 'erin');
    // Erin's reason cannot back Alice's request, and a viewer may not ask at all.
    await refused(await ask(contract, 'alice'), 400, 'E_CONTEXT');
    await refused(await ask(contract, 'bob'), 403, 'E_FORBIDDEN');
    expect((await state(contract)).request).toBeNull();
  });

  it('lets neither the requester nor a viewer or signer decide, and another editor reject', async () => {
    const { contract } = await contractWithFile();
    await putRecord(contract, 'deletion', 1, 'alice');
    expect((await ask(contract, 'alice')).status).toBe(201);
    await refused(await ask(contract, 'alice'), 409, 'E_PENDING');
    await refused(await decide(contract, 'alice', true), 403, 'E_FOUR_EYES');
    await refused(await decide(contract, 'bob', true), 403, 'E_FORBIDDEN');
    await refused(await decide(contract, 'sam', true), 403, 'E_FORBIDDEN');
    expect((await state(contract, 'bob')).request).toMatchObject({ requestedBy: 'alice', state: 'pending', decidedBy: null });
    const rejected = await decide(contract, 'erin', false);
    expect(rejected.status).toBe(200);
    expect((await state(contract)).request).toMatchObject({ state: 'rejected', decidedBy: 'erin' });
    await refused(await decide(contract, 'mia', true), 409, 'E_NOT_PENDING');
    // The contract is still whole, and can be asked about again.
    expect((await call(h.app, 'GET', `/contracts/${contract}/records/fields/latest`, { token: await as('bob') })).status).toBe(200);
    await putRecord(contract, 'deletion', 2, 'alice');
    expect((await ask(contract, 'alice', 2)).status).toBe(201);
    expect(h.audit.events.filter((e) => e.target === `contract:${contract}`).map((e) => e.action)).toEqual(['contract.create', 'contract.delete-request', 'contract.delete-reject', 'contract.delete-request']);
  });

  it('on approval removes the records, file versions and blobs, keeps a tombstone and refuses writes', async () => {
    const { contract, file, blocks } = await contractWithFile();
    const other = await contractWithFile();
    const before = storedBlobs();
    await putRecord(contract, 'deletion', 1, 'alice');
    expect((await ask(contract, 'alice')).status).toBe(201);
    const approved = await decide(contract, 'mia', true);
    expect(approved.status).toBe(200);
    const after = DeletionStateSchema.parse(await approved.json());
    expect(after.deletedAt).not.toBeNull();
    expect(after.request).toMatchObject({ requestedBy: 'alice', decidedBy: 'mia', state: 'approved' });
    // Every block, two copies each, gone from the stores; the other contract's untouched.
    expect(blocks).toBeGreaterThanOrEqual(3);
    expect(storedBlobs()).toBe(before - 2 * blocks);
    const bob = await as('bob');
    const listed = await (await call(h.app, 'GET', '/contracts?space=space-1', { token: bob })).json();
    expect(listed.contracts.map((c: { contract: string }) => c.contract)).not.toContain(contract);
    expect(listed.contracts.map((c: { contract: string }) => c.contract)).toContain(other.contract);
    expect((await call(h.app, 'GET', `/contracts/${contract}/records/fields/latest`, { token: bob })).status).toBe(404);
    expect((await call(h.app, 'GET', `/files/${file}/versions/1/manifest`, { token: bob })).status).toBe(404);
    expect((await call(h.app, 'GET', `/files/${file}/versions/1/blocks/0`, { token: bob })).status).toBe(404);
    expect(await (await call(h.app, 'GET', `/contracts/${contract}/files`, { token: bob })).json()).toEqual({ contract, files: [] });
    const record = await sealRecord(recordKey, { kind: 'fields', contract, version: 2 }, { title: 'back from the dead' });
    const signed = await signRecord((await fake.signer('alice')).privateKey, 'alice', record);
    await refused(await call(h.app, 'PUT', `/contracts/${contract}/records/fields/2`, { token: await as('alice'), json: { record, signed } }), 410, 'E_DELETED');
    await refused(await ask(contract, 'erin'), 410, 'E_DELETED');
    const deleted = h.audit.events.find((e) => e.action === 'contract.delete' && e.target === `contract:${contract}`);
    expect(deleted).toMatchObject({ actor: 'mia', details: { files: 1, records: 2, blobs: 2 * blocks, removed: 2 * blocks } });
  });
});
