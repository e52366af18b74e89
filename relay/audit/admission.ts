/**
 * What POST /entries accepts (docs/relay-api.md, "audit"):
 *
 * - a service-signed entry only when `signer.key` is byte for byte the key that service
 *   publishes (ctx.peers.publicKey) and the Ed25519 signature verifies with that trusted key;
 *   the entry's own claim about its key is never used to verify it;
 * - an account-signed entry only with a session of that account (sub == signer.account ==
 *   actor) and an ECDSA P-256 signature by the signing key the directory has registered for it;
 * - a details object, when given, whose digest is entry.details;
 * - a time within AUDIT_ENTRY_MAX_SKEW_MS of the audit service's clock.
 */
import { createHash } from 'node:crypto';
import type { Context } from 'hono';
import { z } from 'zod';
import { equalBytes } from '../../shared/crypto/bytes';
import { canonicalJson, fromBase64url } from '../../shared/crypto/encoding';
import { isCryptoError } from '../../shared/crypto/errors';
import { importSigningPublicKey, publicKeyId, verifyStatement, type Statement } from '../../shared/crypto/statements';
import { AUDIT_ENTRY_TYPE, verifyServiceEntry, type AuditEntry, type SignedAuditEntry } from '../../shared/formats/audit-entry';
import { AUDIT_ENTRY_MAX_SKEW_MS, type AppendEntryRequest } from '../../shared/schemas/audit';
import { B64u, Id } from '../../shared/schemas/common';
import { bearerToken, verifySession } from '../common/auth';
import { HttpError } from '../http/errors';
import type { ServiceContext } from '../services/service';
import type { ServiceName } from '../services/names';

/**
 * The part of the directory's GET /accounts/:id/public-keys answer that audit relies on. Not
 * strict: the directory may add fields; what is read here is checked.
 */
const DirectoryPublicKeysSchema = z.object({
  account: Id,
  status: z.enum(['invited', 'active', 'disabled']),
  signingKey: B64u({ maxBytes: 1024 }).nullable(),
  signingKeyId: z.string().nullable(),
});

/** Exported once per key object: every service-signed append compares against it. */
const rawKeys = new WeakMap<CryptoKey, Promise<Uint8Array>>();
function rawPublicKey(key: CryptoKey): Promise<Uint8Array> {
  let raw = rawKeys.get(key);
  if (!raw) {
    raw = crypto.subtle.exportKey('raw', key).then((b) => new Uint8Array(b));
    rawKeys.set(key, raw);
  }
  return raw;
}

function refuseSignature(message: string): never {
  throw new HttpError(400, 'E_SIGNATURE', message);
}

async function admitServiceEntry(ctx: ServiceContext, signed: SignedAuditEntry): Promise<void> {
  const signer = signed.entry.signer;
  if (signer.kind !== 'service') throw new Error('unreachable');
  const service = signer.service as ServiceName;
  // A service may name itself as the actor, never another service.
  if (signed.entry.actor.startsWith('service:') && signed.entry.actor !== `service:${service}`) {
    throw new HttpError(400, 'E_CONTEXT', `an entry signed by the ${service} service cannot name ${signed.entry.actor} as its actor`);
  }
  // The audit service knows its own key; every other key comes from the peer that owns it.
  const trusted = service === ctx.name ? ctx.key.publicKey : await ctx.peers.publicKey(service);
  if (!equalBytes(await rawPublicKey(trusted), fromBase64url(signer.key))) {
    refuseSignature(`signer.key is not the key the ${service} service publishes`);
  }
  try {
    await verifyServiceEntry(trusted, signed);
  } catch (e) {
    if (isCryptoError(e)) refuseSignature(`the entry's signature does not verify with the ${service} service key`);
    throw e;
  }
}

