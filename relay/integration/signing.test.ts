/**
 * Signing with the real PAdES core through the whole stack (the browser's protocol code against
 * the relay over HTTPS): a company seal whose use needs a manager's approval, a contract signed by
 * two employees in order, the second one also applying the seal, and the final PDF checked by our
 * verifier, poppler's pdfsig and OpenSSL. Refused: a seal applied by someone who is not its user
 * (its manager included) or without the approval, a step out of order, a PDF changed after
 * signing, and a signature whose certificate was revoked afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toBase64 } from '../../shared/crypto/encoding';
import { verifyPdfSignatures } from '../../shared/pdf/verify';
import { solidPng, twoPagePdf } from '../../shared/pdf/test-support';
import type { RegisteredAccount, UnlockedAccount } from '../../shared/protocol/account';
import { shareEnterpriseCaKey } from '../../shared/protocol/certification';
import { createContract, openContract, VersionMemory, type OpenedContract } from '../../shared/protocol/contracts';
import { collectingSink, downloadFile, fetchManifest, uploadFile, type FileTransport } from '../../shared/protocol/files';
import { revokedCertificates } from '../../shared/protocol/revocations';
import { approveSeal, approveSealUse, listSealUseRequests, openSealKey, requestSeal, requestSealUse } from '../../shared/protocol/seals';
import { cancelSigning, fileDigest, loadSigningFlow, startSigningFlow, type SigningField } from '../../shared/protocol/signing';
import { signStatement } from '../../shared/crypto/statements';
import { SIGNING_STEP_TYPE } from '../../shared/schemas/signing';
import { signTurn } from '../../shared/protocol/signing-turn';
import { createSpace, grantAccess } from '../../shared/protocol/spaces';
import { nssDatabaseTrusting, opensslVerifies, pdfsig, requirePdfTools } from '../../shared/test-support/pdf-tools';
import { codeOf, relayCode } from '../../shared/test-support/outcome';
import { auditLogOf, withoutOutcome } from './audit-log';
import { startEnterprise, type Enterprise } from './enterprise-fixture';

let e: Enterprise;
let t: FileTransport;
let sec2: RegisteredAccount;
let mark: RegisteredAccount; // the seal's manager
let alice: RegisteredAccount; // the seal's auditor
let mona: RegisteredAccount; // space manager
let eddie: RegisteredAccount; // editor, initiator
let sam: RegisteredAccount; // signer 1
let sue: RegisteredAccount; // signer 2, the seal's user
let sealId: string;
let contract: string;
let space: string;
const FILE = 'f-contract-pdf';
const opened = new Map<string, OpenedContract>();

const field = (id: string, signer: string, kind: SigningField['kind'], y: number, seal?: string): SigningField => ({
  id,
  signer,
  kind,
  page: 0,
  x: 0.1,
  y,
  width: 0.25,
  height: 0.08,
  ...(seal ? { seal } : {}),
});

let red: Uint8Array;
const turn = (who: UnlockedAccount, flow: Awaited<ReturnType<typeof loadSigningFlow>>) => signTurn(t, who, e.caPem, opened.get(who.account)!, flow, { stampFor: async () => red });
const load = (who: UnlockedAccount, flow: string) => loadSigningFlow(t, who, opened.get(who.account)!, flow);

async function plaintext(who: UnlockedAccount, version: number): Promise<Uint8Array> {
  const target = { contract, file: FILE, version };
  const out = collectingSink();
  await downloadFile(t, who, opened.get(who.account)!.dek, await fetchManifest(t, who, target, opened.get(who.account)!.writers), target, out.sink);
  return out.bytes();
}

beforeAll(async () => {
  requirePdfTools();
  e = await startEnterprise('Signing Test Co');
  t = e.transport;
  sec2 = await e.employee('sec2', 'Second Security', { roles: ['security-admin'] });
  await shareEnterpriseCaKey(t, e.sec, e.caPem, sec2.account);
  mark = await e.employee('mark', 'Mark Sealkeeper');
  alice = await e.employee('alice', 'Alice Auditor');
  mona = await e.employee('mona', 'Mona Manager', { spaceManager: true });
  eddie = await e.employee('eddie', 'Eddie Editor');
  sam = await e.employee('sam', 'Sam Signer');
  sue = await e.employee('sue', 'Sue Signer');
  red = await solidPng(8, 4, [200, 20, 20, 255]);

  const seal = await requestSeal(t, mark, e.caPem, {
    type: 'company',
    name: 'Signing Test Co company seal',
    stampPng: toBase64(await solidPng(8, 8, [210, 0, 0, 255])),
    managers: [mark.account],
    users: [sue.account],
    auditors: [alice.account],
    useNeedsApproval: true,
  });
  sealId = (await approveSeal(t, sec2, e.caPem, seal.id)).id;

  ({ space } = await createSpace(t, mona, e.caPem, 'Sales'));
  await grantAccess(t, mona, e.caPem, space, eddie.account, 'editor');
  await grantAccess(t, mona, e.caPem, space, sam.account, 'signer');
  await grantAccess(t, mona, e.caPem, space, sue.account, 'signer');
  const created = await createContract(t, eddie, e.caPem, space, { title: 'Supply agreement', counterparties: ['Acme'], status: 'signing', amount: null, dates: { signed: null, effective: null, expires: null }, extra: {} });
  contract = created.contract;
  opened.set(eddie.account, created);
  await uploadFile(t, eddie, created.dek, new Blob([(await twoPagePdf()) as Uint8Array<ArrayBuffer>]), { contract, file: FILE, version: 1 });
  for (const who of [sam, sue, mona]) opened.set(who.account, await openContract(t, who, e.caPem, space, contract, new VersionMemory()));
}, 300_000);
afterAll(async () => e?.close());

describe('a contract signed by two employees in order, one of them applying the company seal', () => {
  let flowId: string;
  let signed: Uint8Array;

  it('refuses the seal to its manager and to a signer who is not its user', async () => {
    expect(await codeOf(openSealKey(t, mark, e.caPem, sealId))).toBe('E_CONTEXT');
    expect(await relayCode(t.request('GET', `/api/keys/seals/${sealId}/key`, undefined, mark.session))).toBe('E_FORBIDDEN');
    expect(await codeOf(openSealKey(t, sam, e.caPem, sealId))).toBe('E_CONTEXT');
  });

  it('signs in order; the seal waits for a manager to approve its use; three PAdES signatures verify here, in pdfsig and in OpenSSL', async () => {
    const flow = await startSigningFlow(t, eddie, opened.get(eddie.account)!, {
      file: FILE,
      order: 'sequential',
      signers: [{ account: sam.account }, { account: sue.account }],
      fields: [field('sam-sign', sam.account, 'signature', 0.6), field('sam-date', sam.account, 'date', 0.7), field('sue-sign', sue.account, 'signature', 0.8), field('sue-seal', sue.account, 'seal', 0.1, sealId)],
    });
    flowId = flow.id;

    // Sue first: out of order, nothing is uploaded.
    expect(await codeOf(turn(sue, await load(sue, flowId)))).toBe('E_CONTEXT');
    await turn(sam, await load(sam, flowId));

    // Sue's turn, but the seal's use is not approved yet: refused before anything is uploaded.
    expect(await codeOf(turn(sue, await load(sue, flowId)))).toBe('E_CONTEXT');
    expect((await load(sue, flowId)).chain.map((c) => c.version)).toEqual([1, 2]);
    const asked = await requestSealUse(t, sue, sealId, { contract, flow: flowId });
    // A user cannot approve their own use; the manager can.
    expect(await codeOf(approveSealUse(t, sue, e.caPem, sealId, asked.id))).toBe('E_CONTEXT');
    await approveSealUse(t, mark, e.caPem, sealId, asked.id);
    expect((await listSealUseRequests(t, mark, sealId, { contract, flow: flowId }))[0]?.approval).not.toBeNull();

    const done = await turn(sue, await load(sue, flowId));
    expect(done.state).toBe('completed');
    const verified = await load(mona, flowId);
    expect(verified.steps.map((s) => [s.signer, s.seals, s.sealApprovals])).toEqual([
      [sam.account, [], []],
      [sue.account, [sealId], [asked.id]],
    ]);

    signed = await plaintext(mona, 3);
    const reports = await verifyPdfSignatures(signed, { caCertificatePem: e.caPem, revoked: await revokedCertificates(t, mona) });
    expect(reports.map((r) => [r.signer.kind, r.signer.account ?? r.signer.seal, r.status])).toEqual([
      ['employee', sam.account, 'valid'],
      ['employee', sue.account, 'valid'],
      ['seal', sealId, 'valid'],
    ]);
    expect(reports[2]!.signer.sealType).toBe('company');

    const nss = nssDatabaseTrusting(e.caPem);
    expect(pdfsig(signed, nss).map((v) => [v.signatureValidation, v.certificateValidation])).toEqual([
      ['Signature is Valid.', 'Certificate is Trusted.'],
      ['Signature is Valid.', 'Certificate is Trusted.'],
      ['Signature is Valid.', 'Certificate is Trusted.'],
    ]);
    for (const r of reports) expect(opensslVerifies(signed, r.byteRange, e.caPem)).toBe(true);

    // Every step is in the audit log, signed by its actor (account) or observed by the service.
    const flowLog = withoutOutcome(await auditLogOf(t, e.auditor.session, `contract:${contract}/signing:${flowId}`));
    for (const expected of [
      { action: 'signing.start', kind: 'account', actor: eddie.account },
      { action: 'signing.start', kind: 'service', actor: eddie.account },
      { action: 'signing.download', kind: 'account', actor: sam.account },
      { action: 'signing.sign', kind: 'account', actor: sam.account },
      { action: 'signing.sign', kind: 'service', actor: sam.account },
      { action: 'signing.sign', kind: 'account', actor: sue.account },
      { action: 'signing.complete', kind: 'service', actor: sue.account },
    ]) expect(flowLog).toContainEqual(expected);
    const sealEntries = await auditLogOf(t, e.auditor.session, `seal:${sealId}`);
    const sealLog = withoutOutcome(sealEntries);
    const refusedOf = new Set(sealEntries.filter((x) => x.outcome === 'refused').map((x) => `${x.action} ${x.actor}`));
    for (const expected of [
      { action: 'seal.request', kind: 'account', actor: mark.account },
      { action: 'seal.approve', kind: 'account', actor: sec2.account },
      { action: 'seal.activate', kind: 'service', actor: sec2.account },
      { action: 'seal.use-request', kind: 'account', actor: sue.account },
      { action: 'seal.use-approve', kind: 'account', actor: mark.account },
      { action: 'seal.use', kind: 'account', actor: sue.account },
      // The keys service logs every time the seal's key leaves it, and every refused attempt.
      { action: 'seal.key-read', kind: 'service', actor: sue.account },
      { action: 'seal.key-read', kind: 'service', actor: mark.account },
    ]) expect(sealLog).toContainEqual(expected);
    expect(refusedOf.has(`seal.key-read ${mark.account}`)).toBe(true);
    expect(refusedOf.has(`seal.key-read ${sue.account}`)).toBe(false);
  });

  it('shows a PDF changed after signing as invalid', async () => {
    const reports = await verifyPdfSignatures(signed, { caCertificatePem: e.caPem, revoked: new Map() });
    const tampered = new Uint8Array(signed);
    // A byte of the first revision's content, covered by all three signatures.
    const at = Math.floor(reports[0]!.byteRange[1] / 2);
    tampered[at] = tampered[at]! ^ 0x20;
    expect((await verifyPdfSignatures(tampered, { caCertificatePem: e.caPem, revoked: new Map() })).map((r) => r.status)).toEqual(['invalid', 'invalid', 'invalid']);
  });

  it('shows a signature whose certificate was revoked afterwards as invalid', async () => {
    // Sam's legal name changes: the security administrator approves, which revokes his certificate.
    const request = (await t.request('POST', '/api/directory/account-requests', { kind: 'profile', account: sam.account, legalName: 'Sam Signer-Renamed' }, sam.session)) as { id: string };
    await t.request('POST', `/api/directory/account-requests/${request.id}/approve`, undefined, e.sec.session);
    const revoked = await revokedCertificates(t, mona);
    const reports = await verifyPdfSignatures(signed, { caCertificatePem: e.caPem, revoked });
    expect(reports.map((r) => r.status)).toEqual(['invalid', 'valid', 'valid']);
    expect(reports[0]!.problems.join(' ')).toMatch(/revoked/);
  });

  it('the vault refuses a step that applies the seal without an approved use request of the signer', async () => {
    const file = 'f-unapproved';
    const base = await twoPagePdf();
    await uploadFile(t, eddie, opened.get(eddie.account)!.dek, new Blob([base as Uint8Array<ArrayBuffer>]), { contract, file, version: 1 });
    const flow = await startSigningFlow(t, eddie, opened.get(eddie.account)!, { file, order: 'sequential', signers: [{ account: sue.account }], fields: [field('only-seal', sue.account, 'seal', 0.1, sealId)] });
    // A modified client: it uploads the next version and posts its step, naming no approval or one that does not exist.
    const changed = new Uint8Array([...base, ...new TextEncoder().encode('\n% stamped without approval\n')]);
    await uploadFile(t, sue, opened.get(sue.account)!.dek, new Blob([changed]), { contract, file, version: 2 });
    const step = async (sealApprovals: string[]) =>
      signStatement(sue.signing.privateKey, {
        type: SIGNING_STEP_TYPE, flow: flow.id, contract, file, versionBefore: 1, versionAfter: 2,
        hashBefore: await fileDigest(opened.get(sue.account)!.dek, base), hashAfter: await fileDigest(opened.get(sue.account)!.dek, changed), fields: ['only-seal'], seals: [sealId], signer: sue.account, sealApprovals,
      });
    expect(await relayCode(t.request('POST', `/api/vault/signing-flows/${flow.id}/steps`, { step: await step([]) }, sue.session))).toBe('E_SEAL_APPROVAL');
    expect(await relayCode(t.request('POST', `/api/vault/signing-flows/${flow.id}/steps`, { step: await step(['made-up-request']) }, sue.session))).toBe('E_SEAL_APPROVAL');
    // The approval of another flow does not count either.
    const other = (await listSealUseRequests(t, sue, sealId, { contract, flow: flowId }))[0]!;
    expect(await relayCode(t.request('POST', `/api/vault/signing-flows/${flow.id}/steps`, { step: await step([other.id]) }, sue.session))).toBe('E_SEAL_APPROVAL');
    expect((await load(eddie, flow.id)).steps).toEqual([]);
    await cancelSigning(t, eddie, opened.get(eddie.account)!, await load(eddie, flow.id));
  });
});
