/**
 * Audit coverage (DESIGN.md section 9, issue 7): over real HTTPS with the enterprise fixture, the
 * browser's protocol code walks every action the product offers (accounts, approvals, roles,
 * certificates, logins and failures, escrow releases, spaces, grants, contracts, views,
 * downloads, versions, sharing, deletion, seals, signing flows, configuration, witnessing).
 *
 * Every request is recorded with the audit log's size before and after it. Each successful call
 * of a route that changes state or serves contract data must have left, in its own window (or in
 * the account-signed appends its browser made right after), an entry with the expected action,
 * actor and target, signed by that actor or by the observing service, whose details digest is
 * detailsDigest(detailsJson). The routes themselves come from each service's OpenAPI document:
 * a POST/PUT/DELETE route, or a GET serving records, manifests or blocks, that is neither
 * exercised-and-audited here nor in the commented allow-list fails the test. A new route fails
 * it until it writes an entry or is allow-listed with a reason.
 *
 * Also here: who may read and change the log (DESIGN.md section 1: the system and security
 * administrators read nothing of it, the auditor changes nothing anywhere).
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromBase64url, type Json } from '../../shared/crypto/encoding';
import { importSigningPublicKey, verifyStatement, type Statement } from '../../shared/crypto/statements';
import { AUDIT_ENTRY_TYPE, detailsDigest, verifyServiceEntry, type AuditEntry } from '../../shared/formats/audit-entry';
import { importEd25519PublicKey } from '../../shared/formats/token';
import { unlockAccount, type RegisteredAccount, type UnlockedAccount } from '../../shared/protocol/account';
import { certifyAccount, shareEnterpriseCaKey } from '../../shared/protocol/certification';
import { createContract, openContract, updateFields, VersionMemory, type OpenedContract } from '../../shared/protocol/contracts';
import { decideDeletion, readDeletionReason, requestDeletion } from '../../shared/protocol/deletion';
import { collectingSink, downloadFile, fetchManifest, uploadFile, type FileTransport } from '../../shared/protocol/files';
import { changePassword } from '../../shared/protocol/password';
import { recoverAccount } from '../../shared/protocol/recovery';
import {
  approveSeal,
  approveSealUse,
  decideSealAction,
  rejectSeal,
  requestSeal,
  requestSealAction,
  requestSealUse,
  type SealRequestInput,
} from '../../shared/protocol/seals';
import { contractShares, shareContract, unshareContract } from '../../shared/protocol/sharing';
import { cancelSigning, declineSigning, loadSigningFlow, signMyTurn, startSigningFlow, type SignMyTurnDeps, type SigningField } from '../../shared/protocol/signing';
import { createSpace, grantAccess, revokeAccess } from '../../shared/protocol/spaces';
import type { z } from 'zod';
import { EntriesPageSchema, type StoredEntrySchema } from '../../shared/schemas/audit';
import { AccountProfileSchema } from '../../shared/schemas/directory';
import { relayCode } from '../../shared/test-support/outcome';
import { cosignCheckpoint } from '../../shared/tlog';
import { deriveP, employeePassword, startEnterprise, type Enterprise } from './enterprise-fixture';

// ---- what is recorded ---------------------------------------------------------------------------

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

interface Call {
  method: Method;
  path: string;
  /** "METHOD /api/service/{param}" as in the OpenAPI documents; null until the documents are read */
  route: string | null;
  params: Record<string, string>;
  body: unknown;
  answer: unknown;
  session: string | undefined;
  ok: boolean;
  /** audit log size when the request was sent and when its answer came */
  from: number;
  to: number;
}

const calls: Call[] = [];

/** The session token's subject (the test reads its own tokens; the relay verifies them). */
function subOf(token: string | undefined): string | undefined {
  if (!token) return undefined;
  const payload = token.split('.')[1];
  return (JSON.parse(new TextDecoder().decode(fromBase64url(payload ?? ''))) as { sub?: string }).sub;
}

/** Wraps the browser's transport: every request, its answer and the audit log's size around it. */
function recording(inner: FileTransport, dataDir: string): FileTransport {
  let db: Database.Database | undefined;
  const size = (): number => {
    // The audit database exists once the relay started; read-only, beside the relay's writer (WAL).
    db ??= new Database(join(dataDir, 'audit', 'audit.sqlite'), { readonly: true, fileMustExist: true });
    return (db.prepare('SELECT COUNT(*) AS n FROM entries').get() as { n: number }).n;
  };
  const record = async <T>(method: Method, path: string, body: unknown, session: string | undefined, run: () => Promise<T>): Promise<T> => {
    const call: Call = { method, path: path.split('?')[0]!, route: null, params: {}, body, answer: undefined, session, ok: false, from: size(), to: 0 };
    calls.push(call);
    try {
      const answer = await run();
      call.answer = answer;
      call.ok = true;
      return answer;
    } finally {
      call.to = size();
    }
  };
  return {
    request: (method, path, body, session) => record(method, path, body, session, () => inner.request(method, path, body, session)),
    putBytes: (path, bytes, session) => record('PUT', path, undefined, session, () => inner.putBytes(path, bytes, session)),
    getBytes: (path, session) => record('GET', path, undefined, session, () => inner.getBytes(path, session)),
  };
}

