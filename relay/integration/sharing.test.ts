/**
 * One contract shared with one colleague outside its space, with the browser's protocol code
 * against the real relay over HTTPS: an editor wraps the contract's DEK to the colleague's
 * certified key; the colleague opens the fields and downloads the file, read only, and nothing
 * else of the space. Refused: an uncertified recipient and a viewer as sharer (in the client and
 * at the relay), and a malicious relay's planted or moved envelopes. After the share is removed,
 * the relay refuses the colleague the contract's records and blocks on the next request.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEK_ALGORITHM } from '../../shared/crypto/contract-keys';
import { importEnvelopePublicKey, sealEnvelope } from '../../shared/crypto/envelopes';
import { signStatement } from '../../shared/crypto/statements';
import type { RegisteredAccount } from '../../shared/protocol/account';
import { createContract, dekFromSpaceKey, listContracts, openContract, updateFields, VersionMemory, type OpenedContract } from '../../shared/protocol/contracts';
import { collectingSink, downloadFile, fetchManifest, uploadFile, type FileTransport } from '../../shared/protocol/files';
import { contractShares, dekContext, openSharedContract, shareContract, sharedWithMe, unshareContract } from '../../shared/protocol/sharing';
import { createSpace, grantAccess, verifiedWriters } from '../../shared/protocol/spaces';
import { EntriesPageSchema } from '../../shared/schemas/audit';
import type { ContractFields } from '../../shared/schemas/contract';
import { ENVELOPE_STATEMENT_TYPE, envelopeDigest, type EnvelopeWire } from '../../shared/schemas/keys';
import { codeOf, relayCode } from '../../shared/test-support/outcome';
import { startEnterprise, type Enterprise } from './enterprise-fixture';

let e: Enterprise;
let transport: FileTransport;
let manager: RegisteredAccount;
let editor: RegisteredAccount;
let viewer: RegisteredAccount;
let colleague: RegisteredAccount; // outside the space: the share's recipient
let other: RegisteredAccount; // outside the space, certified
let uncertified: RegisteredAccount;
let space: string;
let first: OpenedContract;
let second: OpenedContract;
let third: OpenedContract;

const fields: ContractFields = {
  title: '设备租赁合同 Equipment lease',
  counterparties: ['北京机械租赁有限公司'],
  amount: { value: '480000.00', currency: 'CNY' },
  dates: { signed: null, effective: '2026-09-01', expires: '2028-08-31' },
  status: 'draft',
  extra: {},
};
const annex = new Uint8Array(300_000).map((_, i) => (i * 31 + 7) & 0xff);
const target = () => ({ contract: first.contract, file: 'f-annex', version: 1 });

/** The relay's answers, rewritten: a malicious relay between the browser and the keys service. */
function rewriting(rewrite: (path: string, answer: any) => unknown): FileTransport {
  return {
    request: async (method, path, body, session) => rewrite(path, await transport.request(method, path, body, session)),
    putBytes: (path, bytes, session) => transport.putBytes(path, bytes, session),
    getBytes: (path, session) => transport.getBytes(path, session),
  };
}
const isDekList = (path: string) => path.startsWith('/api/keys/envelopes?purpose=dek');

/** A DEK envelope made outside shareContract, signed by `signer`, for `context`. */
async function craftShare(signer: RegisteredAccount, to: RegisteredAccount, dek: CryptoKey, context: ReturnType<typeof dekContext>) {
  const envelope = (await sealEnvelope(await importEnvelopePublicKey(to.envelope.spki), dek, context)) as EnvelopeWire;
  const signedBy = await signStatement(signer.signing.privateKey, { type: ENVELOPE_STATEMENT_TYPE, granter: signer.account, context, envelopeDigest: await envelopeDigest(envelope) });
  return { envelope, signedBy };
}

async function myAuditActions(me: RegisteredAccount): Promise<string[]> {
  const page = EntriesPageSchema.parse(await transport.request('GET', '/api/audit/entries/mine?start=0&limit=1000', undefined, me.session));
  return page.entries.flatMap((x) => (x.entry && x.entry.signer.kind === 'account' ? [x.entry.action] : []));
}

beforeAll(async () => {
  e = await startEnterprise();
  transport = e.transport as FileTransport;
  manager = await e.employee('li', '李四', { spaceManager: true });
  editor = await e.employee('chen', '陈五');
  viewer = await e.employee('zhang', '张三');
  colleague = await e.employee('zhao', '赵六');
  other = await e.employee('sun', '孙七');
  uncertified = await e.employee('wang', '王八', { certify: false });
  ({ space } = await createSpace(transport, manager, e.caPem, 'Leasing'));
  await grantAccess(transport, manager, e.caPem, space, editor.account, 'editor');
  await grantAccess(transport, manager, e.caPem, space, viewer.account, 'viewer');
  first = await createContract(transport, editor, e.caPem, space, fields);
  second = await createContract(transport, editor, e.caPem, space, { ...fields, title: 'Second lease' });
  third = await createContract(transport, editor, e.caPem, space, { ...fields, title: 'Third lease' });
  await uploadFile(transport, editor, first.dek, new Blob([annex]), target());
}, 240_000);
afterAll(async () => e?.close());

