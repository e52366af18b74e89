/**
 * DEK envelopes shared to one account (DESIGN.md section 7, "single contracts can also be
 * shared to one employee"): a writer of a space wraps one contract's DEK to a colleague outside
 * the space and signs it. Keys stores the envelope, serves it to its recipient only, lists the
 * shares of a contract to the space's writers (statements only, never the wrapped key) and
 * removes one on the word of its granter or of the space's manager. The vault learns of a share
 * through GET /grants/mine?space=&contract= (index.ts), on every request, so a removal takes
 * effect on the next one.
 */
import type { Hono, MiddlewareHandler } from 'hono';
import { canonicalJson, fromBase64url, type Json } from '../../shared/crypto/encoding';
import {
  ContractSharesSchema,
  CreateEnvelopeResultSchema,
  CreateEnvelopeSchema,
  DEK_PURPOSE,
  DekEnvelopeContextSchema,
  DeleteEnvelopeResultSchema,
  ENVELOPE_STATEMENT_TYPE,
  EnvelopeIdParamSchema,
  EnvelopeListSchema,
  EnvelopesQuerySchema,
  SharesQuerySchema,
  envelopeDigest,
  type EnvelopeWire,
} from '../../shared/schemas/keys';
import type { AuditEvent } from '../common/audit-sink';
import type { SessionEnv } from '../common/auth';
import type { ApiDescription } from '../common/openapi';
import type { Peers } from '../common/peers';
import { readParams, readQuery } from '../common/validate';
import { HttpError } from '../http/errors';
import { requireCertifiedRecipient, verifySignedBy } from './directory';
import { readSignedBody } from './signed-body';
import type { EnvelopeRow, KeysStore, SpaceEnvelopeRow } from './store';

/** Roles that may write in a space, and so share one of its contracts. */
export const WRITER_ROLES: readonly string[] = ['manager', 'editor', 'signer'];

export interface EnvelopeRouteDeps {
  app: Hono<SessionEnv>;
  api: ApiDescription;
  store: KeysStore;
  session: MiddlewareHandler<SessionEnv>;
  peers: Peers;
  audit: (event: AuditEvent) => Promise<void>;
  now: () => number;
  /** body limit of POST /envelopes */
  limit: number;
}