// ---- what each route must leave in the log --------------------------------------------------------

interface Expectation {
  /** any one of these actions */
  actions: string[];
  /** the entry's target, from the call */
  target: (c: Call, x: Known) => string | RegExp;
  /** the entry's actor; default: the session's account */
  actor?: (c: Call, x: Known) => string | undefined;
}

/** What the test learnt along the way that a later call's target names (a request's account). */
interface Known {
  roleRequests: Map<string, string>;
  accountRequests: Map<string, string>;
  envelopes: Map<string, string>;
}

const acct = (id: string | undefined) => `account:${id}`;
const self = (c: Call) => acct(subOf(c.session));
const body = (c: Call) => c.body as Record<string, any>;
const answer = (c: Call) => c.answer as Record<string, any>;
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const EXPECTED: Record<string, Expectation> = {
  // directory: setup, accounts, approvals, roles, certificates, configuration
  'POST /api/directory/setup': { actions: ['setup.complete'], target: () => 'enterprise', actor: () => 'service:directory' },
  'PUT /api/directory/enterprise/ca': { actions: ['ca.create'], target: () => 'enterprise' },
  'PUT /api/directory/policy': { actions: ['policy.change'], target: () => 'enterprise' },
  'POST /api/directory/accounts': { actions: ['account.invite'], target: (c) => acct(answer(c).account) },
  'POST /api/directory/accounts/{id}/approve': { actions: ['account.approve'], target: (c) => acct(c.params.id) },
  'POST /api/directory/accounts/{id}/certificate': { actions: ['certificate.issue'], target: (c) => acct(c.params.id) },
  'PUT /api/directory/accounts/{id}/contact': { actions: ['profile.contact'], target: (c) => acct(c.params.id) },
  'POST /api/directory/departments': { actions: ['department.create'], target: (c) => `department:${answer(c).id}` },
  'POST /api/directory/role-requests': { actions: ['role.request'], target: (c) => acct(body(c).account) },
  'POST /api/directory/role-requests/{id}/approve': { actions: ['role.approve'], target: (c, x) => acct(x.roleRequests.get(c.params.id!)) },
  'POST /api/directory/role-requests/{id}/reject': { actions: ['role.reject'], target: (c, x) => acct(x.roleRequests.get(c.params.id!)) },
  'POST /api/directory/account-requests': { actions: ['profile.request', 'disable.request'], target: (c) => acct(body(c).account) },
  'POST /api/directory/account-requests/{id}/approve': { actions: ['profile.approve', 'account.disable'], target: (c, x) => acct(x.accountRequests.get(c.params.id!)) },
  'POST /api/directory/account-requests/{id}/reject': { actions: ['profile.reject', 'disable.reject'], target: (c, x) => acct(x.accountRequests.get(c.params.id!)) },
  // directory: sign-in and credentials
  'POST /api/directory/register/finish': { actions: ['account.register'], target: (c) => acct(answer(c).account), actor: (c) => answer(c).account },
  'POST /api/directory/login/finish': { actions: ['login.success'], target: (c) => acct(answer(c).account), actor: (c) => answer(c).account },
  'POST /api/directory/password/finish': { actions: ['password.change'], target: self },
  'PUT /api/directory/recovery-key': { actions: ['recovery.key'], target: self },
  'POST /api/directory/recovery/finish': { actions: ['account.recover'], target: (c) => acct(answer(c).account), actor: (c) => answer(c).account },
  'POST /api/directory/session/refresh': { actions: ['session.refresh'], target: self },
  'POST /api/directory/logout': { actions: ['logout'], target: self },
  'POST /api/directory/escrow-ticket': { actions: ['escrow.ticket'], target: self },
  // escrow
  'POST /api/escrow/shares': { actions: ['escrow.register'], target: self },
  'PUT /api/escrow/recovery-key': { actions: ['escrow.recovery-key'], target: self },
  'POST /api/escrow/release': { actions: ['escrow.release'], target: (c) => acct(subOf(body(c).ticket)), actor: (c) => subOf(body(c).ticket) },
  // keys: own keys, spaces, grants, sharing, CA key, seals
  'PUT /api/keys/private-keys/{version}': { actions: ['keys.private.store'], target: self },
  'PUT /api/keys/recovery/{version}': { actions: ['keys.recovery.store'], target: self },
  'POST /api/keys/spaces': { actions: ['space.create'], target: (c) => `space:${answer(c).space}` },
  'PUT /api/keys/spaces/{space}/name': { actions: ['space.rename'], target: (c) => `space:${c.params.space}` },
  'POST /api/keys/grants': { actions: ['grant.create'], target: (c) => `space:${body(c).space}` },
  'DELETE /api/keys/grants/{space}/{member}': { actions: ['grant.revoke'], target: (c) => `space:${c.params.space}` },
  'POST /api/keys/envelopes': { actions: ['envelope.create'], target: (c) => `contract:${body(c).envelope.context.contract}` },
  'DELETE /api/keys/envelopes/{id}': { actions: ['envelope.delete'], target: (c, x) => `contract:${x.envelopes.get(c.params.id!)}` },
  'PUT /api/keys/ca-key/{recipient}': { actions: ['ca-key.envelope'], target: (c) => acct(c.params.recipient) },
  'POST /api/keys/seals': { actions: ['seal.request'], target: (c) => `seal:${answer(c).id}` },
  'POST /api/keys/seals/{id}/approve': { actions: ['seal.activate'], target: (c) => `seal:${c.params.id}` },
  'POST /api/keys/seals/{id}/reject': { actions: ['seal.reject'], target: (c) => `seal:${c.params.id}` },
  'POST /api/keys/seals/{id}/disable-request': { actions: ['seal.disable-request'], target: (c) => `seal:${c.params.id}` },
  'POST /api/keys/seals/{id}/destroy-request': { actions: ['seal.destroy-request'], target: (c) => `seal:${c.params.id}` },
  'POST /api/keys/seals/{id}/decide': { actions: ['seal.disable', 'seal.destroy', 'seal.disable-request', 'seal.destroy-request'], target: (c) => `seal:${c.params.id}` },
  'POST /api/keys/seals/{id}/use-requests': { actions: ['seal.use-request'], target: (c) => `seal:${c.params.id}` },
  'POST /api/keys/seals/{id}/use-requests/{request}/approve': { actions: ['seal.use-approve'], target: (c) => `seal:${c.params.id}` },
  // vault: contracts, versions, views, files, downloads, deletion, signing
  'POST /api/vault/contracts': { actions: ['contract.create'], target: (c) => `contract:${body(c).contract}` },
  'PUT /api/vault/contracts/{contract}/records/{kind}/{version}': { actions: ['record.put'], target: (c) => `contract:${c.params.contract}/record:${c.params.kind}/v${c.params.version}` },
  'GET /api/vault/contracts/{contract}/records/{kind}/{version}': { actions: ['record.read'], target: (c) => `contract:${c.params.contract}/record:${c.params.kind}/v${c.params.version}` },
  'GET /api/vault/contracts/{contract}/records/{kind}/latest': { actions: ['record.read'], target: (c) => new RegExp(`^contract:${esc(c.params.contract!)}/record:${esc(c.params.kind!)}/v[0-9]+$`) },
  'POST /api/vault/contracts/{contract}/deletion': { actions: ['contract.delete-request'], target: (c) => `contract:${c.params.contract}` },
  'POST /api/vault/contracts/{contract}/deletion/decision': { actions: ['contract.delete', 'contract.delete-reject'], target: (c) => `contract:${c.params.contract}` },
  'POST /api/vault/contracts/{contract}/files': { actions: ['file.register'], target: (c) => `file:${body(c).file}/v${body(c).version}` },
  'GET /api/vault/files/{file}/versions/{version}/manifest': { actions: ['manifest.read'], target: (c) => `file:${c.params.file}/v${c.params.version}` },
  'POST /api/vault/files/{file}/versions/{version}/commit': { actions: ['file.commit'], target: (c) => `file:${c.params.file}/v${c.params.version}` },
  'GET /api/vault/files/{file}/versions/{version}/blocks/{index}': { actions: ['block.download'], target: (c) => `file:${c.params.file}/v${c.params.version}/block:${c.params.index}` },
  'POST /api/vault/contracts/{contract}/signing-flows': { actions: ['signing.start'], target: (c) => new RegExp(`^contract:${esc(c.params.contract!)}/signing:`) },
  'POST /api/vault/signing-flows/{flow}/steps': { actions: ['signing.sign'], target: (c) => new RegExp(`/signing:${esc(c.params.flow!)}$`) },
  'POST /api/vault/signing-flows/{flow}/decline': { actions: ['signing.decline'], target: (c) => new RegExp(`/signing:${esc(c.params.flow!)}$`) },
  'POST /api/vault/signing-flows/{flow}/cancel': { actions: ['signing.cancel'], target: (c) => new RegExp(`/signing:${esc(c.params.flow!)}$`) },
  // audit: the auditor's witnessing
  'POST /api/audit/witnesses': { actions: ['audit.witness.register'], target: self },
  'POST /api/audit/checkpoints/{size}/cosignatures': { actions: ['audit.checkpoint.cosign'], target: (c) => `checkpoint:${c.params.size}` },
};

