import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HttpError, relayErrorHandler, relayNotFound, wrapNonErrorThrows, type ErrorLog } from './http/errors';
import { redirectToHttps } from './http/redirect-to-https';
import { requestId, type RelayEnv } from './http/request-id';
import { securityHeaders } from './http/security-headers';
import { loadSpaBuild, serveSpa } from './http/spa';
import { SERVICE_FACTORIES } from './services/catalog';
import { SERVICE_NAMES, type ServiceName } from './services/names';
import type { RelayService, RelayServiceFactory } from './services/service';
import { resolveTlsMaterial, type ConfiguredTls, type TlsMaterial } from './tls/tls-material';
import { trustInstructions } from './tls/trust-instructions';
import { RELAY_VERSION } from './version';
import { createAuditSink } from './common/audit-sink';
import { sameOriginWrites, verifySession } from './common/auth';
import { auditorReadOnly } from './common/auditor-read-only';
import type { TokenPayload } from '../shared/formats/token';
import { createLogger, createMetrics, requestLog, type Metrics } from './common/observability';
import { createPeers, type PeerConfig } from './common/peers';
import { loadOrCreateServiceKey } from './common/service-key';
import type { Logger } from 'pino';

export const DEFAULT_HTTPS_PORT = 8443;
export const DEFAULT_HTTP_PORT = 8080;
export const DEFAULT_SPA_DIR = fileURLToPath(new URL('../client/build', import.meta.url));
const SHUTDOWN_GRACE_MS = 5_000;

export interface CreateRelayAppOptions {
  version?: string;
  services?: readonly RelayService[];
  /** Built SPA folder, read once now. Omit or null for a relay that serves only its API. */
  spaDir?: string | null;
  errorLog?: ErrorLog;
  metrics?: Metrics;
  logger?: Logger;
  /** Verifies a session token (the directory's key); with it, auditor sessions are refused on writes (common/auditor-read-only.ts). */
  verifySession?: (token: string) => Promise<TokenPayload>;
}

export function createRelayApp({ version = RELAY_VERSION, services = [], spaDir = null, errorLog, metrics, logger, verifySession }: CreateRelayAppOptions = {}): Hono<RelayEnv> {
  const spa = spaDir === null ? null : loadSpaBuild(spaDir);
  const inline = spa?.present ? spa.inlineHashes : { scripts: [], styles: [] };

  const app = new Hono<RelayEnv>();
  app.use('*', requestId());
  if (logger) app.use('*', requestLog(logger));
  if (metrics) app.use('*', metrics.middleware());
  app.use('*', securityHeaders({ scriptHashes: inline.scripts, styleHashes: inline.styles }));
  app.use('/api/*', async (c, next) => {
    await next();
    // API answers carry account and key material, even if encrypted: never cache them.
    if (!c.res.headers.has('Cache-Control')) c.res.headers.set('Cache-Control', 'no-store');
  });
  // Sessions are bearer tokens, so CSRF has no ambient credential to ride on; refusing
  // cross-origin writes anyway keeps it so if a cookie is ever added.
  app.use('/api/*', sameOriginWrites());
  app.use('*', wrapNonErrorThrows());
  if (verifySession) app.use('/api/*', auditorReadOnly(verifySession));
  app.onError(relayErrorHandler(errorLog));
  app.notFound(relayNotFound);

  const mounted = services.map((s) => s.name);
  const twice = mounted.find((name, i) => mounted.indexOf(name) !== i);
  if (twice) throw new Error(`service "${twice}" given twice`);
  app.get('/api/health', (c) => c.json({ ok: true, version, services: mounted }));
  if (metrics) {
    app.get('/metrics', async (c) => c.body(await metrics.registry.metrics(), 200, { 'content-type': metrics.registry.contentType }));
  }
  for (const service of services) app.route(`/api/${service.name}`, service.app);
  // Anything else under /api is a 404 JSON, whatever the method, and never the SPA page.
  app.all('/api/*', () => {
    throw new HttpError(404, 'E_NOT_FOUND', 'no such endpoint');
  });
  if (spa) app.get('*', serveSpa(spa));
  return app;
}

