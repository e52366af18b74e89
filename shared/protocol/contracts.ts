/**
 * Contracts in the browser (DESIGN.md sections 4 and 5): a contract's DEK is made in memory,
 * stored only wrapped under the space key (record "dek", version = space key version), and its
 * structured fields are a record "fields" sealed under a key derived from the DEK. Every record
 * is signed by its author; a reader accepts it only from the space's verified writers
 * (verifiedWriters: the manager and members whose signed grant says editor or signer), only for
 * the contract, kind and version it asked for, and never older than a version it has already
 * seen for that contract (rollback).
 */
import { z } from 'zod';
import { deriveRecordKey, generateDek, unwrapDek, wrapDek } from '../crypto/contract-keys';
import type { Json } from '../crypto/encoding';
import { fail } from '../crypto/errors';
import { openRecord, sealRecord, type SealedRecord } from '../crypto/records';
import { signRecord, verifyRecordStatement } from '../formats/record-statement';
import { ContractFieldsSchema, type ContractFields } from '../schemas/contract';
import { ContractListSchema, StoredRecordSchema } from '../schemas/vault';
import { parseAnswer, type UnlockedAccount } from './account';
import { recordAsAccount } from './audit-client';
import type { RelayTransport } from './relay-transport';
import { openSpaceKey, verifiedWriters, WRITER_ROLES } from './spaces';

export const FIELDS_KIND = 'fields';
export const DEK_KIND = 'dek';

import { VersionMemory } from './version-memory';

export { VersionMemory };