/**
 * Routes that change state or serve contract data and need no entry of their own, each with why.
 * Everything else of that kind must be in EXPECTED and exercised.
 */
const NO_ENTRY_NEEDED: Record<string, string> = {
  // The log itself: an append is the entry, and the audit service checks its signature.
  'POST /api/audit/entries': 'the append of an entry is the audit log itself',
  // One-time challenges held in memory for a minute or two; nothing is stored, and the step that
  // spends them (register/finish, login/finish, password/finish, recovery/finish, escrow/release)
  // is audited, success and failure alike.
  'POST /api/directory/register/start': 'OPAQUE registration message only; register/finish is audited',
  'POST /api/directory/prelogin': 'returns the salt (a stable fake for unknown names); changes nothing',
  'POST /api/directory/login/start': 'OPAQUE login message only; login/finish is audited (login.success, login.failure)',
  'POST /api/directory/password/start': 'OPAQUE registration message only; password/finish is audited',
  'POST /api/directory/recovery/start': 'a challenge in memory; recovery/finish is audited, refusals included',
  'POST /api/escrow/challenge': 'a challenge in memory for an escrow ticket; escrow/release is audited, refusals included',
  // Ciphertext blocks of a file version already registered (file.register) by its uploader only;
  // the version becomes readable at file.commit. An entry per 4 MiB block would repeat those two.
  'PUT /api/vault/files/{file}/versions/{version}/blocks/{index}': 'ciphertext of a registered version, by its uploader; file.register and file.commit are audited',
};

