/**
 * Every client's memory of the audit log (DESIGN.md section 9, docs/AUDIT.md section 3): the
 * last checkpoint this browser saw, and the log key it saw first. At sign-in the client fetches
 * the latest checkpoint, verifies the log's signature with the pinned key, and checks with a
 * consistency proof that it extends the remembered one. A relay that rewrote, truncated or forked
 * the log (or swapped the log key, which is a fork too) can then only show this browser a log
 * that it has already committed to, or be caught.
 *
 * No DOM here: where the memory is kept (sealed in IndexedDB in the app, a variable in tests) is
 * the caller's CheckpointStore.
 */
import { fromBase64, fromBase64url, toBase64 } from '../crypto/encoding';
import { SealvaultCryptoError, fail, isCryptoError } from '../crypto/errors';
import { CheckpointResponseSchema, ConsistencyProofResponseSchema, LogKeyResponseSchema } from '../schemas/audit';
import { SIG_TYPE_ED25519, openCheckpoint, parseVerifierKey, verifierFromKey, verifyCheckpointConsistency, type Checkpoint } from '../tlog';
import { equalBytes } from '../crypto/bytes';
import { parseAnswer } from './account';
import type { RelayTransport } from './relay-transport';

/** What a browser keeps of a checkpoint: enough to demand a consistency proof from it later. */
export interface RememberedCheckpoint {
  origin: string;
  /** the log's c2sp verifier key, pinned at first sight */
  logVkey: string;
  size: number;
  /** standard base64, as in the checkpoint text */
  root: string;
  /** milliseconds since the epoch, when this browser accepted it */
  seenAt: number;
}

/** Where the memory lives; load() answers null when nothing (readable) was kept. */
export interface CheckpointStore {
  load(): Promise<RememberedCheckpoint | null>;
  save(value: RememberedCheckpoint): Promise<void>;
}

export type ForkReason = 'log-key' | 'origin' | 'rollback' | 'inconsistent';

/**
 * The relay showed a log that does not extend the one this browser saw. Always E_PROOF, so
 * callers and tests branch on one code; `reason` and the sizes say which way it failed.
 */
export class AuditForkError extends SealvaultCryptoError {
  constructor(
    readonly reason: ForkReason,
    /** the size this browser remembered */
    readonly seenSize: number,
    /** the size the relay serves now */
    readonly servedSize: number,
    message: string,
  ) {
    super('E_PROOF', message);
  }
}

export function isAuditForkError(e: unknown): e is AuditForkError {
  return e instanceof AuditForkError;
}

export interface LogIdentity {
  origin: string;
  vkey: string;
}

/**
 * The log's origin and verifier key as the relay states them. Attacker input: only worth
 * anything when it equals what was pinned before, or at first sight (trust on first use).
 */
export async function fetchLogIdentity(transport: RelayTransport): Promise<LogIdentity> {
  const answer = parseAnswer(LogKeyResponseSchema, await transport.request('GET', '/api/audit/log-key'), 'audit log key');
  const key = await parseVerifierKey(answer.vkey);
  if (key.type !== SIG_TYPE_ED25519) fail('E_FORMAT', 'the audit log key is not an Ed25519 (type 0x01) key');
  // The three statements of one key must agree, or a client could pin one and be shown another.
  if (key.name !== answer.keyName || !equalBytes(key.publicKey, fromBase64url(answer.publicKey))) {
    fail('E_FORMAT', 'the audit log key answer contradicts itself');
  }
  return { origin: answer.origin, vkey: answer.vkey };
}

export interface VerifiedCheckpoint {
  checkpoint: Checkpoint;
  /** the signed note as served (cosignature lines included) */
  note: string;
}

/** Opens a signed checkpoint note with the log key: signature first, then the text, then the origin. */
export async function openLogCheckpoint(note: string, log: LogIdentity): Promise<Checkpoint> {
  return openCheckpoint(note, { origin: log.origin, verifiers: [await verifierFromKey(log.vkey)] });
}

/** GET /api/audit/checkpoint, verified with `log`'s key. */
export async function fetchLatestCheckpoint(transport: RelayTransport, session: string, log: LogIdentity): Promise<VerifiedCheckpoint> {
  const answer = parseAnswer(CheckpointResponseSchema, await transport.request('GET', '/api/audit/checkpoint', undefined, session), 'audit checkpoint');
  const checkpoint = await openLogCheckpoint(answer.note, log);
  // The size beside the note is unsigned: it must say what the signed text says.
  if (checkpoint.size !== answer.size) fail('E_FORMAT', `the relay labelled a checkpoint of size ${checkpoint.size} as size ${answer.size}`);
  return { checkpoint, note: answer.note };
}

/**
 * Checks that `newer` extends `older` with a consistency proof from the relay. Throws
 * AuditForkError (E_PROOF) when it does not; other errors (network, a malformed answer) pass
 * through unchanged, since they say nothing about the log's history.
 */
