/**
 * The audit log as the auditor reads it, for integration tests that check an action was
 * recorded: every entry about one target, with who signed it (the actor's account, or the
 * service that observed it) and its outcome.
 */
import type { RelayTransport } from '../../shared/protocol/relay-transport';
import { EntriesPageSchema } from '../../shared/schemas/audit';

export interface LoggedAction {
  action: string;
  /** 'account' (signed by the actor) or 'service' (observed and signed by a relay service) */
  kind: string;
  actor: string;
  outcome: 'ok' | 'refused';
}

export async function auditLogOf(transport: RelayTransport, auditorSession: string, target: string): Promise<LoggedAction[]> {
  const found: LoggedAction[] = [];
  for (let start: number | null = 0; start !== null; ) {
    const page = EntriesPageSchema.parse(await transport.request('GET', `/api/audit/entries?start=${start}&limit=1000`, undefined, auditorSession));
    for (const x of page.entries) if (x.entry?.target === target) found.push({ action: x.entry.action, kind: x.entry.signer.kind, actor: x.entry.actor, outcome: x.entry.outcome });
    start = page.nextStart;
  }
  return found;
}

/** The same without the outcome, for comparing with expected {action, kind, actor}. */
export const withoutOutcome = (log: readonly LoggedAction[]) => log.map(({ action, kind, actor }) => ({ action, kind, actor }));
