/**
 * Account requests in the directory's database: a real-name change asked by the account itself,
 * or disabling an account asked by a system administrator. Both take effect only when a security
 * administrator approves (four eyes, also written into the table's CHECKs in migrations.ts).
 */
import type { AccountRequest, AccountRequestKind, RequestStatus } from '../../shared/schemas/directory';
import type { Db } from '../common/db';
import { HttpError } from '../http/errors';
import { conflictFromSqlite, iso } from './util';

export interface AccountRequestRow {
  id: string;
  account: string;
  kind: AccountRequestKind;
  legal_name: string | null;
  employee_number: string | null;
  reason: string | null;
  status: RequestStatus;
  requested_by: string;
  requested_at: number;
  decided_by: string | null;
  decided_at: number | null;
  rejection_reason: string | null;
  replaced_legal_name: string | null;
  replaced_employee_number: string | null;
}

export function toWire(r: AccountRequestRow): AccountRequest {
  return {
    id: r.id,
    account: r.account,
    kind: r.kind,
    legalName: r.legal_name,
    employeeNumber: r.employee_number,
    reason: r.reason,
    status: r.status,
    requestedBy: r.requested_by,
    requestedAt: iso(r.requested_at),
    decidedBy: r.decided_by,
    decidedAt: r.decided_at === null ? null : iso(r.decided_at),
    rejectionReason: r.rejection_reason,
  };
}

export function mustGetAccountRequest(db: Db, id: string): AccountRequestRow {
  const row = db.prepare('SELECT * FROM account_requests WHERE id = ?').get(id) as AccountRequestRow | undefined;
  if (!row) throw new HttpError(404, 'E_NOT_FOUND', 'no such account request');
  return row;
}

export function pendingRequest(db: Db, account: string, kind: AccountRequestKind): AccountRequestRow | undefined {
  return db.prepare(`SELECT * FROM account_requests WHERE account = ? AND kind = ? AND status = 'pending'`).get(account, kind) as AccountRequestRow | undefined;
}

/** True if another account holds the employee number, or another account's pending request asks for it. */
export function employeeNumberClaimed(db: Db, employeeNumber: string, except: string): boolean {
  const held = db.prepare('SELECT 1 FROM accounts WHERE employee_number = ? COLLATE NOCASE AND id <> ?').get(employeeNumber, except);
  const asked = db.prepare(`SELECT 1 FROM account_requests WHERE kind = 'profile' AND status = 'pending' AND employee_number = ? COLLATE NOCASE AND account <> ?`).get(employeeNumber, except);
  return held !== undefined || asked !== undefined;
}

export interface NewAccountRequest {
  id: string;
  account: string;
  kind: AccountRequestKind;
  legalName: string | null;
  employeeNumber: string | null;
  reason: string | null;
  requestedBy: string;
  now: number;
}

export function insertAccountRequest(db: Db, r: NewAccountRequest): void {
  try {
    db.prepare(
      `INSERT INTO account_requests (id, account, kind, legal_name, employee_number, reason, status, requested_by, requested_at)
       VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?)`,
    ).run(r.id, r.account, r.kind, r.legalName, r.employeeNumber, r.reason, r.requestedBy, r.now);
  } catch (e) {
    // The partial unique index: two requests raced past the route's check.
    conflictFromSqlite(e, { 'account_requests.account': 'a request of that kind is already pending for the account' });
  }
}

export function listAccountRequests(db: Db, filter: { status?: RequestStatus | undefined; account?: string | undefined }): AccountRequestRow[] {
  const where: string[] = [];
  const args: string[] = [];
  if (filter.status) (where.push('status = ?'), args.push(filter.status));
  if (filter.account) (where.push('account = ?'), args.push(filter.account));
  const sql = `SELECT * FROM account_requests ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY requested_at DESC, id`;
  return db.prepare(sql).all(...args) as AccountRequestRow[];
}

/** One account's requests, oldest first. */
export function accountRequestsOf(db: Db, account: string): AccountRequestRow[] {
  return db.prepare('SELECT * FROM account_requests WHERE account = ? ORDER BY requested_at, id').all(account) as AccountRequestRow[];
}
