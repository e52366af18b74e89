/**
 * The enterprise as a whole: its name and setup state, its root CA certificate and its security
 * policy. Reading needs no session (the sign-in page shows the name, checks the CA and enforces
 * the password length before anyone is signed in); changing needs a security administrator.
 */
import type { Hono } from 'hono';
import { isCryptoError } from '../../../shared/crypto/errors';
import { checkEnterpriseCaCertificate } from '../../../shared/pki/enterprise-ca';
import { CertificateRequest, EnterpriseResponse, PolicySchema, RevocationsResponse } from '../../../shared/schemas/directory';
import { listRevocations } from '../accounts-store';
import { readJson } from '../../common/validate';
import { HttpError } from '../../http/errors';
import type { DirectoryDeps } from '../deps';
import { enterpriseCa, enterpriseName, getPolicy, insertEnterpriseCa, setPolicy } from '../enterprise-store';
import { setupDone } from '../secrets';
import { requireRole, requireSession, type DirectoryEnv } from '../sessions';

const CERTIFICATE_BODY = 20 * 1024;
const SMALL_BODY = 1024;

export function enterpriseRoutes(app: Hono<DirectoryEnv>, { db, api, now, ctx, sessions }: DirectoryDeps): void {
  const auth = requireSession(sessions);
  const describe = () => ({ name: enterpriseName(db), setupDone: setupDone(db), caCertificate: enterpriseCa(db)?.certificate ?? null });

  api.add({ method: 'get', path: '/enterprise', summary: "The enterprise's name, whether setup is done, and its root CA certificate (no session)", auth: 'none', response: EnterpriseResponse });
  app.get('/enterprise', (c) => c.json(describe()));

  api.add({
    method: 'put',
    path: '/enterprise/ca',
    summary: 'Store the enterprise root CA certificate, once (security-admin); employee certificates must chain to it',
    auth: 'session',
    body: CertificateRequest,
    response: EnterpriseResponse,
    errors: { 400: 'not a usable CA certificate (E_CERTIFICATE)', 409: 'the CA is already set', 413: 'body too large' },
  });
  app.put('/enterprise/ca', auth, requireRole('security-admin'), async (c) => {
    const { certificate } = await readJson(c, CertificateRequest, CERTIFICATE_BODY);
    const caller = c.get('caller');
    if (enterpriseCa(db)) throw new HttpError(409, 'E_CONFLICT', 'the enterprise CA is already set; it is stored once');
    let checked: { fingerprint: string; subject: string };
    try {
      checked = await checkEnterpriseCaCertificate(certificate, new Date(now()));
    } catch (e) {
      if (isCryptoError(e)) throw new HttpError(400, 'E_CERTIFICATE', e.message.replace(/^E_[A-Z_]+: /, ''));
      throw e;
    }
    // Logged before it is stored: the root can never be removed again (migrations.ts), so an
    // audit log that cannot take the entry must stop it from being stored at all.
    await ctx.audit.record({ actor: caller.account.id, action: 'ca.create', target: 'enterprise', outcome: 'ok', details: { fingerprint: checked.fingerprint } });
    try {
      insertEnterpriseCa(db, { certificate, fingerprint: checked.fingerprint, subject: checked.subject, created_by: caller.account.id, created_at: now() });
    } catch (e) {
      // Another security administrator stored a root in the meantime: say so in the log too.
      if (e instanceof HttpError) await ctx.audit.record({ actor: caller.account.id, action: 'ca.create', target: 'enterprise', outcome: 'refused', details: { fingerprint: checked.fingerprint, code: e.code } });
      throw e;
    }
    return c.json(describe());
  });

  api.add({ method: 'get', path: '/revocations', summary: 'Every revoked employee certificate (serial, time, reason), for checking signatures (session)', auth: 'session', response: RevocationsResponse });
  app.get('/revocations', auth, (c) =>
    c.json({ revocations: listRevocations(db).map((r) => ({ serial: r.serial.toLowerCase(), revokedAt: r.revoked_at, reason: r.reason })) }),
  );

  api.add({ method: 'get', path: '/policy', summary: 'The security policy the browser enforces (no session)', auth: 'none', response: PolicySchema });
  app.get('/policy', (c) => c.json(getPolicy(db)));

  api.add({
    method: 'put',
    path: '/policy',
    summary: 'Set the security policy (security-admin): minimum password length 10..128, idle timeout 1..480 minutes',
    auth: 'session',
    body: PolicySchema,
    response: PolicySchema,
  });
  app.put('/policy', auth, requireRole('security-admin'), async (c) => {
    const policy = await readJson(c, PolicySchema, SMALL_BODY);
    const caller = c.get('caller');
    const old = getPolicy(db);
    setPolicy(db, policy);
    try {
      await ctx.audit.record({ actor: caller.account.id, action: 'policy.change', target: 'enterprise', outcome: 'ok', details: { old, new: policy } });
    } catch (e) {
      // An unlogged policy change must not stay in force.
      setPolicy(db, old);
      throw e;
    }
    return c.json(getPolicy(db));
  });
}
