/**
 * The audit service (DESIGN.md section 9, docs/relay-api.md, docs/FORMATS.md section 10): an
 * append-only log of signed audit entries in an RFC 9162 Merkle tree, with signed checkpoints,
 * inclusion and consistency proofs, and the auditors' witness cosignatures.
 *
 * Nothing here updates or deletes: the routes are GETs and appending POSTs, and the tables
 * refuse UPDATE and DELETE (migrations.ts).
 */
import { Hono, type MiddlewareHandler } from 'hono';
import { Gauge, type Registry } from 'prom-client';
import { equalBytes } from '../../shared/crypto/bytes';
import { canonicalJson, fromBase64url, toBase64url, type Json } from '../../shared/crypto/encoding';
import { isCryptoError } from '../../shared/crypto/errors';
import { AUDIT_ENTRY_TYPE, detailsDigest, leafBytes, signServiceEntry, type AuditEntry } from '../../shared/formats/audit-entry';
import {
  AUDIT_ENTRY_BODY_LIMIT,
  AUDIT_PAGE_DEFAULT,
  AppendEntryRequestSchema,
  AppendEntryResponseSchema,
  CheckpointListSchema,
  CheckpointResponseSchema,
  CheckpointsQuerySchema,
  ConsistencyProofResponseSchema,
  ConsistencyQuerySchema,
  CosignatureRequestSchema,
  CosignatureResponseSchema,
  EntriesPageSchema,
  EntriesQuerySchema,
  InclusionProofResponseSchema,
  InclusionQuerySchema,
  LogKeyResponseSchema,
  RegisterWitnessRequestSchema,
  SizeParamSchema,
  WitnessListSchema,
  WitnessSchema,
} from '../../shared/schemas/audit';
import { HealthSchema } from '../../shared/schemas/common';
import { SIG_TYPE_COSIGNATURE_V1, checkKeyName, cosignatureVerifier, verifierKeyString } from '../../shared/tlog';
import { requireSession, type SessionEnv } from '../common/auth';
import { ApiDescription } from '../common/openapi';
import { readJson, readParams, readQuery } from '../common/validate';
import { HttpError } from '../http/errors';
import type { RelayService, ServiceContext } from '../services/service';
import { admitEntry } from './admission';
import { CheckpointLog, ORIGIN_HOST_ENV, loadOrCreateOrigin, type IssuedCheckpoint } from './checkpoints';
import { AppendBatcher } from './append-batcher';
import { AuditStore, type EntryRow, type WitnessRow } from './store';

export { AUDIT_DB_FILE } from './store';
export type { IssuedCheckpoint } from './checkpoints';

/** A new checkpoint is signed at most this often, and only when the log grew. */
export const CHECKPOINT_INTERVAL_MS = 2000;

export interface AuditServiceOptions {
  /** Host part of the origin on first start; default $SEALVAULT_AUDIT_ORIGIN_HOST, else "localhost". */
  originHost?: string;
  /** Milliseconds since the epoch; tests move the clock. */
  now?: () => number;
  /** Default CHECKPOINT_INTERVAL_MS; 0 starts no timer (tests issue checkpoints themselves). */
  checkpointIntervalMs?: number;
}

export interface AuditService extends RelayService {
  name: 'audit';
  app: Hono<SessionEnv>;
  api: ApiDescription;
  origin: string;
  store: AuditStore;
  checkpoints: CheckpointLog;
  /** Signs a checkpoint now if the log grew since the latest one (the timer does this every 2 s). */
  issueCheckpoint(): Promise<IssuedCheckpoint>;
  close(): Promise<void>;
}

/** Signs a checkpoint of the current log now, if it grew (for tests and tools; the service's timer does the same). */
export function issueCheckpoint(service: AuditService): Promise<IssuedCheckpoint> {
  return service.issueCheckpoint();
}

/** Administrator roles (DESIGN.md section 1): an auditor session must hold no other. */
const OTHER_ADMIN_ROLES = ['system-admin', 'security-admin'];

