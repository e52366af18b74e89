/** What every route module of the directory gets: the service context and the directory's own state. */
import type { Db } from '../common/db';
import type { ApiDescription } from '../common/openapi';
import type { ServiceContext } from '../services/service';
import type { OpaqueServer, PendingLogins } from './opaque';
import type { AttemptLimiter } from './rate-limit';
import type { PendingRecoveries } from './recovery';
import type { InstallationSecrets } from './secrets';
import type { Sessions } from './sessions';

export interface DirectoryDeps {
  ctx: ServiceContext;
  db: Db;
  api: ApiDescription;
  /** milliseconds since the epoch; replaceable so tests can move time */
  now: () => number;
  secrets: InstallationSecrets;
  opaque: OpaqueServer;
  pendingLogins: PendingLogins;
  pendingRecoveries: PendingRecoveries;
  sessions: Sessions;
  /** unsuccessful sign-ins per name and per address; recovery uses the same limiters under its own keys */
  limits: { username: AttemptLimiter; address: AttemptLimiter };
}

/** The audit target of an account. */
export function accountTarget(id: string): string {
  return `account:${id}`;
}
