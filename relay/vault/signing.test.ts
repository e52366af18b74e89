/**
 * Signing flow routes of the vault, through app.request with a fake directory and keys: plans,
 * steps, declines and cancels outside the schema are 400 E_VALIDATION before anything is looked
 * up; the caller, contract, roles, file versions and order are checked as docs/SIGNING.md
 * section 3 says; a file being signed takes new versions only from the signer whose turn it is.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveRecordKey, generateDek } from '../../shared/crypto/contract-keys';
import { sealRecord } from '../../shared/crypto/records';
import { signStatement } from '../../shared/crypto/statements';
import { recordDigest, signRecord } from '../../shared/formats/record-statement';
import {
  SIGNING_CANCEL_TYPE,
  SIGNING_DECLINE_TYPE,
  SIGNING_PLAN_TYPE,
  SIGNING_STEP_TYPE,
  SigningFlowSchema,
  type SigningField,
  type SigningPlanStatement,
  type SigningStepStatement,
} from '../../shared/schemas/signing';
import { createFakePeers, encryptFile, startVault, type FakePeers, type VaultHarness } from './test-fixture';
import { call, errorCode, putBlock } from './test-http';

let fake: FakePeers;
let h: VaultHarness;
let dek: CryptoKey;
const SPACE = 'space-sign';

beforeAll(async () => {
  fake = await createFakePeers();
  fake.grant(SPACE, 'ed', 'editor');
  fake.grant(SPACE, 'mia', 'manager');
  fake.grant(SPACE, 'sam', 'signer');
  fake.grant(SPACE, 'sue', 'signer');
  fake.grant(SPACE, 'vic', 'viewer');
  for (const who of ['ed', 'mia', 'sam', 'sue', 'vic']) await fake.signer(who);
  h = await startVault(fake);
  dek = await generateDek({ extractable: false });
});
afterAll(async () => {
  await h.close();
  rmSync(h.dataDir, { recursive: true, force: true });
});

const token = (who: string) => fake.session(who);
const post = async (path: string, who: string, json: unknown) => call(h.app, 'POST', path, { token: await token(who), json });
const sign = async <T extends { type: string }>(who: string, statement: T) => signStatement((await fake.signer(who)).privateKey, statement as never);

/** Uploads and commits `version` of `file` as `who` (expecting `status` for the registration). */
async function upload(contract: string, file: string, version: number, who: string, status = 201): Promise<Uint8Array> {
  const plaintext = new TextEncoder().encode(`%PDF ${file} v${version} by ${who}`);
  const enc = await encryptFile({ dek, signer: (await fake.signer(who)).privateKey, contract, file, version, uploader: who, plaintext, maxBlockSize: 64 * 1024 });
  const res = await post(`/contracts/${contract}/files`, who, { file, version, manifest: enc.signed });
  expect(res.status, await res.clone().text()).toBe(status);
  if (status !== 201) return plaintext;
  const t = await token(who);
  for (const b of enc.blocks) expect((await putBlock(h.app, t, file, version, b.index, b.bytes)).status).toBeLessThan(300);
  expect((await call(h.app, 'POST', `/files/${file}/versions/${version}/commit`, { token: t, json: {} })).status).toBe(200);
  return plaintext;
}

let n = 0;
async function contractWithFile(): Promise<{ contract: string; file: string }> {
  const contract = `c-sign-${++n}`;
  const file = `f-sign-${n}`;
  expect((await post('/contracts', 'ed', { contract, space: SPACE })).status).toBe(201);
  await upload(contract, file, 1, 'ed');
  return { contract, file };
}

const field = (signer: string, i: number, extra: Partial<SigningField> = {}): SigningField => ({ id: `fld-${signer}-${i}`, signer, kind: 'signature', page: 0, x: 0.1, y: 0.1, width: 0.2, height: 0.1, ...extra });

function planFor(contract: string, file: string, overrides: Partial<SigningPlanStatement> = {}): SigningPlanStatement {
  return {
    type: SIGNING_PLAN_TYPE,
    flow: `sf-${contract}-${++n}`,
    contract,
    space: SPACE,
    file,
    baseVersion: 1,
    initiator: 'ed',
    order: 'sequential',
    signers: [{ account: 'sam', group: 1 }, { account: 'sue', group: 2 }],
    fields: [field('sam', 1), field('sue', 1)],
    ...overrides,
  };
}

const sha = async (bytes: Uint8Array) => Buffer.from(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>)).toString('base64url');