describe('sharing one contract with one colleague', () => {
  it('a writer shares it; the colleague opens its fields and downloads its file, verified, with the rollback memory', async () => {
    const { id } = await shareContract(transport, editor, e.caPem, first, colleague.account);
    expect(await sharedWithMe(transport, colleague)).toEqual([{ space, contract: first.contract, granter: editor.account, createdAt: expect.any(Number) }]);
    const memory = new VersionMemory();
    const opened = await openSharedContract(transport, colleague, e.caPem, space, first.contract, memory);
    expect([opened.fields, opened.fieldsVersion, opened.via, opened.sharedBy, opened.dek.extractable]).toEqual([fields, 1, 'share', editor.account, false]);

    const manifest = await fetchManifest(transport, colleague, target(), opened.writers);
    const out = collectingSink();
    await downloadFile(transport, colleague, opened.dek, manifest, target(), out.sink);
    expect(Buffer.from(out.bytes()).equals(Buffer.from(annex))).toBe(true);

    expect(await contractShares(transport, manager, first)).toEqual([{ id, recipient: colleague.account, granter: editor.account, createdAt: expect.any(Number), verified: true }]);
    expect(await myAuditActions(editor)).toContain('contract.share');

    // A newer version reaches the colleague; an older one served afterwards is a rollback.
    first = await updateFields(transport, editor, first, { ...fields, status: 'in-review' }, new VersionMemory());
    expect((await openSharedContract(transport, colleague, e.caPem, space, first.contract, memory)).fields.status).toBe('in-review');
    const v1 = await transport.request('GET', `/api/vault/contracts/${first.contract}/records/fields/1`, undefined, colleague.session);
    const rollBack = rewriting((path, answer) => (path.endsWith(`${first.contract}/records/fields/latest`) ? v1 : answer));
    expect(await codeOf(openSharedContract(rollBack, colleague, e.caPem, space, first.contract, memory))).toBe('E_ROLLBACK');
  });

  it('the colleague can neither write it, nor list the space, nor open another of its contracts, nor share it on', async () => {
    const opened = await openSharedContract(transport, colleague, e.caPem, space, first.contract, new VersionMemory());
    expect(await relayCode(updateFields(transport, colleague, opened, { ...fields, title: 'changed' }, new VersionMemory()))).toBe('E_FORBIDDEN');
    expect(await relayCode(uploadFile(transport, colleague, opened.dek, new Blob([annex]), { ...target(), file: 'f-mine' }))).toBe('E_FORBIDDEN');
    expect(await relayCode(listContracts(transport, colleague, space))).toBe('E_FORBIDDEN');
    expect(await relayCode(transport.request('GET', `/api/vault/contracts/${second.contract}/records/fields/latest`, undefined, colleague.session))).toBe('E_FORBIDDEN');
    expect(await relayCode(transport.request('GET', `/api/vault/contracts/${second.contract}/files`, undefined, colleague.session))).toBe('E_FORBIDDEN');
    expect(await codeOf(openSharedContract(transport, colleague, e.caPem, space, second.contract, new VersionMemory()))).toBe('E_CONTEXT');
    // Through the space key: there is no grant to open it with.
    expect(await codeOf(openContract(transport, colleague, e.caPem, space, first.contract, new VersionMemory()))).toBe('E_CONTEXT');
    expect(await codeOf(shareContract(transport, colleague, e.caPem, opened, other.account))).toBe('E_CONTEXT');
  });

  it('refuses an uncertified recipient in the client and at the relay', async () => {
    expect(await codeOf(shareContract(transport, editor, e.caPem, first, uncertified.account))).toBe('E_CONTEXT');
    // A client that skipped the check meets the relay's.
    const writers = await verifiedWriters(transport, editor, e.caPem, space);
    const dek = await dekFromSpaceKey(transport, editor, e.caPem, space, first.contract, writers, { extractable: true });
    const body = await craftShare(editor, uncertified, dek, dekContext(uncertified.account, first.contract, space));
    expect(await relayCode(transport.request('POST', '/api/keys/envelopes', body, editor.session))).toBe('E_NOT_CERTIFIED');
  });

  it('refuses a viewer as sharer in the client and at the relay', async () => {
    const opened = await openContract(transport, viewer, e.caPem, space, first.contract, new VersionMemory());
    expect(await codeOf(shareContract(transport, viewer, e.caPem, opened, other.account))).toBe('E_CONTEXT');
    const dek = await dekFromSpaceKey(transport, viewer, e.caPem, space, first.contract, opened.writers, { extractable: true });
    const body = await craftShare(viewer, other, dek, dekContext(other.account, first.contract, space));
    expect(await relayCode(transport.request('POST', '/api/keys/envelopes', body, viewer.session))).toBe('E_FORBIDDEN');
    expect(await sharedWithMe(transport, other)).toEqual([]);
  });

  it('refuses envelopes the relay planted or moved, and passes over a planted one beside the genuine share', async () => {
    const genuine = (await transport.request('GET', `/api/keys/envelopes?purpose=dek&space=${space}&contract=${first.contract}`, undefined, colleague.session)) as any;
    const entry = genuine.envelopes[0];
    const relayDek = (await crypto.subtle.generateKey(DEK_ALGORITHM, true, ['sign'])) as CryptoKey;
    const context = dekContext(colleague.account, first.contract, space);
    const serve = (...entries: unknown[]) => rewriting((path, answer) => (isDekList(path) ? { envelopes: entries } : answer));
    const open = (t: FileTransport) => codeOf(openSharedContract(t, colleague, e.caPem, space, first.contract, new VersionMemory()));

    // Wrapped to the colleague's real key, but the key is the relay's, signed by a certified viewer or an outsider.
    for (const signer of [viewer, other]) {
      const planted = await craftShare(signer, colleague, relayDek, context);
      expect(await open(serve({ ...entry, granter: editor.account, envelope: planted.envelope, signedBy: planted.signedBy }))).toBe('E_SIGNATURE');
    }
    // The editor's genuine statement with the relay's wrapped key: the digest does not match.
    const swapped = await craftShare(viewer, colleague, relayDek, context);
    expect(await open(serve({ ...entry, envelope: swapped.envelope }))).toBe('E_CONTEXT');
    // A genuine share of another contract, served for this one.
    await shareContract(transport, editor, e.caPem, third, colleague.account);
    const ofThird = (await transport.request('GET', `/api/keys/envelopes?purpose=dek&space=${space}&contract=${third.contract}`, undefined, colleague.session)) as any;
    expect(await open(serve({ ...ofThird.envelopes[0], contract: first.contract }))).toBe('E_CONTEXT');
    // Its context re-labelled to this contract: the signed statement still names the other one.
    const relabelled = { ...ofThird.envelopes[0], envelope: { ...ofThird.envelopes[0].envelope, context } };
    expect(await open(serve(relabelled))).toBe('E_CONTEXT');
    // The relay drops the writer's signed grant it relies on: nobody is a writer but the manager.
    const noWriters = rewriting((path, answer) => (path.startsWith('/api/keys/grants?') ? { ...answer, grants: answer.grants.filter((g: any) => g.member !== editor.account) } : answer));
    expect(await open(noWriters)).toBe('E_SIGNATURE');
    // A planted envelope beside the genuine one is passed over; the contract opens from the genuine one.
    const planted = await craftShare(other, colleague, relayDek, context);
    const both = serve({ ...entry, id: 'planted', createdAt: entry.createdAt + 1000, envelope: planted.envelope, signedBy: planted.signedBy }, entry);
    expect((await openSharedContract(both, colleague, e.caPem, space, first.contract, new VersionMemory())).fields.title).toBe(fields.title);
  });

  it('after the share is removed the colleague gets 403 on the records and blocks, from the next request on', async () => {
    const [share] = await contractShares(transport, editor, first);
    expect(share).toBeDefined();
    const blockPath = `/api/vault/files/f-annex/versions/1/blocks/0`;
    expect((await transport.getBytes(blockPath, colleague.session)).length).toBeGreaterThan(0);
    // A viewer may not remove it; its granter may.
    expect(await relayCode(unshareContract(transport, viewer, first, share!))).toBe('E_FORBIDDEN');
    await unshareContract(transport, editor, first, share!);
    expect(await myAuditActions(editor)).toContain('contract.unshare');
    expect(await contractShares(transport, editor, first)).toEqual([]);
    expect(await relayCode(transport.request('GET', `/api/vault/contracts/${first.contract}/records/fields/latest`, undefined, colleague.session))).toBe('E_FORBIDDEN');
    expect(await relayCode(transport.getBytes(blockPath, colleague.session))).toBe('E_FORBIDDEN');
    expect(await relayCode(transport.request('GET', `/api/vault/files/f-annex/versions/1/manifest`, undefined, colleague.session))).toBe('E_FORBIDDEN');
    expect((await sharedWithMe(transport, colleague)).map((s) => s.contract)).toEqual([third.contract]);
    expect(await relayCode(openSharedContract(transport, colleague, e.caPem, space, first.contract, new VersionMemory()))).toBe('E_CONTEXT');
    // The space's manager removes a share someone else made.
    const [ofThird] = await contractShares(transport, manager, third);
    await unshareContract(transport, manager, third, ofThird!);
    expect(await sharedWithMe(transport, colleague)).toEqual([]);
  });
});
