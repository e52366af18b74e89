/**
 * What a service observes (logins, escrow releases and refusals, block downloads) goes to the
 * audit service as an entry signed with the observing service's own key. Appends are awaited:
 * an action whose audit entry cannot be written is reported to the caller, not silently lost.
 */
import type { Json } from '../../shared/crypto/encoding';
import { AUDIT_ENTRY_TYPE, detailsDigest, signServiceEntry, type AuditEntry } from '../../shared/formats/audit-entry';
import { HttpError } from '../http/errors';
import type { ServiceName } from '../services/names';
import type { Peers } from './peers';
import type { ServiceKey } from './service-key';

export interface AuditEvent {
  /** account id, or omitted for the service itself */
  actor?: string;
  action: string;
  target: string;
  outcome: 'ok' | 'refused';
  details?: Record<string, Json>;
}

export interface AuditSink {
  record(event: AuditEvent): Promise<void>;
}

export function createAuditSink(service: ServiceName, key: ServiceKey, peers: Peers): AuditSink {
  return {
    async record(event) {
      const details = event.details ?? {};
      const entry: AuditEntry = {
        type: AUDIT_ENTRY_TYPE,
        time: Date.now(),
        actor: event.actor ?? `service:${service}`,
        action: event.action,
        target: event.target,
        outcome: event.outcome,
        details: await detailsDigest(details),
        signer: { kind: 'service', service, key: key.publicB64u },
      };
      const signed = await signServiceEntry(key.privateKey, entry);
      const res = await peers.fetch('audit', '/entries', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...signed, detailsJson: details }),
      });
      if (!res.ok) throw new HttpError(503, 'E_AUDIT_UNAVAILABLE', `audit log refused the entry (HTTP ${res.status})`);
    },
  };
}

/** For unit tests of one service: keeps entries in memory. */
export function memoryAuditSink(): AuditSink & { events: AuditEvent[] } {
  const events: AuditEvent[] = [];
  return {
    events,
    async record(event) {
      events.push(event);
    },
  };
}
