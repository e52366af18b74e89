/**
 * The auditor reads and changes nothing (DESIGN.md section 1, three-member separation): a
 * session holding the auditor role is refused on every state-changing API route except the few
 * that keep its own sign-in working and the two an auditor exists for (cosigning checkpoints,
 * registering its witness key). Enforced once, in front of every service, so that a role a
 * service forgot to check (a grant that made the auditor an editor, a seal request, a contact
 * change) cannot become a way to change something.
 */
import type { MiddlewareHandler } from 'hono';
import type { TokenPayload } from '../../shared/formats/token';
import { HttpError } from '../http/errors';

export const AUDITOR_ROLE = 'auditor';

/**
 * Writes an auditor's session may still make, as METHOD /api/<service>/<path> patterns. Each is
 * about the auditor's own account or the log's witnessing, never about anyone else's data.
 */
export const AUDITOR_WRITES: readonly { method: string; path: RegExp; why: string }[] = [
  { method: 'POST', path: /^\/api\/directory\/(logout|session\/refresh|escrow-ticket)$/, why: 'keeping or ending its own session, unlocking its own keys' },
  { method: 'POST', path: /^\/api\/directory\/password\/(start|finish)$/, why: 'changing its own password' },
  { method: 'PUT', path: /^\/api\/directory\/recovery-key$/, why: 'its own recovery-auth key' },
  { method: 'PUT', path: /^\/api\/keys\/(private-keys|recovery)\/[0-9]+$/, why: 'its own wrapped private keys (registration, password change, recovery)' },
  { method: 'POST', path: /^\/api\/escrow\/(shares|challenge|release)$/, why: 'its own escrow share and unlocking' },
  { method: 'PUT', path: /^\/api\/escrow\/recovery-key$/, why: 'its own escrow recovery key' },
  { method: 'POST', path: /^\/api\/audit\/entries$/, why: 'appending its own signed entries (what it exported, what it verified) changes nothing' },
  { method: 'POST', path: /^\/api\/audit\/witnesses$/, why: 'registering as a witness' },
  { method: 'POST', path: /^\/api\/audit\/checkpoints\/[0-9]+\/cosignatures$/, why: 'cosigning a checkpoint' },
];

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function auditorMayWrite(method: string, path: string): boolean {
  return AUDITOR_WRITES.some((w) => w.method === method && w.path.test(path));
}

/**
 * `verify` checks a bearer token (the directory's signature, expiry) and returns its payload.
 * A token that does not verify passes through untouched: the service answers 401 itself.
 */
export function auditorReadOnly(verify: (token: string) => Promise<TokenPayload>): MiddlewareHandler {
  return async (c, next) => {
    if (!READS.has(c.req.method)) {
      const m = /^Bearer ([A-Za-z0-9._-]{1,4096})$/.exec(c.req.header('authorization') ?? '');
      if (m) {
        const payload = await verify(m[1]!).catch(() => null);
        if (payload?.roles?.includes(AUDITOR_ROLE) && !auditorMayWrite(c.req.method, c.req.path)) {
          throw new HttpError(403, 'E_FORBIDDEN', 'the auditor role is read-only: it cosigns checkpoints and changes nothing else');
        }
      }
    }
    await next();
  };
}