/**
 * Routes that write their entry (checked in that service's own tests) but that no browser code
 * calls today, so this walk cannot reach them honestly. Each names the test that shows its entry.
 */
const AUDITED_NOT_REACHABLE: Record<string, string> = {
  // Replacing the escrow recovery key needs the escrow-auth private key, which unlocking does not keep.
  'PUT /api/escrow/recovery-key': 'escrow.recovery-key, relay/escrow/escrow.test.ts "recovery key" cases',
};

/** GETs that serve contract data (sealed records, signed manifests, ciphertext blocks). */
const CONTRACT_DATA_GET = /^GET \/api\/vault\/(contracts\/\{contract\}\/records\/|files\/\{file\}\/versions\/\{version\}\/(manifest|blocks\/\{index\})$)/;

// ---- the run ------------------------------------------------------------------------------------

let e: Enterprise;
let t: FileTransport;
const SERVICES = ['directory', 'keys', 'escrow', 'vault', 'audit'] as const;
/** "METHOD /api/service/path" of every route the OpenAPI documents list */
let documented: string[] = [];
let manager: RegisteredAccount;
let editor: RegisteredAccount;
let signer1: RegisteredAccount;
let signer2: RegisteredAccount;
let viewer: RegisteredAccount;
let outsider: RegisteredAccount;
let sec2: RegisteredAccount;
let sealUser: RegisteredAccount;
let sealAuditor: RegisteredAccount;
let space: string;
let contract: OpenedContract;

const known: Known = { roleRequests: new Map(), accountRequests: new Map(), envelopes: new Map() };
const enc = new TextEncoder();
const fields = { title: 'Audit coverage contract', counterparties: ['Parts Ltd'], amount: { value: '1000.00', currency: 'CNY' }, dates: { signed: null, effective: null, expires: null }, status: 'draft' as const, extra: {} };
const call = (method: Method, path: string, b?: unknown, session?: string) => t.request(method, path, b, session) as Promise<any>;

/** signPdf stand-in (as in signing-flows.test.ts): the PDF crypto is not what is audited here. */
const signDeps = (who: UnlockedAccount): SignMyTurnDeps => ({
  signPdf: async (pdf, options) => new Uint8Array([...pdf, ...enc.encode(`\n%signed ${options.fieldName}\n`)]),
  openSealKey: async () => ({ privateKey: who.signing.privateKey, certificatePem: 'not checked here' }),
  certificatePem: 'not checked here',
  chainPems: [],
  stampFor: async () => new Uint8Array([0x89, 0x50, 0x4e, 0x47]),
  sealApprovalFor: async (seal) => `use-${seal}`,
});
const field = (signer: string, n: number): SigningField => ({ id: `fld-${signer.slice(0, 8)}-${n}`, signer, kind: 'signature', page: 0, x: 0.1, y: 0.1 + 0.2 * n, width: 0.3, height: 0.1 });

/** A real 1x1 PNG (what a seal request's stamp must be). */
const STAMP = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
const sealInput = (o: Partial<SealRequestInput> = {}): SealRequestInput => ({
  type: 'contract',
  name: 'Coverage contract seal',
  stampPng: STAMP,
  managers: [manager.account],
  users: [sealUser.account],
  auditors: [sealAuditor.account],
  useNeedsApproval: true,
  ...o,
});

async function allEntries(as: UnlockedAccount) {
  const out: z.infer<typeof StoredEntrySchema>[] = [];
  for (let start: number | null = 0; start !== null; ) {
    const page = EntriesPageSchema.parse(await t.request('GET', `/api/audit/entries?start=${start}&limit=1000`, undefined, as.session));
    out.push(...page.entries);
    start = page.nextStart;
  }
  return out;
}

