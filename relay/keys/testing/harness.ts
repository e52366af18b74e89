/**
 * TEST SUPPORT ONLY: the keys service mounted in the relay app over a fake directory, a `call`
 * helper that fails the test on any 500, and bodies made the way a browser makes them: a grant
 * (space key wrapped to a member, signed by its granter) and a single share (a DEK wrapped to one
 * account, signed by its granter).
 */
import { sealEnvelope, type EnvelopeContext } from '../../../shared/crypto/envelopes';
import { signStatement, type Statement } from '../../../shared/crypto/statements';
import { ENVELOPE_STATEMENT_TYPE, GRANT_STATEMENT_TYPE, envelopeDigest, type EnvelopeWire, type GrantRole } from '../../../shared/schemas/keys';
import type { AuditSink } from '../../common/audit-sink';
import { createRelayApp } from '../../server';
import { testServiceContext } from '../../test-support/service-context';
import { createKeysService } from '../index';
import type { FakeDirectory, TestAccount } from './fake-directory';

export type KeysCall = (
  method: string,
  path: string,
  o?: { as?: TestAccount; body?: unknown; raw?: string; headers?: Record<string, string> },
) => Promise<{ status: number; json: any }>;

/** `rolesOf` gives the roles a session carries (default: the account's directory roles). */
export async function keysHarness(dir: FakeDirectory, opts: { audit?: AuditSink; rolesOf?: (a: TestAccount) => string[] } = {}) {
  const ctx = await testServiceContext('keys', { local: dir.local });
  const service = createKeysService(opts.audit ? { ...ctx, audit: opts.audit } : ctx);
  const errors: string[] = [];
  const app = createRelayApp({ services: [service], errorLog: (line) => errors.push(line) });
  const tokens = new Map<string, string>();
  const sessionOf = async (a: TestAccount) => {
    if (!tokens.has(a.id)) tokens.set(a.id, await dir.session(a.id, opts.rolesOf?.(a) ?? a.record.roles));
    return tokens.get(a.id)!;
  };
  const call: KeysCall = async (method, path, o = {}) => {
    const headers: Record<string, string> = { ...(o.headers ?? {}) };
    if (o.as) headers.authorization = `Bearer ${await sessionOf(o.as)}`;
    let body: string | undefined;
    if (o.raw !== undefined || o.body !== undefined) {
      headers['content-type'] ??= 'application/json';
      body = o.raw ?? JSON.stringify(o.body);
    }
    const res = await app.request(`/api/keys${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
    const text = await res.text();
    // A client error is never a 500: any internal error fails the test with its log line.
    if (res.status === 500) throw new Error(`500 from ${method} ${path}: ${errors.join('\n')}`);
    return { status: res.status, json: text ? JSON.parse(text) : null };
  };
  return { ctx, app, call, events: ctx.audit.events, service };
}

export async function spaceKey(): Promise<CryptoKey> {
  return crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, true, ['encrypt', 'decrypt']) as Promise<CryptoKey>;
}

export async function grantBody(
  space: string,
  member: TestAccount,
  role: GrantRole,
  keyVersion: number,
  granter: TestAccount,
  sk: CryptoKey,
  tweak: { context?: Partial<EnvelopeContext>; statement?: Record<string, unknown>; signWith?: TestAccount } = {},
) {
  const context = { purpose: 'space-key', recipient: member.id, space, keyVersion, ...tweak.context } as EnvelopeContext;
  const envelope = await sealEnvelope(member.envelopeKeys.publicKey, sk, context);
  const statement = {
    type: GRANT_STATEMENT_TYPE,
    space,
    member: member.id,
    role,
    keyVersion,
    granter: granter.id,
    envelopeDigest: await envelopeDigest(envelope as EnvelopeWire),
    ...tweak.statement,
  } as Record<string, unknown>;
  for (const k of Object.keys(statement)) if (statement[k] === undefined) delete statement[k];
  const grantStatement = await signStatement((tweak.signWith ?? granter).signingKeys.privateKey, statement as Statement);
  return { space, member: member.id, role, keyVersion, envelope, grantStatement };
}

/**
 * A single share of `contract` in space "sp" (unless `extra` says otherwise; a field set to
 * undefined is left out) wrapped to `recipient`, signed by `granter` (or `signWith`).
 */
export async function dekBody(recipient: TestAccount, granter: TestAccount, contract: string, extra: Record<string, string | undefined> = {}, signWith?: TestAccount) {
  const dek = (await crypto.subtle.generateKey({ name: 'HMAC', hash: 'SHA-256', length: 256 }, true, ['sign'])) as CryptoKey;
  const context = { purpose: 'dek', recipient: recipient.id, contract, space: 'sp', ...extra } as Record<string, unknown>;
  for (const k of Object.keys(context)) if (context[k] === undefined) delete context[k];
  const envelope = await sealEnvelope(recipient.envelopeKeys.publicKey, dek, context as EnvelopeContext);
  const statement = { type: ENVELOPE_STATEMENT_TYPE, granter: granter.id, context, envelopeDigest: await envelopeDigest(envelope as EnvelopeWire) };
  return { envelope, signedBy: await signStatement((signWith ?? granter).signingKeys.privateKey, statement as Statement) };
}

/** A space managed by `manager`, with the manager's own copy of the space key; returns that key. */
export async function makeSpace(call: KeysCall, space: string, manager: TestAccount): Promise<CryptoKey> {
  const sk = await spaceKey();
  const created = await call('POST', '/spaces', { as: manager, body: { space, name: 'Contracts' } });
  const granted = await call('POST', '/grants', { as: manager, body: await grantBody(space, manager, 'manager', 1, manager, sk) });
  if (created.status !== 200 || granted.status !== 200) throw new Error(`space ${space} not made: ${JSON.stringify([created.json, granted.json])}`);
  return sk;
}
