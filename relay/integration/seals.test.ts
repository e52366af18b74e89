/**
 * Seals end to end with the browser's protocol code against the real relay over HTTPS: an
 * employee asks, a second security administrator (certified, holding the CA key) approves in the
 * browser, a user opens the seal key and signs something the certificate verifies, use approvals
 * by a manager, disable and destroy with four eyes. Refused: powers mixed up (a manager asking
 * for the key, an outsider, one person on two lists), a second company seal, approvals by the
 * requester or a non-administrator, and a malicious relay's planted envelope, certificate or
 * approval.
 */
import Database from 'better-sqlite3';
import { X509Certificate as NodeCertificate, createPublicKey, verify as nodeVerify } from 'node:crypto';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toBase64 } from '../../shared/crypto/encoding';
import { importEnvelopePublicKey, sealEnvelope } from '../../shared/crypto/envelopes';
import { signStatement } from '../../shared/crypto/statements';
import { createEnterpriseCa } from '../../shared/pki/enterprise-ca';
import { issueSealCertificate } from '../../shared/pki/seal-certificate';
import type { RegisteredAccount } from '../../shared/protocol/account';
import { shareEnterpriseCaKey } from '../../shared/protocol/certification';
import type { RelayTransport } from '../../shared/protocol/relay-transport';
import {
  approveSeal,
  approveSealUse,
  checkSealUseApproval,
  decideSealAction,
  getSeal,
  listSeals,
  listSealUseRequests,
  openSealKey,
  rejectSeal,
  requestSeal,
  requestSealAction,
  requestSealUse,
  sealHistory,
  sealKeyContext,
  sealRevocations,
  type SealRequestInput,
} from '../../shared/protocol/seals';
import { EntriesPageSchema } from '../../shared/schemas/audit';
import { SEAL_REQUEST_TYPE, SEAL_USE_APPROVAL_TYPE, stampDigest } from '../../shared/schemas/seals';
import { codeOf, relayCode } from '../../shared/test-support/outcome';
import { startEnterprise, type Enterprise } from './enterprise-fixture';

let e: Enterprise;
let t: RelayTransport;
let sec2: RegisteredAccount; // certified security administrator holding the CA key
let manager: RegisteredAccount;
let user: RegisteredAccount;
let user2: RegisteredAccount;
let auditor: RegisteredAccount;
let outsider: RegisteredAccount;

/** A real 4x4 RGBA PNG (colour type 6), made here byte by byte. */
function stampPng(): string {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const out = Buffer.alloc(8 + data.length + 4);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), 8 + data.length);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(4, 0);
  ihdr.writeUInt32BE(4, 4);
  ihdr.set([8, 6, 0, 0, 0], 8);
  const raw = Buffer.concat(Array.from({ length: 4 }, () => Buffer.from([0, ...Array.from({ length: 4 }, () => [208, 2, 27, 255]).flat()])));
  const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
  return toBase64(png);
}

const input = (o: Partial<SealRequestInput> = {}): SealRequestInput => ({
  type: 'contract',
  name: '示例科技合同专用章',
  stampPng: stampPng(),
  managers: [manager.account],
  users: [user.account, user2.account],
  auditors: [auditor.account],
  useNeedsApproval: true,
  ...o,
});

/** The relay's answers, rewritten: a malicious relay between the browser and the keys service. */
function rewriting(rewrite: (path: string, answer: any) => Promise<unknown> | unknown): RelayTransport {
  return { request: async (method, path, body, session) => rewrite(path, await t.request(method, path, body, session)) };
}

async function myAuditActions(me: RegisteredAccount): Promise<string[]> {
  const page = EntriesPageSchema.parse(await t.request('GET', '/api/audit/entries/mine?start=0&limit=1000', undefined, me.session));
  return page.entries.flatMap((x) => (x.entry && x.entry.signer.kind === 'account' ? [x.entry.action] : []));
}

beforeAll(async () => {
  e = await startEnterprise();
  t = e.transport;
  sec2 = await e.employee('sec2', '钱安全', { roles: ['security-admin'] });
  await shareEnterpriseCaKey(t, e.sec, e.caPem, sec2.account);
  manager = await e.employee('li', '李四');
  user = await e.employee('chen', '陈五');
  user2 = await e.employee('zhou', '周九');
  auditor = await e.employee('zhang', '张三');
  outsider = await e.employee('sun', '孙七');
}, 300_000);
afterAll(async () => e?.close());

