/**
 * The author's signature on a sealed record (shared/crypto/records.ts): a signed statement
 * (shared/crypto/statements.ts, ECDSA P-256 over canonical JSON) that names the record's
 * contract, kind and version, its author, and the SHA-256 of the sealed record itself. The
 * vault stores it beside the record and refuses a record whose statement is not by the account
 * storing it; a reader accepts a record only with a statement by a writer it has verified.
 *
 * recordDigest = base64url(SHA-256(JCS({contract, ct, kind, nonce, v, version}))): the sealed
 * record's own fields only, so any change to the ciphertext, nonce or label changes it.
 * WebCrypto only: this runs unchanged in browsers and in the relay.
 */
import { utf8 } from '../crypto/bytes';
import { canonicalJson, toBase64url } from '../crypto/encoding';
import { checkId } from '../crypto/account-keys';
import { fail } from '../crypto/errors';
import type { SealedRecord } from '../crypto/records';
import { signStatement, verifyStatement, type SignedStatement } from '../crypto/statements';

export const RECORD_STATEMENT_TYPE = 'sealvault/v1/record';

export interface RecordStatement {
  type: typeof RECORD_STATEMENT_TYPE;
  contract: string;
  kind: string;
  version: number;
  /** account id of the signer */
  author: string;
  /** base64url SHA-256 of the canonical JSON of the sealed record */
  recordDigest: string;
  [field: string]: string | number;
}

/** base64url SHA-256 of the canonical JSON of {v, kind, contract, version, nonce, ct}. */
export async function recordDigest(record: SealedRecord): Promise<string> {
  const sealed = { v: record.v, kind: record.kind, contract: record.contract, version: record.version, nonce: record.nonce, ct: record.ct };
  return toBase64url(new Uint8Array(await crypto.subtle.digest('SHA-256', utf8(canonicalJson(sealed)))));
}

/** The statement `author` signs for `record`. */
export async function recordStatement(author: string, record: SealedRecord): Promise<RecordStatement> {
  return {
    type: RECORD_STATEMENT_TYPE,
    contract: record.contract,
    kind: record.kind,
    version: record.version,
    author: checkId('author', author),
    recordDigest: await recordDigest(record),
  };
}

export async function signRecord(privateKey: CryptoKey, author: string, record: SealedRecord): Promise<SignedStatement<RecordStatement>> {
  return signStatement(privateKey, await recordStatement(author, record));
}

/**
 * Verifies the signature with `publicKey` (E_SIGNATURE), then that the statement is about
 * exactly `record`: its contract, kind, version and digest (E_CONTEXT). Returns the statement;
 * the caller checks that `author` is the account whose key it passed.
 */
export async function verifyRecordStatement(publicKey: CryptoKey, signed: unknown, record: SealedRecord): Promise<RecordStatement> {
  const s = await verifyStatement<RecordStatement>(publicKey, signed, RECORD_STATEMENT_TYPE);
  if (s.contract !== record.contract || s.kind !== record.kind || s.version !== record.version) {
    fail('E_CONTEXT', `the statement is for ${String(s.kind)}/${String(s.contract)}/v${String(s.version)}, the record is ${record.kind}/${record.contract}/v${record.version}`);
  }
  if (typeof s.author !== 'string') fail('E_FORMAT', 'the statement names no author');
  if (s.recordDigest !== (await recordDigest(record))) fail('E_CONTEXT', 'the statement is for another record (digest differs)');
  return s;
}