beforeAll(async () => {
  e = await startEnterprise(undefined, {}, { wrapTransport: recording });
  t = e.transport;
  for (const s of SERVICES) {
    const doc = (await t.request('GET', `/api/${s}/openapi.json`)) as { paths: Record<string, Record<string, unknown>> };
    for (const [path, ops] of Object.entries(doc.paths)) for (const m of Object.keys(ops)) documented.push(`${m.toUpperCase()} ${path}`);
  }

  // People: the fixture's employee() invites (sys), approves (sec), asks and approves roles, registers and certifies.
  manager = await e.employee('cov-wang', '王经理', { spaceManager: true });
  editor = await e.employee('cov-liu', '刘编辑');
  signer1 = await e.employee('cov-zhao', '赵签字');
  signer2 = await e.employee('cov-qian', '钱签字');
  viewer = await e.employee('cov-zhou', '周查看');
  outsider = await e.employee('cov-sun', '孙外人');
  sealUser = await e.employee('cov-chen', '陈用章');
  sealAuditor = await e.employee('cov-he', '何审章');
  sec2 = await e.employee('cov-sec2', '钱安全', { roles: ['security-admin'] });
  await shareEnterpriseCaKey(t, e.sec, e.caPem, sec2.account);

  // Configuration and directory upkeep.
  await call('PUT', '/api/directory/policy', { passwordMinLength: 12, idleTimeoutMinutes: 20 }, e.sec.session);
  await call('PUT', `/api/directory/accounts/${viewer.account}/contact`, { contact: 'zhou@new.example.test' }, e.sys.session);
  await call('POST', '/api/directory/departments', { name: '采购部 Procurement' }, e.sys.session);
  const rr = await call('POST', '/api/directory/role-requests', { account: outsider.account, role: 'space-manager', op: 'add' }, e.sys.session);
  await call('POST', `/api/directory/role-requests/${rr.id}/reject`, { reason: 'not needed' }, e.sec.session);
  const profile = await call('POST', '/api/directory/account-requests', { kind: 'profile', account: editor.account, legalName: '刘编辑 Liu' }, editor.session);
  await call('POST', `/api/directory/account-requests/${profile.id}/approve`, {}, e.sec.session);
  const disable = await call('POST', '/api/directory/account-requests', { kind: 'disable', account: outsider.account, reason: 'left the company?' }, e.sys.session);
  await call('POST', `/api/directory/account-requests/${disable.id}/reject`, { reason: 'still employed' }, e.sec.session);
  // The certificate must follow the new legal name; issue it again (certificate.issue once more).
  const renamed = AccountProfileSchema.parse(await call('GET', `/api/directory/accounts/${editor.account}`, undefined, e.sec.session));
  await certifyAccount(t, e.sec, { certificatePem: e.caPem, privateKey: e.caKey, enterpriseName: e.name }, renamed);

  // A space, its members, a contract, a new version, views, a file, its download.
  ({ space } = await createSpace(t, manager, e.caPem, 'Coverage space'));
  await grantAccess(t, manager, e.caPem, space, editor.account, 'editor');
  for (const s of [signer1, signer2]) await grantAccess(t, manager, e.caPem, space, s.account, 'signer');
  await grantAccess(t, manager, e.caPem, space, viewer.account, 'viewer');
  contract = await createContract(t, editor, e.caPem, space, fields);
  contract = await updateFields(t, editor, contract, { ...fields, status: 'signing' }, new VersionMemory());
  const seen = await openContract(t, viewer, e.caPem, space, contract.contract, new VersionMemory());
  await uploadFile(t, editor, contract.dek, new Blob([enc.encode('%PDF-1.7 coverage\n')]), { contract: contract.contract, file: 'f-cov-1', version: 1 });
  const target = { contract: contract.contract, file: 'f-cov-1', version: 1 };
  const out = collectingSink();
  await downloadFile(t, viewer, seen.dek, await fetchManifest(t, viewer, target, seen.writers), target, out.sink);

  // Sharing one contract with an outsider, and taking it back.
  const { id: share } = await shareContract(t, editor, e.caPem, contract, outsider.account);
  const shares = await contractShares(t, editor, contract);
  await unshareContract(t, editor, contract, shares.find((s) => s.id === share)!);

  // Signing: one flow signed then declined, one cancelled.
  const opened = new Map<string, OpenedContract>();
  for (const who of [signer1, signer2]) opened.set(who.account, await openContract(t, who, e.caPem, space, contract.contract, new VersionMemory()));
  const flow = await startSigningFlow(t, editor, contract, { file: 'f-cov-1', order: 'sequential', signers: [{ account: signer1.account }, { account: signer2.account }], fields: [field(signer1.account, 0), field(signer2.account, 1)] });
  await signMyTurn(t, signer1, opened.get(signer1.account)!, await loadSigningFlow(t, signer1, opened.get(signer1.account)!, flow.id), signDeps(signer1));
  await declineSigning(t, signer2, opened.get(signer2.account)!, await loadSigningFlow(t, signer2, opened.get(signer2.account)!, flow.id), '金额不对 (wrong amount)');
  await uploadFile(t, editor, contract.dek, new Blob([enc.encode('%PDF-1.7 coverage two\n')]), { contract: contract.contract, file: 'f-cov-2', version: 1 });
  const second = await startSigningFlow(t, editor, contract, { file: 'f-cov-2', order: 'parallel', signers: [{ account: signer1.account }], fields: [field(signer1.account, 0)] });
  await cancelSigning(t, editor, contract, second);

  // Seals: asked, approved, used with a manager's approval, disabled, destroyed; another rejected.
  const seal = await requestSeal(t, manager, e.caPem, sealInput());
  await approveSeal(t, sec2, e.caPem, seal.id);
  const use = await requestSealUse(t, sealUser, seal.id, { contract: contract.contract, flow: flow.id });
  await approveSealUse(t, manager, e.caPem, seal.id, use.id);
  await requestSealAction(t, manager, seal.id, 'disable', 'lost');
  await decideSealAction(t, sec2, e.caPem, seal.id, true);
  await requestSealAction(t, manager, seal.id, 'destroy', 'replaced');
  await decideSealAction(t, sec2, e.caPem, seal.id, true);
  const rejected = await requestSeal(t, manager, e.caPem, sealInput({ name: 'A seal nobody needs' }));
  await rejectSeal(t, sec2, e.caPem, rejected.id, 'not needed');

  // A member leaves (grant revoked, space key rotated, the space's name sealed again).
  await revokeAccess(t, manager, e.caPem, space, viewer.account);

  // Deletion with four eyes.
  const asked = await requestDeletion(t, editor, contract, '已被取代 (superseded)');
  // Reading the sealed reason reads one record version by number.
  expect(await readDeletionReason(t, manager, await openContract(t, manager, e.caPem, space, contract.contract, new VersionMemory()), asked)).toBe('已被取代 (superseded)');
  await decideDeletion(t, manager, contract, true);

  // Sessions, credentials and failures.
  await call('POST', '/api/directory/session/refresh', undefined, outsider.session);
  await changePassword({ transport: t, username: 'cov-sun', oldPassword: employeePassword('cov-sun'), newPassword: 'a new passphrase for tests 8', deriveP });
  await recoverAccount({ transport: t, username: 'cov-chen', recoveryCode: sealUser.recoveryCode, newPassword: 'recovered passphrase for tests 9', deriveP });
  const again = await unlockAccount({ transport: t, username: 'cov-zhao', password: employeePassword('cov-zhao'), deriveP });
  await call('POST', '/api/directory/logout', undefined, again.session);
  // A wrong password ends in the browser (OPAQUE cannot finish) and is audited when the relay
  // sweeps the unfinished login a minute later (directory tests move that clock). Here the
  // relay itself refuses a finish message changed in transit, and audits it at once.
  const tampering: FileTransport = {
    ...t,
    request: (method, path, b, session) => {
      if (path !== '/api/directory/login/finish') return t.request(method, path, b, session);
      const finish = b as { loginId: string; finishLoginRequest: string };
      const bytes = fromBase64url(finish.finishLoginRequest);
      bytes[0] = bytes[0]! ^ 1;
      return t.request(method, path, { ...finish, finishLoginRequest: Buffer.from(bytes).toString('base64url') }, session);
    },
  };
  expect(await relayCode(unlockAccount({ transport: tampering, username: 'cov-zhao', password: employeePassword('cov-zhao'), deriveP }))).toBe('E_LOGIN_FAILED');

  // The auditor witnesses: registers a witness key and cosigns the latest checkpoint.
  const pair = (await crypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify'])) as CryptoKeyPair;
  const witnessName = 'witness.example.test/auditor';
  const publicRaw = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey));
  await call('POST', '/api/audit/witnesses', { name: witnessName, publicKey: Buffer.from(publicRaw).toString('base64url') }, e.auditor.session);
  const checkpoint = await call('GET', '/api/audit/checkpoint', undefined, e.auditor.session);
  const cosigned = await cosignCheckpoint({ privateKey: pair.privateKey, publicKey: publicRaw }, witnessName, checkpoint.note, Math.floor(Date.now() / 1000));
  await call('POST', `/api/audit/checkpoints/${checkpoint.size}/cosignatures`, { note: cosigned }, e.auditor.session);
}, 600_000);
afterAll(async () => e?.close());