describe('a seal from request to destruction', () => {
  let id: string;

  it('is asked for, approved by a security administrator, and its user signs with a key the certificate verifies', async () => {
    const requested = await requestSeal(t, manager, e.caPem, input());
    id = requested.id;
    expect([requested.status, requested.certificate, requested.requester]).toEqual(['requested', null, manager.account]);
    expect((await listSeals(t, sec2)).map((s) => s.id)).toContain(id);
    expect(await listSeals(t, outsider)).toEqual([]);

    const steps: string[] = [];
    const active = await approveSeal(t, sec2, e.caPem, id, (s) => steps.push(s));
    expect(active.status).toBe('active');
    expect(steps).toEqual(['verify', 'ca-key', 'generate', 'certificate', 'envelopes', 'store']);

    const opened = await openSealKey(t, user, e.caPem, id);
    expect([opened.privateKey.extractable, opened.privateKey.usages, opened.seal.id]).toEqual([false, ['sign'], id]);
    const data = new TextEncoder().encode('合同 v3 sealed');
    const signature = new Uint8Array(await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, opened.privateKey, data));
    // Checked by OpenSSL (node:crypto) with the certificate's key, the certificate issued by the enterprise CA.
    const cert = new NodeCertificate(opened.certificatePem);
    expect(cert.verify(new NodeCertificate(e.caPem).publicKey)).toBe(true);
    expect(cert.subject).toContain(`UID=seal:${id}`);
    expect(nodeVerify('sha256', data, { key: createPublicKey(cert.publicKey.export({ type: 'spki', format: 'pem' })), dsaEncoding: 'ieee-p1363' }, signature)).toBe(true);
    // The second user holds the key too.
    expect((await openSealKey(t, user2, e.caPem, id)).serial).toBe(opened.serial);

    expect(await myAuditActions(manager)).toContain('seal.request');
    expect(await myAuditActions(sec2)).toContain('seal.approve');
  });

  it('gives the key to its users only: a manager, an auditor and an outsider are refused at the relay and in the client', async () => {
    expect(await relayCode(t.request('GET', `/api/keys/seals/${id}/key`, undefined, manager.session))).toBe('E_FORBIDDEN');
    expect(await relayCode(t.request('GET', `/api/keys/seals/${id}/key`, undefined, auditor.session))).toBe('E_FORBIDDEN');
    // An active seal is listed to everyone (initiators pick it, signers check its steps); its key is not.
    expect(await relayCode(t.request('GET', `/api/keys/seals/${id}/key`, undefined, outsider.session))).toBe('E_FORBIDDEN');
    expect(await codeOf(openSealKey(t, manager, e.caPem, id))).toBe('E_CONTEXT');
    expect(await codeOf(openSealKey(t, outsider, e.caPem, id))).toBe('E_CONTEXT');
    expect((await listSeals(t, outsider)).map((s) => s.id)).toContain(id);
    const requested = await requestSeal(t, manager, e.caPem, input({ name: 'Not yet approved', type: 'contract' }));
    expect((await listSeals(t, outsider)).map((s) => s.id)).not.toContain(requested.id);
    expect(await relayCode(t.request('GET', `/api/keys/seals/${requested.id}`, undefined, outsider.session))).toBe('E_NOT_FOUND');
  });

  it('shows its history to its managers and auditors only', async () => {
    const history = await sealHistory(t, auditor, id);
    expect(history.map((h) => [h.kind, h.actor])).toEqual([
      ['request', manager.account],
      ['approval', sec2.account],
    ]);
    expect((await sealHistory(t, manager, id)).length).toBe(2);
    expect(await relayCode(sealHistory(t, user, id))).toBe('E_FORBIDDEN');
  });

  it('needs a manager’s approval to be used when the request says so', async () => {
    const seal = await getSeal(t, user, id);
    const use = { contract: 'contract-1', flow: 'flow-1', user: user.account };
    expect(await codeOf(checkSealUseApproval(t, user, e.caPem, seal, use))).toBe('E_CONTEXT');
    const asked = await requestSealUse(t, user, id, use);
    expect(await codeOf(checkSealUseApproval(t, user, e.caPem, seal, use))).toBe('E_CONTEXT');

    // Not a manager: refused in the client, and at the relay for a client that skipped the check.
    expect(await codeOf(approveSealUse(t, user2, e.caPem, id, asked.id))).toBe('E_CONTEXT');
    const forged = await signStatement(user2.signing.privateKey, { type: SEAL_USE_APPROVAL_TYPE, seal: id, request: asked.id, ...use, approver: user2.account });
    expect(await relayCode(t.request('POST', `/api/keys/seals/${id}/use-requests/${asked.id}/approve`, { approval: forged }, user2.session))).toBe('E_FORBIDDEN');
    // ... and an approval by a non-manager carried in a step is not accepted either.
    expect(await codeOf(checkSealUseApproval(t, user, e.caPem, seal, use, forged))).toBe('E_CONTEXT');

    await approveSealUse(t, manager, e.caPem, id, asked.id);
    const approval = await checkSealUseApproval(t, user, e.caPem, seal, use);
    expect(approval?.statement).toMatchObject({ seal: id, contract: 'contract-1', flow: 'flow-1', user: user.account, approver: manager.account });
    // It is for this contract and flow only.
    expect(await codeOf(checkSealUseApproval(t, user, e.caPem, seal, { ...use, flow: 'flow-2' }))).toBe('E_CONTEXT');
    expect((await listSealUseRequests(t, manager, id)).map((r) => r.id)).toEqual([asked.id]);
    expect(await myAuditActions(manager)).toContain('seal.use-approve');
  });

  it('is disabled on a manager’s request and an administrator’s decision, then serves no key', async () => {
    await requestSealAction(t, manager, id, 'disable', 'the seal was lost');
    // Someone on the lists, or the asker, cannot decide; nor someone who is no security administrator.
    expect(await relayCode(t.request('POST', `/api/keys/seals/${id}/decide`, {}, manager.session))).toBe('E_FORBIDDEN');
    const disabled = await decideSealAction(t, sec2, e.caPem, id, true);
    expect([disabled.status, disabled.pending]).toEqual(['disabled', null]);
    expect(await relayCode(t.request('GET', `/api/keys/seals/${id}/key`, undefined, user.session))).toBe('E_SEAL_INACTIVE');
    expect(await codeOf(openSealKey(t, user, e.caPem, id))).toBe('E_CONTEXT');
  });

  it('is destroyed: every envelope deleted, its serial on the revocation list', async () => {
    await requestSealAction(t, manager, id, 'destroy', 'replaced by a new seal');
    const destroyed = await decideSealAction(t, sec2, e.caPem, id, true);
    expect(destroyed.status).toBe('destroyed');
    const db = new Database(join(e.dataDir, 'keys', 'keys.sqlite'), { readonly: true });
    try {
      expect(db.prepare('SELECT COUNT(*) AS n FROM seal_envelopes WHERE seal = ?').get(id)).toEqual({ n: 0 });
    } finally {
      db.close();
    }
    const revoked = await sealRevocations(t, outsider);
    expect(revoked.get(destroyed.serial!)).toEqual({ revokedAt: expect.any(Number), reason: 'replaced by a new seal' });
    expect(destroyed.serial).toMatch(/^[0-9a-f]+$/);
    expect(await relayCode(t.request('GET', `/api/keys/seals/${id}/key`, undefined, user.session))).toBe('E_SEAL_INACTIVE');
    expect((await sealHistory(t, auditor, id)).map((h) => h.kind)).toEqual(['request', 'approval', 'use-request', 'use-approval', 'action-request', 'action-decision', 'action-request', 'action-decision']);
    expect(await myAuditActions(sec2)).toEqual(expect.arrayContaining(['seal.disable', 'seal.destroy']));
  });
});