describe('signing flows in the vault', () => {
  let target: { contract: string; file: string };
  beforeAll(async () => {
    target = await contractWithFile();
  });

  it('refuses plans outside the schema with 400 E_VALIDATION', async () => {
    const { contract, file } = target;
    const many = Array.from({ length: 21 }, (_, i) => `s${i}`);
    const cases: [string, Record<string, unknown>][] = [
      ['21 signers', { order: 'parallel', signers: many.map((account) => ({ account, group: 1 })), fields: many.map((a) => field(a, 0)) }],
      ['101 fields', { order: 'parallel', signers: [{ account: 'sam', group: 1 }], fields: Array.from({ length: 101 }, (_, i) => field('sam', i)) }],
      ['past the right edge', { fields: [field('sam', 1, { x: 0.9, width: 0.2 }), field('sue', 1)] }],
      ['past the bottom edge', { fields: [field('sam', 1, { y: 0.95, height: 0.1 }), field('sue', 1)] }],
      ['zero width', { fields: [field('sam', 1, { width: 0 }), field('sue', 1)] }],
      ['negative page', { fields: [field('sam', 1, { page: -1 }), field('sue', 1)] }],
      ['a seal field without a seal', { fields: [field('sam', 1, { kind: 'seal' }), field('sue', 1)] }],
      ['a signature field naming a seal', { fields: [field('sam', 1, { seal: 'seal-1' }), field('sue', 1)] }],
      ['an unknown field property', { fields: [{ ...field('sam', 1), colour: 'red' }, field('sue', 1)] }],
      ['sequential with one group', { signers: [{ account: 'sam', group: 1 }, { account: 'sue', group: 1 }] }],
      ['parallel with two groups', { order: 'parallel' }],
      ['groups with a gap', { order: 'groups', signers: [{ account: 'sam', group: 1 }, { account: 'sue', group: 3 }] }],
      ['a field id used twice', { fields: [field('sam', 1), { ...field('sue', 1), id: 'fld-sam-1' }] }],
      ['a field of someone who is not a signer', { fields: [field('sam', 1), field('sue', 1), field('vic', 1)] }],
      ['a signer with only a date field', { fields: [field('sam', 1), field('sue', 1, { kind: 'date' })] }],
      ['a signer listed twice', { order: 'parallel', signers: [{ account: 'sam', group: 1 }, { account: 'sam', group: 1 }] }],
      ['no signers', { signers: [], fields: [] }],
      ['a label too long', { fields: [field('sam', 1, { label: 'x'.repeat(101) }), field('sue', 1)] }],
    ];
    for (const [name, change] of cases) {
      const plan = await sign('ed', { ...planFor(contract, file), ...change });
      const res = await post(`/contracts/${contract}/signing-flows`, 'ed', { plan });
      expect([res.status, await errorCode(res)], name).toEqual([400, 'E_VALIDATION']);
    }
    const unknownTop = await sign('ed', { ...planFor(contract, file), note: 'x' });
    expect(await errorCode(await post(`/contracts/${contract}/signing-flows`, 'ed', { plan: unknownTop }))).toBe('E_VALIDATION');
    const plan = await sign('ed', planFor(contract, file));
    expect(await errorCode(await post(`/contracts/${contract}/signing-flows`, 'ed', { plan, extra: 1 }))).toBe('E_VALIDATION');
    expect(await errorCode(await post(`/contracts/${contract}/signing-flows`, 'ed', { plan: { ...plan, signature: 'AAAA' } }))).toBe('E_VALIDATION');
  });

  it('checks who starts a flow, for which contract and file version, with which signers', async () => {
    const { contract, file } = target;
    const start = async (who: string, statement: SigningPlanStatement, signer = who) => {
      const res = await post(`/contracts/${contract}/signing-flows`, who, { plan: await sign(signer, statement) });
      return [res.status, res.status < 300 ? 'ok' : await errorCode(res)];
    };
    expect(await start('vic', planFor(contract, file, { initiator: 'vic' }))).toEqual([403, 'E_FORBIDDEN']);
    expect(await start('sam', planFor(contract, file, { initiator: 'sam' }))).toEqual([403, 'E_FORBIDDEN']);
    expect(await start('ed', planFor(contract, file, { initiator: 'mia' }), 'mia')).toEqual([400, 'E_CONTEXT']);
    expect(await start('ed', planFor('c-other', file))).toEqual([400, 'E_CONTEXT']);
    expect(await start('ed', planFor(contract, file, { space: 'space-other' }))).toEqual([400, 'E_CONTEXT']);
    expect(await start('ed', planFor(contract, file), 'mia')).toEqual([400, 'E_SIGNATURE']);
    expect(await start('ed', planFor(contract, file, { order: 'parallel', signers: [{ account: 'vic', group: 1 }], fields: [field('vic', 1)] }))).toEqual([409, 'E_NOT_SIGNER']);
    expect(await start('ed', planFor(contract, file, { order: 'parallel', signers: [{ account: 'mia', group: 1 }], fields: [field('mia', 1)] }))).toEqual([409, 'E_NOT_SIGNER']);
    expect(await start('ed', planFor(contract, 'f-nowhere'))).toEqual([400, 'E_CONTEXT']);
    expect(await start('ed', planFor(contract, file, { baseVersion: 2 }))).toEqual([400, 'E_CONTEXT']);
    const other = await contractWithFile();
    expect(await start('ed', planFor(contract, other.file))).toEqual([400, 'E_CONTEXT']);
    // A newer version registered (even unfinished) means version 1 is not the one to sign.
    const busy = await contractWithFile();
    const enc = await encryptFile({ dek, signer: (await fake.signer('ed')).privateKey, contract: busy.contract, file: busy.file, version: 2, uploader: 'ed', plaintext: new Uint8Array(10), maxBlockSize: 64 * 1024 });
    expect((await post(`/contracts/${busy.contract}/files`, 'ed', { file: busy.file, version: 2, manifest: enc.signed })).status).toBe(201);
    const stale = await post(`/contracts/${busy.contract}/signing-flows`, 'ed', { plan: await sign('ed', planFor(busy.contract, busy.file)) });
    expect([stale.status, await errorCode(stale)]).toEqual([409, 'E_CONFLICT']);
    expect((await call(h.app, 'POST', `/contracts/${contract}/signing-flows`, { json: { plan: await sign('ed', planFor(contract, file)) } })).status).toBe(401);
  });

  it('runs a sequential flow: order, uploads held to the flow, retries, completion and audit', async () => {
    const { contract, file } = await contractWithFile();
    const statement = planFor(contract, file);
    const plan = await sign('ed', statement);
    const started = await post(`/contracts/${contract}/signing-flows`, 'ed', { plan });
    expect(started.status).toBe(201);
    const flow = SigningFlowSchema.parse(await started.json());
    expect(flow).toMatchObject({ id: statement.flow, state: 'active', steps: [], initiator: 'ed', baseVersion: 1 });
    expect((await post(`/contracts/${contract}/signing-flows`, 'ed', { plan })).status).toBe(200);
    const again = await post(`/contracts/${contract}/signing-flows`, 'mia', { plan: await sign('mia', { ...statement, flow: 'sf-second', initiator: 'mia' }) });
    expect([again.status, await errorCode(again)]).toEqual([409, 'E_CONFLICT']);

    const tasks = async (who: string) => ((await (await call(h.app, 'GET', '/signing-tasks', { token: await token(who) })).json()) as { flows: { id: string }[] }).flows.map((f) => f.id);
    expect(await tasks('sam')).toContain(flow.id);
    expect(await tasks('sue')).not.toContain(flow.id);

    const v1 = new TextEncoder().encode(`%PDF ${file} v1 by ed`);
    const step = async (who: string, over: Partial<SigningStepStatement> = {}) => {
      const s: SigningStepStatement = { type: SIGNING_STEP_TYPE, flow: flow.id, contract, file, versionBefore: 1, versionAfter: 2, hashBefore: await sha(v1), hashAfter: await sha(v1), fields: [`fld-${who}-1`], seals: [], signer: who, sealApprovals: [], ...over };
      const res = await post(`/signing-flows/${flow.id}/steps`, who, { step: await sign(who, s) });
      return [res.status, res.status < 300 ? 'ok' : await errorCode(res)];
    };
    expect(await step('sue')).toEqual([409, 'E_ORDER']);
    expect(await step('vic')).toEqual([403, 'E_FORBIDDEN']);
    // Nobody but the signer whose turn it is adds a version, and only the next one.
    await upload(contract, file, 2, 'ed', 409);
    await upload(contract, file, 2, 'sue', 409);
    await upload(contract, file, 3, 'sam', 409);
    expect(await step('sam')).toEqual([400, 'E_CONTEXT']); // version 2 not uploaded yet
    const v2 = await upload(contract, file, 2, 'sam');
    expect(await step('sam', { fields: ['fld-sue-1'] })).toEqual([400, 'E_CONTEXT']);
    expect(await step('sam', { seals: ['seal-x'] })).toEqual([400, 'E_CONTEXT']);
    expect(await step('sam', { versionAfter: 3 })).toEqual([400, 'E_CONTEXT']);
    expect(await step('sam', { signer: 'sue' })).toEqual([400, 'E_CONTEXT']);
    const samStep = await sign('sam', { type: SIGNING_STEP_TYPE, flow: flow.id, contract, file, versionBefore: 1, versionAfter: 2, hashBefore: await sha(v1), hashAfter: await sha(v2), fields: ['fld-sam-1'], seals: [], signer: 'sam', sealApprovals: [] });
    expect((await post(`/signing-flows/${flow.id}/steps`, 'sam', { step: samStep })).status).toBe(201);
    expect((await post(`/signing-flows/${flow.id}/steps`, 'sam', { step: samStep })).status).toBe(200);
    expect(await step('sam', { hashAfter: await sha(v1) })).toEqual([409, 'E_ORDER']);

    expect(await step('sue', { versionBefore: 1, versionAfter: 2 })).toEqual([409, 'E_CONFLICT']);
    expect(await step('sue', { versionBefore: 2, versionAfter: 3, hashBefore: await sha(v1) })).toEqual([400, 'E_CONTEXT']);
    fake.grant(SPACE, 'sue', 'viewer');
    expect(await tasks('sue')).not.toContain(flow.id);
    expect(await step('sue', { versionBefore: 2, versionAfter: 3, hashBefore: await sha(v2) })).toEqual([403, 'E_FORBIDDEN']);
    fake.grant(SPACE, 'sue', 'signer');
    await upload(contract, file, 3, 'sue');
    expect(await step('sue', { versionBefore: 2, versionAfter: 3, hashBefore: await sha(v2) })).toEqual([201, 'ok']);

    const done = SigningFlowSchema.parse(await (await call(h.app, 'GET', `/signing-flows/${flow.id}`, { token: await token('vic') })).json());
    expect(done.state).toBe('completed');
    expect(done.steps.map((s) => s.statement.signer)).toEqual(['sam', 'sue']);
    await upload(contract, file, 4, 'ed');
    const actions = h.audit.events.filter((a) => a.target === `contract:${contract}/signing:${flow.id}`).map((a) => `${a.action} ${a.actor}`);
    expect(actions).toEqual(['signing.start ed', 'signing.sign sam', 'signing.sign sam', 'signing.sign sue', 'signing.complete sue']);
    const list = await (await call(h.app, 'GET', `/contracts/${contract}/signing-flows`, { token: await token('vic') })).json();
    expect((list as { flows: { id: string }[] }).flows.map((f) => f.id)).toEqual([flow.id]);
    expect((await call(h.app, 'GET', `/signing-flows/${flow.id}`, { token: await token('outsider') })).status).toBe(403);
  });

  it('refuses step, decline and cancel bodies outside the schema', async () => {
    const { contract, file } = await contractWithFile();
    const statement = planFor(contract, file);
    expect((await post(`/contracts/${contract}/signing-flows`, 'ed', { plan: await sign('ed', statement) })).status).toBe(201);
    const base: SigningStepStatement = { type: SIGNING_STEP_TYPE, flow: statement.flow, contract, file, versionBefore: 1, versionAfter: 2, hashBefore: await sha(new Uint8Array()), hashAfter: await sha(new Uint8Array()), fields: ['fld-sam-1'], seals: [], signer: 'sam', sealApprovals: [] };
    const bad: [string, Record<string, unknown>][] = [
      ['a short hash', { hashAfter: 'AAAA' }],
      ['version 0', { versionBefore: 0 }],
      ['a field twice', { fields: ['fld-sam-1', 'fld-sam-1'] }],
      ['no fields', { fields: [] }],
      ['an unknown property', { note: 'x' }],
      ['another type', { type: SIGNING_PLAN_TYPE }],
    ];
    for (const [name, change] of bad) {
      const res = await post(`/signing-flows/${statement.flow}/steps`, 'sam', { step: await sign('sam', { ...base, ...change }) });
      expect([res.status, await errorCode(res)], name).toEqual([400, 'E_VALIDATION']);
    }
    const decline = { type: SIGNING_DECLINE_TYPE, flow: statement.flow, contract, signer: 'sam', reasonVersion: 1, reasonDigest: await sha(new Uint8Array()) };
    for (const change of [{ reasonVersion: 0 }, { reasonDigest: 'x' }, { reason: 'in the clear' }]) {
      const res = await post(`/signing-flows/${statement.flow}/decline`, 'sam', { decline: await sign('sam', { ...decline, ...change }) });
      expect([res.status, await errorCode(res)], JSON.stringify(change)).toEqual([400, 'E_VALIDATION']);
    }
    // No reason record of sam's at that version.
    const none = await post(`/signing-flows/${statement.flow}/decline`, 'sam', { decline: await sign('sam', decline) });
    expect([none.status, await errorCode(none)]).toEqual([400, 'E_CONTEXT']);
    const cancel = { type: SIGNING_CANCEL_TYPE, flow: statement.flow, contract, initiator: 'ed' };
    const extra = await post(`/signing-flows/${statement.flow}/cancel`, 'ed', { cancel: await sign('ed', { ...cancel, reason: 'x' }) });
    expect([extra.status, await errorCode(extra)]).toEqual([400, 'E_VALIDATION']);
    const bySam = await post(`/signing-flows/${statement.flow}/cancel`, 'sam', { cancel: await sign('sam', { ...cancel, initiator: 'sam' }) });
    expect([bySam.status, await errorCode(bySam)]).toEqual([403, 'E_FORBIDDEN']);
    expect((await post('/signing-flows/sf-nowhere/cancel', 'ed', { cancel: await sign('ed', cancel) })).status).toBe(404);
  });

  it('declines with the signer\'s own sealed reason record, then takes nothing more', async () => {
    const { contract, file } = await contractWithFile();
    const statement = planFor(contract, file);
    expect((await post(`/contracts/${contract}/signing-flows`, 'ed', { plan: await sign('ed', statement) })).status).toBe(201);
    const record = await sealRecord(await deriveRecordKey(dek), { kind: 'signing-decline', contract, version: 1 }, { reason: 'wrong amount', flow: statement.flow });
    expect((await call(h.app, 'PUT', `/contracts/${contract}/records/signing-decline/1`, { token: await token('sam'), json: { record, signed: await signRecord((await fake.signer('sam')).privateKey, 'sam', record) } })).status).toBe(201);
    const decline = { type: SIGNING_DECLINE_TYPE, flow: statement.flow, contract, signer: 'sam', reasonVersion: 1, reasonDigest: await recordDigest(record) };
    const wrongDigest = await post(`/signing-flows/${statement.flow}/decline`, 'sam', { decline: await sign('sam', { ...decline, reasonDigest: await sha(new Uint8Array()) }) });
    expect([wrongDigest.status, await errorCode(wrongDigest)]).toEqual([400, 'E_CONTEXT']);
    // Sue's turn has not come; her decline (naming sam's record) is refused either way.
    const bySue = await post(`/signing-flows/${statement.flow}/decline`, 'sue', { decline: await sign('sue', { ...decline, signer: 'sue' }) });
    expect([bySue.status, await errorCode(bySue)]).toEqual([400, 'E_CONTEXT']);
    const res = await post(`/signing-flows/${statement.flow}/decline`, 'sam', { decline: await sign('sam', decline) });
    expect(res.status).toBe(200);
    expect(SigningFlowSchema.parse(await res.json())).toMatchObject({ state: 'declined', decline: { statement: { signer: 'sam', reasonVersion: 1 } } });
    const cancel = await post(`/signing-flows/${statement.flow}/cancel`, 'ed', { cancel: await sign('ed', { type: SIGNING_CANCEL_TYPE, flow: statement.flow, contract, initiator: 'ed' }) });
    expect([cancel.status, await errorCode(cancel)]).toEqual([409, 'E_NOT_ACTIVE']);
    await upload(contract, file, 2, 'ed');
    expect(h.audit.events.filter((a) => a.target === `contract:${contract}/signing:${statement.flow}`).map((a) => a.action)).toEqual(['signing.start', 'signing.decline']);
  });

  it('a deleted contract takes its signing flows with it', async () => {
    const { contract, file } = await contractWithFile();
    const statement = planFor(contract, file);
    expect((await post(`/contracts/${contract}/signing-flows`, 'ed', { plan: await sign('ed', statement) })).status).toBe(201);
    const record = await sealRecord(await deriveRecordKey(dek), { kind: 'deletion', contract, version: 1 }, { reason: 'void' });
    expect((await call(h.app, 'PUT', `/contracts/${contract}/records/deletion/1`, { token: await token('ed'), json: { record, signed: await signRecord((await fake.signer('ed')).privateKey, 'ed', record) } })).status).toBe(201);
    expect((await post(`/contracts/${contract}/deletion`, 'ed', { recordVersion: 1 })).status).toBe(201);
    expect((await post(`/contracts/${contract}/deletion/decision`, 'mia', { approve: true })).status).toBe(200);
    expect((await call(h.app, 'GET', `/signing-flows/${statement.flow}`, { token: await token('vic') })).status).toBe(404);
    const tasks = (await (await call(h.app, 'GET', '/signing-tasks', { token: await token('sam') })).json()) as { flows: { id: string }[] };
    expect(tasks.flows.map((f) => f.id)).not.toContain(statement.flow);
  });
});
