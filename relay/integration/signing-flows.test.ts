/**
 * Signing flows with the browser's protocol code against the real relay over HTTPS
 * (docs/SIGNING.md section 3). The PDF crypto is not under test here: signMyTurn gets a signPdf
 * that appends a line to the file, so each step's hashes are the SHA-256 of what was uploaded.
 * Covered: sequential, parallel and grouped orders; out-of-order steps and uploads refused by the
 * client and by the vault; a stale version; decline with a sealed reason; cancel; signers without
 * the signer role; and a malicious relay (forged, dropped, reordered or rolled-back steps, a
 * planted plan) refused by loadSigningFlow. Seals on a step, with real PDF signatures, are in
 * signing.test.ts.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveRecordKey } from '../../shared/crypto/contract-keys';
import { sealRecord } from '../../shared/crypto/records';
import { signStatement } from '../../shared/crypto/statements';
import type { RegisteredAccount, UnlockedAccount } from '../../shared/protocol/account';
import { createContract, openContract, putSigned, VersionMemory, type OpenedContract } from '../../shared/protocol/contracts';
import { collectingSink, downloadFile, fetchManifest, uploadFile, type FileTransport } from '../../shared/protocol/files';
import {
  cancelSigning,
  declineSigning,
  fileDigest,
  listSigningFlows,
  loadSigningFlow,
  prepareMyTurn,
  readDeclineReason,
  recordSignedStep,
  signingTasks,
  signMyTurn,
  startSigningFlow,
  whoseTurn,
  type SignMyTurnDeps,
  type SigningField,
  type VerifiedSigningFlow,
} from '../../shared/protocol/signing';
import { createSpace, grantAccess } from '../../shared/protocol/spaces';
import { SIGNING_PLAN_TYPE, SIGNING_STEP_TYPE } from '../../shared/schemas/signing';
import { codeOf, relayCode } from '../../shared/test-support/outcome';
import { auditLogOf, withoutOutcome } from './audit-log';
import { startEnterprise, type Enterprise } from './enterprise-fixture';

let e: Enterprise;
let t: FileTransport;
let manager: RegisteredAccount;
let editor: RegisteredAccount;
let s1: RegisteredAccount;
let s2: RegisteredAccount;
let s3: RegisteredAccount;
let viewer: RegisteredAccount;
let space: string;
let contractId: string;
/** each account's own opened copy of the contract (its DEK and the writers it verified) */
const opened = new Map<string, OpenedContract>();

const REASON = '金额与谈判结果不符 (the amount is not what we agreed)';
const enc = new TextEncoder();
let fileCounter = 0;

const box = (signer: string, kind: SigningField['kind'], n: number, seal?: string): SigningField => ({
  id: `fld-${signer.slice(0, 8)}-${kind}-${n}`,
  signer,
  kind,
  page: 0,
  x: 0.1,
  y: 0.1 + 0.2 * n,
  width: 0.3,
  height: 0.1,
  ...(seal ? { seal } : {}),
});

/** signPdf stand-in: appends a line naming the PDF field, so each step changes the file's bytes. */
const deps = (who: UnlockedAccount): SignMyTurnDeps => ({
  signPdf: async (pdf, options) => new Uint8Array([...pdf, ...enc.encode(`\n%signed ${options.fieldName} stamps=${options.stamps?.length ?? 0}\n`)]),
  openSealKey: async () => ({ privateKey: who.signing.privateKey, certificatePem: 'seal certificate (not checked here)' }),
  certificatePem: 'employee certificate (not checked here)',
  chainPems: [],
  stampFor: async () => new Uint8Array([0x89, 0x50, 0x4e, 0x47]),
  sealApprovalFor: async (seal) => `use-${seal}`,
});

const as = (who: UnlockedAccount) => opened.get(who.account)!;

/** A new file of the contract at version 1, uploaded by the editor. */
async function newFile(): Promise<string> {
  const file = `f-sign-${++fileCounter}`;
  await uploadFile(t, editor, as(editor).dek, new Blob([enc.encode(`%PDF-1.7 test file ${file}\n`)]), { contract: contractId, file, version: 1 });
  return file;
}

async function plaintextOf(who: UnlockedAccount, file: string, version: number): Promise<Uint8Array> {
  const target = { contract: contractId, file, version };
  const out = collectingSink();
  await downloadFile(t, who, as(who).dek, await fetchManifest(t, who, target, as(who).writers), target, out.sink);
  return out.bytes();
}

const load = (who: UnlockedAccount, flow: string) => loadSigningFlow(t, who, as(who), flow);
const signTurn = async (who: UnlockedAccount, flow: string) => signMyTurn(t, who, as(who), await load(who, flow), deps(who));