describe('refusals', () => {
  it('refuses one person on two lists (E_SEAL_SEPARATION at the relay) and a requester who is not a manager', async () => {
    expect(await codeOf(requestSeal(t, manager, e.caPem, input({ auditors: [user.account] })))).toBe('E_CONTEXT');
    const stamp = stampPng();
    const statement = { type: SEAL_REQUEST_TYPE, seal: 'seal-overlap', sealType: 'finance', name: 'Finance seal', stampDigest: await stampDigest(stamp), managers: [manager.account], users: [user.account], auditors: [user.account], useNeedsApproval: false, requester: manager.account };
    const request = await signStatement(manager.signing.privateKey, statement);
    expect(await relayCode(t.request('POST', '/api/keys/seals', { stampPng: stamp, request }, manager.session))).toBe('E_SEAL_SEPARATION');
    const notManager = await signStatement(user.signing.privateKey, { ...statement, auditors: [auditor.account], requester: user.account });
    expect(await relayCode(t.request('POST', '/api/keys/seals', { stampPng: stamp, request: notManager }, user.session))).toBe('E_CONTEXT');
  });

  it('refuses a second company seal while the first is not rejected or destroyed', async () => {
    const first = await requestSeal(t, manager, e.caPem, input({ type: 'company', name: '示例科技公章' }));
    expect(await relayCode(requestSeal(t, manager, e.caPem, input({ type: 'company', name: 'Another company seal' })))).toBe('E_CONFLICT');
    // Once rejected, another may be asked for.
    await rejectSeal(t, sec2, e.caPem, first.id, 'wrong name');
    expect((await requestSeal(t, manager, e.caPem, input({ type: 'company', name: '示例科技有限公司公章' }))).status).toBe('requested');
  });

  it('refuses an approval by the requester or by someone who is no security administrator', async () => {
    const own = await requestSeal(t, sec2, e.caPem, input({ managers: [sec2.account], name: 'Legal rep seal', type: 'legal-representative' }));
    expect(await codeOf(approveSeal(t, sec2, e.caPem, own.id))).toBe('E_CONTEXT');
    expect(await relayCode(t.request('POST', `/api/keys/seals/${own.id}/approve`, {}, sec2.session))).toBe('E_FOUR_EYES');
    const other = await requestSeal(t, manager, e.caPem, input({ name: 'Finance seal', type: 'finance' }));
    expect(await relayCode(t.request('POST', `/api/keys/seals/${other.id}/approve`, {}, outsider.session))).toBe('E_FORBIDDEN');
    expect(await relayCode(approveSeal(t, outsider, e.caPem, other.id))).toBe('E_NOT_FOUND');
    // The first security administrator has no certified key: its approval would never verify, and the relay says so.
    expect(await relayCode(approveSeal(t, e.sec, e.caPem, other.id))).toBe('E_NOT_CERTIFIED');
  });

  it('refuses a relay-planted envelope, certificate or approval', async () => {
    const seal = await requestSeal(t, manager, e.caPem, input({ name: 'Planted seal', type: 'finance' }));
    const active = await approveSeal(t, sec2, e.caPem, seal.id);
    const keyPath = `/api/keys/seals/${seal.id}/key`;
    const sealGet = `/api/keys/seals/${seal.id}`;
    const fingerprint = (await t.request('GET', keyPath, undefined, user.session)) as { envelope: { context: { certificate: string } } };

    // An envelope wrapping a key the relay made, to the user's real key with the right context.
    const relayKey = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as CryptoKeyPair;
    const planted = await sealEnvelope(await importEnvelopePublicKey(user.envelope.spki), relayKey.privateKey, sealKeyContext(user.account, seal.id, fingerprint.envelope.context.certificate), 'pkcs8');
    expect(await codeOf(openSealKey(rewriting((p, a) => (p === keyPath ? { seal: seal.id, envelope: planted } : a)), user, e.caPem, seal.id))).toBe('E_CONTEXT');

    // A certificate for the relay's key from a look-alike CA of the same name.
    const lookAlike = await createEnterpriseCa(e.name);
    const spki = new Uint8Array(await crypto.subtle.exportKey('spki', relayKey.publicKey));
    const forgedCert = await issueSealCertificate(lookAlike, { id: seal.id, name: 'Planted seal', type: 'finance', enterprise: e.name }, spki);
    expect(await codeOf(openSealKey(rewriting((p, a) => (p === sealGet ? { ...a, certificate: forgedCert } : a)), user, e.caPem, seal.id))).toBe('E_SIGNATURE');
    // Another genuine seal's certificate: approved for another seal.
    const otherSeal = (await listSeals(t, sec2)).find((s) => s.status === 'destroyed')!;
    expect(await codeOf(openSealKey(rewriting((p, a) => (p === sealGet ? { ...a, certificate: otherSeal.certificate } : a)), user, e.caPem, seal.id))).toBe('E_CONTEXT');
    // An approval signed by someone who is not a security administrator.
    const fake = await signStatement(outsider.signing.privateKey, { ...(active.approval as any).statement, approver: outsider.account });
    expect(await codeOf(openSealKey(rewriting((p, a) => (p === sealGet ? { ...a, approval: fake } : a)), user, e.caPem, seal.id))).toBe('E_SIGNATURE');
    // A list changed by the relay: the user is dropped from the signed users, the relay adds the manager.
    expect(await codeOf(openSealKey(rewriting((p, a) => (p === sealGet ? { ...a, users: [manager.account, user2.account], managers: [user.account] } : a)), user, e.caPem, seal.id))).toBe('E_CONTEXT');
    // The genuine answers still open.
    expect((await openSealKey(t, user, e.caPem, seal.id)).seal.status).toBe('active');
  });

  it('answers bad input with 4xx JSON, never a 500', async () => {
    expect(await relayCode(t.request('POST', '/api/keys/seals', { stampPng: 'not base64', request: { statement: {}, signature: 'x' } }, manager.session))).toBe('E_VALIDATION');
    expect(await relayCode(t.request('POST', '/api/keys/seals', { stampPng: stampPng() }, manager.session))).toBe('E_SIGNATURE');
    expect(await relayCode(t.request('GET', '/api/keys/seals/bad%20id', undefined, manager.session))).toBe('E_VALIDATION');
  });
});