/** Finds the documented route a request went to: literal segments before parameters ("latest" before "{version}"). */
function routeOf(method: string, path: string): { route: string; params: Record<string, string> } | null {
  const candidates = documented
    .filter((r) => r.startsWith(`${method} `))
    .map((r) => ({ r, literal: r.split('/').filter((s) => !s.startsWith('{')).length }))
    .sort((a, b) => b.literal - a.literal);
  for (const { r } of candidates) {
    const template = r.slice(method.length + 1);
    const names: string[] = [];
    const re = new RegExp(`^${template.replace(/\{([A-Za-z0-9_]+)\}/g, (_m, n: string) => (names.push(n), '([^/]+)'))}$`);
    const m = re.exec(path);
    if (m) return { route: r, params: Object.fromEntries(names.map((n, i) => [n, decodeURIComponent(m[i + 1]!)])) };
  }
  return null;
}

const needsEntry = (route: string) => /^(POST|PUT|DELETE|PATCH) /.test(route) || CONTRACT_DATA_GET.test(route);

describe('audit coverage', () => {
  it('lists the routes of every service in its OpenAPI document, and every recorded request matches one', () => {
    expect(documented.length).toBeGreaterThan(100);
    // The test's own reads of the documents are no product action.
    for (const c of calls.filter((x) => !x.path.endsWith('/openapi.json'))) {
      const found = routeOf(c.method, c.path);
      expect(found, `${c.method} ${c.path}`).not.toBeNull();
      c.route = found!.route;
      c.params = found!.params;
    }
  });

  it('names only documented routes in its expectations and allow-list', () => {
    for (const route of [...Object.keys(EXPECTED), ...Object.keys(NO_ENTRY_NEEDED), ...Object.keys(AUDITED_NOT_REACHABLE)]) expect(documented, route).toContain(route);
  });

  it('every entry is well formed, signed by its actor or by the service that observed it, with the digest of its details', async () => {
    const entries = await allEntries(e.auditor);
    expect(entries.length).toBeGreaterThan(200);
    const serviceKeys = new Map<string, CryptoKey>();
    for (const s of SERVICES) serviceKeys.set(s, await importEd25519PublicKey(fromBase64url(((await t.request('GET', `/api/${s}/key`)) as { publicKey: string }).publicKey)));
    const accountKeys = new Map<string, CryptoKey>();
    for (const x of entries) {
      const entry = x.entry as AuditEntry;
      expect(entry.type).toBe(AUDIT_ENTRY_TYPE);
      expect(x.detailsJson, `entry ${x.index} has its details`).not.toBeNull();
      expect(await detailsDigest(x.detailsJson as Record<string, Json>), `entry ${x.index} (${entry.action}) details digest`).toBe(entry.details);
      if (entry.signer.kind === 'service') {
        await verifyServiceEntry(serviceKeys.get(entry.signer.service)!, { entry, signature: x.signature! });
      } else {
        expect(entry.signer.account, `entry ${x.index}: an account signs only its own actions`).toBe(entry.actor);
        let key = accountKeys.get(entry.signer.account);
        if (!key) {
          const keys = (await t.request('GET', `/api/directory/accounts/${entry.signer.account}/public-keys`)) as { signingKey: string };
          key = await importSigningPublicKey(fromBase64url(keys.signingKey));
          accountKeys.set(entry.signer.account, key);
        }
        await verifyStatement(key, { statement: entry as unknown as Statement, signature: x.signature! }, AUDIT_ENTRY_TYPE);
      }
    }
  });

  it('every successful call of a state-changing or contract-data route left its entry: action, actor, target', async () => {
    const entries = await allEntries(e.auditor);
    const missing: string[] = [];
    for (let i = 0; i < calls.length; i++) {
      const c = calls[i]!;
      // Requests decided later name their account only in the request itself: remember it.
      if (c.ok && c.route === 'POST /api/directory/role-requests') known.roleRequests.set(answer(c).id, body(c).account);
      if (c.ok && c.route === 'POST /api/directory/account-requests') known.accountRequests.set(answer(c).id, body(c).account);
      if (c.ok && c.route === 'POST /api/keys/envelopes') known.envelopes.set(answer(c).id, body(c).envelope.context.contract);
      const expected = c.route ? EXPECTED[c.route] : undefined;
      if (!c.ok || !expected) continue;
      // The browser signs its own entry right after the relay call (recordAsAccount): those appends count too.
      let to = c.to;
      for (let j = i + 1; j < calls.length && calls[j]!.route === 'POST /api/audit/entries'; j++) to = Math.max(to, calls[j]!.to);
      const actor = expected.actor ? expected.actor(c, known) : subOf(c.session);
      const target = expected.target(c, known);
      const hit = entries.slice(c.from, to).some((x) => {
        const en = x.entry!;
        return expected.actions.includes(en.action) && en.actor === actor && en.outcome === 'ok' && (typeof target === 'string' ? en.target === target : target.test(en.target));
      });
      if (!hit) missing.push(`${c.method} ${c.path} (as ${actor}): no ${expected.actions.join('/')} entry on ${String(target)} in entries ${c.from}..${to - 1}`);
    }
    expect(missing).toEqual([]);
  });

  it('a failed login is audited, by the directory, against the account tried', async () => {
    const entries = await allEntries(e.auditor);
    expect(entries.some((x) => x.entry!.action === 'login.failure' && x.entry!.outcome === 'refused' && x.entry!.actor === 'service:directory' && x.entry!.target === acct(signer1.account))).toBe(true);
  });

  it('every route that changes state or serves contract data is exercised and audited, or allow-listed with a reason', () => {
    const exercised = new Set(calls.filter((c) => c.ok && c.route && EXPECTED[c.route]).map((c) => c.route!));
    const uncovered = documented.filter((r) => needsEntry(r) && !exercised.has(r) && !(r in NO_ENTRY_NEEDED) && !(r in AUDITED_NOT_REACHABLE));
    expect(uncovered).toEqual([]);
    // Nothing allow-listed is also expected to write here: one place decides per route.
    for (const r of Object.keys(NO_ENTRY_NEEDED)) expect(EXPECTED[r], r).toBeUndefined();
    // A route listed as unreachable that the walk does reach belongs in EXPECTED instead.
    for (const r of Object.keys(AUDITED_NOT_REACHABLE)) expect(exercised.has(r) || calls.some((c) => c.route === r), r).toBe(false);
  });
});

