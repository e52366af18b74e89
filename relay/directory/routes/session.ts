/** Session upkeep (refresh, logout) and escrow tickets for the session's account. */
import type { Hono } from 'hono';
import { EscrowTicketResponse, OkResponse, SessionResponse } from '../../../shared/schemas/directory';
import { HttpError } from '../../http/errors';
import { accountTarget, type DirectoryDeps } from '../deps';
import { requireSession, sessionAnswer, type DirectoryEnv } from '../sessions';

export function sessionRoutes(app: Hono<DirectoryEnv>, { api, ctx, sessions }: DirectoryDeps): void {
  const auth = requireSession(sessions);

  api.add({ method: 'post', path: '/session/refresh', summary: 'A new session token (current roles, 15 minutes) while the session is live', auth: 'session', response: SessionResponse });
  app.post('/session/refresh', auth, async (c) => {
    const caller = c.get('caller');
    const issued = await sessions.refresh(caller.token.jti, caller.account.id);
    // A refresh hands out a new token with the roles held now: the log shows who kept a session alive, and with which roles.
    await ctx.audit.record({ actor: caller.account.id, action: 'session.refresh', target: accountTarget(caller.account.id), outcome: 'ok', details: { session: caller.token.jti, roles: issued.roles } });
    return c.json(sessionAnswer(issued));
  });

  api.add({ method: 'post', path: '/logout', summary: 'End the session', auth: 'session', response: OkResponse });
  app.post('/logout', auth, async (c) => {
    const caller = c.get('caller');
    sessions.end(caller.token.jti, 'logout');
    await ctx.audit.record({ actor: caller.account.id, action: 'logout', target: accountTarget(caller.account.id), outcome: 'ok', details: { session: caller.token.jti } });
    return c.json({ ok: true as const });
  });

  api.add({
    method: 'post',
    path: '/escrow-ticket',
    summary: "A single-use escrow ticket (60 s) for the session's account, which must be active",
    auth: 'session',
    response: EscrowTicketResponse,
    errors: { 403: 'the account is not active (E_ACCOUNT_NOT_ACTIVE)' },
  });
  app.post('/escrow-ticket', auth, async (c) => {
    const caller = c.get('caller');
    if (caller.account.status !== 'active') {
      await ctx.audit.record({ actor: caller.account.id, action: 'escrow.ticket', target: accountTarget(caller.account.id), outcome: 'refused', details: { status: caller.account.status } });
      throw new HttpError(403, 'E_ACCOUNT_NOT_ACTIVE', 'the account is not active yet: a security administrator must approve it');
    }
    const { ticket, expiresAt, id } = await sessions.escrowTicket(caller.account.id);
    // Recorded before the ticket leaves: an escrow release always has a ticket entry to match.
    await ctx.audit.record({ actor: caller.account.id, action: 'escrow.ticket', target: accountTarget(caller.account.id), outcome: 'ok', details: { ticket: id, session: caller.token.jti } });
    return c.json({ ticket, expiresAt });
  });
}
