/**
 * Signed checkpoints of the audit log (c2sp.org/tlog-checkpoint, docs/FORMATS.md section 10),
 * signed with the audit service key as the log key, and the auditors' witness cosignatures on
 * them (c2sp.org/tlog-cosignature). All note handling is shared/tlog's; this file only decides
 * when to sign and what to store.
 */
import { randomBytes } from 'node:crypto';
import { concatBytes, equalBytes } from '../../shared/crypto/bytes';
import { toBase64 } from '../../shared/crypto/encoding';
import { isCryptoError } from '../../shared/crypto/errors';
import {
  SIG_TYPE_COSIGNATURE_V1,
  checkKeyName,
  computeKeyId,
  ed25519Verifier,
  openCheckpoint,
  signCheckpoint,
  splitNote,
  verifierKeyString,
  verifyCosignature,
  type NoteVerifier,
} from '../../shared/tlog';
import type { ServiceKey } from '../common/service-key';
import { HttpError } from '../http/errors';
import type { AuditStore, CheckpointRow, WitnessRow } from './store';

export const DEFAULT_ORIGIN_HOST = 'localhost';
export const ORIGIN_HOST_ENV = 'SEALVAULT_AUDIT_ORIGIN_HOST';
/** How far a cosignature's timestamp may be ahead of the audit clock, or before its checkpoint. */
export const COSIGNATURE_MAX_SKEW_SECONDS = 5 * 60;

const HOST_PATTERN = /^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?(?::[0-9]{1,5})?$/;

/**
 * The log's origin, `<host>/sealvault/audit/<installation id>`, chosen on first start and kept:
 * the origin is the log's identity, so a later change of the host setting must not silently
 * start what clients would see as another log.
 */
export function loadOrCreateOrigin(store: AuditStore, configuredHost: string | undefined, warn: (msg: string) => void): string {
  const stored = store.meta('origin');
  const host = configuredHost ?? DEFAULT_ORIGIN_HOST;
  if (stored !== undefined) {
    if (configuredHost !== undefined && store.meta('origin_host') !== configuredHost) {
      warn(`${ORIGIN_HOST_ENV}=${configuredHost} differs from the host this log was created with; keeping the origin ${stored}`);
    }
    return stored;
  }
  if (!HOST_PATTERN.test(host)) throw new Error(`${ORIGIN_HOST_ENV} must be a host name, optionally with :port (got ${JSON.stringify(host)})`);
  const installationId = randomBytes(16).toString('hex');
  const origin = `${host}/sealvault/audit/${installationId}`;
  checkKeyName(origin);
  store.db.transaction(() => {
    store.putMeta('installation_id', installationId);
    store.putMeta('origin_host', host);
    store.putMeta('origin', origin);
  })();
  return origin;
}

export interface IssuedCheckpoint {
  size: number;
  root: Uint8Array;
  note: string;
  /** false when the log had not grown since the latest checkpoint (which is returned) */
  issued: boolean;
}

function keyIdBytes(keyId: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, keyId);
  return out;
}

export class CheckpointLog {
  /** Checkpoint signing is async; this chain makes one issue at a time. */
  private chain: Promise<unknown> = Promise.resolve();
  private verifier: Promise<NoteVerifier> | undefined;

  constructor(
    private readonly store: AuditStore,
    private readonly key: ServiceKey,
    readonly origin: string,
    private readonly now: () => number,
  ) {}

  /** The log's key name is its origin (the spec's SHOULD; Sealvault's MUST). */
  get keyName(): string {
    return this.origin;
  }

  vkey(): Promise<string> {
    return verifierKeyString(this.keyName, this.key.publicRaw);
  }

  logVerifier(): Promise<NoteVerifier> {
    this.verifier ??= ed25519Verifier(this.keyName, this.key.publicRaw);
    return this.verifier;
  }

