/**
 * Encrypted records: structured contract data (title, parties, amounts, dates, custom fields) as
 * canonical JSON under AES-256-GCM with a random 96-bit nonce. The AAD binds the record to its
 * kind, contract and version, so a relay that swaps records between contracts or versions gets
 * a refusal, not someone else's fields.
 */
import { abytes, concatBytes, fromUtf8, randomBytes, utf8 } from './bytes';
import { canonicalJson, fromBase64url, toBase64url, type Json } from './encoding';
import { fail } from './errors';
import { checkId } from './account-keys';

const AAD_PREFIX = utf8('sealvault/v1/record\u0000');
export const RECORD_NONCE_SIZE = 12;
/** Records hold fields, not files: 1 MiB of JSON is far beyond any contract's metadata. */
export const RECORD_MAX_PLAINTEXT = 1024 * 1024;

export interface RecordContext {
  /** what the record holds, e.g. "contract-fields" */
  kind: string;
  contract: string;
  version: number;
}

export interface SealedRecord extends RecordContext {
  v: 1;
  /** base64url, 12 bytes */
  nonce: string;
  /** base64url of AES-GCM ciphertext || tag */
  ct: string;
}

function checkContext(ctx: RecordContext): RecordContext {
  if (typeof ctx.kind !== 'string' || !/^[a-z][a-z0-9-]{0,31}$/.test(ctx.kind)) fail('E_FORMAT', 'record kind is missing or malformed');
  checkId('contract', ctx.contract);
  if (!Number.isSafeInteger(ctx.version) || ctx.version < 1) fail('E_FORMAT', 'record version must be a positive integer');
  return { kind: ctx.kind, contract: ctx.contract, version: ctx.version };
}

/** AAD = "sealvault/v1/record" || 0x00 || canonical JSON {contract, kind, v: 1, version}. */
export function recordAad(ctx: RecordContext): Uint8Array<ArrayBuffer> {
  const c = checkContext(ctx);
  return concatBytes(AAD_PREFIX, utf8(canonicalJson({ v: 1, kind: c.kind, contract: c.contract, version: c.version })));
}

export async function sealRecord(key: CryptoKey, ctx: RecordContext, value: Json): Promise<SealedRecord> {
  const c = checkContext(ctx);
  const plaintext = utf8(canonicalJson(value));
  if (plaintext.length > RECORD_MAX_PLAINTEXT) fail('E_LIMIT', `record larger than ${RECORD_MAX_PLAINTEXT} bytes`);
  const nonce = randomBytes(RECORD_NONCE_SIZE);
  const ct = await crypto.subtle.encrypt({ name: 'AES-GCM', iv: nonce, additionalData: recordAad(c) }, key, plaintext);
  plaintext.fill(0);
  return { v: 1, ...c, nonce: toBase64url(nonce), ct: toBase64url(new Uint8Array(ct)) };
}

/**
 * Opens a record the caller expects at `expected`. A record that says it belongs elsewhere is
 * refused (E_CONTEXT) before decryption; a record whose label was edited fails the tag (E_AUTH).
 */
export async function openRecord(key: CryptoKey, sealed: unknown, expected: RecordContext): Promise<Json> {
  if (typeof sealed !== 'object' || sealed === null) return fail('E_FORMAT', 'record must be an object');
  const r = sealed as Partial<SealedRecord>;
  if (r.v !== 1) fail('E_FORMAT', 'unsupported record version: refusing to fall back');
  const want = checkContext(expected);
  if (r.kind !== want.kind || r.contract !== want.contract || r.version !== want.version) {
    fail('E_CONTEXT', `record is for ${String(r.kind)}/${String(r.contract)}/v${String(r.version)}, expected ${want.kind}/${want.contract}/v${want.version}`);
  }
  const nonce = fromBase64url(String(r.nonce));
  abytes('nonce', nonce);
  if (nonce.length !== RECORD_NONCE_SIZE) fail('E_FORMAT', 'record nonce must be 12 bytes');
  const ct = fromBase64url(String(r.ct));
  if (ct.length < 16) fail('E_TRUNCATED', 'record ciphertext shorter than its tag');
  if (ct.length > RECORD_MAX_PLAINTEXT + 16) fail('E_LIMIT', 'record too large');
  let plaintext: Uint8Array;
  try {
    plaintext = new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv: nonce, additionalData: recordAad(want) }, key, ct));
  } catch (e) {
    return fail('E_AUTH', 'record does not decrypt: wrong key or changed data', e);
  }
  const text = fromUtf8(plaintext);
  let value: Json;
  try {
    value = JSON.parse(text) as Json;
  } catch (e) {
    return fail('E_FORMAT', 'record plaintext is not JSON', e);
  }
  // Only canonical JSON was ever sealed: anything else was not written by a Sealvault client.
  if (canonicalJson(value) !== text) fail('E_FORMAT', 'record plaintext is not canonical JSON');
  return value;
}
