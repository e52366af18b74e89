/**
 * Deleting a contract, four eyes (DESIGN.md section 1): a writer of the space asks, giving a
 * reason that is sealed under the contract key as their own signed record of kind "deletion"
 * (the relay keeps only who asked and when); another editor or the manager reads the reason,
 * checked as the requester's own signed words, and approves or rejects. Each side also signs its
 * own audit entry. The relay enforces the same rules and removes the records and blocks.
 */
import { deriveRecordKey } from '../crypto/contract-keys';
import { fail } from '../crypto/errors';
import { openRecord, sealRecord } from '../crypto/records';
import { DELETION_RECORD_KIND, DeletionStateSchema, StoredRecordSchema, type DeletionState } from '../schemas/vault';
import { parseAnswer, type UnlockedAccount } from './account';
import { recordAsAccount } from './audit-client';
import { fetchSigned, putSigned, type OpenedContract } from './contracts';
import { RelayApiError, type RelayTransport } from './relay-transport';

export const MAX_REASON_LENGTH = 2000;

const deletionPath = (contract: string) => `/api/vault/contracts/${encodeURIComponent(contract)}/deletion`;

export async function deletionState(transport: RelayTransport, me: UnlockedAccount, contract: string): Promise<DeletionState> {
  const state = parseAnswer(DeletionStateSchema, await transport.request('GET', deletionPath(contract), undefined, me.session), 'deletion state');
  if (state.contract !== contract) fail('E_CONTEXT', 'the relay answered about another contract');
  return state;
}

/** The next free version of the caller's reason records (each request writes a new one). */
async function nextReasonVersion(transport: RelayTransport, me: UnlockedAccount, contract: string): Promise<number> {
  try {
    const latest = parseAnswer(StoredRecordSchema, await transport.request('GET', `/api/vault/contracts/${encodeURIComponent(contract)}/records/${DELETION_RECORD_KIND}/latest`, undefined, me.session), 'deletion record');
    return latest.record.version + 1;
  } catch (e) {
    if (e instanceof RelayApiError && e.status === 404) return 1;
    throw e;
  }
}

export async function requestDeletion(transport: RelayTransport, me: UnlockedAccount, opened: OpenedContract, reason: string): Promise<DeletionState> {
  const text = reason.trim();
  if (text.length === 0 || text.length > MAX_REASON_LENGTH) fail('E_FORMAT', `a reason of 1 to ${MAX_REASON_LENGTH} characters is needed`);
  if (opened.via !== 'space' || !opened.writers.has(me.account)) fail('E_CONTEXT', 'only writers of the space ask for a contract to be deleted');
  const version = await nextReasonVersion(transport, me, opened.contract);
  await putSigned(transport, me, await sealRecord(await deriveRecordKey(opened.dek), { kind: DELETION_RECORD_KIND, contract: opened.contract, version }, { reason: text }));
  const state = parseAnswer(DeletionStateSchema, await transport.request('POST', deletionPath(opened.contract), { recordVersion: version }, me.session), 'deletion state');
  await recordAsAccount(transport, me, { action: 'contract.delete-request', target: `contract:${opened.contract}`, details: { space: opened.space, recordVersion: version } });
  return state;
}

/**
 * The reason of the pending or decided request, accepted only as the requester's own signed
 * record (and the requester must be a verified writer of the space): a relay cannot put words
 * in someone's mouth, nor show one person's reason under another's request.
 */
export async function readDeletionReason(transport: RelayTransport, me: UnlockedAccount, opened: OpenedContract, state: DeletionState): Promise<string> {
  const request = state.request;
  if (!request) fail('E_CONTEXT', 'no deletion was asked for');
  const key = opened.writers.get(request.requestedBy);
  if (!key) fail('E_SIGNATURE', 'the deletion was asked for by someone who may not write this contract');
  const sealed = await fetchSigned(transport, me, new Map([[request.requestedBy, key]]), opened.contract, DELETION_RECORD_KIND, request.recordVersion);
  const value = await openRecord(await deriveRecordKey(opened.dek), sealed, { kind: DELETION_RECORD_KIND, contract: opened.contract, version: request.recordVersion });
  const reason = (value as { reason?: unknown } | null)?.reason;
  if (typeof reason !== 'string') fail('E_FORMAT', 'the deletion reason is not in the expected shape');
  return reason;
}

export async function decideDeletion(transport: RelayTransport, me: UnlockedAccount, opened: OpenedContract, approve: boolean): Promise<DeletionState> {
  const before = await deletionState(transport, me, opened.contract);
  if (before.request?.state !== 'pending') fail('E_CONTEXT', 'no deletion request is waiting for a decision');
  if (before.request.requestedBy === me.account) fail('E_CONTEXT', 'the person who asked for a deletion cannot decide it');
  const state = parseAnswer(DeletionStateSchema, await transport.request('POST', `${deletionPath(opened.contract)}/decision`, { approve }, me.session), 'deletion state');
  await recordAsAccount(transport, me, {
    action: approve ? 'contract.delete-approve' : 'contract.delete-reject',
    target: `contract:${opened.contract}`,
    details: { space: opened.space, requestedBy: before.request.requestedBy, recordVersion: before.request.recordVersion },
  });
  return state;
}
