/**
 * The keys service (DESIGN.md sections 4 and 7): wrapped private keys and recovery wrappings per
 * account and version, contract spaces, grants (a space key wrapped to a member, signed by the
 * space's manager) and envelopes shared to one account. It stores only wrapped or public
 * material, serves an envelope to nobody but its recipient, and records every grant, revocation
 * and envelope in the audit log. It also holds the enterprise CA private key wrapped to each
 * security administrator (opaque RSA-OAEP envelopes made in a security administrator's browser),
 * and seals: their signed statements, certificates and keys wrapped to their users (seals.ts).
 */
import { Hono } from 'hono';
import { canonicalJson, fromBase64url, type Json } from '../../shared/crypto/encoding';
import {
  CA_KEY_PURPOSE,
  CaKeyEnvelopeListSchema,
  CaKeyRecipientParamSchema,
  CaKeyRecipientsQuerySchema,
  CaKeyRecipientsSchema,
  CreateGrantSchema,
  CreateSpaceSchema,
  PutSpaceNameSchema,
  SpaceNameParamSchema,
  GRANT_STATEMENT_TYPE,
  GrantPathSchema,
  GrantResultSchema,
  GrantsListSchema,
  MyGrantQuerySchema,
  MyGrantSchema,
  MySpacesSchema,
  PrivateKeysSchema,
  PutCaKeyEnvelopeResultSchema,
  PutCaKeyEnvelopeSchema,
  PutPrivateKeysSchema,
  PutRecoverySchema,
  RecoverySchema,
  RevokeResultSchema,
  ServiceKeySchema,
  SpaceQuerySchema,
  SpaceSchema,
  StoredVersionSchema,
  VersionParamSchema,
  envelopeDigest,
  type EnvelopeWire,
} from '../../shared/schemas/keys';
import { HealthSchema } from '../../shared/schemas/common';
import type { AuditEvent } from '../common/audit-sink';
import { requireRole, requireSession, sameOriginWrites, type SessionEnv } from '../common/auth';
import { ApiDescription } from '../common/openapi';
import { readJson, readParams, readQuery } from '../common/validate';
import { HttpError } from '../http/errors';
import type { RelayService, ServiceContext } from '../services/service';
import { requireCaKeyRecipient, requireCertifiedRecipient, SECURITY_ADMIN_ROLE, verifySignedBy } from './directory';
import { registerEnvelopeRoutes } from './envelopes';
import { registerSealRoutes } from './seals';
import { readSignedBody } from './signed-body';
import { openKeysStore, type CaKeyEnvelopeRow } from './store';

/** Body limits: wrapped keys are a few KiB, envelopes well under 2 KiB; these leave room and no more. */
export const KEYS_LIMITS = {
  privateKeys: 32 * 1024,
  recovery: 32 * 1024,
  space: 2 * 1024,
  grant: 16 * 1024,
  envelope: 16 * 1024,
  caKey: 4 * 1024,
} as const;

export interface KeysServiceOptions {
  /** milliseconds since the epoch; injectable for tests */
  now?: () => number;
}

type Env = SessionEnv;

const SPACE_KEY_CONTEXT_FIELDS = ['keyVersion', 'purpose', 'recipient', 'space'];

