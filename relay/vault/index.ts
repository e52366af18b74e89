/**
 * The vault service (DESIGN.md sections 2, 5-7; docs/FORMATS.md sections 4, 6, 7): encrypted
 * records, signed file manifests and ciphertext blocks. It sees ids, sizes and counts, never a
 * name, a key or a plaintext byte. Metadata lives in <dataDir>/vault.sqlite; blocks live in N >= 3
 * block stores (block-store.ts), two copies each, striped so no store holds a whole file.
 *
 * Every contract route asks keys for the caller's role in the contract's space with the caller's
 * own token (access.ts), on every request: viewer and up read, editor/signer/manager write,
 * editor/manager create contracts. Reads of one contract name it, so the holder of a single
 * share of that contract reads it (and nothing else of the space) as a viewer.
 *
 * Records and manifests are stored only if signed by the caller (the statement's author or the
 * manifest's uploader) with the signing key the directory certifies for the caller (signers.ts):
 * a second wall behind the clients, who check the same signatures against the space's writers.
 */
import { Hono, type Context } from 'hono';
import { join } from 'node:path';
import { requireSession, type SessionEnv } from '../common/auth';
import { ApiDescription } from '../common/openapi';
import { readJson, readParams, readQuery } from '../common/validate';
import { HttpError } from '../http/errors';
import type { RelayService, ServiceContext } from '../services/service';
import { blockRange, planBlocks } from '../../shared/crypto/blocks';
import { fromBase64url } from '../../shared/crypto/encoding';
import { MANIFEST_TYPE, type FileManifest } from '../../shared/crypto/manifest';
import { verifyStatement } from '../../shared/crypto/statements';
import { recordDigest, verifyRecordStatement } from '../../shared/formats/record-statement';
import { HealthSchema } from '../../shared/schemas/common';
import {
  BlockListSchema,
  BlockParams,
  CommitResponseSchema,
  ContractFilesSchema,
  ContractListSchema,
  ContractParams,
  ContractSchema,
  CreateContractSchema,
  CreateFileSchema,
  DELETION_RECORD_KIND,
  DeletionDecisionBodySchema,
  DeletionRequestBodySchema,
  DeletionStateSchema,
  FileVersionParams,
  FileVersionStatusSchema,
  MANIFEST_BODY_LIMIT,
  PutBlockResponseSchema,
  PutRecordBodySchema,
  PutRecordResponseSchema,
  RECORD_BODY_LIMIT,
  RecordParams,
  RecordVersionParams,
  SignedManifestSchema,
  SpaceQuery,
  StoredRecordSchema,
} from '../../shared/schemas/vault';
import { CREATE_ROLES, READ_ROLES, WRITE_ROLES, requireSpaceRole } from './access';
import { configureBlockStores, MIN_BLOCK_STORES, type BlockStore } from './block-store';
import { VaultDb, type FileVersionRow, type RecordRow } from './db';
import { HashPool, hashThreads } from './hasher';
import { Replicas } from './replicas';
import { certifiedSigningKey, verifiedOr400 } from './signers';
import { registerSigningRoutes, signingUploadGuard } from './signing';

export { configureBlockStores, LocalFolderStore, type BlockStore } from './block-store';

export interface VaultOptions {
  /** Block stores to use instead of SEALVAULT_BLOCK_STORES or the default folders. */
  stores?: BlockStore[];
  /** Environment to read SEALVAULT_BLOCK_STORES, SEALVAULT_VERIFY_DOWNLOADS and SEALVAULT_HASH_THREADS from (default process.env). */
  env?: Record<string, string | undefined>;
  /**
   * Verify the SHA-256 of every block as it is served, so that a damaged copy is cut off and
   * forgotten and the next request gets the replica (default). When false (or
   * SEALVAULT_VERIFY_DOWNLOADS=false) only the stored length is checked; clients verify hashes
   * either way.
   */
  verifyDownloads?: boolean;
}

export const VERIFY_DOWNLOADS_ENV = 'SEALVAULT_VERIFY_DOWNLOADS';

