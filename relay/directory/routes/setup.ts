/**
 * First-run setup: the holder of the one-time setup token (printed by the relay on first start)
 * names the enterprise and its three administrators, one per administrator role. Each gets an
 * invitation; they become active when they finish registration. The token is then spent.
 */
import type { Hono } from 'hono';
import { SetupRequest, SetupResponse } from '../../../shared/schemas/directory';
import { readJson } from '../../common/validate';
import { HttpError } from '../../http/errors';
import { deleteUnusedAccount, insertAccount } from '../accounts-store';
import { accountTarget, type DirectoryDeps } from '../deps';
import { createInvitation } from '../invitations';
import { setupDone, setupTokenHash, spendSetupToken, unspendSetupToken } from '../secrets';
import type { DirectoryEnv } from '../sessions';
import { iso, randomId, sameSecretHash, sha256B64u } from '../util';

const SETUP_BODY_LIMIT = 8 * 1024;

export function setupRoutes(app: Hono<DirectoryEnv>, { db, api, now, ctx }: DirectoryDeps): void {
  api.add({
    method: 'post',
    path: '/setup',
    summary: 'First-run setup with the one-time setup token: the enterprise and one invitation per administrator role',
    body: SetupRequest,
    response: SetupResponse,
    errors: { 401: 'wrong setup token', 409: 'setup was already done (the token is spent)', 413: 'body too large' },
  });
  app.post('/setup', async (c) => {
    const body = await readJson(c, SetupRequest, SETUP_BODY_LIMIT);
    if (setupDone(db)) throw new HttpError(409, 'E_SETUP_DONE', 'this relay is already set up');
    const stored = setupTokenHash(db);
    if (!stored || !sameSecretHash(stored, sha256B64u(body.setupToken))) throw new HttpError(401, 'E_SETUP_TOKEN', 'the setup token is wrong');

    const at = now();
    const invitations = db.transaction(() => {
      // Spending first makes two concurrent setups impossible: the second finds it done.
      if (!spendSetupToken(db, at)) throw new HttpError(409, 'E_SETUP_DONE', 'this relay is already set up');
      db.prepare('INSERT INTO enterprise (id, name, created_at) VALUES (1, ?, ?)').run(body.enterprise.name, at);
      return body.administrators.map((admin) => {
        const id = randomId();
        insertAccount(db, {
          id,
          username: admin.username ?? admin.employeeNumber,
          legalName: admin.legalName,
          employeeNumber: admin.employeeNumber,
          department: null,
          contact: admin.contact,
          createdBy: 'setup',
          approvedBy: 'setup',
          roles: [admin.role],
          now: at,
        });
        const { code, expiresAt } = createInvitation(db, id, 'setup', at);
        return { role: admin.role, account: id, username: (admin.username ?? admin.employeeNumber).toLowerCase(), invitationCode: code, expiresAt: iso(expiresAt) };
      });
    })();

    try {
      await ctx.audit.record({
        action: 'setup.complete',
        target: 'enterprise',
        outcome: 'ok',
        details: { enterprise: body.enterprise.name, administrators: invitations.map((i) => ({ role: i.role, account: i.account })) },
      });
      for (const i of invitations) await ctx.audit.record({ action: 'account.invite', target: accountTarget(i.account), outcome: 'ok', details: { role: i.role, by: 'setup' } });
    } catch (e) {
      // The invitation codes would be lost with the error answer and the token spent, leaving a relay
      // nobody can set up: undo everything, so the same token works once the audit log is reachable.
      db.transaction(() => {
        for (const i of invitations) deleteUnusedAccount(db, i.account);
        db.prepare('DELETE FROM enterprise').run();
        unspendSetupToken(db, stored);
      })();
      throw e;
    }
    return c.json({ enterprise: { name: body.enterprise.name }, invitations });
  });
}
