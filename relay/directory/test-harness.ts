/**
 * Test helpers for the directory: one service behind the relay's own error handling (so errors
 * have their real status and shape), a movable clock, and shortcuts for setup, registration and
 * login that go through the real routes and the real client helper (shared/protocol).
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { generateEnvelopeKeyPair } from '../../shared/crypto/envelopes';
import { generateSigningKeyPair } from '../../shared/crypto/statements';
import { DEFAULT_ARGON2_PARAMS } from '../../shared/crypto/argon2';
import { fromBase64url } from '../../shared/crypto/encoding';
import { createEnterpriseCa, type EnterpriseCa } from '../../shared/pki/enterprise-ca';
import { issueEmployeeCertificate } from '../../shared/pki/employee-certificate';
import { httpTransport, login, newSalt, register, type DirectoryTransport } from '../../shared/protocol/directory-client';
import { AccountRequestSchema, type AdminRole, type SessionAnswer } from '../../shared/schemas/directory';
import { createRelayApp } from '../server';
import { testServiceContext } from '../test-support/service-context';
import { createDirectoryServiceWith, type DirectoryOptions, type DirectoryService } from './index';

export const BASE = 'http://relay.test/api/directory';

export interface Harness {
  ctx: Awaited<ReturnType<typeof testServiceContext>>;
  service: DirectoryService;
  clock: { t: number };
  transport: DirectoryTransport;
  request(path: string, init?: RequestInit): Promise<Response>;
  post(path: string, body?: unknown, session?: string): Promise<Response>;
  put(path: string, body?: unknown, session?: string): Promise<Response>;
  get(path: string, session?: string): Promise<Response>;
  /** Public keys for the next registration in this directory (distinct within it; reused across directories). */
  nextKeys(): Promise<{ envelopeKey: Uint8Array; signingKey: Uint8Array }>;
  /** A second, read-only look at the service's SQLite file. */
  peekDb(): Database.Database;
  restart(options?: Omit<DirectoryOptions, 'now'>): Promise<void>;
  close(): Promise<void>;
}

