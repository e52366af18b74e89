/**
 * Test harness for the audit service: the service mounted in the real relay app (so errors have
 * the relay's shape), a fake directory (session key and account public keys, as
 * docs/relay-api.md describes them), fake escrow and vault service keys, and helpers that sign
 * entries the way the other services and the browser do.
 */
import { Hono } from 'hono';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toBase64url, type Json } from '../../shared/crypto/encoding';
import { generateSigningKeyPair, publicKeyId, signStatement, type Statement } from '../../shared/crypto/statements';
import { AUDIT_ENTRY_TYPE, detailsDigest, signServiceEntry, type AuditEntry, type SignedAuditEntry } from '../../shared/formats/audit-entry';
import { signToken } from '../../shared/formats/token';
import { loadOrCreateServiceKey, type ServiceKey } from '../common/service-key';
import { createRelayApp } from '../server';
import { testServiceContext } from '../test-support/service-context';
import type { ServiceContext } from '../services/service';
import { createAuditService, type AuditService, type AuditServiceOptions } from './index';

export interface FakeAccount {
  id: string;
  status: 'invited' | 'active' | 'disabled';
  roles: string[];
  keys: CryptoKeyPair;
  keyId: string;
  spki: string;
}

export type EntryBody = SignedAuditEntry & { detailsJson?: Record<string, Json> };

export interface AuditHarness {
  service: AuditService;
  relay: Hono;
  ctx: ServiceContext;
  dataDir: string;
  directoryKey: ServiceKey;
  escrowKey: ServiceKey;
  vaultKey: ServiceKey;
  accounts: Map<string, FakeAccount>;
  /** how many times the fake directory was asked for an account's keys */
  directoryLookups: number;
  addAccount(id: string, roles?: string[], status?: FakeAccount['status']): Promise<FakeAccount>;
  session(sub: string, roles?: string[]): Promise<string>;
  /** an entry signed by a fake service key (escrow's by default) */
  serviceEntry(overrides?: Partial<AuditEntry>, details?: Record<string, Json>, key?: ServiceKey, service?: string): Promise<EntryBody>;
  /** an entry signed by the account's P-256 key */
  accountEntry(account: FakeAccount, overrides?: Partial<AuditEntry>, details?: Record<string, Json>): Promise<EntryBody>;
  post(path: string, body: unknown, token?: string): Promise<Response>;
  get(path: string, token?: string): Promise<Response>;
  /** close the service and create it again on the same data folder and key */
  restart(options?: AuditServiceOptions): Promise<void>;
  close(): Promise<void>;
}

let counter = 0;

export async function auditHarness(options: AuditServiceOptions = {}): Promise<AuditHarness> {
  const dataDir = mkdtempSync(join(tmpdir(), 'sealvault-audit-test-'));
  const keyDir = mkdtempSync(join(tmpdir(), 'sealvault-audit-peers-'));
  const directoryKey = await loadOrCreateServiceKey(keyDir, 'directory.pkcs8');
  const escrowKey = await loadOrCreateServiceKey(keyDir, 'escrow.pkcs8');
  const vaultKey = await loadOrCreateServiceKey(keyDir, 'vault.pkcs8');
  const accounts = new Map<string, FakeAccount>();

  const h = { accounts, directoryKey, escrowKey, vaultKey, dataDir, directoryLookups: 0 } as AuditHarness;

  const fake = new Hono();
  fake.get('/api/directory/key', (c) => c.json({ service: 'directory', publicKey: directoryKey.publicB64u }));
  fake.get('/api/escrow/key', (c) => c.json({ service: 'escrow', publicKey: escrowKey.publicB64u }));
  fake.get('/api/vault/key', (c) => c.json({ service: 'vault', publicKey: vaultKey.publicB64u }));
  fake.get('/api/directory/accounts/:id/public-keys', (c) => {
    h.directoryLookups++;
    const a = accounts.get(c.req.param('id'));
    if (!a) return c.json({ error: { code: 'E_NOT_FOUND', message: 'no such account' } }, 404);
    return c.json({
      account: a.id,
      status: a.status,
      roles: a.roles,
      envelopeKey: null,
      signingKey: a.spki,
      signingKeyId: a.keyId,
      certified: a.status === 'active',
      certificate: null,
    });
  });
  // The audit service reaches itself the way the relay does (createAuditSink posts here).
  fake.all('/api/audit/*', (c) => h.relay.fetch(c.req.raw));

  h.ctx = await testServiceContext('audit', { dataDir, local: () => (url, init) => Promise.resolve(fake.request(url, init)) });
  const start = async (opts: AuditServiceOptions) => {
    h.service = await createAuditService(h.ctx, { checkpointIntervalMs: 0, ...opts });
    h.relay = createRelayApp({ services: [h.service], errorLog: () => undefined }) as unknown as Hono;
  };
  await start(options);

  h.addAccount = async (id, roles = ['employee'], status = 'active') => {
    const keys = await generateSigningKeyPair();
    const spki = toBase64url(new Uint8Array(await crypto.subtle.exportKey('spki', keys.publicKey)));
    const account: FakeAccount = { id, status, roles, keys, keyId: await publicKeyId(keys.publicKey), spki };
    accounts.set(id, account);
    return account;
  };

  h.session = async (sub, roles) => {
    const iat = Math.floor(Date.now() / 1000);
    return signToken(directoryKey.privateKey, {
      typ: 'session',
      iss: 'directory',
      sub,
      jti: `s-${++counter}`,
      iat,
      exp: iat + 600,
      roles: roles ?? accounts.get(sub)?.roles ?? ['employee'],
    });
  };

  h.serviceEntry = async (overrides = {}, details = { n: ++counter }, key = escrowKey, service = 'escrow') => {
    const entry = {
      type: AUDIT_ENTRY_TYPE,
      time: Date.now(),
      actor: 'acct-1',
      action: `${service}.release`,
      target: 'account:acct-1',
      outcome: 'ok',
      details: await detailsDigest(details),
      signer: { kind: 'service', service, key: key.publicB64u },
      ...overrides,
    } as AuditEntry;
    return { ...(await signServiceEntry(key.privateKey, entry)), detailsJson: details };
  };

  h.accountEntry = async (account, overrides = {}, details = { n: ++counter }) => {
    const entry = {
      type: AUDIT_ENTRY_TYPE,
      time: Date.now(),
      actor: account.id,
      action: 'contract.upload',
      target: 'contract:c-1',
      outcome: 'ok',
      details: await detailsDigest(details),
      signer: { kind: 'account', account: account.id, keyId: account.keyId },
      ...overrides,
    } as AuditEntry;
    const signed = await signStatement(account.keys.privateKey, entry as unknown as Statement);
    return { entry, signature: signed.signature, detailsJson: details };
  };

  h.post = (path, body, token) =>
    Promise.resolve(
      h.relay.request(`/api/audit${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      }),
    );
  h.get = (path, token) => Promise.resolve(h.relay.request(`/api/audit${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} }));

  h.restart = async (opts = options) => {
    await h.service.close();
    await start(opts);
  };
  h.close = () => h.service.close();
  return h;
}

/** Reads a JSON answer and asserts its status. */
export async function expectJson<T = Record<string, unknown>>(res: Response, status: number): Promise<T> {
  const text = await res.text();
  if (res.status !== status) throw new Error(`expected HTTP ${status}, got ${res.status}: ${text}`);
  return JSON.parse(text) as T;
}
