/**
 * Contracts with the browser's protocol code against the real relay over HTTPS: created by an
 * editor with its fields sealed under a DEK that exists unwrapped only in memory, opened by a
 * viewer; new versions keep the old; and a malicious relay refused: a record of another
 * contract, a record signed by an account without write access, a rolled-back version.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveRecordKey } from '../../shared/crypto/contract-keys';
import { sealRecord } from '../../shared/crypto/records';
import { signRecord } from '../../shared/formats/record-statement';
import type { RegisteredAccount } from '../../shared/protocol/account';
import { createContract, listContracts, openContract, updateFields, VersionMemory, type OpenedContract } from '../../shared/protocol/contracts';
import type { RelayTransport } from '../../shared/protocol/relay-transport';
import { createSpace, grantAccess } from '../../shared/protocol/spaces';
import type { ContractFields } from '../../shared/schemas/contract';
import { codeOf } from '../../shared/test-support/outcome';
import { startEnterprise, type Enterprise } from './enterprise-fixture';

let e: Enterprise;
let manager: RegisteredAccount;
let editor: RegisteredAccount;
let viewer: RegisteredAccount;
let outsider: RegisteredAccount;
let space: string;
let first: OpenedContract;
let second: OpenedContract;

const fields: ContractFields = {
  title: '钢材采购合同 Steel supply 2026',
  counterparties: ['上海钢铁有限公司', 'Acme Steel GmbH'],
  amount: { value: '1250000.00', currency: 'CNY' },
  dates: { signed: null, effective: '2026-12-01', expires: '2027-11-30' },
  status: 'draft',
  extra: { 'Payment terms': '30 days net' },
};

function rewriting(rewrite: (path: string, answer: any) => unknown): RelayTransport {
  return { request: async (method, path, body, session) => rewrite(path, await e.transport.request(method, path, body, session)) };
}

beforeAll(async () => {
  e = await startEnterprise();
  manager = await e.employee('li', '李四', { spaceManager: true });
  editor = await e.employee('chen', '陈五');
  viewer = await e.employee('zhang', '张三');
  outsider = await e.employee('zhao', '赵六', { spaceManager: true });
  ({ space } = await createSpace(e.transport, manager, e.caPem, 'Purchasing'));
  await grantAccess(e.transport, manager, e.caPem, space, editor.account, 'editor');
  await grantAccess(e.transport, manager, e.caPem, space, viewer.account, 'viewer');
}, 180_000);
afterAll(async () => e?.close());

describe('contracts in the browser protocol', () => {
  it('an editor creates contracts whose fields a viewer opens; the relay lists only ids', async () => {
    first = await createContract(e.transport, editor, e.caPem, space, fields);
    second = await createContract(e.transport, editor, e.caPem, space, { ...fields, title: 'Logistics framework', counterparties: ['顺丰速运'] });
    expect(first.dek.extractable).toBe(false);
    const list = await listContracts(e.transport, viewer, space);
    expect(list.contracts.map((c) => c.contract).sort()).toEqual([first.contract, second.contract].sort());
    expect(JSON.stringify(list)).not.toContain('Steel');
    const opened = await openContract(e.transport, viewer, e.caPem, space, first.contract, new VersionMemory());
    expect(opened.fields).toEqual(fields);
    expect(opened.fieldsVersion).toBe(1);
  });

  it('opens many contracts of one space with one grant check and one space-key unwrap per key version', async () => {
    const grantsFetched: string[] = [];
    const counting: RelayTransport = {
      request: async (method, path, body, session) => {
        if (path.startsWith('/api/keys/grants?')) grantsFetched.push(path);
        return e.transport.request(method, path, body, session);
      },
    };
    const writers = (await openContract(e.transport, viewer, e.caPem, space, first.contract, new VersionMemory())).writers;
    const spaceKeys = new Map();
    const opened = await Promise.all([first, second].map((c) => openContract(counting, viewer, e.caPem, space, c.contract, new VersionMemory(), writers, spaceKeys)));
    expect(opened.map((o) => o.fields.title)).toEqual([fields.title, 'Logistics framework']);
    expect(grantsFetched).toHaveLength(1);
  });

  it('keeps old versions when fields change, and refuses a version older than one already seen', async () => {
    const memory = new VersionMemory();
    await openContract(e.transport, viewer, e.caPem, space, first.contract, memory);
    first = await updateFields(e.transport, editor, first, { ...fields, status: 'in-review' }, new VersionMemory());
    const newer = await openContract(e.transport, viewer, e.caPem, space, first.contract, memory);
    expect([newer.fieldsVersion, newer.fields.status]).toEqual([2, 'in-review']);
    const v1 = await e.transport.request('GET', `/api/vault/contracts/${first.contract}/records/fields/1`, undefined, viewer.session);
    const rollBack = rewriting((path, answer) => (path.endsWith(`${first.contract}/records/fields/latest`) ? v1 : answer));
    expect(await codeOf(openContract(rollBack, viewer, e.caPem, space, first.contract, memory))).toBe('E_ROLLBACK');
  });

  it("refuses a record of another contract and a record signed by someone who may not write", async () => {
    const otherFields = await e.transport.request('GET', `/api/vault/contracts/${second.contract}/records/fields/latest`, undefined, viewer.session);
    const swap = rewriting((path, answer) => (path.endsWith(`${first.contract}/records/fields/latest`) ? otherFields : answer));
    expect(await codeOf(openContract(swap, viewer, e.caPem, space, first.contract, new VersionMemory()))).toBe('E_CONTEXT');

    // The viewer knows the DEK and seals a plausible record; the relay serves it as the editor's.
    const planted = await sealRecord(await deriveRecordKey(first.dek), { kind: 'fields', contract: first.contract, version: 9 }, { ...fields, title: 'planted' });
    const signed = await signRecord(viewer.signing.privateKey, viewer.account, planted);
    const plant = rewriting((path, answer) => (path.endsWith(`${first.contract}/records/fields/latest`) ? { record: planted, signed } : answer));
    expect(await codeOf(openContract(plant, viewer, e.caPem, space, first.contract, new VersionMemory()))).toBe('E_SIGNATURE');
    // And the relay itself refuses to store it from a viewer.
    expect(await e.transport.request('PUT', `/api/vault/contracts/${first.contract}/records/fields/9`, { record: planted, signed }, viewer.session).then(() => 'stored', (err) => err.code)).toMatch(/^E_(FORBIDDEN|NOT_FOUND)$/);
  });

  it('an employee of another space can neither list nor open the contracts', async () => {
    expect(await e.transport.request('GET', `/api/vault/contracts?space=${space}`, undefined, outsider.session).then(() => 'listed', (err) => err.code)).toMatch(/^E_(FORBIDDEN|NOT_FOUND)$/);
    const opened = await openContract(e.transport, outsider, e.caPem, space, first.contract, new VersionMemory()).then(() => 'opened', (err) => err.code);
    expect(opened).toMatch(/^E_(FORBIDDEN|NOT_FOUND)$/);
  });
});