export function createKeysService(ctx: ServiceContext, options: KeysServiceOptions = {}): RelayService {
  const now = options.now ?? Date.now;
  const store = openKeysStore(ctx.dataDir);
  const api = new ApiDescription('keys', ctx.version);
  const app = new Hono<Env>();
  app.use('*', sameOriginWrites());
  const session = requireSession(ctx.peers);

  const audit = async (event: AuditEvent): Promise<void> => {
    try {
      await ctx.audit.record(event);
    } catch (e) {
      ctx.log.error({ err: e, action: event.action }, 'audit append failed');
      throw new HttpError(503, 'E_AUDIT_UNAVAILABLE', 'the audit log is unavailable; nothing was changed');
    }
  };

  // ---- every service ------------------------------------------------------------------------

  api.add({ method: 'get', path: '/health', summary: 'Service health', response: HealthSchema });
  app.get('/health', (c) => c.json({ service: 'keys', version: ctx.version, ok: true }));

  api.add({ method: 'get', path: '/key', summary: "The keys service's Ed25519 public key", response: ServiceKeySchema });
  app.get('/key', (c) => c.json({ service: 'keys', publicKey: ctx.key.publicB64u }));

  api.add({ method: 'get', path: '/openapi.json', summary: 'This description' });
  app.get('/openapi.json', (c) => c.json(api.document()));

  // ---- wrapped private keys and recovery wrappings ------------------------------------------

  const privateKeysAnswer = (row: { account: string; version: number; body: string; created_at: number }) => ({
    ...(JSON.parse(row.body) as object),
    account: row.account,
    version: row.version,
    createdAt: row.created_at,
  });

  api.add({
    method: 'put',
    path: '/private-keys/:version',
    summary: "Store the session account's private keys wrapped under its KEK; versions only go up",
    auth: 'session',
    body: PutPrivateKeysSchema,
    response: StoredVersionSchema,
    errors: { 409: 'E_ROLLBACK: this or a later version is already stored with other content', 413: 'body too large' },
  });
  app.put('/private-keys/:version', session, async (c) => {
    const account = c.get('session').sub;
    const { version } = readParams(c, VersionParamSchema);
    const body = await readJson(c, PutPrivateKeysSchema, KEYS_LIMITS.privateKeys);
    const canonical = canonicalJson(body);
    const same = store.privateKeys.get(account, version);
    if (same) {
      if (same.body === canonical) return c.json({ account, version });
      throw new HttpError(409, 'E_ROLLBACK', `version ${version} is already stored; store a higher version`);
    }
    const latest = store.privateKeys.latest(account);
    if (latest && latest.version >= version) throw new HttpError(409, 'E_ROLLBACK', `version ${latest.version} is already stored; store a higher version`);
    await audit({ actor: account, action: 'keys.private.store', target: `account:${account}`, outcome: 'ok', details: { version, escrowVersion: body.kek.escrowVersion } });
    const written = store.db.transaction(() => {
      const top = store.privateKeys.latest(account);
      if (top && top.version >= version) return false;
      store.privateKeys.insert(account, version, canonical, now());
      return true;
    })();
    if (!written) throw new HttpError(409, 'E_ROLLBACK', 'a higher version was stored meanwhile');
    return c.json({ account, version });
  });

  api.add({ method: 'get', path: '/private-keys/latest', summary: "The session account's newest wrapped private keys", auth: 'session', response: PrivateKeysSchema, errors: { 404: 'none stored' } });
  app.get('/private-keys/latest', session, (c) => {
    const row = store.privateKeys.latest(c.get('session').sub);
    if (!row) throw new HttpError(404, 'E_NOT_FOUND', 'no private keys stored');
    return c.json(privateKeysAnswer(row));
  });

  api.add({ method: 'get', path: '/private-keys/:version', summary: "One version of the session account's wrapped private keys", auth: 'session', response: PrivateKeysSchema, errors: { 404: 'no such version' } });
  app.get('/private-keys/:version', session, (c) => {
    const { version } = readParams(c, VersionParamSchema);
    const row = store.privateKeys.get(c.get('session').sub, version);
    if (!row) throw new HttpError(404, 'E_NOT_FOUND', 'no private keys of this version');
    return c.json(privateKeysAnswer(row));
  });

  api.add({
    method: 'put',
    path: '/recovery/:version',
    summary: "Store the session account's recovery-code wrapping (opaque); versions only go up",
    auth: 'session',
    body: PutRecoverySchema,
    response: StoredVersionSchema,
    errors: { 409: 'E_ROLLBACK: this or a later version is already stored with other content', 413: 'body too large' },
  });
  app.put('/recovery/:version', session, async (c) => {
    const account = c.get('session').sub;
    const { version } = readParams(c, VersionParamSchema);
    const { blob } = await readJson(c, PutRecoverySchema, KEYS_LIMITS.recovery);
    const same = store.recovery.get(account, version);
    if (same) {
      if (same.blob === blob) return c.json({ account, version });
      throw new HttpError(409, 'E_ROLLBACK', `version ${version} is already stored; store a higher version`);
    }
    const latest = store.recovery.latest(account);
    if (latest && latest.version >= version) throw new HttpError(409, 'E_ROLLBACK', `version ${latest.version} is already stored; store a higher version`);
    await audit({ actor: account, action: 'keys.recovery.store', target: `account:${account}`, outcome: 'ok', details: { version } });
    const written = store.db.transaction(() => {
      const top = store.recovery.latest(account);
      if (top && top.version >= version) return false;
      store.recovery.insert(account, version, blob, now());
      return true;
    })();
    if (!written) throw new HttpError(409, 'E_ROLLBACK', 'a higher version was stored meanwhile');
    return c.json({ account, version });
  });

  api.add({ method: 'get', path: '/recovery/latest', summary: "The session account's newest recovery wrapping", auth: 'session', response: RecoverySchema, errors: { 404: 'none stored' } });
  app.get('/recovery/latest', session, (c) => {
    const row = store.recovery.latest(c.get('session').sub);
    if (!row) throw new HttpError(404, 'E_NOT_FOUND', 'no recovery wrapping stored');
    return c.json({ account: row.account, version: row.version, blob: row.blob, createdAt: row.created_at });
  });

  // ---- spaces and grants ----------------------------------------------------------------------

  const requireManager = (space: string, account: string) => {
    const row = store.space(space);
    if (!row || store.member(space, account)?.role !== 'manager') throw new HttpError(403, 'E_FORBIDDEN', "only the space's manager may do this");
    return row;
  };

  api.add({
    method: 'post',
    path: '/spaces',
    summary: 'Create a contract space with the caller as its manager (role space-manager)',
    auth: 'session',
    body: CreateSpaceSchema,
    response: SpaceSchema,
    errors: { 409: 'E_CONFLICT: the space exists' },
  });
  app.post('/spaces', session, requireRole('space-manager'), async (c) => {
    const manager = c.get('session').sub;
    const { space, name, sealedName } = await readJson(c, CreateSpaceSchema, KEYS_LIMITS.space);
    if (store.space(space)) throw new HttpError(409, 'E_CONFLICT', 'a space with this id exists');
    if (sealedName && sealedName.keyVersion !== 1) throw new HttpError(400, 'E_KEY_VERSION', 'a new space has key version 1');
    await audit({ actor: manager, action: 'space.create', target: `space:${space}`, outcome: 'ok', details: { name: name ?? null, sealedName: sealedName !== undefined } });
    if (!store.createSpace(space, name ?? null, sealedName ? JSON.stringify(sealedName) : null, manager, now())) throw new HttpError(409, 'E_CONFLICT', 'a space with this id exists');
    return c.json({ space, name: name ?? null, sealedName: sealedName ?? null, manager, keyVersion: 1 });
  });

  api.add({
    method: 'put',
    path: '/spaces/:space/name',
    summary: "Replace the space's sealed name (manager only), sealed under the current space key: after a revocation the manager seals it again for the new key",
    auth: 'session',
    body: PutSpaceNameSchema,
    response: SpaceSchema,
    errors: { 400: 'E_KEY_VERSION: not sealed under the current space key', 403: 'E_FORBIDDEN: not the manager' },
  });
  app.put('/spaces/:space/name', session, async (c) => {
    const manager = c.get('session').sub;
    const { space } = readParams(c, SpaceNameParamSchema);
    const row = requireManager(space, manager);
    const { sealedName } = await readJson(c, PutSpaceNameSchema, KEYS_LIMITS.space);
    if (sealedName.keyVersion !== row.key_version) throw new HttpError(400, 'E_KEY_VERSION', `seal the name under the current space key, version ${row.key_version}`);
    await audit({ actor: manager, action: 'space.rename', target: `space:${space}`, outcome: 'ok', details: { keyVersion: sealedName.keyVersion } });
    store.setSealedName(space, JSON.stringify(sealedName));
    return c.json({ space, name: row.name, sealedName, manager: row.manager, keyVersion: row.key_version });
  });

  api.add({
    method: 'get',
    path: '/spaces',
    summary: "The spaces the caller is a member of (any role), with the caller's role; sorted by name then id; at most 1000",
    auth: 'session',
    response: MySpacesSchema,
  });
  app.get('/spaces', session, (c) => {
    const me = c.get('session').sub;
    // Only rows joined through the caller's own membership: nothing about any other space.
    return c.json({
      spaces: store.mySpaces(me).map((r) => ({ space: r.space, name: r.name, sealedName: r.sealed_name ? JSON.parse(r.sealed_name) : null, manager: r.manager, keyVersion: r.key_version, role: r.role })),
    });
  });

  api.add({
    method: 'post',
    path: '/grants',
    summary: "Grant a member a role in a space with the space key wrapped to the member's certified key (manager only)",
    auth: 'session',
    body: CreateGrantSchema,
    response: GrantResultSchema,
    errors: {
      400: 'E_VALIDATION, E_CONTEXT (envelope or statement for another space, member, role or version), E_SIGNATURE (not signed by the caller)',
      409: 'E_NOT_CERTIFIED (member is not an active, certified account), E_KEY_VERSION, E_CONFLICT',
    },
  });
  app.post('/grants', session, requireRole('space-manager'), async (c) => {
    const granter = c.get('session').sub;
    const body = await readSignedBody(c, CreateGrantSchema, KEYS_LIMITS.grant, 'grantStatement');
    const space = requireManager(body.space, granter);
    // "manager" names only the manager's own copy of the space key; a manager stays a manager.
    if (body.role === 'manager' && body.member !== granter) throw new HttpError(403, 'E_FORBIDDEN', 'only viewer, editor or signer can be granted');
    if (body.member === granter && body.role !== 'manager') throw new HttpError(409, 'E_CONFLICT', "the space's manager keeps the manager role");
    if (body.keyVersion > space.key_version) throw new HttpError(409, 'E_KEY_VERSION', `the space key is at version ${space.key_version}`);

    const ctxFields = body.envelope.context;
    if (
      Object.keys(ctxFields).sort().join(',') !== SPACE_KEY_CONTEXT_FIELDS.join(',') ||
      ctxFields.purpose !== 'space-key' ||
      ctxFields.recipient !== body.member ||
      ctxFields.space !== body.space ||
      ctxFields.keyVersion !== body.keyVersion
    ) {
      throw new HttpError(400, 'E_CONTEXT', 'the envelope context must be exactly {purpose: "space-key", recipient: member, space, keyVersion}');
    }
    const st = body.grantStatement.statement;
    if (st.granter !== granter) throw new HttpError(400, 'E_SIGNATURE', 'the grant statement must be made and signed by its granter');
    if (st.space !== body.space || st.member !== body.member || st.role !== body.role || st.keyVersion !== body.keyVersion) {
      throw new HttpError(400, 'E_CONTEXT', 'the grant statement names another space, member, role or key version');
    }
    const digest = await envelopeDigest(body.envelope);
    if (st.envelopeDigest !== digest) throw new HttpError(400, 'E_CONTEXT', 'the grant statement names another envelope');

    const modulusBytes = await requireCertifiedRecipient(ctx.peers, body.member);
    if (fromBase64url(body.envelope.wrapped).length !== modulusBytes) throw new HttpError(400, 'E_CONTEXT', "the envelope is not wrapped to the member's certified key");
    await verifySignedBy(ctx.peers, granter, body.grantStatement, GRANT_STATEMENT_TYPE);

    const envelopeJson = canonicalJson(body.envelope);
    const statementJson = canonicalJson(body.grantStatement as unknown as Json);
    const existing = store.spaceEnvelope(body.space, body.member, body.keyVersion);
    const result = { space: body.space, member: body.member, role: body.role, keyVersion: body.keyVersion };
    if (existing && existing.envelope === envelopeJson && existing.statement === statementJson && store.member(body.space, body.member)?.role === body.role) {
      return c.json(result);
    }
    await audit({ actor: granter, action: 'grant.create', target: `space:${body.space}`, outcome: 'ok', details: { member: body.member, role: body.role, keyVersion: body.keyVersion, envelope: digest } });
    const written = store.putGrant(
      { space: body.space, member: body.member, role: body.role, keyVersion: body.keyVersion, envelope: envelopeJson, statement: statementJson, granter },
      now(),
    );
    if (written !== 'ok') throw new HttpError(409, 'E_CONFLICT', 'the space changed meanwhile; try again');
    return c.json(result);
  });

  api.add({
    method: 'delete',
    path: '/grants/:space/:member',
    summary: "Revoke a member's grant and rotate the space key version (manager only)",
    auth: 'session',
    response: RevokeResultSchema,
    errors: { 404: 'the member holds no grant', 409: "the manager's own grant cannot be revoked" },
  });
  app.delete('/grants/:space/:member', session, requireRole('space-manager'), async (c) => {
    const manager = c.get('session').sub;
    const { space, member } = readParams(c, GrantPathSchema);
    requireManager(space, manager);
    const row = store.member(space, member);
    if (!row) throw new HttpError(404, 'E_NOT_FOUND', 'this account holds no grant in the space');
    if (row.role === 'manager') throw new HttpError(409, 'E_CONFLICT', "the space's manager cannot be revoked");
    await audit({ actor: manager, action: 'grant.revoke', target: `space:${space}`, outcome: 'ok', details: { member, role: row.role } });
    const keyVersion = store.revoke(space, member);
    if (keyVersion === null) throw new HttpError(404, 'E_NOT_FOUND', 'this account holds no grant in the space');
    return c.json({ space, member, keyVersion });
  });

  api.add({
    method: 'get',
    path: '/grants',
    summary: "A space's members and signed grants (members, and holders of a single share of one of its contracts; envelopes only on the caller's own entries)",
    auth: 'session',
    query: SpaceQuerySchema,
    response: GrantsListSchema,
    errors: { 404: 'no such space, or the caller is not a member' },
  });
  app.get('/grants', session, (c) => {
    const me = c.get('session').sub;
    const { space } = readQuery(c, SpaceQuerySchema);
    const row = store.space(space);
    // The holder of a live single share reads the signed grants too, to check who may write
    // (never an envelope: it has no grant). Anyone else gets the answer for a missing space.
    if (!row || (!store.member(space, me) && !store.liveShare(me, space, null))) throw new HttpError(404, 'E_NOT_FOUND', 'no such space among yours');
    return c.json({
      space,
      name: row.name,
      sealedName: row.sealed_name ? JSON.parse(row.sealed_name) : null,
      manager: row.manager,
      keyVersion: row.key_version,
      members: store.members(space).map((m) => ({ member: m.member, role: m.role })),
      grants: store.spaceEnvelopes(space).map((g) => ({
        member: g.member,
        role: g.role,
        keyVersion: g.key_version,
        grantStatement: JSON.parse(g.statement),
        ...(g.member === me ? { envelope: JSON.parse(g.envelope) } : {}),
      })),
    });
  });

  api.add({
    method: 'get',
    path: '/grants/mine',
    summary:
      "The caller's role in a space, or null (vault calls this with the user's own token). With contract=, a non-member holding a live single share of that contract is a viewer of it, and the answer names the contract",
    auth: 'session',
    query: MyGrantQuerySchema,
    response: MyGrantSchema,
  });
  app.get('/grants/mine', session, (c) => {
    const me = c.get('session').sub;
    const { space, contract } = readQuery(c, MyGrantQuerySchema);
    const role = store.member(space, me)?.role ?? null;
    if (contract === undefined) return c.json({ space, role });
    // Read-only, and only that contract: a share never lets anyone write, list or open the rest.
    return c.json({ space, contract, role: role ?? (store.liveShare(me, space, contract) ? 'viewer' : null) });
  });

  // ---- envelopes shared to one account (single contract shares) -----------------------------

  registerEnvelopeRoutes({ app, api, store, session, peers: ctx.peers, audit, now, limit: KEYS_LIMITS.envelope });

  // ---- seals (docs/SIGNING.md section 2) ------------------------------------------------------

  registerSealRoutes({ app, api, store, session, peers: ctx.peers, audit, now });

  // ---- enterprise CA private key envelopes ------------------------------------------------

  api.add({
    method: 'put',
    path: '/ca-key/:recipient',
    summary:
      'Store the enterprise CA private key wrapped to one security administrator (security-admin only); one envelope per recipient and CA certificate, a new one replaces it',
    auth: 'session',
    body: PutCaKeyEnvelopeSchema,
    response: PutCaKeyEnvelopeResultSchema,
    errors: {
      400: 'E_VALIDATION (context is not exactly {purpose: "ca-key", recipient, ca}), E_CONTEXT (context.recipient is not :recipient, or not wrapped to the recipient\'s key)',
      403: 'E_FORBIDDEN (the caller is not, or no longer, an active security administrator)',
      409: 'E_NOT_SECURITY_ADMIN (recipient is not an active security administrator), E_NOT_CERTIFIED (another administrator without a certified key, or a revoked one), E_KEY_WEAK',
      413: 'body too large',
    },
  });
  app.put('/ca-key/:recipient', session, requireRole(SECURITY_ADMIN_ROLE), async (c) => {
    const caller = c.get('session').sub;
    const { recipient } = readParams(c, CaKeyRecipientParamSchema);
    const { envelope } = await readJson(c, PutCaKeyEnvelopeSchema, KEYS_LIMITS.caKey);
    if (envelope.context.recipient !== recipient) throw new HttpError(400, 'E_CONTEXT', 'the envelope context names another recipient');
    const modulusBytes = await requireCaKeyRecipient(ctx.peers, caller, recipient);
    if (fromBase64url(envelope.wrapped).length !== modulusBytes) throw new HttpError(400, 'E_CONTEXT', "the envelope is not wrapped to the recipient's envelope key");
    const ca = envelope.context.ca;
    const envelopeJson = canonicalJson(envelope);
    const existing = store.caKeyEnvelope(recipient, ca);
    if (existing?.envelope === envelopeJson) return c.json({ recipient, ca, replaced: false });
    const replaced = existing !== undefined;
    await audit({ actor: caller, action: 'ca-key.envelope', target: `account:${recipient}`, outcome: 'ok', details: { recipient, ca, replaced } });
    store.putCaKeyEnvelope({ recipient, ca, envelope: envelopeJson, created_by: caller }, now());
    return c.json({ recipient, ca, replaced });
  });

  api.add({
    method: 'get',
    path: '/ca-key',
    summary: "The caller's own enterprise CA key envelopes, one per CA certificate (security-admin only)",
    auth: 'session',
    response: CaKeyEnvelopeListSchema,
  });
  app.get('/ca-key', session, requireRole(SECURITY_ADMIN_ROLE), (c) => {
    const me = c.get('session').sub;
    const fromRow = (r: CaKeyEnvelopeRow) => ({ ca: r.ca, envelope: JSON.parse(r.envelope) as EnvelopeWire, createdBy: r.created_by, createdAt: r.created_at });
    // Second wall: nothing leaves here unless it is a CA-key envelope wrapped to the caller.
    const mine = store
      .myCaKeyEnvelopes(me)
      .map(fromRow)
      .filter((e) => e.envelope.context.recipient === me && e.envelope.context.purpose === CA_KEY_PURPOSE);
    return c.json({ envelopes: mine });
  });

  api.add({
    method: 'get',
    path: '/ca-key/recipients',
    summary: 'Which accounts hold an envelope of the CA key with this fingerprint (security-admin only): to see who still needs one',
    auth: 'session',
    query: CaKeyRecipientsQuerySchema,
    response: CaKeyRecipientsSchema,
  });
  app.get('/ca-key/recipients', session, requireRole(SECURITY_ADMIN_ROLE), (c) => {
    const { ca } = readQuery(c, CaKeyRecipientsQuerySchema);
    return c.json({ ca, recipients: store.caKeyRecipients(ca) });
  });

  return { name: 'keys', app, close: () => store.close() };
}