export async function checkExtends(transport: RelayTransport, session: string, older: RememberedCheckpoint, newer: Checkpoint, newerVkey: string): Promise<void> {
  const fork = (reason: ForkReason, message: string): never => {
    throw new AuditForkError(reason, older.size, newer.size, message);
  };
  if (newerVkey !== older.logVkey) fork('log-key', 'the audit log is now signed with another key than the one this browser saw first');
  if (newer.origin !== older.origin) fork('origin', `the audit log is now "${newer.origin}", this browser saw "${older.origin}"`);
  if (newer.size < older.size) fork('rollback', `the audit log went back from size ${older.size} to size ${newer.size}`);
  const olderCheckpoint: Checkpoint = { origin: older.origin, size: older.size, root: fromBase64(older.root) };
  let proof: Uint8Array[] = [];
  // RFC 9162 defines no proof from the empty tree or between equal sizes (merkle.ts decides those).
  if (older.size > 0 && older.size < newer.size) {
    const answer = parseAnswer(
      ConsistencyProofResponseSchema,
      await transport.request('GET', `/api/audit/proofs/consistency?first=${older.size}&second=${newer.size}`, undefined, session),
      'consistency proof',
    );
    if (answer.first !== older.size || answer.second !== newer.size) fail('E_FORMAT', 'the relay answered a consistency proof between other sizes');
    proof = answer.proof.map((h) => fromBase64url(h));
  }
  try {
    await verifyCheckpointConsistency(olderCheckpoint, newer, proof);
  } catch (e) {
    if (isCryptoError(e, 'E_PROOF') || isCryptoError(e, 'E_ROLLBACK') || isCryptoError(e, 'E_CONTEXT')) {
      fork('inconsistent', `the audit log of size ${newer.size} does not extend the one of size ${older.size} this browser saw: ${e.message}`);
    }
    throw e;
  }
}

export function rememberedOf(checkpoint: Checkpoint, logVkey: string, now: number): RememberedCheckpoint {
  return { origin: checkpoint.origin, logVkey, size: checkpoint.size, root: toBase64(checkpoint.root), seenAt: now };
}

export interface CheckpointSeen {
  /** what is remembered now */
  remembered: RememberedCheckpoint;
  /** what was remembered before, null at first sight */
  previous: RememberedCheckpoint | null;
  note: string;
}

/**
 * The sign-in check: fetch and verify the latest checkpoint, check that it extends the
 * remembered one, remember it. On a fork nothing is saved (the old memory stays, so every later
 * sign-in warns again) and AuditForkError is thrown.
 */
export async function checkLatestCheckpoint(transport: RelayTransport, session: string, store: CheckpointStore, now: () => number = Date.now): Promise<CheckpointSeen> {
  const previous = await store.load();
  // The pinned key verifies the new checkpoint; the relay's current statement of it is only
  // compared, so a swapped key is caught before anything signed with it is believed.
  const stated = await fetchLogIdentity(transport);
  const log: LogIdentity = previous ? { origin: previous.origin, vkey: previous.logVkey } : stated;
  if (previous && (stated.vkey !== previous.logVkey || stated.origin !== previous.origin)) {
    const served = await transport.request('GET', '/api/audit/checkpoint', undefined, session).then(
      (a) => parseAnswer(CheckpointResponseSchema, a, 'audit checkpoint').size,
      () => previous.size,
    );
    const reason: ForkReason = stated.vkey !== previous.logVkey ? 'log-key' : 'origin';
    throw new AuditForkError(reason, previous.size, served, `the relay now states another audit log ${reason === 'log-key' ? 'key' : 'origin'} than the one this browser pinned`);
  }
  let latest: VerifiedCheckpoint;
  try {
    latest = await fetchLatestCheckpoint(transport, session, log);
  } catch (e) {
    // Under a pinned key, a checkpoint that does not verify is a log this browser cannot accept.
    if (previous && (isCryptoError(e, 'E_SIGNATURE') || isCryptoError(e, 'E_CONTEXT'))) {
      throw new AuditForkError('log-key', previous.size, previous.size, `the latest audit checkpoint is not signed by the log key this browser pinned: ${e.message}`);
    }
    throw e;
  }
  if (previous) await checkExtends(transport, session, previous, latest.checkpoint, log.vkey);
  const remembered = previous && previous.size === latest.checkpoint.size ? previous : rememberedOf(latest.checkpoint, log.vkey, now());
  if (remembered !== previous) await store.save(remembered);
  return { remembered, previous, note: latest.note };
}

/** A store in a variable: for tests and for a browser without IndexedDB (memory for the tab only). */
export function memoryCheckpointStore(initial: RememberedCheckpoint | null = null): CheckpointStore & { value: RememberedCheckpoint | null } {
  return {
    value: initial,
    async load() {
      return this.value;
    },
    async save(v) {
      this.value = v;
    },
  };
}