describe('who reads and changes the log', () => {
  const AUDITOR_ONLY = ['GET /api/audit/entries', 'POST /api/audit/witnesses', 'POST /api/audit/checkpoints/{size}/cosignatures'];

  it('the system and security administrators get 403 on every auditor-only audit route', async () => {
    for (const who of [e.sys, e.sec]) {
      expect(await relayCode(call('GET', '/api/audit/entries?start=0&limit=10', undefined, who.session))).toBe('E_FORBIDDEN');
      expect(await relayCode(call('POST', '/api/audit/witnesses', { name: 'witness.example.test/admin', publicKey: Buffer.alloc(32, 7).toString('base64url') }, who.session))).toBe('E_FORBIDDEN');
      expect(await relayCode(call('POST', '/api/audit/checkpoints/1/cosignatures', { note: 'x' }, who.session))).toBe('E_FORBIDDEN');
    }
    for (const r of AUDITOR_ONLY) expect(documented).toContain(r);
  });

  it('the audit API documents no update or delete, and answers none', async () => {
    const audit = documented.filter((r) => r.includes(' /api/audit/'));
    expect(audit.filter((r) => /^(PUT|PATCH|DELETE) /.test(r))).toEqual([]);
    expect(audit.filter((r) => r.startsWith('POST ')).sort()).toEqual(['POST /api/audit/checkpoints/{size}/cosignatures', 'POST /api/audit/entries', 'POST /api/audit/witnesses']);
    const before = EntriesPageSchema.parse(await call('GET', '/api/audit/entries?start=0&limit=1', undefined, e.auditor.session)).entries[0]!;
    for (const who of [e.auditor, e.sys, e.sec]) {
      for (const [method, path] of [['DELETE', '/api/audit/entries/0'], ['PUT', '/api/audit/entries/0'], ['DELETE', '/api/audit/entries'], ['DELETE', '/api/audit/checkpoints/1']] as const) {
        expect(await relayCode(call(method, path, method === 'PUT' ? { leaf: 'x' } : undefined, who.session)), `${method} ${path}`).toMatch(/^E_(NOT_FOUND|FORBIDDEN)$/);
      }
    }
    const after = EntriesPageSchema.parse(await call('GET', '/api/audit/entries?start=0&limit=1', undefined, e.auditor.session)).entries[0]!;
    expect(after.leafHash).toBe(before.leafHash);
  });

  it('the auditor is refused on the writes of every other service, even once certified and granted a role in a space', async () => {
    const auditor = e.auditor;
    // A certified auditor with an editor grant: the space role alone would let it write.
    const profile = AccountProfileSchema.parse(await call('GET', `/api/directory/accounts/${auditor.account}`, undefined, e.sec.session));
    await certifyAccount(t, e.sec, { certificatePem: e.caPem, privateKey: e.caKey, enterpriseName: e.name }, profile);
    const { space: s } = await createSpace(t, manager, e.caPem, 'Auditor probe');
    await grantAccess(t, manager, e.caPem, s, auditor.account, 'editor');
    const refused: [Method, string, unknown][] = [
      ['POST', '/api/keys/grants', { space: s, member: viewer.account, role: 'viewer', keyVersion: 1, envelope: {} }],
      ['POST', '/api/vault/contracts', { contract: 'c-auditor-probe', space: s }],
      ['POST', '/api/keys/seals', { stampPng: STAMP, request: {} }],
      ['POST', '/api/keys/spaces', { space: 'sp-auditor-probe' }],
      ['POST', '/api/keys/envelopes', {}],
      ['DELETE', `/api/keys/grants/${s}/${manager.account}`, undefined],
      ['POST', '/api/directory/accounts', { legalName: 'Nobody', employeeNumber: 'E9999', contact: 'n@example.test', username: 'nobody' }],
      ['PUT', '/api/directory/policy', { passwordMinLength: 10, idleTimeoutMinutes: 1 }],
      ['PUT', `/api/directory/accounts/${auditor.account}/contact`, { contact: 'changed@example.test' }],
      ['POST', '/api/directory/account-requests', { kind: 'profile', account: auditor.account, legalName: 'Someone Else' }],
      ['POST', '/api/directory/role-requests', { account: viewer.account, role: 'space-manager', op: 'add' }],
      ['POST', '/api/directory/departments', { name: 'Auditors' }],
      ['POST', `/api/vault/contracts/${contract.contract}/deletion`, {}],
    ];
    for (const [method, path, b] of refused) expect(await relayCode(call(method, path, b, auditor.session)), `${method} ${path}`).toBe('E_FORBIDDEN');
    // Still read-only where it may read: the whole log.
    expect(EntriesPageSchema.parse(await call('GET', '/api/audit/entries?start=0&limit=1', undefined, auditor.session)).entries.length).toBe(1);
  });
});
