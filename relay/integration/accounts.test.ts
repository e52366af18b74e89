/**
 * Enterprise accounts end to end, with the browser's own protocol code (shared/protocol) against
 * the real composed relay over HTTPS: first-run setup, the three administrators' registration
 * (the security administrator makes the enterprise CA), an employee invited, approved,
 * registered and certified; a legal-name change that revokes the certificate; password change
 * and recovery; disabling. And the refusals issue 4 asks for: weak Argon2id parameters refused
 * before hashing, a swapped wrapped key refused with nothing re-uploaded, an escrow release
 * without the escrow-auth signature, an uncertified or revoked key that cannot be granted, two
 * administrator roles on one account. Finally the audit log holds each of these actions.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ARGON2_PARAMS, derivePasswordHalf, type Argon2Params } from '../../shared/crypto/argon2';
import { fromBase64url, toBase64url } from '../../shared/crypto/encoding';
import { importEnvelopePublicKey, sealEnvelope } from '../../shared/crypto/envelopes';
import { signStatement } from '../../shared/crypto/statements';
import { registerAccount, tokenId, unlockAccount, type DeriveP, type RegisteredAccount, type UnlockedAccount } from '../../shared/protocol/account';
import { certifiedKeysOf, certifyAccount, openEnterpriseCaKey } from '../../shared/protocol/certification';
import { changePassword } from '../../shared/protocol/password';
import { recoverAccount } from '../../shared/protocol/recovery';
import { fetchTransport, type RelayTransport } from '../../shared/protocol/relay-transport';
import { EntriesPageSchema } from '../../shared/schemas/audit';
import { AccountProfileSchema, EnterpriseResponse } from '../../shared/schemas/directory';
import { envelopeDigest, type EnvelopeWire } from '../../shared/schemas/keys';
import { codeOf, relayCode } from '../../shared/test-support/outcome';
import { createLogger } from '../common/observability';
import { startRelay, type RunningRelay } from '../server';
import { caFetch } from './https-client';

const dataDir = mkdtempSync(join(tmpdir(), 'sealvault-accounts-'));
let relay: RunningRelay;
let fetcher: ReturnType<typeof caFetch>;
let transport: RelayTransport;

const deriveP: DeriveP = (password, salt, params) => derivePasswordHalf(password, salt, params);

/** A transport that records every call and lets a test rewrite the relay's answers (a malicious relay). */
function interceptingTransport(rewrite: (method: string, path: string, answer: unknown) => unknown = (_m, _p, a) => a) {
  const calls: { method: string; path: string }[] = [];
  const t: RelayTransport = {
    async request(method, path, body, session) {
      calls.push({ method, path });
      return rewrite(method, path, await transport.request(method, path, body, session));
    },
  };
  return { t, calls };
}

beforeAll(async () => {
  // One test account unlocks far more often than a person would in a minute.
  process.env.SEALVAULT_ESCROW_CALLS_PER_MINUTE = '1000';
  relay = await startRelay({ dataDir, port: 0, httpPort: false, handleSignals: false, log: () => {}, logger: createLogger({ level: 'warn' }), spaDir: join(dataDir, 'no-client') });
  fetcher = caFetch(readFileSync(join(dataDir, 'tls', 'ca.pem')));
  transport = fetchTransport(relay.url.replace(/\/$/, ''), (url, init) => fetcher(url, init as never));
});
afterAll(async () => {
  fetcher?.close();
  await relay?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const ENTERPRISE = '示例科技 Example Tech';
const call = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown, session?: string) => transport.request(method, path, body, session) as Promise<any>;

/** True when `b` opens what `a` sealed: the same non-extractable AES-GCM key, compared without exporting it. */
async function sameKey(a: CryptoKey, b: CryptoKey): Promise<boolean> {
  const iv = new Uint8Array(12);
  const ct = await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, a, new Uint8Array(1));
  return crypto.subtle.decrypt({ name: 'AES-GCM', iv }, b, ct).then(
    () => true,
    () => false,
  );
}