function randomContractId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return `c-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

const recordPath = (contract: string, kind: string, version: number | 'latest') => `/api/vault/contracts/${encodeURIComponent(contract)}/records/${kind}/${version}`;

export async function putSigned(transport: RelayTransport, me: UnlockedAccount, record: SealedRecord): Promise<void> {
  const signed = await signRecord(me.signing.privateKey, me.account, record);
  await transport.request('PUT', recordPath(record.contract, record.kind, record.version), { record, signed }, me.session);
}

/** A stored record whose signature is by one of `writers`, for exactly this contract and kind. */
export async function fetchSigned(transport: RelayTransport, me: UnlockedAccount, writers: ReadonlyMap<string, CryptoKey>, contract: string, kind: string, version: number | 'latest'): Promise<SealedRecord> {
  const stored = parseAnswer(StoredRecordSchema, await transport.request('GET', recordPath(contract, kind, version), undefined, me.session), `${kind} record`);
  if (!stored.signed) fail('E_SIGNATURE', `the ${kind} record is not signed`);
  const author = stored.signed.statement.author;
  const key = writers.get(author);
  if (!key) fail('E_SIGNATURE', `the ${kind} record was written by an account not allowed to write this contract`);
  const record = stored.record as SealedRecord;
  if (record.contract !== contract || record.kind !== kind || (version !== 'latest' && record.version !== version)) {
    fail('E_CONTEXT', `the relay answered with a record of ${record.kind}/${record.contract}/v${record.version}`);
  }
  await verifyRecordStatement(key, stored.signed, record);
  return record;
}

export interface OpenedContract {
  contract: string;
  space: string;
  dek: CryptoKey;
  fields: ContractFields;
  fieldsVersion: number;
  writers: ReadonlyMap<string, CryptoKey>;
  /** how the reader holds the DEK: through the space key (a member), or a single share (read only) */
  via: 'space' | 'share';
  /** for a share: the verified writer of the space who made it */
  sharedBy: string | null;
}

/** Creates a contract in `space` with its fields; the DEK exists unwrapped only in memory. */
export async function createContract(transport: RelayTransport, me: UnlockedAccount, caCertificatePem: string, space: string, fields: ContractFields): Promise<OpenedContract> {
  const checked = ContractFieldsSchema.parse(fields);
  const sk = await openSpaceKey(transport, me, caCertificatePem, space);
  if (!WRITER_ROLES.includes(sk.role)) fail('E_CONTEXT', 'only editors and the manager create contracts');
  const contract = randomContractId();
  const extractable = await generateDek({ extractable: true });
  await transport.request('POST', '/api/vault/contracts', { contract, space }, me.session);
  const wrapped = await wrapDek(sk.key, extractable, { contract, version: sk.keyVersion });
  await putSigned(transport, me, wrapped);
  // From here on only the non-extractable copy is kept.
  const dek = await unwrapDek(sk.key, wrapped, { contract, version: sk.keyVersion });
  await putSigned(transport, me, await sealRecord(await deriveRecordKey(dek), { kind: FIELDS_KIND, contract, version: 1 }, checked as unknown as Json));
  await recordAsAccount(transport, me, { action: 'contract.create', target: `contract:${contract}`, details: { space } });
  const writers = await verifiedWriters(transport, me, caCertificatePem, space);
  return { contract, space, dek, fields: checked, fieldsVersion: 1, writers, via: 'space', sharedBy: null };
}

/**
 * Space keys already opened, by "space/keyVersion": a page that opens many contracts of one
 * space verifies the grant and RSA-unwraps SK once per version, not once per contract.
 */
export type SpaceKeyCache = Map<string, Promise<CryptoKey>>;

/**
 * Where a reader's DEK comes from, given the space's verified writers: the space key for a
 * member (dekFromSpaceKey), or a DEK envelope for the holder of a single share (sharing.ts).
 */
export interface DekSource {
  via: OpenedContract['via'];
  open(writers: ReadonlyMap<string, CryptoKey>): Promise<{ dek: CryptoKey; sharedBy: string | null }>;
}

/**
 * The DEK from its record wrapped under SK, signed by one of `writers`. Non-extractable, unless
 * `extractable` says it is wrapped again at once to one person (a share) and then dropped.
 */
export async function dekFromSpaceKey(
  transport: RelayTransport,
  me: UnlockedAccount,
  caCertificatePem: string,
  space: string,
  contract: string,
  writers: ReadonlyMap<string, CryptoKey>,
  options: { extractable?: boolean; spaceKeys?: SpaceKeyCache } = {},
): Promise<CryptoKey> {
  const spaceKeys = options.spaceKeys ?? new Map();
  const wrapped = await fetchSigned(transport, me, writers, contract, DEK_KIND, 'latest');
  const cacheKey = `${space}/${wrapped.version}`;
  let sk = spaceKeys.get(cacheKey);
  if (!sk) {
    sk = openSpaceKey(transport, me, caCertificatePem, space, { keyVersion: wrapped.version }).then((k) => k.key);
    // A refusal is not remembered: the next contract tries again and reports its own error.
    sk.catch(() => spaceKeys.delete(cacheKey));
    spaceKeys.set(cacheKey, sk);
  }
  return unwrapDek(await sk, wrapped, { contract, version: wrapped.version }, { extractable: options.extractable ?? false });
}

/**
 * Opens a contract with the DEK `source` gives, then its newest signed fields: written by one
 * of the space's verified writers, for this contract, and never older than a version seen.
 */
export async function openContractWith(
  transport: RelayTransport,
  me: UnlockedAccount,
  caCertificatePem: string,
  space: string,
  contract: string,
  memory: VersionMemory,
  source: DekSource,
  writers?: ReadonlyMap<string, CryptoKey>,
): Promise<OpenedContract> {
  const allowed = writers ?? (await verifiedWriters(transport, me, caCertificatePem, space));
  const { dek, sharedBy } = await source.open(allowed);
  const sealed = await fetchSigned(transport, me, allowed, contract, FIELDS_KIND, 'latest');
  memory.check(`${contract}/${FIELDS_KIND}`, sealed.version);
  const value = await openRecord(await deriveRecordKey(dek), sealed, { kind: FIELDS_KIND, contract, version: sealed.version });
  const fields = ContractFieldsSchema.safeParse(value);
  if (!fields.success) fail('E_FORMAT', "the contract's fields are not in the expected shape");
  return { contract, space, dek, fields: fields.data, fieldsVersion: sealed.version, writers: allowed, via: source.via, sharedBy };
}

/** Opens a contract of a space the caller is a member of: the DEK from its signed record wrapped under SK. */
export async function openContract(
  transport: RelayTransport,
  me: UnlockedAccount,
  caCertificatePem: string,
  space: string,
  contract: string,
  memory: VersionMemory,
  writers?: ReadonlyMap<string, CryptoKey>,
  spaceKeys: SpaceKeyCache = new Map(),
): Promise<OpenedContract> {
  const source: DekSource = { via: 'space', open: async (allowed) => ({ dek: await dekFromSpaceKey(transport, me, caCertificatePem, space, contract, allowed, { spaceKeys }), sharedBy: null }) };
  return openContractWith(transport, me, caCertificatePem, space, contract, memory, source, writers);
}

/** Stores edited fields as the next version; the old versions stay. */
export async function updateFields(transport: RelayTransport, me: UnlockedAccount, opened: OpenedContract, fields: ContractFields, memory: VersionMemory): Promise<OpenedContract> {
  const checked = ContractFieldsSchema.parse(fields);
  const version = opened.fieldsVersion + 1;
  await putSigned(transport, me, await sealRecord(await deriveRecordKey(opened.dek), { kind: FIELDS_KIND, contract: opened.contract, version }, checked as unknown as Json));
  memory.check(`${opened.contract}/${FIELDS_KIND}`, version);
  await recordAsAccount(transport, me, { action: 'contract.version', target: `contract:${opened.contract}`, details: { kind: FIELDS_KIND, version } });
  return { ...opened, fields: checked, fieldsVersion: version };
}

export type ContractList = z.infer<typeof ContractListSchema>;

/** The contracts of a space as the relay lists them: ids, record versions and file ids only. */
export async function listContracts(transport: RelayTransport, me: UnlockedAccount, space: string): Promise<ContractList> {
  const list = parseAnswer(ContractListSchema, await transport.request('GET', `/api/vault/contracts?space=${encodeURIComponent(space)}`, undefined, me.session), 'contracts');
  if (list.space !== space) fail('E_CONTEXT', 'the relay listed the contracts of another space');
  return list;
}