/** The relay's answers, rewritten: a malicious relay between the browser and the vault. */
function rewriting(json: (path: string, answer: any) => unknown): FileTransport {
  return { ...t, request: async (method, path, body, session) => json(path, await t.request(method, path, body, session)) };
}

function vaultDb(): Database.Database {
  return new Database(join(e.dataDir, 'vault', 'vault.sqlite'));
}


beforeAll(async () => {
  e = await startEnterprise();
  t = e.transport as FileTransport;
  manager = await e.employee('wang', '王经理', { spaceManager: true });
  editor = await e.employee('liu', '刘编辑');
  s1 = await e.employee('zhao', '赵签字');
  s2 = await e.employee('qian', '钱签字');
  s3 = await e.employee('sun', '孙签字');
  viewer = await e.employee('zhou', '周查看');
  ({ space } = await createSpace(t, manager, e.caPem, 'Procurement'));
  await grantAccess(t, manager, e.caPem, space, editor.account, 'editor');
  for (const s of [s1, s2, s3]) await grantAccess(t, manager, e.caPem, space, s.account, 'signer');
  await grantAccess(t, manager, e.caPem, space, viewer.account, 'viewer');
  const created = await createContract(t, editor, e.caPem, space, {
    title: 'Supply agreement',
    counterparties: ['Parts Ltd'],
    amount: { value: '120000.00', currency: 'CNY' },
    dates: { signed: null, effective: null, expires: null },
    status: 'signing',
    extra: {},
  });
  contractId = created.contract;
  opened.set(editor.account, created);
  for (const who of [manager, s1, s2, s3, viewer]) opened.set(who.account, await openContract(t, who, e.caPem, space, contractId, new VersionMemory()));
}, 240_000);
afterAll(async () => e?.close());

