/**
 * The vault's second wall for seals on a signing step: each seal the step applies must be active,
 * the caller one of its users, and, when the seal's use needs approval, one of the use requests
 * the step names must be the caller's, for this contract and flow, approved by a manager. Asked of
 * the keys service with the caller's own token, so keys answers only what the caller may see.
 * The browser checks the same before it signs (shared/protocol/seals checkSealUseApproval), and
 * checks the approval's signature, which the vault leaves to keys.
 */
import type { Context } from 'hono';
import { SealSchema, SealUseRequestListSchema } from '../../shared/schemas/seals';
import type { Peers } from '../common/peers';
import { HttpError } from '../http/errors';

async function askKeys(peers: Peers, c: Context, path: string): Promise<unknown> {
  const authorization = c.req.header('authorization');
  if (!authorization) throw new HttpError(401, 'E_UNAUTHORIZED', 'sign in first (missing or malformed bearer token)');
  const res = await peers.fetch('keys', path, { headers: { authorization } });
  if (res.status === 401) throw new HttpError(401, 'E_UNAUTHORIZED', 'session is invalid or expired; sign in again');
  if (res.status === 403 || res.status === 404) return null;
  if (!res.ok) throw new HttpError(503, 'E_PEER_UNAVAILABLE', `the keys service could not answer about a seal (HTTP ${res.status})`);
  return res.json().catch(() => {
    throw new HttpError(503, 'E_PEER_UNAVAILABLE', 'the keys service gave an unreadable answer');
  });
}

export async function requireSealUse(peers: Peers, c: Context, use: { seal: string; contract: string; flow: string; user: string; approvals: readonly string[] }): Promise<void> {
  const sealPath = `/seals/${encodeURIComponent(use.seal)}`;
  const answer = await askKeys(peers, c, sealPath);
  if (answer === null) throw new HttpError(403, 'E_FORBIDDEN', `you may not apply the seal ${use.seal}`);
  const seal = SealSchema.safeParse(answer);
  if (!seal.success || seal.data.id !== use.seal) throw new HttpError(503, 'E_PEER_UNAVAILABLE', 'the keys service gave an unexpected answer about a seal');
  if (seal.data.status !== 'active') throw new HttpError(403, 'E_SEAL_INACTIVE', `the seal ${use.seal} is ${seal.data.status}`);
  if (!seal.data.users.includes(use.user)) throw new HttpError(403, 'E_FORBIDDEN', `only the users of the seal ${use.seal} apply it`);
  if (!seal.data.useNeedsApproval) return;
  const query = new URLSearchParams({ contract: use.contract, flow: use.flow });
  const listed = SealUseRequestListSchema.safeParse(await askKeys(peers, c, `${sealPath}/use-requests?${query}`));
  if (!listed.success || listed.data.seal !== use.seal) throw new HttpError(503, 'E_PEER_UNAVAILABLE', 'the keys service gave an unexpected answer about a seal');
  const approved = listed.data.requests.some((r) => r.user === use.user && r.contract === use.contract && r.flow === use.flow && r.approval !== null && use.approvals.includes(r.id));
  if (!approved) throw new HttpError(409, 'E_SEAL_APPROVAL', `using the seal ${use.seal} on this contract needs a manager's approval, and the step names none`);
}