export interface StartRelayOptions {
  dataDir: string;
  /** HTTPS port; 0 picks a free one. Default 8443. */
  port?: number;
  /** Interface to bind; default all interfaces. */
  host?: string;
  /** Plain-HTTP redirect listener: a port (0 picks a free one) or false for none. Default 8080. */
  httpPort?: number | false;
  /** Run one service alone (`sealvault start --service escrow`): its routes only, no SPA. */
  only?: ServiceName;
  spaDir?: string;
  /** Operator-supplied certificate; when absent the local CA in `<data>/tls` is used. */
  tls?: ConfiguredTls | undefined;
  serviceFactories?: Partial<Record<ServiceName, RelayServiceFactory>>;
  /** Where the other services live when this process runs only some of them. */
  peers?: Partial<Record<ServiceName, PeerConfig>>;
  logger?: Logger;
  log?: (line: string) => void;
  /** Install SIGINT/SIGTERM handlers that close the relay and exit. Default true. */
  handleSignals?: boolean;
}

export interface RunningRelay {
  url: string;
  port: number;
  httpPort: number | null;
  tls: TlsMaterial;
  services: ServiceName[];
  close(): Promise<void>;
}

export async function startRelay(options: StartRelayOptions): Promise<RunningRelay> {
  const { port = DEFAULT_HTTPS_PORT, host, httpPort = DEFAULT_HTTP_PORT, only, log = console.log, handleSignals = true } = options;
  const dataDir = resolve(options.dataDir);
  // The data folder will hold every service's database and keys: owner-only from the start.
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });

  const tls = await resolveTlsMaterial({ dataDir, configured: options.tls });
  const names = only ? [only] : [...SERVICE_NAMES];
  const logger = options.logger ?? createLogger();
  const metrics = createMetrics();
  // Services reach each other through the composed app in-process, or over HTTPS when a peer
  // URL is configured; either way only through signatures made with each service's key.
  let app: Hono<RelayEnv> | undefined;
  const peers = createPeers({
    config: options.peers,
    local: () => (url, init) => {
      if (!app) throw new Error('relay is still starting');
      return Promise.resolve(app.request(url, init));
    },
  });
  const services = await Promise.all(
    names.map(async (name) => {
      const serviceDir = join(dataDir, name);
      mkdirSync(serviceDir, { recursive: true, mode: 0o700 });
      const factory = options.serviceFactories?.[name] ?? SERVICE_FACTORIES[name];
      const key = await loadOrCreateServiceKey(serviceDir);
      return factory({ name, version: RELAY_VERSION, dataDir: serviceDir, key, peers, audit: createAuditSink(name, key, peers), log: logger.child({ service: name }), metrics });
    }),
  );
  const spaDir = only ? null : (options.spaDir ?? DEFAULT_SPA_DIR);
  app = createRelayApp({ services, spaDir, metrics, logger, verifySession: (token) => verifySession(peers, token) });

  const closeServices = async () => {
    for (const service of services) await service.close?.();
  };

  let https: HttpsServer | undefined;
  let http: HttpServer | undefined;
  try {
    https = await listen(
      serve({
        fetch: app.fetch,
        port,
        ...(host === undefined ? {} : { hostname: host }),
        createServer: createHttpsServer,
        serverOptions: { cert: readFileSync(tls.certPath), key: readFileSync(tls.keyPath), minVersion: 'TLSv1.2' },
      }) as HttpsServer,
    );
    const httpsPort = (https.address() as AddressInfo).port;
    if (httpPort !== false) {
      const server = createHttpServer(redirectToHttps({ httpsPort: () => httpsPort }));
      server.listen(httpPort, host);
      http = await listen(server).catch((error: unknown) => {
        throw new Error(`cannot open the HTTP redirect port ${httpPort} (set SEALVAULT_HTTP_PORT=0 to disable it)`, { cause: error });
      });
    }
  } catch (error) {
    await Promise.all([https && stopServer(https), http && stopServer(http)]);
    await closeServices();
    throw error;
  }

  const actualPort = (https.address() as AddressInfo).port;
  const actualHttpPort = http ? (http.address() as AddressInfo).port : null;
  const url = `https://localhost:${actualPort}/`;

  let closing: Promise<void> | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (closing) {
      log(`${signal} again: exiting without waiting.`);
      process.exit(1);
    }
    log(`${signal}: closing connections...`);
    void close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  const close = (): Promise<void> => {
    closing ??= (async () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      await Promise.all([stopServer(https), http && stopServer(http)]);
      await closeServices();
    })();
    return closing;
  };
  if (handleSignals) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }

  for (const line of startupBanner({ url, httpPort: actualHttpPort, tls, services })) log(line);
  writeSetupLink(dataDir, url, services);
  return { url, port: actualPort, httpPort: actualHttpPort, tls, services: names, close };
}