function verifyDownloadsFrom(env: Record<string, string | undefined>): boolean {
  const raw = env[VERIFY_DOWNLOADS_ENV]?.trim().toLowerCase();
  if (raw === undefined || raw === '' || raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw new Error(`${VERIFY_DOWNLOADS_ENV} must be true or false, got "${raw}"`);
}

const OCTET_STREAM = /^application\/octet-stream$/i;
const MAX_LISTED_MISSING = 64;

export async function createVaultService(ctx: ServiceContext, options: VaultOptions = {}): Promise<RelayService> {
  const env = options.env ?? process.env;
  const verifyDownloads = options.verifyDownloads ?? verifyDownloadsFrom(env);
  const hashThreadCount = hashThreads(env);
  const stores = options.stores ?? configureBlockStores(ctx.dataDir, env);
  if (stores.length < MIN_BLOCK_STORES) throw new Error(`the vault needs at least ${MIN_BLOCK_STORES} block stores, got ${stores.length}`);
  const db = new VaultDb(join(ctx.dataDir, 'vault.sqlite'));
  try {
    const markers = db.storeMarkers();
    const dropped = [...markers.keys()].filter((i) => i >= stores.length);
    if (dropped.length > 0) throw new Error(`the vault used ${Math.max(...markers.keys()) + 1} block stores and now has ${stores.length}; removing a store is not supported`);
    for (const [i, store] of stores.entries()) db.rememberStoreMarker(i, await store.open(markers.get(i)));
  } catch (e) {
    db.close();
    throw e;
  }
  const hashes = new HashPool(hashThreadCount);
  const replicas = new Replicas(stores, db, ctx.metrics, ctx.log, hashes, verifyDownloads);
  replicas.publishUsage();

  const api = new ApiDescription('vault', ctx.version);
  const app = new Hono<SessionEnv>();
  const session = requireSession(ctx.peers);
  const sub = (c: Context<SessionEnv>) => c.get('session').sub;

  const contractOr404 = (id: string) => {
    const row = db.contract(id);
    if (!row) throw new HttpError(404, 'E_NOT_FOUND', 'no such contract');
    return row;
  };
  // Reads of a deleted contract find nothing (its rows are gone); writes are refused in words.
  const notDeleted = (row: { deletedAt: number | null }) => {
    if (row.deletedAt !== null) throw new HttpError(410, 'E_DELETED', 'this contract was deleted');
  };
  const fileVersionOr404 = (file: string, version: number): FileVersionRow => {
    const row = db.fileVersion(file, version);
    if (!row) throw new HttpError(404, 'E_NOT_FOUND', 'no such file version');
    return row;
  };
  const json = (c: Context, body: unknown, status: 200 | 201 = 200) => c.json(body as object, status);

  // -- service basics -------------------------------------------------------------------------

  api.add({ method: 'get', path: '/health', summary: 'Service health', response: HealthSchema });
  app.get('/health', (c) => c.json({ service: ctx.name, version: ctx.version, ok: true }));
  api.add({ method: 'get', path: '/key', summary: "The vault's Ed25519 service key (base64url raw)" });
  app.get('/key', (c) => c.json({ service: ctx.name, publicKey: ctx.key.publicB64u }));
  api.add({ method: 'get', path: '/openapi.json', summary: 'This description' });
  app.get('/openapi.json', (c) => c.json(api.document()));

  // -- contracts ------------------------------------------------------------------------------

  api.add({ method: 'post', path: '/contracts', summary: 'Create a contract in a space (editor or manager)', auth: 'session', body: CreateContractSchema, response: ContractSchema, errors: { 409: 'the contract id exists in another space' } });
  app.post('/contracts', session, async (c) => {
    const body = await readJson(c, CreateContractSchema);
    await requireSpaceRole(ctx.peers, c, body.space, CREATE_ROLES, 'creating a contract');
    const { row, created } = db.createContract(body.contract, body.space, sub(c));
    if (row.space !== body.space) throw new HttpError(409, 'E_EXISTS', 'a contract with this id already exists');
    // Observed here as well as signed by the creator's browser: a client that skips its own entry still leaves one.
    await ctx.audit.record({ actor: sub(c), action: 'contract.create', target: `contract:${row.id}`, outcome: 'ok', details: { space: row.space, created } });
    return json(c, { contract: row.id, space: row.space, created }, created ? 201 : 200);
  });

  api.add({ method: 'get', path: '/contracts', summary: 'Contracts of a space: ids, record versions, file ids (viewer and up)', auth: 'session', query: SpaceQuery, response: ContractListSchema });
  app.get('/contracts', session, async (c) => {
    const { space } = readQuery(c, SpaceQuery);
    await requireSpaceRole(ctx.peers, c, space, READ_ROLES, 'listing contracts');
    return json(c, { space, contracts: db.contractsInSpace(space) });
  });

  // -- records --------------------------------------------------------------------------------

  api.add({
    method: 'put',
    path: '/contracts/:contract/records/:kind/:version',
    summary: 'Store a sealed record version with its author\'s signed statement (editor, signer or manager; the author must be the caller); versions only go up. Audited as record.put',
    auth: 'session',
    body: PutRecordBodySchema,
    response: PutRecordResponseSchema,
    errors: {
      400: 'E_CONTEXT: the record or statement names another contract, kind, version, record or author; E_SIGNATURE: the signature does not verify with the caller\'s signing key',
      404: 'no such contract',
      409: "E_ROLLBACK: an older version, or this version with other content; E_NOT_CERTIFIED: the caller is not an active account with a certified signing key",
      413: 'body too large',
    },
  });
  app.put('/contracts/:contract/records/:kind/:version', session, async (c) => {
    const p = readParams(c, RecordVersionParams);
    const contract = contractOr404(p.contract);
    await requireSpaceRole(ctx.peers, c, contract.space, WRITE_ROLES, 'writing records');
    notDeleted(contract);
    const { record, signed } = await readJson(c, PutRecordBodySchema, RECORD_BODY_LIMIT);
    if (record.contract !== p.contract || record.kind !== p.kind || record.version !== p.version) {
      throw new HttpError(400, 'E_CONTEXT', 'the record names another contract, kind or version than the path');
    }
    const s = signed.statement;
    if (s.author !== sub(c)) throw new HttpError(400, 'E_CONTEXT', 'the record statement must name you as its author');
    const digest = await recordDigest(record);
    if (s.contract !== record.contract || s.kind !== record.kind || s.version !== record.version || s.recordDigest !== digest) {
      throw new HttpError(400, 'E_CONTEXT', 'the signed statement is about another record');
    }
    const key = await certifiedSigningKey(ctx.peers, s.author);
    await verifiedOr400('the record statement', () => verifyRecordStatement(key, signed, record));
    const body = JSON.stringify({ v: record.v, kind: record.kind, contract: record.contract, version: record.version, nonce: record.nonce, ct: record.ct });
    const statement = JSON.stringify({
      statement: { type: s.type, contract: s.contract, kind: s.kind, version: s.version, author: s.author, recordDigest: s.recordDigest },
      signature: signed.signature,
    });
    const result = db.putRecord(p.contract, p.kind, p.version, body, statement, sub(c));
    if (result.outcome === 'conflict') throw new HttpError(409, 'E_ROLLBACK', `record version ${p.version} is not newer than version ${result.latest} (or differs from the stored one)`);
    const stored = result.outcome === 'stored';
    // An identical retry is audited again: if the first entry could not be written, this one is.
    await ctx.audit.record({ actor: sub(c), action: 'record.put', target: `contract:${p.contract}/record:${p.kind}/v${p.version}`, outcome: 'ok', details: { kind: p.kind, version: p.version, recordDigest: digest, stored } });
    return json(c, { contract: p.contract, kind: p.kind, version: p.version, stored }, stored ? 201 : 200);
  });

  /** {record, signed}: the stored JSON as is; signed is null for a record stored before signing. */
  const sendRecord = async (c: Context<SessionEnv>, contract: string, kind: string, row: RecordRow | undefined) => {
    if (row === undefined) throw new HttpError(404, 'E_NOT_FOUND', 'no such record');
    // Reading contract data is an audited view; the version named is the one served (also for "latest").
    const version = (JSON.parse(row.body) as { version: number }).version;
    await ctx.audit.record({ actor: sub(c), action: 'record.read', target: `contract:${contract}/record:${kind}/v${version}`, outcome: 'ok', details: { kind, version } });
    return c.body(`{"record":${row.body},"signed":${row.statement ?? 'null'}}`, 200, { 'content-type': 'application/json' });
  };
  api.add({ method: 'get', path: '/contracts/:contract/records/:kind/latest', summary: 'The newest sealed record of a kind with its signed statement (viewer and up)', auth: 'session', response: StoredRecordSchema, errors: { 404: 'no such contract or record' } });
  app.get('/contracts/:contract/records/:kind/latest', session, async (c) => {
    const p = readParams(c, RecordParams);
    const contract = contractOr404(p.contract);
    await requireSpaceRole(ctx.peers, c, contract.space, READ_ROLES, 'reading records', contract.id);
    return sendRecord(c, p.contract, p.kind, db.record(p.contract, p.kind, 'latest'));
  });
  api.add({ method: 'get', path: '/contracts/:contract/records/:kind/:version', summary: 'One sealed record version with its signed statement (viewer and up)', auth: 'session', response: StoredRecordSchema, errors: { 404: 'no such contract or record' } });
  app.get('/contracts/:contract/records/:kind/:version', session, async (c) => {
    const p = readParams(c, RecordVersionParams);
    const contract = contractOr404(p.contract);
    await requireSpaceRole(ctx.peers, c, contract.space, READ_ROLES, 'reading records', contract.id);
    return sendRecord(c, p.contract, p.kind, db.record(p.contract, p.kind, p.version));
  });

  // -- deletion (four eyes) -------------------------------------------------------------------

  const deletionState = (contract: { id: string; deletedAt: number | null }) => ({ contract: contract.id, deletedAt: contract.deletedAt, request: db.deletionRequest(contract.id) ?? null });

  api.add({ method: 'get', path: '/contracts/:contract/deletion', summary: "A contract's deletion request and whether it was deleted (viewer and up)", auth: 'session', response: DeletionStateSchema, errors: { 404: 'no such contract' } });
  app.get('/contracts/:contract/deletion', session, async (c) => {
    const p = readParams(c, ContractParams);
    const contract = contractOr404(p.contract);
    await requireSpaceRole(ctx.peers, c, contract.space, READ_ROLES, 'reading the deletion state', contract.id);
    return json(c, deletionState(contract));
  });

  api.add({
    method: 'post',
    path: '/contracts/:contract/deletion',
    summary: 'Ask for a contract to be deleted (editor, signer or manager), naming the version of the caller\'s own sealed "deletion" record that gives the reason. Audited as contract.delete-request',
    auth: 'session',
    body: DeletionRequestBodySchema,
    response: DeletionStateSchema,
    errors: { 400: 'E_CONTEXT: no such deletion record, or one stored by someone else', 404: 'no such contract', 409: 'E_PENDING: a request is already waiting for a decision', 410: 'E_DELETED' },
  });
  app.post('/contracts/:contract/deletion', session, async (c) => {
    const p = readParams(c, ContractParams);
    const contract = contractOr404(p.contract);
    await requireSpaceRole(ctx.peers, c, contract.space, WRITE_ROLES, 'asking for a deletion');
    notDeleted(contract);
    const { recordVersion } = await readJson(c, DeletionRequestBodySchema);
    if (db.recordAuthor(contract.id, DELETION_RECORD_KIND, recordVersion) !== sub(c)) {
      throw new HttpError(400, 'E_CONTEXT', `store your reason as your own "${DELETION_RECORD_KIND}" record version ${recordVersion} first`);
    }
    if (!db.requestDeletion(contract.id, sub(c), recordVersion)) throw new HttpError(409, 'E_PENDING', 'a deletion request for this contract is already waiting for a decision');
    await ctx.audit.record({ actor: sub(c), action: 'contract.delete-request', target: `contract:${contract.id}`, outcome: 'ok', details: { space: contract.space, recordVersion } });
    return json(c, deletionState(contract), 201);
  });

  api.add({
    method: 'post',
    path: '/contracts/:contract/deletion/decision',
    summary: 'Approve or reject the pending deletion request (manager or editor of the space, never its requester). Approval removes every record, file version and stored block of the contract; a tombstone stays. Audited as contract.delete or contract.delete-reject',
    auth: 'session',
    body: DeletionDecisionBodySchema,
    response: DeletionStateSchema,
    errors: { 403: 'E_FORBIDDEN (not manager or editor), E_FOUR_EYES (the requester cannot decide their own request)', 404: 'no such contract', 409: 'E_NOT_PENDING: no request is waiting', 410: 'E_DELETED' },
  });
  app.post('/contracts/:contract/deletion/decision', session, async (c) => {
    const p = readParams(c, ContractParams);
    const contract = contractOr404(p.contract);
    await requireSpaceRole(ctx.peers, c, contract.space, CREATE_ROLES, 'deciding a deletion');
    notDeleted(contract);
    const { approve } = await readJson(c, DeletionDecisionBodySchema);
    const decided = db.decideDeletion(contract.id, sub(c), approve);
    if (decided.outcome === 'not-pending') throw new HttpError(409, 'E_NOT_PENDING', 'no deletion request is waiting for a decision');
    if (decided.outcome === 'same-person') throw new HttpError(403, 'E_FOUR_EYES', 'the person who asked for a deletion cannot also approve or reject it');
    if (decided.outcome === 'approved') {
      let removed = 0;
      for (const { store, blob } of decided.blobs) {
        // The rows are gone already: a blob that cannot be removed now is unreachable, and logged for the operator.
        await stores[store]!.delete(blob).then(
          () => removed++,
          (e: unknown) => ctx.log.warn({ store, err: e instanceof Error ? e.message : String(e) }, 'could not remove the blob of a deleted contract'),
        );
      }
      replicas.publishUsage();
      await ctx.audit.record({ actor: sub(c), action: 'contract.delete', target: `contract:${contract.id}`, outcome: 'ok', details: { space: contract.space, files: decided.files, records: decided.records, blobs: decided.blobs.length, removed } });
    } else {
      await ctx.audit.record({ actor: sub(c), action: 'contract.delete-reject', target: `contract:${contract.id}`, outcome: 'ok', details: { space: contract.space } });
    }
    return json(c, deletionState(db.contract(contract.id)!));
  });

  // -- files ----------------------------------------------------------------------------------

  api.add({ method: 'get', path: '/contracts/:contract/files', summary: 'File versions of a contract and their states (viewer and up)', auth: 'session', response: ContractFilesSchema, errors: { 404: 'no such contract' } });
  app.get('/contracts/:contract/files', session, async (c) => {
    const p = readParams(c, ContractParams);
    const contract = contractOr404(p.contract);
    await requireSpaceRole(ctx.peers, c, contract.space, READ_ROLES, 'listing files', contract.id);
    return json(c, { contract: contract.id, files: db.filesOfContract(contract.id) });
  });

  api.add({
    method: 'post',
    path: '/contracts/:contract/files',
    summary: 'Register a file version with its signed manifest (editor, signer or manager; the uploader must be the caller and the manifest signed with the caller\'s certified signing key)',
    auth: 'session',
    body: CreateFileSchema,
    response: FileVersionStatusSchema,
    errors: {
      400: 'E_CONTEXT: the manifest names another contract, file, version or uploader; E_SIGNATURE: the signature does not verify with the caller\'s signing key',
      404: 'no such contract',
      409: 'the file belongs to another contract, this version exists with another manifest, a newer version exists (E_ROLLBACK), or the caller has no certified signing key (E_NOT_CERTIFIED)',
      413: 'manifest too large',
    },
  });
  app.post('/contracts/:contract/files', session, async (c) => {
    const p = readParams(c, ContractParams);
    const contract = contractOr404(p.contract);
    await requireSpaceRole(ctx.peers, c, contract.space, WRITE_ROLES, 'uploading files');
    notDeleted(contract);
    const body = await readJson(c, CreateFileSchema, MANIFEST_BODY_LIMIT);
    const m = body.manifest.statement;
    if (m.contract !== contract.id || m.file !== body.file || m.version !== body.version) {
      throw new HttpError(400, 'E_CONTEXT', `the manifest is for ${m.contract}/${m.file}/v${m.version}, not ${contract.id}/${body.file}/v${body.version}`);
    }
    if (m.uploader !== sub(c)) throw new HttpError(400, 'E_CONTEXT', 'the manifest must name you as its uploader');
    const key = await certifiedSigningKey(ctx.peers, m.uploader);
    await verifiedOr400('the manifest', () => verifyStatement<FileManifest>(key, body.manifest, MANIFEST_TYPE));
    // Shape and consistency were checked by the schema with planBlocks/ciphertextLength.
    const plan = planBlocks(m.ciphertextLength, m.blockSize);
    const blocks = m.blocks.map((h, i) => ({ length: blockRange(plan, m.ciphertextLength, i).length, sha256: fromBase64url(h) }));
    const manifest = JSON.stringify(SignedManifestSchema.parse(body.manifest));
    // Right before the write, with no await in between: a signing flow may hold this file.
    signingUploadGuard(db, body.file, body.version, sub(c));
    const result = db.createFileVersion({ contract: contract.id, file: body.file, version: body.version, uploader: m.uploader, manifest, ciphertextLength: m.ciphertextLength, blockSize: m.blockSize, blocks });
    if (result.outcome === 'other-contract') throw new HttpError(409, 'E_EXISTS', 'this file id belongs to another contract');
    if (result.outcome === 'conflict') throw new HttpError(409, 'E_EXISTS', `file version ${body.version} exists with another manifest`);
    if (result.outcome === 'rollback') throw new HttpError(409, 'E_ROLLBACK', `file version ${body.version} is older than version ${result.latest}`);
    const row = fileVersionOr404(body.file, body.version);
    const created = result.outcome === 'created';
    await ctx.audit.record({ actor: sub(c), action: 'file.register', target: `file:${row.file}/v${row.version}`, outcome: 'ok', details: { contract: contract.id, ciphertextLength: row.ciphertextLength, blocks: row.blockCount, created } });
    return json(c, { file: row.file, version: row.version, state: row.state, blockCount: row.blockCount, blockSize: row.blockSize, ciphertextLength: row.ciphertextLength, created }, created ? 201 : 200);
  });

  api.add({ method: 'get', path: '/files/:file/versions/:version/manifest', summary: 'The signed manifest of a file version (viewer and up)', auth: 'session', response: SignedManifestSchema, errors: { 404: 'no such file version' } });
  app.get('/files/:file/versions/:version/manifest', session, async (c) => {
    const p = readParams(c, FileVersionParams);
    const fv = fileVersionOr404(p.file, p.version);
    await requireSpaceRole(ctx.peers, c, fv.space, READ_ROLES, 'reading files', fv.contract);
    await ctx.audit.record({ actor: sub(c), action: 'manifest.read', target: `file:${fv.file}/v${fv.version}`, outcome: 'ok', details: { contract: fv.contract } });
    return c.body(fv.manifest, 200, { 'content-type': 'application/json' });
  });

  // -- blocks ---------------------------------------------------------------------------------

  api.add({ method: 'get', path: '/files/:file/versions/:version/blocks', summary: 'Which blocks of a file version are stored (resuming an upload; viewer and up)', auth: 'session', response: BlockListSchema, errors: { 404: 'no such file version' } });
  app.get('/files/:file/versions/:version/blocks', session, async (c) => {
    const p = readParams(c, FileVersionParams);
    const fv = fileVersionOr404(p.file, p.version);
    await requireSpaceRole(ctx.peers, c, fv.space, READ_ROLES, 'reading files', fv.contract);
    const { present, missing } = await replicas.status(fv);
    return json(c, { file: fv.file, version: fv.version, state: fv.state, present, missing });
  });

  const requireUploader = (c: Context<SessionEnv>, fv: FileVersionRow) => {
    if (fv.uploader !== sub(c)) throw new HttpError(403, 'E_FORBIDDEN', 'only the uploader named in the manifest may upload or commit this file version');
  };

  api.add({
    method: 'put',
    path: '/files/:file/versions/:version/blocks/:index',
    summary: 'Upload one block (idempotent; the uploader only). 201 stored, 200 already present',
    auth: 'session',
    rawBody: 'application/octet-stream',
    response: PutBlockResponseSchema,
    errors: { 404: 'no such file version or block', 413: 'body longer than the planned block', 415: 'send application/octet-stream', 422: 'E_HASH: length or SHA-256 differs from the manifest', 503: 'a block store is unavailable' },
  });
  app.put('/files/:file/versions/:version/blocks/:index', session, async (c) => {
    const p = readParams(c, BlockParams);
    const fv = fileVersionOr404(p.file, p.version);
    await requireSpaceRole(ctx.peers, c, fv.space, WRITE_ROLES, 'uploading files');
    requireUploader(c, fv);
    if (!OCTET_STREAM.test((c.req.header('content-type') ?? '').trim())) throw new HttpError(415, 'E_UNSUPPORTED_MEDIA_TYPE', 'send the block as application/octet-stream');
    const plan = p.index < fv.blockCount ? db.block(fv.file, fv.version, p.index) : undefined;
    if (!plan) throw new HttpError(404, 'E_NOT_FOUND', `this file version has blocks 0 to ${fv.blockCount - 1}`);
    const declared = c.req.header('content-length');
    if (declared !== undefined && /^[0-9]+$/.test(declared) && Number(declared) > plan.length) {
      throw new HttpError(413, 'E_TOO_LARGE', `block ${p.index} is ${plan.length} bytes; the body is longer`);
    }
    const { stored } = await replicas.put(fv, p.index, plan, c.req.raw.body);
    return json(c, { file: fv.file, version: fv.version, index: p.index, stored }, stored ? 201 : 200);
  });

  api.add({
    method: 'post',
    path: '/files/:file/versions/:version/commit',
    summary: 'Mark an upload complete once every block is stored (the uploader only)',
    auth: 'session',
    response: CommitResponseSchema,
    errors: { 404: 'no such file version', 409: 'E_INCOMPLETE: blocks are missing (listed in the message)' },
  });
  app.post('/files/:file/versions/:version/commit', session, async (c) => {
    const p = readParams(c, FileVersionParams);
    const fv = fileVersionOr404(p.file, p.version);
    await requireSpaceRole(ctx.peers, c, fv.space, WRITE_ROLES, 'uploading files');
    requireUploader(c, fv);
    if (fv.state !== 'committed') {
      const { missing } = await replicas.status(fv);
      if (missing.length > 0) {
        const shown = missing.slice(0, MAX_LISTED_MISSING).join(', ');
        const more = missing.length > MAX_LISTED_MISSING ? ` and ${missing.length - MAX_LISTED_MISSING} more` : '';
        throw new HttpError(409, 'E_INCOMPLETE', `missing blocks: ${shown}${more}`);
      }
      // A version registered before a signing flow began cannot be committed into the middle of it.
      signingUploadGuard(db, fv.file, fv.version, fv.uploader);
      db.markCommitted(fv.file, fv.version);
    }
    // A repeated commit is audited again, as a repeated record.put is: if the first entry was lost, this one stands.
    await ctx.audit.record({ actor: sub(c), action: 'file.commit', target: `file:${fv.file}/v${fv.version}`, outcome: 'ok', details: { contract: fv.contract, blocks: fv.blockCount } });
    return json(c, { file: fv.file, version: fv.version, state: 'committed' });
  });

  api.add({
    method: 'get',
    path: '/files/:file/versions/:version/blocks/:index',
    summary: 'Download one block of a committed file version (viewer and up; audited as block.download)',
    auth: 'session',
    errors: { 404: 'no such file version or block', 409: 'E_NOT_COMMITTED: the upload is not finished', 503: 'no store can serve the block right now' },
  });
  app.get('/files/:file/versions/:version/blocks/:index', session, async (c) => {
    const p = readParams(c, BlockParams);
    const fv = fileVersionOr404(p.file, p.version);
    const target = `file:${fv.file}/v${fv.version}/block:${p.index}`;
    try {
      await requireSpaceRole(ctx.peers, c, fv.space, READ_ROLES, 'reading files', fv.contract);
    } catch (e) {
      if (e instanceof HttpError && e.status === 403) {
        // The refusal stands even if the audit log cannot take the entry right now.
        await ctx.audit.record({ actor: sub(c), action: 'block.download', target, outcome: 'refused', details: { contract: fv.contract, reason: 'no grant' } }).catch((auditError: unknown) => {
          ctx.log.error({ err: String(auditError) }, 'could not audit a refused block download');
        });
      }
      throw e;
    }
    if (fv.state !== 'committed') throw new HttpError(409, 'E_NOT_COMMITTED', 'this file version is still being uploaded');
    const plan = p.index < fv.blockCount ? db.block(fv.file, fv.version, p.index) : undefined;
    if (!plan) throw new HttpError(404, 'E_NOT_FOUND', `this file version has blocks 0 to ${fv.blockCount - 1}`);
    const opened = await replicas.open(fv, p.index, plan);
    // Unavailable, never "deleted": a client must not conclude the data is gone.
    if (!opened) throw new HttpError(503, 'E_UNAVAILABLE', 'no block store can serve this block right now');
    try {
      await ctx.audit.record({ actor: sub(c), action: 'block.download', target, outcome: 'ok', details: { contract: fv.contract, bytes: opened.size } });
    } catch (e) {
      await opened.stream.cancel().catch(() => undefined);
      throw e;
    }
    return new Response(opened.stream, { status: 200, headers: { 'content-type': 'application/octet-stream', 'content-length': String(opened.size) } });
  });

  // -- signing flows (signing.ts) -------------------------------------------------------------

  registerSigningRoutes({ app, api, db, ctx, session, contractOr404, notDeleted });

  return {
    name: ctx.name,
    app,
    close: async () => {
      db.close();
      await hashes.close();
    },
  };
}
