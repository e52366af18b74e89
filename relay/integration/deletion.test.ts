/**
 * Deleting a contract with the browser's protocol code against the real relay over HTTPS: an
 * editor asks with a reason sealed under the contract key; a viewer reads the reason; the
 * requester can decide nothing (refused by the client and by the relay); a reason the relay
 * swaps for another writer's record is refused; the manager approves, and the contract, its
 * records and every stored block are gone, with each step in the audit log.
 */
import Database from 'better-sqlite3';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveRecordKey } from '../../shared/crypto/contract-keys';
import { sealRecord } from '../../shared/crypto/records';
import type { RegisteredAccount } from '../../shared/protocol/account';
import { createContract, listContracts, openContract, putSigned, VersionMemory, type OpenedContract } from '../../shared/protocol/contracts';
import { decideDeletion, deletionState, readDeletionReason, requestDeletion } from '../../shared/protocol/deletion';
import { uploadFile, type FileTransport } from '../../shared/protocol/files';
import { createSpace, grantAccess } from '../../shared/protocol/spaces';
import { codeOf, relayCode } from '../../shared/test-support/outcome';
import { startEnterprise, type Enterprise } from './enterprise-fixture';

let e: Enterprise;
let manager: RegisteredAccount;
let editor: RegisteredAccount;
let colleague: RegisteredAccount;
let viewer: RegisteredAccount;
let space: string;
let contract: OpenedContract;

const REASON = '合同已被 2027 年框架协议取代 (superseded)';

function blobsIn(dir: string): number {
  return readdirSync(dir).reduce((n, name) => {
    const path = join(dir, name);
    return n + (statSync(path).isDirectory() ? blobsIn(path) : /marker/.test(name) ? 0 : 1);
  }, 0);
}

beforeAll(async () => {
  e = await startEnterprise();
  manager = await e.employee('wang', '王经理', { spaceManager: true });
  editor = await e.employee('liu', '刘编辑');
  colleague = await e.employee('sun', '孙编辑');
  viewer = await e.employee('zhou', '周查看');
  ({ space } = await createSpace(e.transport, manager, e.caPem, 'Archive'));
  await grantAccess(e.transport, manager, e.caPem, space, editor.account, 'editor');
  await grantAccess(e.transport, manager, e.caPem, space, colleague.account, 'editor');
  await grantAccess(e.transport, manager, e.caPem, space, viewer.account, 'viewer');
  contract = await createContract(e.transport, editor, e.caPem, space, {
    title: 'Old lease',
    counterparties: ['Landlord Ltd'],
    amount: null,
    dates: { signed: null, effective: null, expires: null },
    status: 'expired',
    extra: {},
  });
  await uploadFile(e.transport as FileTransport, editor, contract.dek, new Blob([new Uint8Array(3_000_000).fill(9)]), { contract: contract.contract, file: 'f-old-lease', version: 1 });
}, 180_000);
afterAll(async () => e?.close());

describe('deleting a contract, four eyes', () => {
  it('an editor asks with a sealed reason that a viewer reads; the requester decides nothing', async () => {
    await requestDeletion(e.transport, editor, contract, REASON);
    const seenByViewer = await openContract(e.transport, viewer, e.caPem, space, contract.contract, new VersionMemory());
    const state = await deletionState(e.transport, viewer, contract.contract);
    expect(state.request).toMatchObject({ requestedBy: editor.account, state: 'pending' });
    expect(await readDeletionReason(e.transport, viewer, seenByViewer, state)).toBe(REASON);
    // The relay holds the reason only sealed.
    const raw = new Database(join(e.dataDir, 'vault', 'vault.sqlite'), { readonly: true });
    expect(JSON.stringify(raw.prepare('SELECT * FROM records').all())).not.toContain('superseded');
    raw.close();
    expect(await codeOf(decideDeletion(e.transport, editor, contract, true))).toBe('E_CONTEXT');
    expect(await relayCode(e.transport.request('POST', `/api/vault/contracts/${contract.contract}/deletion/decision`, { approve: true }, editor.session))).toBe('E_FOUR_EYES');
    expect(await relayCode(e.transport.request('POST', `/api/vault/contracts/${contract.contract}/deletion/decision`, { approve: true }, viewer.session))).toBe('E_FORBIDDEN');
  });

  it('refuses a reason the relay swapped for another writer\'s record', async () => {
    // Another editor's record of kind "deletion", then the relay points the request at it.
    await putSigned(e.transport, colleague, await sealRecord(await deriveRecordKey(contract.dek), { kind: 'deletion', contract: contract.contract, version: 2 }, { reason: 'planted words' }));
    const db = new Database(join(e.dataDir, 'vault', 'vault.sqlite'));
    db.prepare('UPDATE deletion_requests SET record_version = 2 WHERE contract = ?').run(contract.contract);
    const state = await deletionState(e.transport, manager, contract.contract);
    expect(await codeOf(readDeletionReason(e.transport, manager, contract, state))).toBe('E_SIGNATURE');
    db.prepare('UPDATE deletion_requests SET record_version = 1 WHERE contract = ?').run(contract.contract);
    db.close();
  });

  it('the manager approves: the contract, its records and every stored block are gone, and audited', async () => {
    const stores = join(e.dataDir, 'vault', 'stores');
    const before = blobsIn(stores);
    const after = await decideDeletion(e.transport, manager, contract, true);
    expect(after.deletedAt).not.toBeNull();
    expect(after.request).toMatchObject({ requestedBy: editor.account, decidedBy: manager.account, state: 'approved' });
    expect(before - blobsIn(stores)).toBe(6);
    expect((await listContracts(e.transport, viewer, space)).contracts).toEqual([]);
    expect(await relayCode(openContract(e.transport, viewer, e.caPem, space, contract.contract, new VersionMemory()))).toBe('E_NOT_FOUND');
    const auditor = e.auditor;
    const actions: { action: string; kind: string }[] = [];
    for (let start: number | null = 0; start !== null; ) {
      const page = (await e.transport.request('GET', `/api/audit/entries?start=${start}&limit=1000`, undefined, auditor.session)) as { entries: { entry: { action: string; target: string; signer: { kind: string } } | null }[]; nextStart: number | null };
      for (const x of page.entries) if (x.entry?.target === `contract:${contract.contract}`) actions.push({ action: x.entry.action, kind: x.entry.signer.kind });
      start = page.nextStart;
    }
    for (const expected of [
      { action: 'contract.delete-request', kind: 'account' },
      { action: 'contract.delete-request', kind: 'service' },
      { action: 'contract.delete-approve', kind: 'account' },
      { action: 'contract.delete', kind: 'service' },
    ]) expect(actions).toContainEqual(expected);
  });
});
