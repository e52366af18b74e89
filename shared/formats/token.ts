/**
 * Relay tokens: short-lived statements signed by a relay service's Ed25519 key (sessions and
 * escrow tickets by the directory). Verified by the other services with the issuer's public key,
 * so no service needs another's database.
 *
 *   token   = "sv1." || base64url(JCS(payload)) || "." || base64url(Ed25519(key, "sealvault/v1/token" || 0x00 || JCS(payload)))
 */
import { concatBytes, fromUtf8, own, utf8 } from '../crypto/bytes';
import { canonicalJson, fromBase64url, toBase64url } from '../crypto/encoding';
import { fail } from '../crypto/errors';

const PREFIX = 'sv1.';
const DOMAIN = utf8('sealvault/v1/token\u0000');
const MAX_TOKEN_LENGTH = 4096;
/** Clocks between services may drift a little; more than this is a stale or future token. */
export const CLOCK_SKEW_SECONDS = 30;

export type TokenType = 'session' | 'escrow-ticket';

export interface TokenPayload {
  typ: TokenType;
  /** issuing service, e.g. "directory" */
  iss: string;
  /** account id */
  sub: string;
  /** unique id: the session id for sessions, the ticket id for tickets (single use) */
  jti: string;
  /** seconds since the epoch */
  iat: number;
  exp: number;
  /** roles held at issue time (sessions) */
  roles?: string[];
}

export async function signToken(privateKey: CryptoKey, payload: TokenPayload): Promise<string> {
  if (!(payload.exp > payload.iat)) throw new RangeError('token must expire after it is issued');
  const body = utf8(canonicalJson(payload as unknown as Record<string, unknown>));
  const sig = new Uint8Array(await crypto.subtle.sign('Ed25519', privateKey, concatBytes(DOMAIN, body)));
  return `${PREFIX}${toBase64url(body)}.${toBase64url(sig)}`;
}

/** Verifies signature first, then type, issuer and lifetime. Returns the payload. */
export async function verifyToken(
  publicKey: CryptoKey,
  token: unknown,
  expect: { typ: TokenType; iss: string; now?: number; maxLifetimeSeconds?: number },
): Promise<TokenPayload> {
  if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH || !token.startsWith(PREFIX)) fail('E_FORMAT', 'not a Sealvault token');
  const parts = (token as string).slice(PREFIX.length).split('.');
  if (parts.length !== 2) fail('E_FORMAT', 'token must have a payload and a signature');
  const body = fromBase64url(parts[0]!);
  const sig = fromBase64url(parts[1]!);
  if (sig.length !== 64) fail('E_SIGNATURE', 'token signature must be 64 bytes');
  const ok = await crypto.subtle.verify('Ed25519', publicKey, own(sig), concatBytes(DOMAIN, body));
  if (!ok) fail('E_SIGNATURE', 'token signature does not verify');
  let payload: TokenPayload;
  try {
    payload = JSON.parse(fromUtf8(body)) as TokenPayload;
  } catch (e) {
    return fail('E_FORMAT', 'token payload is not JSON', e);
  }
  if (payload.typ !== expect.typ || payload.iss !== expect.iss) fail('E_CONTEXT', `expected a ${expect.typ} token from ${expect.iss}`);
  const now = expect.now ?? Math.floor(Date.now() / 1000);
  if (!Number.isSafeInteger(payload.iat) || !Number.isSafeInteger(payload.exp)) fail('E_FORMAT', 'token times must be integers');
  if (payload.iat > now + CLOCK_SKEW_SECONDS) fail('E_CONTEXT', 'token is issued in the future');
  if (payload.exp <= now - CLOCK_SKEW_SECONDS) fail('E_ROLLBACK', 'token has expired');
  if (expect.maxLifetimeSeconds !== undefined && payload.exp - payload.iat > expect.maxLifetimeSeconds) fail('E_LIMIT', 'token lifetime is longer than allowed');
  if (typeof payload.sub !== 'string' || typeof payload.jti !== 'string') fail('E_FORMAT', 'token lacks a subject or id');
  return payload;
}

/** Imports a raw 32-byte Ed25519 public key for verification. */
export function importEd25519PublicKey(raw: Uint8Array): Promise<CryptoKey> {
  if (raw.length !== 32) fail('E_KEY_WEAK', 'Ed25519 public key must be 32 bytes');
  return crypto.subtle.importKey('raw', own(raw), { name: 'Ed25519' }, true, ['verify']);
}
