/** Small helpers shared by the directory's modules. */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context } from 'hono';
import { isCryptoError } from '../../shared/crypto/errors';
import { HttpError } from '../http/errors';

/** Account, session, request and login ids: 16 random bytes, so they are unguessable as well as unique. */
export function randomId(): string {
  return randomBytes(16).toString('base64url');
}

/** Setup tokens and invitation codes: 32 random bytes; only their SHA-256 is ever stored. */
export function randomSecret(): string {
  return randomBytes(32).toString('base64url');
}

export function sha256B64u(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('base64url');
}

export function sameSecretHash(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * The peer address as @hono/node-server reports it. Forwarded-for headers are not trusted: the
 * relay terminates TLS itself, and a header would let any client pick its own rate-limit bucket.
 */
export function clientAddress(c: Context): string {
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
  return env?.incoming?.socket?.remoteAddress ?? 'unknown';
}

/** Crypto-core refusals of client input (weak keys, KDF parameters) become 400s with the same code. */
export async function clientCrypto<T>(what: string, fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (isCryptoError(e)) throw new HttpError(400, e.code, `${what}: ${e.message.replace(/^E_[A-Z_]+: /, '')}`);
    throw e;
  }
}

/** Maps SQLite constraint failures that a client can cause (duplicates, separation) to 409s. */
export function conflictFromSqlite(e: unknown, duplicates: Record<string, string> = {}): never {
  const err = e as { code?: string; message?: string };
  const msg = err?.message ?? '';
  if (typeof err?.code === 'string' && err.code.startsWith('SQLITE_CONSTRAINT')) {
    if (msg.includes('E_SEPARATION')) throw new HttpError(409, 'E_SEPARATION', 'no account may hold two of the roles system-admin, security-admin and auditor');
    for (const [column, message] of Object.entries(duplicates)) {
      if (msg.includes(column)) throw new HttpError(409, 'E_CONFLICT', message);
    }
  }
  throw e;
}