  /** Signs a checkpoint of the current size if the log grew since the latest one. */
  issue(): Promise<IssuedCheckpoint> {
    const run = this.chain.then(() => this.issueNow());
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async issueNow(): Promise<IssuedCheckpoint> {
    const latest = this.store.latestCheckpoint();
    const size = this.store.size();
    if (latest && latest.size >= size) return { size: latest.size, root: latest.root, note: latest.note, issued: false };
    // Never sign a tree that does not extend what was already signed: if the stored nodes no
    // longer give the last checkpoint's root, signing would fork the log.
    if (latest && !equalBytes(this.store.tree.root(latest.size), latest.root)) {
      throw new Error(`refusing to sign: the stored tree no longer matches the signed checkpoint of size ${latest.size}`);
    }
    const root = this.store.tree.root(size);
    const note = await signCheckpoint({ privateKey: this.key.privateKey, publicKey: this.key.publicRaw }, this.keyName, { origin: this.origin, size, root });
    this.store.putCheckpoint({ size, root, note, created_at: this.now() });
    return { size, root, note, issued: true };
  }

  /** The stored note with the witnesses' cosignature lines appended. */
  noteOf(row: CheckpointRow): string {
    const lines = this.store.cosignatures(row.size).map((c) => `${c.line}\n`);
    return row.note + lines.join('');
  }

  /**
   * Accepts `note`, the checkpoint of `size` with the auditor's cosignature added, and stores
   * that cosignature line beside the checkpoint. The note must open with this log's key as
   * this log's checkpoint of that size (same text), and carry a valid cosignature by the
   * auditor's registered witness key.
   */
  async addCosignature(size: number, witness: WitnessRow, note: string): Promise<{ timestamp: number; duplicate: boolean }> {
    const checkpoint = this.store.checkpoint(size);
    if (!checkpoint) throw new HttpError(404, 'E_NOT_FOUND', `no checkpoint of size ${size}`);

    // The text must be byte for byte the one this log signed for `size`: a cosignature over
    // another size or root is refused as such before any signature is looked at.
    let text: string;
    try {
      ({ text } = splitNote(note));
    } catch (e) {
      if (isCryptoError(e)) throw new HttpError(400, e.code, `the note is not a signed note: ${e.message}`);
      throw e;
    }
    if (text !== splitNote(checkpoint.note).text) {
      throw new HttpError(400, 'E_PROOF', `the note's checkpoint is not this log's checkpoint of size ${size} (another size or root)`);
    }
    // And it must still carry the log's own valid signature.
    try {
      await openCheckpoint(note, { origin: this.origin, verifiers: [await this.logVerifier()] });
    } catch (e) {
      if (isCryptoError(e)) throw new HttpError(400, e.code, `the note does not open as this log's checkpoint: ${e.message}`);
      throw e;
    }

    let timestamp: number;
    try {
      ({ timestamp } = await verifyCosignature(note, { name: witness.name, publicKey: witness.public_key }));
    } catch (e) {
      if (isCryptoError(e)) throw new HttpError(400, 'E_SIGNATURE', `no valid cosignature by your registered witness key ${witness.name}`);
      throw e;
    }
    const nowSeconds = Math.floor(this.now() / 1000);
    if (timestamp > nowSeconds + COSIGNATURE_MAX_SKEW_SECONDS) throw new HttpError(400, 'E_STALE', 'the cosignature is dated in the future');
    if (timestamp < Math.floor(checkpoint.created_at / 1000) - COSIGNATURE_MAX_SKEW_SECONDS) {
      throw new HttpError(400, 'E_STALE', 'the cosignature is dated before the checkpoint was signed');
    }

    // Rebuild the one line from its verified parts; base64 is canonical, so it is the line sent.
    const keyId = await computeKeyId(witness.name, SIG_TYPE_COSIGNATURE_V1, witness.public_key);
    const sig = splitNote(note).signatures.find((s) => s.name === witness.name && s.keyId === keyId)!;
    const line = `\u2014 ${witness.name} ${toBase64(concatBytes(keyIdBytes(keyId), sig.signature))}`;

    // From here on no await: the check and the insert cannot interleave with another request.
    const existing = this.store.cosignature(size, witness.account);
    if (existing) return { timestamp: existing.timestamp, duplicate: true };
    this.store.putCosignature({ size, account: witness.account, line, timestamp, received_at: this.now() });
    return { timestamp, duplicate: false };
  }
}
