/**
 * The auditor's browser as a witness of the audit log (DESIGN.md section 9, docs/AUDIT.md
 * section 3): it cosigns (c2sp.org/tlog-cosignature) the latest checkpoint only after verifying
 * the log's signature and a consistency proof from the last checkpoint it cosigned. A
 * cosignature is the witness's statement that it did; so an inconsistent, smaller or re-keyed
 * log is refused with AuditForkError (E_PROOF) and nothing is posted or remembered.
 *
 * No DOM: the memory of the last cosigned checkpoint is the caller's CheckpointStore (sealed in
 * IndexedDB under the account's local key in the app).
 */
import { toBase64url } from '../crypto/encoding';
import { fail } from '../crypto/errors';
import { equalBytes } from '../crypto/bytes';
import { fromBase64url } from '../crypto/encoding';
import { CosignatureResponseSchema, WitnessListSchema, WitnessSchema } from '../schemas/audit';
import { SIG_TYPE_COSIGNATURE_V1, checkKeyName, computeKeyId, cosignCheckpoint, splitNote, verifyCosignature } from '../tlog';
import { parseAnswer, type UnlockedAccount } from './account';
import {
  AuditForkError,
  checkExtends,
  fetchLatestCheckpoint,
  fetchLogIdentity,
  rememberedOf,
  type CheckpointStore,
  type LogIdentity,
  type RememberedCheckpoint,
} from './audit-memory';
import type { RelayTransport } from './relay-transport';

/** The witness name of an auditor: `<host>/auditor-<account>`, a schema-less URL as the spec asks. */
export function witnessName(host: string, account: string): string {
  return checkKeyName(`${host}/auditor-${account}`);
}

export interface WitnessRegistration {
  name: string;
  /** true when this call registered it */
  registeredNow: boolean;
}

/**
 * Registers this auditor's witness key unless the relay already holds it. The relay keeps one
 * key per auditor and never replaces it; a different key already registered (made before a
 * password change) is refused here with E_CONTEXT, since cosigning with an unregistered key
 * would only be refused by the relay.
 */
export async function ensureWitnessRegistered(transport: RelayTransport, me: UnlockedAccount, host: string): Promise<WitnessRegistration> {
  const list = parseAnswer(WitnessListSchema, await transport.request('GET', '/api/audit/witnesses', undefined, me.session), 'witness list');
  const mine = list.witnesses.find((w) => w.account === me.account);
  if (mine) {
    if (!equalBytes(fromBase64url(mine.publicKey), me.witness.publicKey)) {
      fail('E_CONTEXT', `another witness key (${mine.name}) is registered for this auditor, made before a password change; the relay does not replace it`);
    }
    return { name: mine.name, registeredNow: false };
  }
  const name = witnessName(host, me.account);
  const answer = parseAnswer(
    WitnessSchema,
    await transport.request('POST', '/api/audit/witnesses', { name, publicKey: toBase64url(me.witness.publicKey) }, me.session),
    'witness registration',
  );
  if (answer.account !== me.account || answer.name !== name || !equalBytes(fromBase64url(answer.publicKey), me.witness.publicKey)) {
    fail('E_CONTEXT', 'the relay registered another witness than the one asked for');
  }
  return { name, registeredNow: true };
}

export interface CosignResult {
  size: number;
  witness: string;
  /** POSIX seconds of the cosignature */
  timestamp: number;
  /** the last checkpoint cosigned before this one, null the first time */
  previous: RememberedCheckpoint | null;
  /** true when this witness had already cosigned this very checkpoint: nothing was posted */
  already: boolean;
}

export interface CosignOptions {
  /** the host part of the witness name, such as the relay's host */
  host: string;
  /** milliseconds since the epoch */
  now?: () => number;
}

/**
 * Cosigns the latest checkpoint: verify the log's signature (with the key pinned by the last
 * cosignature, or the relay's at first use), check consistency with the last cosigned
 * checkpoint, register the witness key if needed, add the cosignature line, post it, remember.
 */
export async function cosignLatestCheckpoint(transport: RelayTransport, me: UnlockedAccount, store: CheckpointStore, options: CosignOptions): Promise<CosignResult> {
  const now = options.now ?? Date.now;
  const previous = await store.load();
  const stated = await fetchLogIdentity(transport);
  const log: LogIdentity = previous ? { origin: previous.origin, vkey: previous.logVkey } : stated;
  if (previous && stated.vkey !== previous.logVkey) {
    throw new AuditForkError('log-key', previous.size, previous.size, 'the relay now states another audit log key than the one this witness cosigned under; nothing was cosigned');
  }
  if (previous && stated.origin !== previous.origin) {
    throw new AuditForkError('origin', previous.size, previous.size, 'the relay now states another audit log origin than the one this witness cosigned; nothing was cosigned');
  }
  // Verified with the pinned key: a checkpoint another key signed fails here, before anything else.
  const latest = await fetchLatestCheckpoint(transport, me.session, log);
  if (previous) await checkExtends(transport, me.session, previous, latest.checkpoint, log.vkey);

  const { name } = await ensureWitnessRegistered(transport, me, options.host);
  const keyId = await computeKeyId(name, SIG_TYPE_COSIGNATURE_V1, me.witness.publicKey);
  const remembered = rememberedOf(latest.checkpoint, log.vkey, now());
  if (splitNote(latest.note).signatures.some((s) => s.name === name && s.keyId === keyId)) {
    // The relay already stores this witness's line for this size (a second click, another tab).
    const { timestamp } = await verifyCosignature(latest.note, { name, publicKey: me.witness.publicKey });
    if (!previous || previous.size !== remembered.size) await store.save(remembered);
    return { size: latest.checkpoint.size, witness: name, timestamp, previous, already: true };
  }
  const timestamp = Math.floor(now() / 1000);
  const cosigned = await cosignCheckpoint({ privateKey: me.witness.privateKey, publicKey: me.witness.publicKey }, name, latest.note, timestamp);
  const answer = parseAnswer(
    CosignatureResponseSchema,
    await transport.request('POST', `/api/audit/checkpoints/${latest.checkpoint.size}/cosignatures`, { note: cosigned }, me.session),
    'cosignature',
  );
  if (answer.size !== latest.checkpoint.size || answer.witness !== name || answer.timestamp !== timestamp) {
    fail('E_CONTEXT', 'the relay acknowledged another cosignature than the one sent');
  }
  await store.save(remembered);
  return { size: latest.checkpoint.size, witness: name, timestamp, previous, already: false };
}