describe('enterprise accounts with the browser protocol, over HTTPS', () => {
  let sys: RegisteredAccount;
  let sec: RegisteredAccount;
  let auditor: RegisteredAccount;
  let zhang: RegisteredAccount;
  let li: RegisteredAccount;
  let caPem: string;
  let caKey: CryptoKey;

  it('goes from a fresh install to three administrators and an enterprise CA made by the security administrator', async () => {
    const link = readFileSync(join(dataDir, 'setup-link.txt'), 'utf8').trim();
    const setupToken = link.split('#')[1];
    expect(EnterpriseResponse.parse(await call('GET', '/api/directory/enterprise'))).toEqual({ name: null, setupDone: false, caCertificate: null });
    const setup = await call('POST', '/api/directory/setup', {
      setupToken,
      enterprise: { name: ENTERPRISE },
      administrators: [
        { role: 'system-admin', legalName: '王系统', employeeNumber: 'A001', contact: 'sys@example.test', username: 'sys' },
        { role: 'security-admin', legalName: '李安全', employeeNumber: 'A002', contact: 'sec@example.test', username: 'sec' },
        { role: 'auditor', legalName: '赵审计', employeeNumber: 'A003', contact: 'audit@example.test', username: 'auditor' },
      ],
    });
    const invite = (role: string) => setup.invitations.find((i: { role: string }) => i.role === role).invitationCode as string;
    sys = await registerAccount({ transport, invitationCode: invite('system-admin'), password: 'sys admin correct horse 1', deriveP });
    sec = await registerAccount({ transport, invitationCode: invite('security-admin'), password: 'sec admin battery staple 2', deriveP });
    auditor = await registerAccount({ transport, invitationCode: invite('auditor'), password: 'auditor tamper evident 3', deriveP });
    expect(sys.recoveryCode).toMatch(/^([0-9A-F]{4}-){7}[0-9A-F]{4}$/);
    expect(sec.signing.privateKey.extractable).toBe(false);
    expect(sec.envelope.privateKey.extractable).toBe(false);

    const { establishEnterpriseCa } = await import('../../shared/protocol/certification');
    const ca = await establishEnterpriseCa(transport, sec, ENTERPRISE);
    caPem = ca.certificatePem;
    expect(EnterpriseResponse.parse(await call('GET', '/api/directory/enterprise')).caCertificate).toBe(caPem);
    // Only a security administrator's envelope exists, and it opens to the CA's key.
    caKey = await openEnterpriseCaKey(transport, sec, caPem);
    expect(caKey.extractable).toBe(false);
    expect(await relayCode(call('GET', '/api/keys/ca-key', undefined, sys.session))).toBe('E_FORBIDDEN');
    // A second CA cannot replace the first.
    expect(await relayCode(call('PUT', '/api/directory/enterprise/ca', { certificate: caPem }, sec.session))).toBe('E_CONFLICT');
  });

  it('invites, approves (four eyes), registers and certifies employees; only certified keys can be granted', async () => {
    const invited = await call('POST', '/api/directory/accounts', { legalName: '张三', employeeNumber: 'E1001', contact: 'zhang@example.test', username: 'zhang' }, sys.session);
    // The system administrator cannot approve what they created.
    expect(await relayCode(call('POST', `/api/directory/accounts/${invited.account}/approve`, {}, sys.session))).toBe('E_FORBIDDEN');
    await call('POST', `/api/directory/accounts/${invited.account}/approve`, {}, sec.session);
    zhang = await registerAccount({ transport, invitationCode: invited.invitationCode, password: 'zhang contract vault 合同 4', deriveP });

    const invitedLi = await call('POST', '/api/directory/accounts', { legalName: '李四', employeeNumber: 'E1002', contact: 'li@example.test', username: 'li' }, sys.session);
    await call('POST', `/api/directory/accounts/${invitedLi.account}/approve`, {}, sec.session);
    const request = await call('POST', '/api/directory/role-requests', { account: invitedLi.account, role: 'space-manager', op: 'add' }, sys.session);
    await call('POST', `/api/directory/role-requests/${request.id}/approve`, {}, sec.session);
    li = await registerAccount({ transport, invitationCode: invitedLi.invitationCode, password: 'li space manager 5 keys', deriveP });

    // Registered but not certified: the client refuses to wrap to it, and so does the relay.
    expect(await codeOf(certifiedKeysOf(transport, zhang.account, caPem))).toBe('E_CONTEXT');
    const profile = (id: string) => call('GET', `/api/directory/accounts/${id}`, undefined, sec.session).then((v) => AccountProfileSchema.parse(v));
    await certifyAccount(transport, sec, { certificatePem: caPem, privateKey: caKey, enterpriseName: ENTERPRISE }, await profile(li.account));
    const liUnlocked = await unlockAccount({ transport, username: 'li', password: 'li space manager 5 keys', deriveP });
    await call('POST', '/api/keys/spaces', { space: 'sp-1', name: 'Procurement' }, liUnlocked.session);
    const grantTo = async (member: UnlockedAccount | RegisteredAccount, envelopeKey: CryptoKey) => {
      const spaceKey = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, true, ['encrypt']);
      const envelope = await sealEnvelope(envelopeKey, spaceKey, { purpose: 'space-key', recipient: member.account, space: 'sp-1', keyVersion: 1 });
      const grantStatement = await signStatement(liUnlocked.signing.privateKey, {
        type: 'sealvault/v1/grant', space: 'sp-1', member: member.account, role: 'viewer', keyVersion: 1, granter: liUnlocked.account, envelopeDigest: await envelopeDigest(envelope as EnvelopeWire),
      });
      return call('POST', '/api/keys/grants', { space: 'sp-1', member: member.account, role: 'viewer', keyVersion: 1, envelope, grantStatement }, liUnlocked.session);
    };
    // A client that skipped its own check still meets the relay's.
    expect(await relayCode(grantTo(zhang, await importEnvelopePublicKey(zhang.envelope.spki)))).toBe('E_NOT_CERTIFIED');

    await certifyAccount(transport, sec, { certificatePem: caPem, privateKey: caKey, enterpriseName: ENTERPRISE }, await profile(zhang.account));
    const certified = await certifiedKeysOf(transport, zhang.account, caPem);
    expect(certified.legalName).toBe('张三');
    await expect(grantTo(zhang, certified.envelopeKey)).resolves.toMatchObject({ member: zhang.account, role: 'viewer' });
    // Nobody certifies their own keys.
    expect(await relayCode(certifyAccount(transport, sec, { certificatePem: caPem, privateKey: caKey, enterpriseName: ENTERPRISE }, await profile(sec.account)))).toBe('E_FOUR_EYES');
  });

  it('refuses one account holding two administrator roles, and a request decided by its requester', async () => {
    expect(await relayCode(call('POST', '/api/directory/role-requests', { account: sec.account, role: 'auditor', op: 'add' }, sys.session))).toBe('E_SEPARATION');
    const req = await call('POST', '/api/directory/role-requests', { account: zhang.account, role: 'space-manager', op: 'add' }, sys.session);
    // The system administrator is not a security administrator; the security administrator decides.
    expect(await relayCode(call('POST', `/api/directory/role-requests/${req.id}/approve`, {}, sys.session))).toBe('E_FORBIDDEN');
    await call('POST', `/api/directory/role-requests/${req.id}/reject`, { reason: 'not in procurement' }, sec.session);
  });

  it('unlocks with both halves, and refuses weak Argon2id parameters before hashing anything', async () => {
    const me = await unlockAccount({ transport, username: 'zhang', password: 'zhang contract vault 合同 4', deriveP });
    expect(me.account).toBe(zhang.account);
    expect(me.signing.privateKey.extractable).toBe(false);

    let hashed = 0;
    const spy: DeriveP = (...args) => {
      hashed++;
      return deriveP(...args);
    };
    for (const weak of [{ m: 1024, t: 3, p: 1 }, { m: 65536, t: 1, p: 1 }, { m: 4 * 1024 * 1024, t: 3, p: 1 }] as Argon2Params[]) {
      const { t } = interceptingTransport((_m, path, answer) => (path.endsWith('/prelogin') ? { ...(answer as object), kdf: weak } : answer));
      expect(await codeOf(unlockAccount({ transport: t, username: 'zhang', password: 'zhang contract vault 合同 4', deriveP: spy }))).toBe('E_KDF_PARAMS');
    }
    expect(hashed).toBe(0);
    expect(await relayCode(unlockAccount({ transport, username: 'zhang', password: 'wrong password entirely', deriveP }))).toBe('E_LOGIN_FAILED');
  });

  it('refuses a swapped wrapped private key and uploads nothing in return', async () => {
    const liKeys = await call('GET', '/api/keys/private-keys/latest', undefined, (await unlockAccount({ transport, username: 'li', password: 'li space manager 5 keys', deriveP })).session);
    const swaps: Record<string, (a: any) => unknown> = {
      "another account's envelope key": (a) => ({ ...a, envelopeKey: liKeys.envelopeKey }),
      'signing and envelope slots exchanged': (a) => ({ ...a, envelopeKey: a.signingKey, signingKey: a.envelopeKey }),
    };
    for (const [what, swap] of Object.entries(swaps)) {
      const { t, calls } = interceptingTransport((_m, path, answer) => (path.startsWith('/api/keys/private-keys/') ? swap(answer) : answer));
      const code = await codeOf(unlockAccount({ transport: t, username: 'zhang', password: 'zhang contract vault 合同 4', deriveP }));
      expect(['E_AUTH', 'E_FORMAT'], what).toContain(code);
      const writes = calls.filter((c) => c.method !== 'GET' && !/\/(prelogin|login\/start|login\/finish|escrow-ticket)$|\/escrow\/(challenge|release)$/.test(c.path));
      expect(writes, what).toEqual([]);
    }
  });

  it('refuses an escrow release with a valid directory ticket but without the escrow-auth signature', async () => {
    const me = await unlockAccount({ transport, username: 'zhang', password: 'zhang contract vault 合同 4', deriveP });
    const { ticket } = await call('POST', '/api/directory/escrow-ticket', {}, me.session);
    const challenge = await call('POST', '/api/escrow/challenge', { ticket });
    expect(await relayCode(call('POST', '/api/escrow/release', { ticket, challengeId: challenge.challengeId }))).toMatch(/^E_(VALIDATION|SIGNATURE)$/);
    // A signature by another key (the signing key of the account, not its escrow-auth key) is refused too.
    const { ticket: t2 } = await call('POST', '/api/directory/escrow-ticket', {}, me.session);
    const c2 = await call('POST', '/api/escrow/challenge', { ticket: t2 });
    const wrongKey = (await crypto.subtle.generateKey('Ed25519', false, ['sign'])) as CryptoKeyPair;
    const { signEscrowChallenge } = await import('../../shared/formats/escrow-challenge');
    const signature = toBase64url(await signEscrowChallenge(wrongKey.privateKey, fromBase64url(c2.challenge), me.account, tokenId(t2)));
    expect(await relayCode(call('POST', '/api/escrow/release', { ticket: t2, challengeId: c2.challengeId, signature }))).toBe('E_SIGNATURE');
  });

  it('a legal-name change is requested, approved by the security administrator, and revokes the old certificate', async () => {
    const me = await unlockAccount({ transport, username: 'zhang', password: 'zhang contract vault 合同 4', deriveP });
    const request = await call('POST', '/api/directory/account-requests', { kind: 'profile', account: me.account, legalName: '张三丰' }, me.session);
    // Nobody decides their own request, and the system administrator decides nothing.
    expect(await relayCode(call('POST', `/api/directory/account-requests/${request.id}/approve`, {}, sys.session))).toBe('E_FORBIDDEN');
    await call('POST', `/api/directory/account-requests/${request.id}/approve`, {}, sec.session);
    const keys = await call('GET', `/api/directory/accounts/${me.account}/public-keys`);
    expect(keys).toMatchObject({ certified: false, revoked: true });
    expect(await codeOf(certifiedKeysOf(transport, me.account, caPem))).toBe('E_CONTEXT');
    const profile = AccountProfileSchema.parse(await call('GET', `/api/directory/accounts/${me.account}`, undefined, sec.session));
    expect(profile.legalName).toBe('张三丰');
    await certifyAccount(transport, sec, { certificatePem: caPem, privateKey: caKey, enterpriseName: ENTERPRISE }, profile);
    expect((await certifiedKeysOf(transport, me.account, caPem)).legalName).toBe('张三丰');
    const history = await call('GET', `/api/directory/accounts/${me.account}/history`, undefined, me.session);
    expect(history.events.map((e: { kind: string }) => e.kind)).toEqual(expect.arrayContaining(['profile.request', 'certificate.issued', 'account.registered', 'account.approved']));
  });

  it('changes the password (old one needed, other sessions ended) and recovers with the recovery code', async () => {
    const other = await unlockAccount({ transport, username: 'zhang', password: 'zhang contract vault 合同 4', deriveP });
    expect(await relayCode(changePassword({ transport, username: 'zhang', oldPassword: 'not the password', newPassword: 'a brand new passphrase 6', deriveP }))).toBe('E_LOGIN_FAILED');
    const changed = await changePassword({ transport, username: 'zhang', oldPassword: 'zhang contract vault 合同 4', newPassword: 'a brand new passphrase 6', deriveP });
    expect(changed.escrowVersion).toBe(2);
    expect(await relayCode(call('GET', '/api/directory/me', undefined, other.session))).toBe('E_UNAUTHORIZED');
    expect(await relayCode(unlockAccount({ transport, username: 'zhang', password: 'zhang contract vault 合同 4', deriveP }))).toBe('E_LOGIN_FAILED');
    const again = await unlockAccount({ transport, username: 'zhang', password: 'a brand new passphrase 6', deriveP });
    expect(again.signing.keyId).toBe(zhang.signing.keyId);
    // The local search index key: one key from registration through every sign-in, a new one with a new password.
    expect(other.localIndexKey.extractable).toBe(false);
    expect(await sameKey(zhang.localIndexKey, other.localIndexKey)).toBe(true);
    expect(await sameKey(changed.localIndexKey, again.localIndexKey)).toBe(true);
    expect(await sameKey(other.localIndexKey, again.localIndexKey)).toBe(false);

    // Forgotten password: the recovery code from registration still opens the same keys.
    expect(await relayCode(recoverAccount({ transport, username: 'zhang', recoveryCode: '0000-0000-0000-0000-0000-0000-0000-0001', newPassword: 'recovered passphrase 7 ok', deriveP }))).toBe('E_RECOVERY_FAILED');
    const recovered = await recoverAccount({ transport, username: 'ZHANG', recoveryCode: zhang.recoveryCode.toLowerCase(), newPassword: 'recovered passphrase 7 ok', deriveP });
    expect(recovered.envelope.keyId).toBe(zhang.envelope.keyId);
    expect(recovered.escrowVersion).toBe(3);
    const afterRecovery = await unlockAccount({ transport, username: 'zhang', password: 'recovered passphrase 7 ok', deriveP });
    expect(afterRecovery.account).toBe(zhang.account);
    expect(await sameKey(recovered.localIndexKey, afterRecovery.localIndexKey)).toBe(true);
  });

  it('disabling (requested by the system administrator, approved by the security administrator) stops unlocking and certification', async () => {
    const request = await call('POST', '/api/directory/account-requests', { kind: 'disable', account: zhang.account, reason: 'left the company' }, sys.session);
    await call('POST', `/api/directory/account-requests/${request.id}/approve`, {}, sec.session);
    expect(await relayCode(unlockAccount({ transport, username: 'zhang', password: 'recovered passphrase 7 ok', deriveP }))).toBe('E_ACCOUNT_DISABLED');
    expect(await codeOf(certifiedKeysOf(transport, zhang.account, caPem))).toBe('E_CONTEXT');
    expect(await call('GET', `/api/directory/accounts/${zhang.account}/public-keys`)).toMatchObject({ status: 'disabled', certified: false, revoked: true });
  });

  it('records every one of these actions in the audit log, signed by the actor or the observing service', async () => {
    const me = await unlockAccount({ transport, username: 'auditor', password: 'auditor tamper evident 3', deriveP });
    const entries: { entry: { action: string; signer: { kind: string } } }[] = [];
    for (let start: number | null = 0; start !== null; ) {
      const page = EntriesPageSchema.parse(await call('GET', `/api/audit/entries?start=${start}&limit=1000`, undefined, me.session));
      for (const e of page.entries) if (e.entry) entries.push({ entry: e.entry });
      start = page.nextStart;
    }
    const actions = new Set(entries.map((e) => e.entry.action));
    for (const action of [
      'setup.complete', 'account.invite', 'account.approve', 'account.register', 'login.success', 'login.failure', 'escrow.release',
      'ca.create', 'certificate.issue', 'certificate.revoke', 'role.request', 'role.approve', 'role.reject', 'profile.request', 'profile.approve',
      'password.change', 'account.recover', 'account.disable', 'escrow.register',
    ]) {
      expect(actions, action).toContain(action);
    }
    // The certificate issue is also in the security administrator's own signed words.
    expect(entries.some((e) => e.entry.action === 'certificate.issue' && e.entry.signer.kind === 'account')).toBe(true);
    expect(entries.some((e) => e.entry.action === 'ca.create' && e.entry.signer.kind === 'account')).toBe(true);
    expect(auditor.account).toBe(me.account);
  });
});
