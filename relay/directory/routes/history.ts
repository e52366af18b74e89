/**
 * An account's life on one page, for the account itself and its administrators: what its row
 * says (created, approved, registered, certified, revoked) and every role and account request
 * about it, with who asked and who decided. The audit log stays the record of truth; this is the
 * directory's own view, readable without the auditor role.
 */
import type { Hono } from 'hono';
import { z } from 'zod';
import { Id } from '../../../shared/schemas/common';
import { AccountHistoryResponse, type AccountHistoryEntry, type RequestStatus, type Role } from '../../../shared/schemas/directory';
import type { Db } from '../../common/db';
import { readParams } from '../../common/validate';
import { HttpError } from '../../http/errors';
import { accountRequestsOf } from '../account-requests-store';
import { mustGetAccount, type AccountRow } from '../accounts-store';
import type { DirectoryDeps } from '../deps';
import { requireSession, type DirectoryEnv } from '../sessions';
import { iso } from '../util';

const IdParam = z.strictObject({ id: Id });

interface RoleRequestRow {
  id: string;
  role: Role;
  op: 'add' | 'remove';
  status: RequestStatus;
  requested_by: string;
  requested_at: number;
  decided_by: string | null;
  decided_at: number | null;
  reason: string | null;
}

function outcome(r: { id: string; status: RequestStatus; decided_by: string | null; decided_at: number | null }, rejectionReason: string | null) {
  return { request: r.id, status: r.status, decidedBy: r.decided_by, decidedAt: r.decided_at === null ? null : iso(r.decided_at), rejectionReason };
}

/** [time, event] pairs in the order they happened, ties in logical order (created before approved). */
function eventsOf(db: Db, row: AccountRow): [number, AccountHistoryEntry][] {
  const events: [number, AccountHistoryEntry][] = [[row.created_at, { kind: 'account.created', at: iso(row.created_at), by: row.created_by }]];
  if (row.approved_by !== null && row.approved_at !== null) events.push([row.approved_at, { kind: 'account.approved', at: iso(row.approved_at), by: row.approved_by }]);
  if (row.registered_at !== null) events.push([row.registered_at, { kind: 'account.registered', at: iso(row.registered_at), by: row.id }]);
  if (row.certified_at !== null && row.certified_by !== null) {
    events.push([row.certified_at, { kind: 'certificate.issued', at: iso(row.certified_at), by: row.certified_by, serial: row.certificate_serial }]);
  }
  if (row.certificate_revoked_at !== null) {
    events.push([
      row.certificate_revoked_at,
      { kind: 'certificate.revoked', at: iso(row.certificate_revoked_at), by: row.certificate_revoked_by ?? 'unknown', serial: row.certificate_serial, reason: row.certificate_revoked_reason ?? 'unknown' },
    ]);
  }
  const roleRequests = db.prepare('SELECT * FROM role_requests WHERE account = ? ORDER BY requested_at').all(row.id) as RoleRequestRow[];
  for (const r of roleRequests) {
    events.push([r.requested_at, { kind: 'role.request', at: iso(r.requested_at), by: r.requested_by, role: r.role, op: r.op, ...outcome(r, r.status === 'rejected' ? r.reason : null) }]);
  }
  for (const r of accountRequestsOf(db, row.id)) {
    const common = { at: iso(r.requested_at), by: r.requested_by, ...outcome(r, r.rejection_reason) };
    events.push([
      r.requested_at,
      r.kind === 'profile'
        ? { kind: 'profile.request', ...common, legalName: r.legal_name, employeeNumber: r.employee_number, previousLegalName: r.replaced_legal_name, previousEmployeeNumber: r.replaced_employee_number }
        : { kind: 'disable.request', ...common, reason: r.reason ?? '' },
    ]);
  }
  return events;
}

export function historyRoutes(app: Hono<DirectoryEnv>, { db, api, sessions }: DirectoryDeps): void {
  api.add({
    method: 'get',
    path: '/accounts/:id/history',
    summary: "An account's history, newest first: creation, approval, registration, certificate, role and account requests (the account itself, system-admin, security-admin)",
    auth: 'session',
    response: AccountHistoryResponse,
    errors: { 404: 'no such account' },
  });
  app.get('/accounts/:id/history', requireSession(sessions), (c) => {
    const { id } = readParams(c, IdParam);
    const caller = c.get('caller');
    const mayRead = caller.account.id === id || caller.roles.some((r) => r === 'system-admin' || r === 'security-admin');
    if (!mayRead) throw new HttpError(403, 'E_FORBIDDEN', "only the account itself and account administrators may read an account's history");
    const events = eventsOf(db, mustGetAccount(db, id));
    // Newest first; reversing before the stable sort keeps same-time events newest-first too.
    const ordered = events.reverse().sort((a, b) => b[0] - a[0]);
    return c.json({ account: id, events: ordered.map(([, e]) => e) });
  });
}