export async function makeDirectory(options: Omit<DirectoryOptions, 'now'> & { dataDir?: string } = {}): Promise<Harness> {
  const ctx = await testServiceContext('directory', options.dataDir ? { dataDir: options.dataDir } : {});
  const clock = { t: Date.now() };
  const make = (o: Omit<DirectoryOptions, 'now'>) => createDirectoryServiceWith(ctx, { ...o, now: () => clock.t });
  let service = await make(options);
  let app = createRelayApp({ services: [service], errorLog: () => undefined });
  const request = async (path: string, init?: RequestInit) => app.request(`${BASE}${path}`, init);
  let keysUsed = 0;
  const h: Harness = {
    ctx,
    get service() {
      return service;
    },
    clock,
    transport: httpTransport(BASE, (url, init) => app.request(url, init)),
    request,
    post(path, body, session) {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (session) headers.authorization = `Bearer ${session}`;
      return request(path, { method: 'POST', headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    },
    put(path, body, session) {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (session) headers.authorization = `Bearer ${session}`;
      return request(path, { method: 'PUT', headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    },
    get(path, session) {
      return request(path, session ? { headers: { authorization: `Bearer ${session}` } } : {});
    },
    nextKeys: () => pooledKeys(keysUsed++),
    peekDb: () => new Database(join(ctx.dataDir, 'directory.sqlite'), { readonly: true }),
    async restart(o = {}) {
      await service.close?.();
      service = await make(o);
      app = createRelayApp({ services: [service], errorLog: () => undefined });
    },
    close: async () => service.close?.(),
  };
  return h;
}

export const ADMINS = [
  { role: 'system-admin', legalName: 'Sam Sys', employeeNumber: 'E001', contact: 'sam@example.test' },
  { role: 'security-admin', legalName: 'Sue Sec', employeeNumber: 'E002', contact: 'sue@example.test' },
  { role: 'auditor', legalName: 'Aud Itor', employeeNumber: 'E003', contact: 'aud@example.test' },
] as const;

export function setupBody(token: string) {
  return { setupToken: token, enterprise: { name: 'Example Corp' }, administrators: ADMINS.map((a) => ({ ...a })) };
}

export interface Person {
  account: string;
  username: string;
  passwordHalf: Uint8Array;
  session: string;
  roles: string[];
}

/** Public keys for a registration: real RSA-3072 and P-256 keys, as SPKI DER. */
export async function freshKeys(): Promise<{ envelopeKey: Uint8Array; signingKey: Uint8Array }> {
  const [env, sig] = await Promise.all([generateEnvelopeKeyPair(), generateSigningKeyPair()]);
  return {
    envelopeKey: new Uint8Array(await crypto.subtle.exportKey('spki', env.publicKey)),
    signingKey: new Uint8Array(await crypto.subtle.exportKey('spki', sig.publicKey)),
  };
}

// RSA-3072 generation dominates test time. Keys must differ within one directory (public keys are
// unique there) but may repeat across the independent directories of different tests.
const keyPool: Promise<{ envelopeKey: Uint8Array; signingKey: Uint8Array }>[] = [];
function pooledKeys(n: number) {
  while (keyPool.length <= n) keyPool.push(freshKeys());
  return keyPool[n]!;
}

/**
 * Registers through the client helper. P is random bytes here (what Argon2id would output):
 * the directory never sees P either way, and it keeps the tests fast; one test uses real Argon2id.
 */
export async function registerPerson(
  h: Harness,
  invitationCode: string,
  passwordHalf = crypto.getRandomValues(new Uint8Array(32)),
  keys?: { envelopeKey: Uint8Array; signingKey: Uint8Array },
): Promise<Person> {
  const answer = await register(h.transport, { invitationCode, passwordHalf, salt: newSalt(), params: DEFAULT_ARGON2_PARAMS, ...(keys ?? (await h.nextKeys())) });
  return { account: answer.account, username: answer.username, passwordHalf, session: answer.session, roles: answer.roles };
}

export async function loginPerson(h: Harness, p: Person): Promise<SessionAnswer> {
  return login(h.transport, p.username, p.passwordHalf);
}

export interface Enterprise {
  h: Harness;
  admins: Record<AdminRole, Person>;
}

/** Setup and registration of the three administrators. */
export async function setUpEnterprise(h: Harness): Promise<Enterprise> {
  const res = await h.post('/setup', setupBody(h.service.setupToken!));
  if (res.status !== 200) throw new Error(`setup failed: ${res.status} ${await res.text()}`);
  const { invitations } = (await res.json()) as { invitations: { role: AdminRole; invitationCode: string }[] };
  const admins = {} as Record<AdminRole, Person>;
  for (const i of invitations) admins[i.role] = await registerPerson(h, i.invitationCode);
  return { h, admins };
}

/** A system-admin invites an employee and a security-admin approves; the employee registers. */
export async function addEmployee(e: Enterprise, employeeNumber: string, opts: { approve?: boolean; register?: boolean } = {}): Promise<Person & { invitationCode: string }> {
  const { h, admins } = e;
  const res = await h.post('/accounts', { legalName: `Person ${employeeNumber}`, employeeNumber, contact: `${employeeNumber}@example.test` }, admins['system-admin'].session);
  if (res.status !== 200) throw new Error(`create account failed: ${res.status} ${await res.text()}`);
  const { account, invitationCode } = (await res.json()) as { account: string; invitationCode: string };
  if (opts.approve !== false) {
    const ok = await h.post(`/accounts/${account}/approve`, undefined, admins['security-admin'].session);
    if (ok.status !== 200) throw new Error(`approve failed: ${ok.status} ${await ok.text()}`);
  }
  if (opts.register === false) return { account, username: employeeNumber.toLowerCase(), passwordHalf: new Uint8Array(32), session: '', roles: [], invitationCode };
  return { ...(await registerPerson(h, invitationCode)), invitationCode };
}

export async function json<T = Record<string, unknown>>(res: Response): Promise<T> {
  return (await res.json()) as T;
}

export async function errorCode(res: Response): Promise<[number, string]> {
  return [res.status, (await json<{ error: { code: string } }>(res)).error.code];
}

/** A system-admin asks to disable the account and a security-admin approves (four eyes). */
export async function disableAccount(e: Enterprise, account: string, reason = 'left the company'): Promise<void> {
  const { h, admins } = e;
  const asked = await h.post('/account-requests', { kind: 'disable', account, reason }, admins['system-admin'].session);
  if (asked.status !== 200) throw new Error(`disable request failed: ${asked.status} ${await asked.text()}`);
  const { id } = AccountRequestSchema.parse(await asked.json());
  const ok = await h.post(`/account-requests/${id}/approve`, undefined, admins['security-admin'].session);
  if (ok.status !== 200) throw new Error(`disable approval failed: ${ok.status} ${await ok.text()}`);
}

/** Makes the enterprise root CA (as the security-admin's browser would) and stores its certificate. */
export async function setUpCa(e: Enterprise): Promise<EnterpriseCa> {
  const ca = await createEnterpriseCa('Example Corp', new Date(e.h.clock.t));
  const res = await e.h.put('/enterprise/ca', { certificate: ca.certificatePem }, e.admins['security-admin'].session);
  if (res.status !== 200) throw new Error(`storing the CA failed: ${res.status} ${await res.text()}`);
  return ca;
}

/** An employee certificate for the account as the directory holds it now (name, number, keys); overrides spoil one field. */
export async function certificateFor(
  e: Enterprise,
  ca: EnterpriseCa,
  account: string,
  overrides: Partial<{ legalName: string; employeeNumber: string; account: string; envelopeKey: Uint8Array; signingKey: Uint8Array }> = {},
): Promise<string> {
  const { h, admins } = e;
  const profile = await json<{ legalName: string; employeeNumber: string }>(await h.get(`/accounts/${account}`, admins['security-admin'].session));
  const keys = await json<{ envelopeKey: string; signingKey: string }>(await h.get(`/accounts/${account}/public-keys`));
  return issueEmployeeCertificate(
    ca,
    { account: overrides.account ?? account, legalName: overrides.legalName ?? profile.legalName, employeeNumber: overrides.employeeNumber ?? profile.employeeNumber, enterprise: 'Example Corp' },
    { signingKeySpki: overrides.signingKey ?? fromBase64url(keys.signingKey), envelopeKeySpki: overrides.envelopeKey ?? fromBase64url(keys.envelopeKey) },
    new Date(h.clock.t),
  );
}

/** Issues and stores a certificate for the account (security-admin). */
export async function certify(e: Enterprise, ca: EnterpriseCa, account: string): Promise<void> {
  const res = await e.h.post(`/accounts/${account}/certificate`, { certificate: await certificateFor(e, ca, account) }, e.admins['security-admin'].session);
  if (res.status !== 200) throw new Error(`certify failed: ${res.status} ${await res.text()}`);
}