export function registerEnvelopeRoutes({ app, api, store, session, peers, audit, now, limit }: EnvelopeRouteDeps): void {
  const isWriter = (space: string, account: string) => WRITER_ROLES.includes(store.member(space, account)?.role ?? '');

  api.add({
    method: 'post',
    path: '/envelopes',
    summary: "Share one contract: store its DEK wrapped to one certified account, signed by its granter (a manager, editor or signer of the contract's space)",
    auth: 'session',
    body: CreateEnvelopeSchema,
    response: CreateEnvelopeResultSchema,
    errors: {
      400: 'E_VALIDATION, E_CONTEXT (context is not exactly {purpose: "dek", recipient, contract, space}, the recipient is the caller, statement for another envelope, not wrapped to the recipient\'s key), E_SIGNATURE',
      403: 'E_FORBIDDEN: the envelope names a space the caller cannot write to',
      409: 'E_NOT_CERTIFIED: the recipient or the caller is not an active, certified account; E_CONFLICT: the same envelope with another statement',
      413: 'body too large',
    },
  });
  app.post('/envelopes', session, async (c) => {
    const granter = c.get('session').sub;
    const { envelope, signedBy } = await readSignedBody(c, CreateEnvelopeSchema, limit, 'signedBy');
    const parsed = DekEnvelopeContextSchema.safeParse(envelope.context);
    if (!parsed.success) throw new HttpError(400, 'E_CONTEXT', 'the envelope context must be exactly {purpose: "dek", recipient, contract, space}');
    const { recipient, contract, space } = parsed.data;
    if (recipient === granter) throw new HttpError(400, 'E_CONTEXT', 'a contract is shared with someone else; you read it already');
    if (!isWriter(space, granter)) throw new HttpError(403, 'E_FORBIDDEN', "only the space's manager, editors and signers share its contracts");
    const st = signedBy.statement;
    if (st.granter !== granter) throw new HttpError(400, 'E_SIGNATURE', 'the envelope statement must be made and signed by its granter');
    if (canonicalJson(st.context) !== canonicalJson(envelope.context)) throw new HttpError(400, 'E_CONTEXT', 'the statement names another envelope context');
    const id = await envelopeDigest(envelope);
    if (st.envelopeDigest !== id) throw new HttpError(400, 'E_CONTEXT', 'the statement names another envelope');

    const modulusBytes = await requireCertifiedRecipient(peers, recipient);
    if (fromBase64url(envelope.wrapped).length !== modulusBytes) throw new HttpError(400, 'E_CONTEXT', "the envelope is not wrapped to the recipient's certified key");
    await verifySignedBy(peers, granter, signedBy, ENVELOPE_STATEMENT_TYPE);

    const statementJson = canonicalJson(signedBy as unknown as Json);
    const existing = store.envelope(id);
    if (existing) {
      if (existing.statement === statementJson) return c.json({ id });
      throw new HttpError(409, 'E_CONFLICT', 'this envelope is already stored with another statement');
    }
    await audit({ actor: granter, action: 'envelope.create', target: `contract:${contract}`, outcome: 'ok', details: { recipient, purpose: DEK_PURPOSE, id, space } });
    try {
      store.insertEnvelope({ id, recipient, purpose: DEK_PURPOSE, space, contract, envelope: canonicalJson(envelope), statement: statementJson, granter }, now());
    } catch (e) {
      if ((e as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') return c.json({ id });
      throw e;
    }
    return c.json({ id });
  });

  api.add({
    method: 'get',
    path: '/envelopes',
    summary: 'Envelopes whose recipient is the caller (dek envelopes: contracts shared with the caller; space-key envelopes of its grants)',
    auth: 'session',
    query: EnvelopesQuerySchema,
    response: EnvelopeListSchema,
  });
  app.get('/envelopes', session, (c) => {
    const me = c.get('session').sub;
    const q = readQuery(c, EnvelopesQuerySchema);
    const fromDek = (r: EnvelopeRow) => ({
      id: r.id,
      purpose: r.purpose,
      granter: r.granter,
      space: r.space,
      contract: r.contract,
      keyVersion: null,
      envelope: JSON.parse(r.envelope) as EnvelopeWire,
      signedBy: JSON.parse(r.statement),
      createdAt: r.created_at,
    });
    const fromGrant = (r: SpaceEnvelopeRow) => ({
      id: `${r.space}.${r.key_version}`,
      purpose: 'space-key',
      granter: r.granter,
      space: r.space,
      contract: null,
      keyVersion: r.key_version,
      envelope: JSON.parse(r.envelope) as EnvelopeWire,
      signedBy: JSON.parse(r.statement),
      createdAt: r.created_at,
    });
    const list = [
      ...(q.purpose === undefined || q.purpose === 'space-key' ? store.mySpaceEnvelopes(me, q.space ?? null, q.contract ?? null).map(fromGrant) : []),
      ...(q.purpose === undefined || q.purpose === DEK_PURPOSE ? store.myEnvelopes(me, DEK_PURPOSE, q.space ?? null, q.contract ?? null).map(fromDek) : []),
    ];
    // Second wall: whatever the query did, nothing leaves here unless it is wrapped to the caller.
    const mine = list.filter((e) => e.envelope.context.recipient === me);
    return c.json({ envelopes: mine });
  });

  api.add({
    method: 'get',
    path: '/envelopes/shares',
    summary: "Who holds a single share of one contract, with each granter's signed statement (writers of the space only; never the wrapped keys)",
    auth: 'session',
    query: SharesQuerySchema,
    response: ContractSharesSchema,
    errors: { 403: 'E_FORBIDDEN: the caller is not a manager, editor or signer of the space' },
  });
  app.get('/envelopes/shares', session, (c) => {
    const me = c.get('session').sub;
    const { space, contract } = readQuery(c, SharesQuerySchema);
    if (!isWriter(space, me)) throw new HttpError(403, 'E_FORBIDDEN', "only the space's manager, editors and signers see who a contract is shared with");
    const shares = store.contractShares(space, contract).map((r) => ({ id: r.id, recipient: r.recipient, granter: r.granter, createdAt: r.created_at, signedBy: JSON.parse(r.statement) }));
    return c.json({ space, contract, shares });
  });

  api.add({
    method: 'delete',
    path: '/envelopes/:id',
    summary: 'Remove a single share (its granter, or the manager of its space); the recipient is refused from the next request on',
    auth: 'session',
    response: DeleteEnvelopeResultSchema,
    errors: { 403: 'E_FORBIDDEN: the caller neither made the share nor manages its space', 404: 'no such envelope' },
  });
  app.delete('/envelopes/:id', session, async (c) => {
    const me = c.get('session').sub;
    const { id } = readParams(c, EnvelopeIdParamSchema);
    const row = store.envelope(id);
    if (!row) throw new HttpError(404, 'E_NOT_FOUND', 'no such envelope');
    const manages = row.space !== null && store.member(row.space, me)?.role === 'manager';
    if (row.granter !== me && !manages) throw new HttpError(403, 'E_FORBIDDEN', "only the one who shared it, or the space's manager, removes a share");
    const result = { id, recipient: row.recipient, contract: row.contract, space: row.space };
    await audit({ actor: me, action: 'envelope.delete', target: `contract:${row.contract ?? '-'}`, outcome: 'ok', details: { id, recipient: row.recipient, space: row.space, granter: row.granter } });
    if (!store.deleteEnvelope(id)) throw new HttpError(404, 'E_NOT_FOUND', 'no such envelope');
    return c.json(result);
  });
}
