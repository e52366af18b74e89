import type { Hono } from 'hono';
import type { Logger } from 'pino';
import type { AuditSink } from '../common/audit-sink';
import type { Metrics } from '../common/observability';
import type { Peers } from '../common/peers';
import type { ServiceKey } from '../common/service-key';
import type { ServiceName } from './names';

// Each service declares its own Env/Schema generics; the relay only routes to it, so it
// accepts any of them rather than forcing one shared Env on five independent apps.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyHonoApp = Hono<any, any, any>;

export interface ServiceContext {
  name: ServiceName;
  version: string;
  /** `<data>/<name>`, created with mode 0700: the service's SQLite file and keys live here and nowhere else. */
  dataDir: string;
  /** This service's own Ed25519 signing key (in dataDir). */
  key: ServiceKey;
  /** How to reach the other services (in-process or HTTPS) and their verify keys. */
  peers: Peers;
  /** Appends entries signed with `key` to the audit service. */
  audit: AuditSink;
  log: Logger;
  metrics: Metrics;
}

export interface RelayService {
  name: ServiceName;
  /**
   * Mounted at `/api/<name>`; its routes are written relative to that prefix. Leave its
   * onError/notFound unset: the relay's handlers give every service one error shape
   * (throw HttpError from http/errors.ts for client errors).
   */
  app: AnyHonoApp;
  /** The directory's one-time first-run token, while setup is pending: printed as a setup link. */
  setupToken?: string;
  /** True only for the stand-ins in placeholder.ts, so startup output can say so. */
  placeholder?: boolean;
  /** Called once on shutdown, after the listeners stopped (close SQLite handles here). */
  close?: () => void | Promise<void>;
}

export type RelayServiceFactory = (context: ServiceContext) => RelayService | Promise<RelayService>;
