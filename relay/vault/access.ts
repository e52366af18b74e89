/**
 * The relay's second wall behind the cryptography (DESIGN.md section 7): every read or write of
 * a contract asks the keys service, with the caller's own bearer token, which role the caller
 * holds in the contract's space. Nothing is cached across requests, so a revocation takes effect
 * on the very next request.
 *
 * Reads of one contract also name the contract: someone outside the space who holds a single
 * share of it (a DEK envelope, relay/keys/envelopes.ts) is then a viewer of that contract only.
 * Listing a space and every write name no contract, so a share never reaches them.
 */
import type { Context } from 'hono';
import type { Peers } from '../common/peers';
import { HttpError } from '../http/errors';
import { z } from 'zod';
import { Id } from '../../shared/schemas/common';
import { GrantMineSchema, SpaceRole as SpaceRoleSchema, type SpaceRole } from '../../shared/schemas/vault';

export const READ_ROLES: readonly SpaceRole[] = ['viewer', 'editor', 'signer', 'manager'];
export const WRITE_ROLES: readonly SpaceRole[] = ['editor', 'signer', 'manager'];
export const CREATE_ROLES: readonly SpaceRole[] = ['editor', 'manager'];

/** The caller's role in `space` (or, with `contract`, for that one contract) according to keys, or null. */
export async function roleInSpace(peers: Peers, c: Context, space: string, contract?: string): Promise<SpaceRole | null> {
  const authorization = c.req.header('authorization');
  if (!authorization) throw new HttpError(401, 'E_UNAUTHORIZED', 'sign in first (missing or malformed bearer token)');
  const query = new URLSearchParams({ space, ...(contract === undefined ? {} : { contract }) });
  const res = await peers.fetch('keys', `/grants/mine?${query}`, { headers: { authorization } });
  if (res.status === 401) throw new HttpError(401, 'E_UNAUTHORIZED', 'session is invalid or expired; sign in again');
  if (res.status === 403 || res.status === 404) return null;
  if (!res.ok) throw new HttpError(503, 'E_PEER_UNAVAILABLE', `the keys service could not say who may access this space (HTTP ${res.status})`);
  let body: unknown;
  try {
    body = await res.json();
  } catch (e) {
    throw new HttpError(503, 'E_PEER_UNAVAILABLE', 'the keys service gave an unreadable answer', { cause: e });
  }
  const parsed = GrantMineSchema.safeParse(body);
  // An answer without `contract` is a role in the whole space (a keys service that knows no shares).
  const otherContract = parsed.success && parsed.data.contract !== undefined && parsed.data.contract !== contract;
  if (!parsed.success || parsed.data.space !== space || otherContract) throw new HttpError(503, 'E_PEER_UNAVAILABLE', 'the keys service gave an unexpected answer');
  return parsed.data.role;
}

/**
 * Refuses (403) unless the caller holds one of `allowed` in `space` (or, given `contract`, for
 * that contract: reads only); returns the role held.
 */
export async function requireSpaceRole(peers: Peers, c: Context, space: string, allowed: readonly SpaceRole[], what: string, contract?: string): Promise<SpaceRole> {
  const role = await roleInSpace(peers, c, space, contract);
  if (role === null) throw new HttpError(403, 'E_FORBIDDEN', contract === undefined ? 'you hold no grant in this contract space' : 'you hold no grant in this contract space, nor a share of this contract');
  if (!allowed.includes(role)) throw new HttpError(403, 'E_FORBIDDEN', `${what} needs one of the roles ${allowed.join(', ')} in this space; you are ${role}`);
  return role;
}

/** The part of keys' GET /grants?space= answer the vault reads: who holds which role. */
const SpaceMembersSchema = z.object({ space: Id, members: z.array(z.object({ member: Id, role: SpaceRoleSchema })) });

/**
 * Every member's role in `space` according to keys, asked with the caller's own token (keys
 * answers members of the space only; anyone else gets 403 here). Used where the vault must know
 * another account's role (the signers a flow names); the caller's own role still comes from
 * requireSpaceRole.
 */
export async function spaceMembers(peers: Peers, c: Context, space: string): Promise<Map<string, SpaceRole>> {
  const authorization = c.req.header('authorization');
  if (!authorization) throw new HttpError(401, 'E_UNAUTHORIZED', 'sign in first (missing or malformed bearer token)');
  const res = await peers.fetch('keys', `/grants?${new URLSearchParams({ space })}`, { headers: { authorization } });
  if (res.status === 401) throw new HttpError(401, 'E_UNAUTHORIZED', 'session is invalid or expired; sign in again');
  if (res.status === 403 || res.status === 404) throw new HttpError(403, 'E_FORBIDDEN', 'you hold no grant in this contract space');
  if (!res.ok) throw new HttpError(503, 'E_PEER_UNAVAILABLE', `the keys service could not list the members of this space (HTTP ${res.status})`);
  const parsed = SpaceMembersSchema.safeParse(await res.json().catch(() => null));
  if (!parsed.success || parsed.data.space !== space) throw new HttpError(503, 'E_PEER_UNAVAILABLE', 'the keys service gave an unexpected answer');
  return new Map(parsed.data.members.map((m) => [m.member, m.role]));
}