function listen<S extends HttpServer | HttpsServer>(server: S): Promise<S> {
  return new Promise((resolveListening, reject) => {
    if (server.listening) return resolveListening(server);
    server.once('listening', () => {
      server.off('error', reject);
      resolveListening(server);
    });
    server.once('error', reject);
  });
}

// Stop accepting, let in-flight requests finish, then cut whatever is still open.
function stopServer(server: HttpServer | HttpsServer): Promise<void> {
  return new Promise((done) => {
    if (!server.listening) return done();
    const force = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS);
    force.unref();
    server.close(() => {
      clearTimeout(force);
      done();
    });
    server.closeIdleConnections();
  });
}

/**
 * The one-time setup link also goes to <data>/setup-link.txt (0600, only the relay's user can
 * read it), for operators whose console output is not at hand (a service manager, a container).
 * Once setup is done the token is spent and the file is removed at the next start.
 */
export const SETUP_LINK_FILE = 'setup-link.txt';

function writeSetupLink(dataDir: string, url: string, services: readonly RelayService[]): void {
  const path = join(dataDir, SETUP_LINK_FILE);
  const setupToken = services.find((s) => s.setupToken)?.setupToken;
  if (setupToken) writeFileSync(path, `${url}setup#${setupToken}\n`, { mode: 0o600 });
  else rmSync(path, { force: true });
}

function startupBanner({
  url,
  httpPort,
  tls,
  services,
}: {
  url: string;
  httpPort: number | null;
  tls: TlsMaterial;
  services: readonly RelayService[];
}): string[] {
  const placeholders = services.filter((s) => s.placeholder).map((s) => s.name);
  const lines = [
    `Sealvault relay ${RELAY_VERSION}`,
    `  ${url}`,
    httpPort === null ? '  (no plain-HTTP listener)' : `  http://localhost:${httpPort}/ only redirects to HTTPS`,
    `  services: ${services.map((s) => s.name).join(', ')}`,
  ];
  const setupToken = services.find((s) => s.setupToken)?.setupToken;
  if (setupToken) {
    lines.push(`  FIRST RUN: open ${url}setup#${setupToken} to create the enterprise and its three administrators (one-time link)`);
  }
  if (placeholders.length > 0) {
    lines.push(`  placeholders (real service not built yet, only GET /api/<name>/health): ${placeholders.join(', ')}`);
  }
  if (tls.source === 'configured') {
    lines.push(`  TLS: configured certificate ${tls.certPath}`, `       SHA-256 ${tls.fingerprint256}`);
  } else {
    lines.push(
      `  TLS: local CA ${tls.created.ca ? 'created' : 'reused'}: ${tls.caCertPath}`,
      `       CA SHA-256 fingerprint ${tls.caFingerprint256}`,
      `       server certificate for localhost valid until ${tls.serverNotAfter.toISOString().slice(0, 10)}`,
      '  To trust the local CA (then restart the browser):',
      ...trustInstructions(tls.caCertPath).map((line) => `    ${line}`),
    );
  }
  for (const note of tls.notes) lines.push(`  NOTE: ${note}`);
  return lines;
}