/** The auditor role, and only it among the administrator roles (three-member separation). */
function auditorOnly(): MiddlewareHandler<SessionEnv> {
  return async (c, next) => {
    const roles = c.get('session').roles ?? [];
    if (!roles.includes('auditor')) throw new HttpError(403, 'E_FORBIDDEN', 'only the auditor role may do this');
    if (roles.some((r) => OTHER_ADMIN_ROLES.includes(r))) throw new HttpError(403, 'E_FORBIDDEN', 'a session holding two administrator roles is refused');
    await next();
  };
}

function storedEntry(row: EntryRow) {
  let entry: AuditEntry | null = null;
  let signature: string | null = null;
  try {
    const parsed = JSON.parse(row.leaf.toString('utf8')) as { entry?: AuditEntry; signature?: string };
    entry = parsed.entry ?? null;
    signature = parsed.signature ?? null;
  } catch {
    // A leaf that is not JSON is still served, as bytes: the auditor's check names it.
  }
  let detailsJson: Record<string, Json> | null = null;
  try {
    detailsJson = row.details_json === null ? null : (JSON.parse(row.details_json) as Record<string, Json>);
  } catch {
    detailsJson = null;
  }
  return {
    index: row.idx,
    /** the Merkle leaf itself (JCS of {entry, signature}), base64url: what the tree commits to */
    leaf: toBase64url(row.leaf),
    entry,
    signature,
    detailsJson,
    leafHash: toBase64url(row.leaf_hash),
    receivedAt: row.received_at,
  };
}

function page(rows: EntryRow[], limit: number) {
  const last = rows[rows.length - 1];
  return { entries: rows.map(storedEntry), nextStart: rows.length === limit && last ? last.idx + 1 : null };
}

async function witnessView(row: WitnessRow) {
  return {
    account: row.account,
    name: row.name,
    publicKey: toBase64url(row.public_key),
    vkey: await verifierKeyString(row.name, row.public_key, SIG_TYPE_COSIGNATURE_V1),
    registeredAt: row.registered_at,
  };
}

const METRIC_ENTRIES = 'sealvault_audit_entries';
const METRIC_CHECKPOINT_SIZE = 'sealvault_audit_checkpoint_size';
const METRIC_CHECKPOINT_AGE = 'sealvault_audit_checkpoint_age_seconds';

/** Log size, latest checkpoint size and age, read from the store at scrape time. */
function registerMetrics(registry: Registry, store: AuditStore, now: () => number): () => void {
  const names = [METRIC_ENTRIES, METRIC_CHECKPOINT_SIZE, METRIC_CHECKPOINT_AGE];
  // A restarted service in the same process replaces the previous one's gauges.
  for (const name of names) registry.removeSingleMetric(name);
  new Gauge({ name: METRIC_ENTRIES, help: 'Entries in the audit log', registers: [registry], collect() { this.set(store.size()); } });
  new Gauge({ name: METRIC_CHECKPOINT_SIZE, help: 'Tree size of the latest signed audit checkpoint', registers: [registry], collect() { this.set(store.latestCheckpoint()?.size ?? 0); } });
  new Gauge({
    name: METRIC_CHECKPOINT_AGE,
    help: 'Seconds since the latest audit checkpoint was signed',
    registers: [registry],
    collect() {
      const latest = store.latestCheckpoint();
      this.set(latest ? Math.max(0, (now() - latest.created_at) / 1000) : 0);
    },
  });
  return () => {
    for (const name of names) registry.removeSingleMetric(name);
  };
}

