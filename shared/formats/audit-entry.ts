/**
 * Audit entries (DESIGN.md section 9): {time, actor, action, target, outcome, details digest},
 * signed by the acting account (ECDSA P-256, as a signed statement) or by the relay service that
 * observed the action (Ed25519). The Merkle leaf is the canonical JSON of the signed entry.
 */
import { concatBytes, own, utf8 } from '../crypto/bytes';
import { canonicalJson, fromBase64url, toBase64url, type Json } from '../crypto/encoding';
import { fail } from '../crypto/errors';

export const AUDIT_ENTRY_TYPE = 'sealvault/v1/audit-entry';
const SERVICE_DOMAIN = utf8('sealvault/v1/audit-entry\u0000');

export type AuditSigner =
  | { kind: 'service'; service: string; key: string /* base64url raw Ed25519 public key */ }
  | { kind: 'account'; account: string; keyId: string /* publicKeyId of the account's signing key */ };

export interface AuditEntry {
  type: typeof AUDIT_ENTRY_TYPE;
  /** milliseconds since the epoch, as the signer saw it */
  time: number;
  /** account id, or "service:<name>" */
  actor: string;
  /** dotted verb, e.g. "escrow.release" */
  action: string;
  /** what it was done to, e.g. "account:acct-1", "file:f-1" */
  target: string;
  outcome: 'ok' | 'refused';
  /** base64url SHA-256 of the canonical JSON of the details object */
  details: string;
  signer: AuditSigner;
}

export interface SignedAuditEntry {
  entry: AuditEntry;
  /** base64url: Ed25519 (service) or ECDSA P-256 P1363 (account) */
  signature: string;
}

export async function detailsDigest(details: Json): Promise<string> {
  return toBase64url(new Uint8Array(await crypto.subtle.digest('SHA-256', utf8(canonicalJson(details)))));
}

/** Bytes a service signs: "sealvault/v1/audit-entry" || 0x00 || JCS(entry). */
export function serviceSignedBytes(entry: AuditEntry): Uint8Array<ArrayBuffer> {
  return concatBytes(SERVICE_DOMAIN, utf8(canonicalJson(entry as unknown as Json)));
}

/** Bytes an account signs: JCS(entry), an ordinary signed statement (shared/crypto/statements.ts). */
export function accountSignedBytes(entry: AuditEntry): Uint8Array<ArrayBuffer> {
  return utf8(canonicalJson(entry as unknown as Json));
}

export async function signServiceEntry(privateKey: CryptoKey, entry: AuditEntry): Promise<SignedAuditEntry> {
  if (entry.signer.kind !== 'service') throw new TypeError('signServiceEntry needs a service signer');
  const sig = new Uint8Array(await crypto.subtle.sign('Ed25519', privateKey, serviceSignedBytes(entry)));
  return { entry, signature: toBase64url(sig) };
}

/** Verifies a service-signed entry against the service key the verifier trusts (not the one the entry names). */
export async function verifyServiceEntry(trustedKey: CryptoKey, signed: SignedAuditEntry): Promise<void> {
  const sig = fromBase64url(signed.signature);
  if (sig.length !== 64) fail('E_SIGNATURE', 'audit entry signature must be 64 bytes');
  if (!(await crypto.subtle.verify('Ed25519', trustedKey, own(sig), serviceSignedBytes(signed.entry)))) {
    fail('E_SIGNATURE', 'audit entry signature does not verify for the service key');
  }
}

/** The Merkle leaf: canonical JSON of the signed entry. */
export function leafBytes(signed: SignedAuditEntry): Uint8Array<ArrayBuffer> {
  return utf8(canonicalJson(signed as unknown as Json));
}
