/**
 * Sessions are bearer tokens (no cookies, so no ambient authority for CSRF to abuse) signed by
 * the directory; every service verifies them with the directory's public key and takes the
 * account and roles from the verified token only.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { isCryptoError } from '../../shared/crypto/errors';
import { verifyToken, type TokenPayload } from '../../shared/formats/token';
import { HttpError } from '../http/errors';
import type { Peers } from './peers';

export const SESSION_LIFETIME_SECONDS = 15 * 60;

export type SessionEnv = { Variables: { session: TokenPayload; requestId?: string } };

export function bearerToken(c: Context): string {
  const header = c.req.header('authorization') ?? '';
  const m = /^Bearer ([A-Za-z0-9._-]{1,4096})$/.exec(header);
  if (!m) throw new HttpError(401, 'E_UNAUTHORIZED', 'sign in first (missing or malformed bearer token)');
  return m[1]!;
}

export async function verifySession(peers: Peers, token: string): Promise<TokenPayload> {
  try {
    return await verifyToken(await peers.publicKey('directory'), token, { typ: 'session', iss: 'directory', maxLifetimeSeconds: SESSION_LIFETIME_SECONDS });
  } catch (e) {
    if (isCryptoError(e)) throw new HttpError(401, 'E_UNAUTHORIZED', 'session is invalid or expired; sign in again');
    throw e;
  }
}

/** Requires a valid session; sets c.var.session. */
export function requireSession(peers: Peers): MiddlewareHandler<SessionEnv> {
  return async (c, next) => {
    c.set('session', await verifySession(peers, bearerToken(c)));
    await next();
  };
}

/** Requires one of the given roles in the verified session. */
export function requireRole(...roles: string[]): MiddlewareHandler<SessionEnv> {
  return async (c, next) => {
    const held = c.get('session').roles ?? [];
    if (!roles.some((r) => held.includes(r))) throw new HttpError(403, 'E_FORBIDDEN', `needs one of the roles: ${roles.join(', ')}`);
    await next();
  };
}

/**
 * Refuses state-changing requests a browser sends from another origin. Bearer tokens already
 * make CSRF impossible; this is a second wall in case a cookie is ever added.
 */
export function sameOriginWrites(): MiddlewareHandler {
  return async (c, next) => {
    if (!['GET', 'HEAD', 'OPTIONS'].includes(c.req.method)) {
      const origin = c.req.header('origin');
      if (origin !== undefined && origin !== new URL(c.req.url).origin) throw new HttpError(403, 'E_CROSS_ORIGIN', 'cross-origin writes are refused');
      if (c.req.header('sec-fetch-site') === 'cross-site') throw new HttpError(403, 'E_CROSS_ORIGIN', 'cross-site writes are refused');
    }
    await next();
  };
}
