/**
 * The directory service: the enterprise (name, root CA, security policy), accounts, departments,
 * roles and four-eyes requests, OPAQUE registration, login, password change and recovery,
 * sessions and escrow tickets, public keys and certificates. Its own SQLite file and signing key; the
 * others know it only by the tokens it signs (docs/relay-api.md).
 */
import { join } from 'node:path';
import { Hono } from 'hono';
import { HealthSchema } from '../../shared/schemas/common';
import { KeyResponse } from '../../shared/schemas/directory';
import { sameOriginWrites } from '../common/auth';
import { openDatabase } from '../common/db';
import { ApiDescription } from '../common/openapi';
import type { RelayService, RelayServiceFactory, ServiceContext } from '../services/service';
import type { DirectoryDeps } from './deps';
import { DIRECTORY_MIGRATIONS } from './migrations';
import { createOpaqueSetup, OpaqueServer, PendingLogins } from './opaque';
import { AttemptLimiter, DEFAULT_LOGIN_LIMITS, type LoginLimits } from './rate-limit';
import { PendingRecoveries } from './recovery';
import { accountRequestRoutes } from './routes/account-requests';
import { accountRoutes } from './routes/accounts';
import { departmentRoutes } from './routes/departments';
import { enterpriseRoutes } from './routes/enterprise';
import { historyRoutes } from './routes/history';
import { auditLoginFailure, loginRoutes } from './routes/login';
import { passwordRoutes } from './routes/password';
import { recoveryRoutes } from './routes/recovery';
import { registerRoutes } from './routes/register';
import { roleRequestRoutes } from './routes/role-requests';
import { sessionRoutes } from './routes/session';
import { setupRoutes } from './routes/setup';
import { issueSetupToken, loadSecrets } from './secrets';
import { Sessions, type DirectoryEnv } from './sessions';

export interface DirectoryService extends RelayService {
  /**
   * The one-time setup token while the relay is not set up yet; undefined once setup is done.
   * For the starter to print on the console (never logged).
   */
  setupToken?: string;
}

export interface DirectoryOptions {
  /** milliseconds since the epoch (tests move time) */
  now?: () => number;
  loginLimits?: LoginLimits;
}

const SWEEP_INTERVAL_MS = 30_000;

export async function createDirectoryServiceWith(ctx: ServiceContext, options: DirectoryOptions = {}): Promise<DirectoryService> {
  const now = options.now ?? Date.now;
  const limits = options.loginLimits ?? DEFAULT_LOGIN_LIMITS;
  const db = openDatabase(join(ctx.dataDir, 'directory.sqlite'), DIRECTORY_MIGRATIONS);
  const opaqueSetup = await createOpaqueSetup();
  const secrets = loadSecrets(db, () => opaqueSetup);
  const deps: DirectoryDeps = {
    ctx,
    db,
    api: new ApiDescription('directory', ctx.version),
    now,
    secrets,
    opaque: await OpaqueServer.create(secrets.opaqueServerSetup),
    pendingLogins: new PendingLogins(now),
    pendingRecoveries: new PendingRecoveries(now),
    sessions: new Sessions(db, ctx.key, now),
    limits: { username: new AttemptLimiter(limits.perUsername, now), address: new AttemptLimiter(limits.perAddress, now) },
  };

  const app = new Hono<DirectoryEnv>();
  app.use('*', sameOriginWrites());

  deps.api.add({ method: 'get', path: '/health', summary: 'Liveness', response: HealthSchema });
  app.get('/health', (c) => c.json({ service: 'directory', version: ctx.version, ok: true }));
  deps.api.add({ method: 'get', path: '/key', summary: "The directory's Ed25519 token-signing public key (raw, base64url)", response: KeyResponse });
  app.get('/key', (c) => c.json({ service: 'directory' as const, publicKey: ctx.key.publicB64u }));

  setupRoutes(app, deps);
  enterpriseRoutes(app, deps);
  accountRoutes(app, deps);
  historyRoutes(app, deps);
  departmentRoutes(app, deps);
  roleRequestRoutes(app, deps);
  accountRequestRoutes(app, deps);
  registerRoutes(app, deps);
  loginRoutes(app, deps);
  passwordRoutes(app, deps);
  recoveryRoutes(app, deps);
  sessionRoutes(app, deps);

  deps.api.add({ method: 'get', path: '/openapi.json', summary: 'This description' });
  const openapi = deps.api.document();
  app.get('/openapi.json', (c) => c.json(openapi));

  // Logins started and never finished are where wrong passwords end (the OPAQUE client notices and
  // stops): record them as failures when they expire, so the audit log shows online guessing too.
  const sweep = setInterval(() => void sweepLogins(deps), SWEEP_INTERVAL_MS);
  sweep.unref();

  const setupToken = issueSetupToken(db);
  // The token itself goes only to the starter's console banner: structured logs are shipped and
  // kept, and a live setup token there would let anyone who reads them create the administrators.
  if (setupToken) ctx.log.warn({ setupPending: true }, 'the relay is not set up yet: use the one-time setup link printed at start');

  return {
    name: 'directory',
    app,
    ...(setupToken ? { setupToken } : {}),
    close: async () => {
      clearInterval(sweep);
      await sweepLogins(deps);
      db.close();
    },
  };
}

export async function sweepLogins(deps: DirectoryDeps): Promise<void> {
  for (const login of deps.pendingLogins.sweep()) {
    try {
      await auditLoginFailure(deps, login, 'not-finished');
    } catch (e) {
      deps.ctx.log.warn({ err: e instanceof Error ? e.message : String(e) }, 'could not record an unfinished login in the audit log');
    }
  }
}

export const createDirectoryService = ((ctx: ServiceContext) => createDirectoryServiceWith(ctx)) satisfies RelayServiceFactory;