async function directoryKeys(ctx: ServiceContext, account: string): Promise<z.infer<typeof DirectoryPublicKeysSchema>> {
  const res = await ctx.peers.fetch('directory', `/accounts/${encodeURIComponent(account)}/public-keys`);
  if (res.status === 404) throw new HttpError(403, 'E_FORBIDDEN', 'the directory does not know this account');
  if (!res.ok) throw new HttpError(503, 'E_PEER_UNAVAILABLE', `the directory could not give this account's keys (HTTP ${res.status})`);
  const parsed = DirectoryPublicKeysSchema.safeParse(await res.json().catch(() => null));
  if (!parsed.success || parsed.data.account !== account) {
    throw new HttpError(503, 'E_PEER_UNAVAILABLE', "the directory's answer about this account's keys is malformed");
  }
  return parsed.data;
}

async function admitAccountEntry(ctx: ServiceContext, c: Context, signed: SignedAuditEntry): Promise<void> {
  const { entry } = signed;
  const signer = entry.signer;
  if (signer.kind !== 'account') throw new Error('unreachable');
  const session = await verifySession(ctx.peers, bearerToken(c));
  if (session.sub !== signer.account || entry.actor !== signer.account) {
    throw new HttpError(403, 'E_FORBIDDEN', 'an account-signed entry must be sent by the signing account, naming itself as the actor');
  }
  const keys = await directoryKeys(ctx, signer.account);
  if (keys.status === 'disabled') throw new HttpError(403, 'E_FORBIDDEN', 'this account is disabled');
  if (keys.signingKey === null || keys.signingKeyId === null) refuseSignature('this account has no registered signing key');
  if (signer.keyId !== keys.signingKeyId) refuseSignature("signer.keyId is not the account's registered signing key");
  let key: CryptoKey;
  try {
    key = await importSigningPublicKey(fromBase64url(keys.signingKey));
  } catch (e) {
    if (isCryptoError(e)) throw new HttpError(503, 'E_PEER_UNAVAILABLE', "the directory's signing key for this account is not a P-256 key");
    throw e;
  }
  // The key id is recomputed here, not taken from the directory's word.
  if ((await publicKeyId(key)) !== signer.keyId) refuseSignature("signer.keyId does not match the registered signing key's id");
  try {
    await verifyStatement(key, { statement: entry as unknown as Statement, signature: signed.signature }, AUDIT_ENTRY_TYPE);
  } catch (e) {
    if (isCryptoError(e)) refuseSignature("the entry's signature does not verify with the account's signing key");
    throw e;
  }
}

/** Throws an HttpError unless the entry may be appended. Returns the canonical details JSON to store, if any. */
export async function admitEntry(ctx: ServiceContext, c: Context, body: AppendEntryRequest, now: number): Promise<string | null> {
  const entry = body.entry as AuditEntry;
  const signed: SignedAuditEntry = { entry, signature: body.signature };

  if (Math.abs(entry.time - now) > AUDIT_ENTRY_MAX_SKEW_MS) {
    throw new HttpError(400, 'E_STALE', `entry time is more than ${AUDIT_ENTRY_MAX_SKEW_MS / 60000} minutes from the audit service's clock`);
  }

  if (entry.signer.kind === 'service') await admitServiceEntry(ctx, signed);
  else await admitAccountEntry(ctx, c, signed);

  if (body.detailsJson === undefined) return null;
  let canonical: string;
  try {
    canonical = canonicalJson(body.detailsJson);
  } catch (e) {
    if (isCryptoError(e)) throw new HttpError(400, 'E_VALIDATION', 'detailsJson cannot be canonicalised (too deep or not plain JSON)');
    throw e;
  }
  // The same digest as shared detailsDigest (SHA-256 of the canonical JSON), computed once and
  // synchronously: every append pays for it.
  if (createHash('sha256').update(canonical, 'utf8').digest('base64url') !== entry.details) throw new HttpError(400, 'E_HASH', 'the digest of detailsJson is not entry.details');
  // Stored as the very bytes that were digested, so the digest can be rechecked from the row.
  return canonical;
}
