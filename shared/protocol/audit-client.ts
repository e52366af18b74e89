/**
 * Entries the browser signs itself: what an account decides in its own browser (a certificate
 * issued, a CA made) is signed with that account's signing key, so the audit log holds the
 * actor's own word and not only what the relay says it saw (DESIGN.md section 9).
 */
import type { Json } from '../crypto/encoding';
import { signStatement, type Statement } from '../crypto/statements';
import { AUDIT_ENTRY_TYPE, detailsDigest, type AuditEntry } from '../formats/audit-entry';
import type { UnlockedAccount } from './account';
import type { RelayTransport } from './relay-transport';

export interface AccountAuditEvent {
  action: string;
  target: string;
  outcome?: 'ok' | 'refused';
  details?: Record<string, Json>;
}

export async function recordAsAccount(transport: RelayTransport, me: UnlockedAccount, event: AccountAuditEvent): Promise<void> {
  const details = event.details ?? {};
  const entry: AuditEntry = {
    type: AUDIT_ENTRY_TYPE,
    time: Date.now(),
    actor: me.account,
    action: event.action,
    target: event.target,
    outcome: event.outcome ?? 'ok',
    details: await detailsDigest(details),
    signer: { kind: 'account', account: me.account, keyId: me.signing.keyId },
  };
  const signed = await signStatement(me.signing.privateKey, entry as unknown as Statement);
  await transport.request('POST', '/api/audit/entries', { entry, signature: signed.signature, detailsJson: details }, me.session);
}