export async function createAuditService(ctx: ServiceContext, options: AuditServiceOptions = {}): Promise<AuditService> {
  const now = options.now ?? Date.now;
  const store = new AuditStore(ctx.dataDir);
  const appends = new AppendBatcher(store);
  let timer: ReturnType<typeof setInterval> | undefined;
  try {
    const origin = loadOrCreateOrigin(store, options.originHost ?? process.env[ORIGIN_HOST_ENV], (msg) => ctx.log.warn(msg));
    const checkpoints = new CheckpointLog(store, ctx.key, origin, now);
    // Clients always find a checkpoint, the empty tree's at first.
    if (!store.latestCheckpoint()) await checkpoints.issue();
    ctx.log.info({ origin, entries: store.size() }, 'audit log open');

    /** Appends an entry the audit service itself observed, signed with its own key. */
    const recordOwn = async (event: { actor: string; action: string; target: string; details: Record<string, Json> }) => {
      const entry: AuditEntry = {
        type: AUDIT_ENTRY_TYPE,
        time: now(),
        actor: event.actor,
        action: event.action,
        target: event.target,
        outcome: 'ok',
        details: await detailsDigest(event.details),
        signer: { kind: 'service', service: 'audit', key: ctx.key.publicB64u },
      };
      const signed = await signServiceEntry(ctx.key.privateKey, entry);
      return appends.append({ leaf: leafBytes(signed), actor: entry.actor, detailsJson: canonicalJson(event.details), receivedAt: now() });
    };

    const latestCheckpoint = () => {
      const latest = store.latestCheckpoint();
      if (!latest) throw new HttpError(503, 'E_UNAVAILABLE', 'the audit log has no checkpoint yet');
      return latest;
    };
    const beyondCheckpoint = (size: number, latest: number): never => {
      throw new HttpError(404, 'E_NOT_FOUND', `no checkpoint covers tree size ${size} yet (the latest is of size ${latest})`);
    };

    const api = new ApiDescription('audit', ctx.version);
    const app = new Hono<SessionEnv>();
    const session = requireSession(ctx.peers);

    api.add({ method: 'get', path: '/health', summary: 'Liveness', auth: 'none', response: HealthSchema });
    app.get('/health', (c) => c.json({ service: ctx.name, version: ctx.version, ok: true }));

    api.add({ method: 'get', path: '/key', summary: "The audit service's Ed25519 public key (also the log key)", auth: 'none' });
    app.get('/key', (c) => c.json({ service: ctx.name, publicKey: ctx.key.publicB64u }));

    api.add({ method: 'get', path: '/openapi.json', summary: 'This document', auth: 'none' });
    app.get('/openapi.json', (c) => c.json(api.document()));

    api.add({ method: 'get', path: '/log-key', summary: "The log's origin and checkpoint verifier key", auth: 'none', response: LogKeyResponseSchema });
    app.get('/log-key', async (c) => c.json({ origin, keyName: checkpoints.keyName, publicKey: ctx.key.publicB64u, vkey: await checkpoints.vkey() }));

    api.add({
      method: 'post',
      path: '/entries',
      summary: 'Append a signed audit entry (service-signed: no session; account-signed: a session of that account)',
      body: AppendEntryRequestSchema,
      response: AppendEntryResponseSchema,
      errors: { 401: 'account entry without a valid session', 403: "account entry sent with another account's session, or a disabled account", 413: 'body over 64 KiB' },
    });
    app.post('/entries', async (c) => {
      const body = await readJson(c, AppendEntryRequestSchema, AUDIT_ENTRY_BODY_LIMIT);
      const detailsJson = await admitEntry(ctx, c, body, now());
      const result = await appends.append({ leaf: leafBytes({ entry: body.entry as AuditEntry, signature: body.signature }), actor: body.entry.actor, detailsJson, receivedAt: now() });
      return c.json({ index: result.index, leafHash: toBase64url(result.leafHash) });
    });

    api.add({ method: 'get', path: '/entries', summary: 'Read the whole log, in index order (auditor only)', auth: 'session', query: EntriesQuerySchema, response: EntriesPageSchema });
    app.get('/entries', session, auditorOnly(), (c) => {
      const q = readQuery(c, EntriesQuerySchema);
      const limit = q.limit ?? AUDIT_PAGE_DEFAULT;
      return c.json(page(store.entries(q.start ?? 0, limit), limit));
    });

    api.add({ method: 'get', path: '/entries/mine', summary: "The session account's own entries (actor = the account), with their indexes", auth: 'session', query: EntriesQuerySchema, response: EntriesPageSchema });
    app.get('/entries/mine', session, (c) => {
      const q = readQuery(c, EntriesQuerySchema);
      const limit = q.limit ?? AUDIT_PAGE_DEFAULT;
      return c.json(page(store.entriesOf(c.get('session').sub, q.start ?? 0, limit), limit));
    });

    api.add({ method: 'get', path: '/checkpoint', summary: 'The latest signed checkpoint', auth: 'session', response: CheckpointResponseSchema });
    app.get('/checkpoint', session, (c) => {
      const latest = latestCheckpoint();
      return c.json({ size: latest.size, note: checkpoints.noteOf(latest) });
    });

    api.add({
      method: 'get',
      path: '/checkpoints',
      summary: 'Every checkpoint of tree size >= start, smallest first, with its witness cosignatures (auditor only): what an audit bundle carries',
      auth: 'session',
      query: CheckpointsQuerySchema,
      response: CheckpointListSchema,
    });
    app.get('/checkpoints', session, auditorOnly(), (c) => {
      const q = readQuery(c, CheckpointsQuerySchema);
      const limit = q.limit ?? AUDIT_PAGE_DEFAULT;
      const rows = store.checkpoints(q.start ?? 0, limit);
      const last = rows[rows.length - 1];
      return c.json({ checkpoints: rows.map((row) => ({ size: row.size, note: checkpoints.noteOf(row) })), nextStart: rows.length === limit && last ? last.size + 1 : null });
    });

    api.add({ method: 'get', path: '/checkpoints/:size', summary: 'The checkpoint of one tree size, with its witness cosignatures', auth: 'session', response: CheckpointResponseSchema, errors: { 404: 'no checkpoint of that size' } });
    app.get('/checkpoints/:size', session, (c) => {
      const { size } = readParams(c, SizeParamSchema);
      const row = store.checkpoint(size);
      if (!row) throw new HttpError(404, 'E_NOT_FOUND', `no checkpoint of size ${size}`);
      return c.json({ size: row.size, note: checkpoints.noteOf(row) });
    });

    api.add({
      method: 'post',
      path: '/checkpoints/:size/cosignatures',
      summary: "Add the auditor's witness cosignature to a checkpoint (the note as served plus the cosignature line)",
      auth: 'session',
      body: CosignatureRequestSchema,
      response: CosignatureResponseSchema,
      errors: { 404: 'no checkpoint of that size', 409: 'no witness key registered for this auditor' },
    });
    app.post('/checkpoints/:size/cosignatures', session, auditorOnly(), async (c) => {
      const { size } = readParams(c, SizeParamSchema);
      const { note } = await readJson(c, CosignatureRequestSchema);
      if (!store.checkpoint(size)) throw new HttpError(404, 'E_NOT_FOUND', `no checkpoint of size ${size}`);
      const witness = store.witness(c.get('session').sub);
      if (!witness) throw new HttpError(409, 'E_NO_WITNESS', 'register your witness key first (POST /witnesses)');
      const { timestamp } = await checkpoints.addCosignature(size, witness, note);
      await recordOwn({ actor: witness.account, action: 'audit.checkpoint.cosign', target: `checkpoint:${size}`, details: { witness: witness.name, timestamp } });
      return c.json({ size, witness: witness.name, timestamp });
    });

    api.add({ method: 'get', path: '/proofs/inclusion', summary: 'RFC 9162 inclusion proof of a leaf in a checkpointed tree size', auth: 'session', query: InclusionQuerySchema, response: InclusionProofResponseSchema, errors: { 404: 'size beyond the latest checkpoint' } });
    app.get('/proofs/inclusion', session, (c) => {
      const q = readQuery(c, InclusionQuerySchema);
      const latest = latestCheckpoint().size;
      const size = q.size ?? latest;
      if (size > latest) beyondCheckpoint(size, latest);
      if (q.index >= size) throw new HttpError(400, 'E_VALIDATION', `index ${q.index} is not below tree size ${size}`);
      const proof = store.tree.inclusionProof(q.index, size);
      return c.json({ index: q.index, size, leafHash: toBase64url(store.tree.leafHash(q.index)), proof: proof.map(toBase64url) });
    });

    api.add({ method: 'get', path: '/proofs/consistency', summary: 'RFC 9162 consistency proof between two checkpointed tree sizes', auth: 'session', query: ConsistencyQuerySchema, response: ConsistencyProofResponseSchema, errors: { 404: 'size beyond the latest checkpoint' } });
    app.get('/proofs/consistency', session, (c) => {
      const { first, second } = readQuery(c, ConsistencyQuerySchema);
      if (first > second) throw new HttpError(400, 'E_VALIDATION', `first ${first} is larger than second ${second}`);
      const latest = latestCheckpoint().size;
      if (second > latest) beyondCheckpoint(second, latest);
      return c.json({ first, second, proof: store.tree.consistencyProof(first, second).map(toBase64url) });
    });

    api.add({
      method: 'post',
      path: '/witnesses',
      summary: "Register the auditor's witness key (one per auditor account, never replaced)",
      auth: 'session',
      body: RegisterWitnessRequestSchema,
      response: WitnessSchema,
      errors: { 409: 'this auditor, name or key already has a witness' },
    });
    app.post('/witnesses', session, auditorOnly(), async (c) => {
      const account = c.get('session').sub;
      const body = await readJson(c, RegisterWitnessRequestSchema);
      const publicKey = fromBase64url(body.publicKey);
      try {
        checkKeyName(body.name);
        await cosignatureVerifier(body.name, publicKey); // imports the key: refuses a non-Ed25519 point
      } catch (e) {
        if (isCryptoError(e)) throw new HttpError(400, 'E_VALIDATION', `not a usable witness name and key: ${e.message}`);
        throw e;
      }
      if (body.name === origin) throw new HttpError(400, 'E_VALIDATION', "a witness cannot use the log's own name");
      if (equalBytes(publicKey, ctx.key.publicRaw)) throw new HttpError(400, 'E_VALIDATION', "a witness cannot use the log's key");
      // No await between these checks and the insert.
      if (store.witness(account)) throw new HttpError(409, 'E_CONFLICT', 'this auditor already registered a witness key; it is never replaced');
      if (store.witnessByName(body.name)) throw new HttpError(409, 'E_CONFLICT', 'another auditor uses this witness name');
      if (store.witnessByKey(publicKey)) throw new HttpError(409, 'E_CONFLICT', 'another auditor uses this witness key');
      const row: WitnessRow = { account, name: body.name, public_key: Buffer.from(publicKey), registered_at: now() };
      store.putWitness(row);
      await recordOwn({ actor: account, action: 'audit.witness.register', target: `account:${account}`, details: { name: body.name, publicKey: body.publicKey } });
      return c.json(await witnessView(row));
    });

    api.add({ method: 'get', path: '/witnesses', summary: "The auditors' registered witness keys", auth: 'session', response: WitnessListSchema });
    app.get('/witnesses', session, async (c) => c.json({ witnesses: await Promise.all(store.witnesses().map(witnessView)) }));

    const issue = async () => {
      const cp = await checkpoints.issue();
      if (cp.issued) ctx.log.debug({ size: cp.size }, 'audit checkpoint signed');
      return cp;
    };
    const interval = options.checkpointIntervalMs ?? CHECKPOINT_INTERVAL_MS;
    if (interval > 0) {
      timer = setInterval(() => {
        issue().catch((e: unknown) => ctx.log.error({ err: e }, 'audit checkpoint failed'));
      }, interval);
      timer.unref();
    }

    const unregisterMetrics = registerMetrics(ctx.metrics.registry, store, now);
    let closed = false;
    return {
      name: 'audit',
      app,
      api,
      origin,
      store,
      checkpoints,
      issueCheckpoint: issue,
      async close() {
        if (closed) return;
        closed = true;
        if (timer) clearInterval(timer);
        unregisterMetrics();
        appends.flush();
        await checkpoints.issue().catch(() => undefined); // waits for one in flight; signs what was appended
        store.close();
      },
    };
  } catch (e) {
    if (timer) clearInterval(timer);
    store.close();
    throw e;
  }
}
