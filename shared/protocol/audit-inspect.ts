/**
 * The auditor's checks of one entry, on demand (docs/AUDIT.md section 3): its details against
 * their digest, its signature, and its inclusion in the latest checkpoint. The whole-log
 * verification (shared/audit/verify.ts) checks every entry against the certificates valid at
 * the time; here an account entry is checked against the account's CURRENT certificate, which
 * is what a person looking at one entry can get without exporting everything.
 *
 * Every answer of the relay is attacker input: keys are the ones the relay serves for the
 * service (compared, not taken from the entry), the leaf hash is recomputed from the leaf, and
 * the root comes only from a checkpoint signed by the log key.
 */
import { equalBytes } from '../crypto/bytes';
import { fromBase64url, type Json } from '../crypto/encoding';
import { fail, isCryptoError } from '../crypto/errors';
import { publicKeyId, verifyStatement, type Statement } from '../crypto/statements';
import { AUDIT_ENTRY_TYPE, detailsDigest, verifyServiceEntry, type AuditEntry } from '../formats/audit-entry';
import { InclusionProofResponseSchema } from '../schemas/audit';
import { leafHash, verifyInclusion } from '../tlog';
import { parseAnswer } from './account';
import { fetchLatestCheckpoint, type LogIdentity } from './audit-memory';
import { certifiedKeysOf } from './certification';
import type { RelayTransport } from './relay-transport';
import { z } from 'zod';
import { StoredEntrySchema } from '../schemas/audit';

export type StoredEntry = z.infer<typeof StoredEntrySchema>;

/** A check's outcome: ok, or failed with the error's code and words. */
export type CheckOutcome = { ok: true; note?: string } | { ok: false; code: string; message: string };

function failed(e: unknown): CheckOutcome {
  if (isCryptoError(e)) return { ok: false, code: e.code, message: e.message };
  const err = e as { code?: unknown; message?: unknown };
  return { ok: false, code: typeof err?.code === 'string' ? err.code : 'E_INTERNAL', message: e instanceof Error ? e.message : String(e) };
}

/** Whether detailsJson hashes to the digest the signed entry carries ("absent" when the relay keeps no details). */
export async function checkDetails(stored: StoredEntry): Promise<CheckOutcome | { ok: 'absent' }> {
  if (!stored.entry) return { ok: false, code: 'E_FORMAT', message: 'the leaf does not parse as an entry' };
  if (stored.detailsJson === null) return { ok: 'absent' };
  const digest = await detailsDigest(stored.detailsJson as Json);
  return digest === stored.entry.details ? { ok: true } : { ok: false, code: 'E_HASH', message: 'the details shown do not hash to the digest in the signed entry' };
}

/**
 * The entry's signature: a service entry against the key the relay serves for that service now
 * (GET /api/<service>/key), an account entry against the account's current certified key.
 */
export async function checkSignature(transport: RelayTransport, stored: StoredEntry, caCertificatePem: string | null): Promise<CheckOutcome> {
  try {
    const entry = stored.entry as AuditEntry | null;
    if (!entry || stored.signature === null) fail('E_FORMAT', 'the leaf does not parse as a signed entry');
    if (entry.signer.kind === 'service') {
      const answer = (await transport.request('GET', `/api/${encodeURIComponent(entry.signer.service)}/key`)) as { publicKey?: unknown };
      if (typeof answer?.publicKey !== 'string') fail('E_FORMAT', `the ${entry.signer.service} service key answer is malformed`);
      const raw = fromBase64url(answer.publicKey);
      if (!equalBytes(raw, fromBase64url(entry.signer.key))) fail('E_SIGNATURE', `the entry names another key than the ${entry.signer.service} service's`);
      const key = await crypto.subtle.importKey('raw', raw, { name: 'Ed25519' }, false, ['verify']);
      await verifyServiceEntry(key, { entry, signature: stored.signature });
      return { ok: true };
    }
    if (!caCertificatePem) fail('E_CONTEXT', 'no enterprise CA is known to check account signatures with');
    const keys = await certifiedKeysOf(transport, entry.signer.account, caCertificatePem);
    if (entry.actor !== entry.signer.account) fail('E_CONTEXT', 'the entry is signed by another account than its actor');
    if ((await publicKeyId(keys.signingKey)) !== entry.signer.keyId) {
      fail('E_SIGNATURE', "the entry names another key than the account's current certified key (an older key: verify the whole log)");
    }
    await verifyStatement(keys.signingKey, { statement: entry as unknown as Statement, signature: stored.signature }, AUDIT_ENTRY_TYPE);
    return { ok: true, note: keys.legalName };
  } catch (e) {
    return failed(e);
  }
}

export interface InclusionOutcome {
  outcome: CheckOutcome;
  /** the checkpoint's size the proof was checked against */
  size?: number;
}

/**
 * The entry's inclusion in the latest checkpoint: the checkpoint verified with the log key, the
 * leaf hash recomputed from the leaf, the RFC 9162 proof for exactly that size.
 */
export async function checkInclusion(transport: RelayTransport, session: string, stored: StoredEntry, log: LogIdentity): Promise<InclusionOutcome> {
  let size: number | undefined;
  try {
    const { checkpoint } = await fetchLatestCheckpoint(transport, session, log);
    size = checkpoint.size;
    if (stored.index >= checkpoint.size) return { outcome: { ok: false, code: 'E_PENDING', message: `not yet in a checkpoint (the latest is of size ${checkpoint.size})` }, size };
    const answer = parseAnswer(
      InclusionProofResponseSchema,
      await transport.request('GET', `/api/audit/proofs/inclusion?index=${stored.index}&size=${checkpoint.size}`, undefined, session),
      'inclusion proof',
    );
    if (answer.index !== stored.index || answer.size !== checkpoint.size) fail('E_FORMAT', 'the relay answered a proof for another index or size');
    const hash = await leafHash(fromBase64url(stored.leaf));
    if (!equalBytes(hash, fromBase64url(answer.leafHash)) || !equalBytes(hash, fromBase64url(stored.leafHash))) {
      fail('E_PROOF', 'the leaf hash does not match the leaf shown');
    }
    await verifyInclusion({ leafHash: hash, index: stored.index, size: checkpoint.size, proof: answer.proof.map((h) => fromBase64url(h)), root: checkpoint.root });
    return { outcome: { ok: true }, size };
  } catch (e) {
    return { outcome: failed(e), ...(size === undefined ? {} : { size }) };
  }
}