describe('signing flows over HTTPS', () => {
  let sequential: string;
  let sequentialFile: string;

  it('sequential: out of turn refused by client and vault; each signer signs the last version in turn; completed with a chain of hashes', async () => {
    sequentialFile = await newFile();
    const flow = await startSigningFlow(t, editor, as(editor), {
      file: sequentialFile,
      order: 'sequential',
      signers: [{ account: s1.account }, { account: s2.account }],
      fields: [box(s1.account, 'signature', 0), box(s1.account, 'date', 1), box(s2.account, 'signature', 2), box(s2.account, 'text', 3)],
    });
    sequential = flow.id;
    expect(flow).toMatchObject({ state: 'active', baseVersion: 1, initiator: editor.account, signers: [{ account: s1.account, group: 1 }, { account: s2.account, group: 2 }] });
    expect(whoseTurn(flow)).toEqual([s1.account]);
    expect((await signingTasks(t, s1)).map((f) => f.id)).toContain(sequential);
    expect((await signingTasks(t, s2)).map((f) => f.id)).not.toContain(sequential);

    // Signer 2 out of turn: the client refuses; the vault refuses the upload and the step.
    expect(await codeOf(signTurn(s2, sequential))).toBe('E_CONTEXT');
    const early = await load(s2, sequential);
    expect(prepareMyTurn(early, s2.account)).toBeNull();
    expect(await relayCode(uploadFile(t, s2, as(s2).dek, new Blob([enc.encode('early')]), { contract: contractId, file: sequentialFile, version: 2 }))).toBe('E_SIGNING_IN_PROGRESS');
    expect(await relayCode(uploadFile(t, editor, as(editor).dek, new Blob([enc.encode('edit')]), { contract: contractId, file: sequentialFile, version: 2 }))).toBe('E_SIGNING_IN_PROGRESS');
    const h = await fileDigest(as(s2).dek, await plaintextOf(s2, sequentialFile, 1));
    const outOfTurn = await signStatement(s2.signing.privateKey, {
      type: SIGNING_STEP_TYPE, flow: sequential, contract: contractId, file: sequentialFile, versionBefore: 1, versionAfter: 2, hashBefore: h, hashAfter: h,
      fields: [box(s2.account, 'signature', 2).id, box(s2.account, 'text', 3).id], seals: [], signer: s2.account, sealApprovals: [],
    });
    expect(await relayCode(t.request('POST', `/api/vault/signing-flows/${sequential}/steps`, { step: outOfTurn }, s2.session))).toBe('E_ORDER');

    await signTurn(s1, sequential);
    expect((await signingTasks(t, s2)).map((f) => f.id)).toContain(sequential);
    const last = await signTurn(s2, sequential);
    expect(last.state).toBe('completed');

    const seen = await load(viewer, sequential);
    expect(seen.state).toBe('completed');
    expect(seen.steps.map((s) => s.signer)).toEqual([s1.account, s2.account]);
    expect(seen.steps[1]).toMatchObject({ seals: [], sealApprovals: [] });
    expect(seen.chain.map((c) => c.version)).toEqual([1, 2, 3]);
    for (const link of seen.chain) expect(link.hash).toBe(await fileDigest(as(viewer).dek, await plaintextOf(viewer, sequentialFile, link.version)));
    const v3 = new TextDecoder().decode(await plaintextOf(viewer, sequentialFile, 3));
    expect(v3).toContain(`%signed sv-${sequential}-${s1.account} stamps=2`);
    expect(v3).toContain(`%signed sv-${sequential}-${s2.account} stamps=2`);
    expect(whoseTurn(seen)).toEqual([]);
    // The file is free again once the flow ended.
    await uploadFile(t, editor, as(editor).dek, new Blob([enc.encode('an edit after signing')]), { contract: contractId, file: sequentialFile, version: 4 });

    const actions = withoutOutcome(await auditLogOf(t, e.auditor.session, `contract:${contractId}/signing:${sequential}`));
    for (const expected of [
      { action: 'signing.start', kind: 'account', actor: editor.account },
      { action: 'signing.start', kind: 'service', actor: editor.account },
      { action: 'signing.download', kind: 'account', actor: s1.account },
      { action: 'signing.sign', kind: 'account', actor: s1.account },
      { action: 'signing.sign', kind: 'service', actor: s2.account },
      { action: 'signing.complete', kind: 'service', actor: s2.account },
    ]) expect(actions).toContainEqual(expected);
  });

  it('parallel: everyone signs in any order; a step on a stale version is refused with 409', async () => {
    const file = await newFile();
    const flow = await startSigningFlow(t, editor, as(editor), { file, order: 'parallel', signers: [{ account: s1.account }, { account: s2.account }], fields: [box(s1.account, 'signature', 0), box(s2.account, 'signature', 1)] });
    expect(whoseTurn(flow).sort()).toEqual([s1.account, s2.account].sort());
    const staleForS1 = await load(s1, flow.id);
    await signTurn(s2, flow.id);
    // Signer 1 signed version 1 meanwhile and uploads nothing new: its step on version 1 is stale.
    const v1 = await plaintextOf(s1, file, 1);
    expect(await relayCode(recordSignedStep(t, s1, as(s1), staleForS1, { versionBefore: 1, versionAfter: 2, hashBefore: await fileDigest(as(s1).dek, v1), hashAfter: await fileDigest(as(s1).dek, v1), fields: [box(s1.account, 'signature', 0).id], seals: [], sealApprovals: [] }))).toBe('E_CONFLICT');
    expect((await signTurn(s1, flow.id)).state).toBe('completed');
    expect((await load(viewer, flow.id)).steps.map((s) => s.signer)).toEqual([s2.account, s1.account]);
  });

  let grouped: string;
  it('groups: the second group waits for the whole first group', async () => {
    const file = await newFile();
    const flow = await startSigningFlow(t, editor, as(editor), {
      file,
      order: 'groups',
      signers: [{ account: s1.account, group: 1 }, { account: s2.account, group: 1 }, { account: s3.account, group: 2 }],
      fields: [box(s1.account, 'signature', 0), box(s2.account, 'signature', 1), box(s3.account, 'signature', 2)],
    });
    grouped = flow.id;
    await signTurn(s1, grouped);
    expect(await codeOf(signTurn(s3, grouped))).toBe('E_CONTEXT');
    const h = await fileDigest(as(s3).dek, await plaintextOf(s3, file, 2));
    const early = await signStatement(s3.signing.privateKey, { type: SIGNING_STEP_TYPE, flow: grouped, contract: contractId, file, versionBefore: 2, versionAfter: 3, hashBefore: h, hashAfter: h, fields: [box(s3.account, 'signature', 2).id], seals: [], signer: s3.account, sealApprovals: [] });
    expect(await relayCode(t.request('POST', `/api/vault/signing-flows/${grouped}/steps`, { step: early }, s3.session))).toBe('E_ORDER');
    await signTurn(s2, grouped);
    expect(whoseTurn(await load(s3, grouped))).toEqual([s3.account]);
    expect((await signTurn(s3, grouped)).state).toBe('completed');
    expect((await listSigningFlows(t, viewer, contractId)).map((f) => f.id)).toContain(grouped);
  });

  it('decline: the reason is sealed, and the initiator reads it only as the signer\'s own signed words', async () => {
    const file = await newFile();
    const flow = await startSigningFlow(t, editor, as(editor), { file, order: 'sequential', signers: [{ account: s1.account }, { account: s2.account }], fields: [box(s1.account, 'signature', 0), box(s2.account, 'signature', 1)] });
    expect(await codeOf(declineSigning(t, s2, as(s2), await load(s2, flow.id), 'not my turn'))).toBe('E_CONTEXT');
    expect((await declineSigning(t, s1, as(s1), await load(s1, flow.id), REASON)).state).toBe('declined');
    const seen = await load(editor, flow.id);
    expect(seen).toMatchObject({ state: 'declined', decline: { signer: s1.account } });
    expect(await readDeclineReason(t, editor, as(editor), seen)).toBe(REASON);
    const db = vaultDb();
    expect(JSON.stringify(db.prepare('SELECT * FROM records').all())).not.toContain('agreed');
    expect(JSON.stringify(db.prepare('SELECT * FROM signing_flows').all())).not.toContain('agreed');
    // The relay serves another writer's record in place of the reason.
    const version = seen.decline!.reasonVersion;
    await putSigned(t, editor, await sealRecord(await deriveRecordKey(as(editor).dek), { kind: 'signing-decline', contract: contractId, version: version + 1 }, { reason: 'planted words', flow: flow.id }));
    const row = (v: number) => db.prepare("SELECT body, statement FROM records WHERE contract = ? AND kind = 'signing-decline' AND version = ?").get(contractId, v) as { body: string; statement: string };
    const genuine = row(version);
    const planted = row(version + 1);
    const put = db.prepare("UPDATE records SET body = ?, statement = ? WHERE contract = ? AND kind = 'signing-decline' AND version = ?");
    put.run(planted.body.replace(`"version":${version + 1}`, `"version":${version}`), planted.statement, contractId, version);
    expect(await codeOf(readDeclineReason(t, editor, as(editor), seen))).toBe('E_SIGNATURE');
    put.run(genuine.body, genuine.statement, contractId, version);
    db.close();
    // A declined flow takes no more steps.
    expect(await relayCode(signTurn(s2, flow.id))).toBe('E_CONTEXT');
  });

  it('cancel: only the initiator, and a cancelled flow takes no steps', async () => {
    const file = await newFile();
    const flow = await startSigningFlow(t, editor, as(editor), { file, order: 'parallel', signers: [{ account: s1.account }], fields: [box(s1.account, 'signature', 0)] });
    expect(await codeOf(cancelSigning(t, s1, as(s1), await load(s1, flow.id)))).toBe('E_CONTEXT');
    const bySigner = await signStatement(s1.signing.privateKey, { type: 'sealvault/v1/signing-cancel', flow: flow.id, contract: contractId, initiator: s1.account });
    expect(await relayCode(t.request('POST', `/api/vault/signing-flows/${flow.id}/cancel`, { cancel: bySigner }, s1.session))).toBe('E_FORBIDDEN');
    const staleForS1 = await load(s1, flow.id);
    expect((await cancelSigning(t, editor, as(editor), flow)).state).toBe('cancelled');
    expect((await load(viewer, flow.id)).state).toBe('cancelled');
    expect(await relayCode(signMyTurn(t, s1, as(s1), staleForS1, deps(s1)))).toBe('E_NOT_ACTIVE');
  });

  it('refuses signers without the signer role, initiators without editor or manager, and a second active flow on a file', async () => {
    const file = await newFile();
    const fields = (who: string) => [box(who, 'signature', 0)];
    for (const who of [viewer, editor]) {
      expect(await codeOf(startSigningFlow(t, editor, as(editor), { file, order: 'parallel', signers: [{ account: who.account }], fields: fields(who.account) }))).toBe('E_CONTEXT');
      const plan = await signStatement(editor.signing.privateKey, { type: SIGNING_PLAN_TYPE, flow: `sf-planted-${who.username}`, contract: contractId, space, file, baseVersion: 1, initiator: editor.account, order: 'parallel', signers: [{ account: who.account, group: 1 }], fields: fields(who.account) });
      expect(await relayCode(t.request('POST', `/api/vault/contracts/${contractId}/signing-flows`, { plan }, editor.session))).toBe('E_NOT_SIGNER');
    }
    expect(await codeOf(startSigningFlow(t, s1, as(s1), { file, order: 'parallel', signers: [{ account: s2.account }], fields: fields(s2.account) }))).toBe('E_CONTEXT');
    const bySigner = await signStatement(s1.signing.privateKey, { type: SIGNING_PLAN_TYPE, flow: 'sf-by-signer', contract: contractId, space, file, baseVersion: 1, initiator: s1.account, order: 'parallel', signers: [{ account: s2.account, group: 1 }], fields: fields(s2.account) });
    expect(await relayCode(t.request('POST', `/api/vault/contracts/${contractId}/signing-flows`, { plan: bySigner }, s1.session))).toBe('E_FORBIDDEN');
    await startSigningFlow(t, editor, as(editor), { file, order: 'parallel', signers: [{ account: s1.account }], fields: fields(s1.account) });
    expect(await relayCode(startSigningFlow(t, manager, as(manager), { file, order: 'parallel', signers: [{ account: s2.account }], fields: fields(s2.account) }))).toBe('E_CONFLICT');
  });

  describe('a malicious relay', () => {
    it('a step edited in the vault database is refused as a forgery', async () => {
      const db = vaultDb();
      const row = db.prepare('SELECT statement FROM signing_steps WHERE flow = ? AND seq = 0').get(sequential) as { statement: string };
      const forged = JSON.parse(row.statement);
      forged.statement.fields = [box(s1.account, 'signature', 0).id];
      db.prepare('UPDATE signing_steps SET statement = ? WHERE flow = ? AND seq = 0').run(JSON.stringify(forged), sequential);
      expect(await codeOf(load(viewer, sequential))).toBe('E_SIGNATURE');
      db.prepare('UPDATE signing_steps SET statement = ? WHERE flow = ? AND seq = 0').run(row.statement, sequential);
      db.close();
      expect((await load(viewer, sequential)).state).toBe('completed');
    });

    it('dropped, reordered or invented steps and a claimed state are refused', async () => {
      const dropFirst = rewriting((path, a) => (path.endsWith(`/signing-flows/${sequential}`) ? { ...a, steps: a.steps.slice(1) } : a));
      expect(await codeOf(loadSigningFlow(dropFirst, viewer, as(viewer), sequential))).toBe('E_CONTEXT');
      const reordered = rewriting((path, a) => (path.endsWith(`/signing-flows/${grouped}`) ? { ...a, steps: [a.steps[2], a.steps[0], a.steps[1]] } : a));
      expect(await codeOf(loadSigningFlow(reordered, viewer, as(viewer), grouped))).toBe('E_CONTEXT');
      const duplicated = rewriting((path, a) => (path.endsWith(`/signing-flows/${grouped}`) ? { ...a, steps: [a.steps[0], a.steps[0]], state: 'active' } : a));
      expect(await codeOf(loadSigningFlow(duplicated, viewer, as(viewer), grouped))).toBe('E_CONTEXT');
      const claimedDone = rewriting((path, a) => (path.endsWith(`/signing-flows/${sequential}`) ? { ...a, steps: a.steps.slice(0, 1) } : a));
      expect(await codeOf(loadSigningFlow(claimedDone, viewer, as(viewer), sequential))).toBe('E_CONTEXT');
    });

    it('an older answer after a newer one was seen is a rollback', async () => {
      const me = { ...viewer, seen: new VersionMemory() };
      expect((await loadSigningFlow(t, me, as(viewer), sequential)).steps).toHaveLength(2);
      const older = rewriting((path, a) => (path.endsWith(`/signing-flows/${sequential}`) ? { ...a, steps: a.steps.slice(0, 1), state: 'active', endedAt: null } : a));
      expect(await codeOf(loadSigningFlow(older, me, as(viewer), sequential))).toBe('E_ROLLBACK');
    });

    it('a planted plan not signed by an editor or the manager is refused', async () => {
      const outsider = await e.employee('wu', '吴外人');
      const planted: string[] = [];
      for (const author of [s1, viewer, outsider]) {
        const file = await newFile();
        const id = `sf-planted-${author.username}`;
        const plan = await signStatement(author.signing.privateKey, { type: SIGNING_PLAN_TYPE, flow: id, contract: contractId, space, file, baseVersion: 1, initiator: author.account, order: 'parallel', signers: [{ account: s1.account, group: 1 }], fields: [box(s1.account, 'signature', 0)] });
        const db = vaultDb();
        db.prepare("INSERT INTO signing_flows (id, contract, space, file, base_version, initiator, plan, state, created_at) VALUES (?, ?, ?, ?, 1, ?, ?, 'active', 1)").run(id, contractId, space, file, author.account, JSON.stringify(plan));
        db.prepare('INSERT INTO signing_signers (flow, account, grp) VALUES (?, ?, 1)').run(id, s1.account);
        db.close();
        planted.push(id);
      }
      for (const id of planted) expect(await codeOf(load(s1, id)), id).toBe('E_SIGNATURE');
    });
  });
});
