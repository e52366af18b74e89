/**
 * Accounts, roles and departments in the directory's database, and how they are shown.
 * Routes go through these functions rather than writing SQL themselves, so the shape of an
 * account on the wire is decided in one place (and never includes the OPAQUE record or salt).
 */
import type { z } from 'zod';
import { isAdminRole, type AccountProfile, type AccountStatus, type PersonSchema, type Role } from '../../shared/schemas/directory';
import type { Db } from '../common/db';
import { HttpError } from '../http/errors';
import { conflictFromSqlite, iso } from './util';

export interface AccountRow {
  id: string;
  username: string;
  legal_name: string;
  employee_number: string;
  department: string | null;
  contact: string;
  status: AccountStatus;
  created_by: string;
  approved_by: string | null;
  approved_at: number | null;
  registered_at: number | null;
  opaque_record: string | null;
  kdf_salt: string | null;
  kdf_m: number | null;
  kdf_t: number | null;
  kdf_p: number | null;
  envelope_key: string | null;
  signing_key: string | null;
  signing_key_id: string | null;
  certificate: string | null;
  certified_by: string | null;
  certified_at: number | null;
  disabled_reason: string | null;
  created_at: number;
  updated_at: number;
  certificate_serial: string | null;
  certificate_revoked_at: number | null;
  certificate_revoked_reason: string | null;
  certificate_revoked_by: string | null;
  recovery_key: string | null;
  recovery_key_at: number | null;
}

/** Usernames are ASCII (schema) and stored lower-cased, so "Alice" and "alice" are one name. */
export function foldUsername(username: string): string {
  return username.toLowerCase();
}

export function getAccount(db: Db, id: string): AccountRow | undefined {
  return db.prepare('SELECT * FROM accounts WHERE id = ?').get(id) as AccountRow | undefined;
}

export function mustGetAccount(db: Db, id: string): AccountRow {
  const row = getAccount(db, id);
  if (!row) throw new HttpError(404, 'E_NOT_FOUND', 'no such account');
  return row;
}

export function getAccountByUsername(db: Db, username: string): AccountRow | undefined {
  return db.prepare('SELECT * FROM accounts WHERE username = ?').get(foldUsername(username)) as AccountRow | undefined;
}

const ROLE_ORDER = `CASE role WHEN 'system-admin' THEN 0 WHEN 'security-admin' THEN 1 WHEN 'auditor' THEN 2 WHEN 'space-manager' THEN 3 ELSE 4 END`;

export function rolesOf(db: Db, account: string): Role[] {
  return (db.prepare(`SELECT role FROM account_roles WHERE account = ? ORDER BY ${ROLE_ORDER}`).all(account) as { role: Role }[]).map((r) => r.role);
}

export interface NewAccount {
  id: string;
  username: string;
  legalName: string;
  employeeNumber: string;
  department: string | null;
  contact: string;
  createdBy: string;
  approvedBy: string | null;
  roles: Role[];
  now: number;
}

/** Inserts an invited account with its roles. Call inside a transaction with the invitation. */
export function insertAccount(db: Db, a: NewAccount): void {
  try {
    db.prepare(
      `INSERT INTO accounts (id, username, legal_name, employee_number, department, contact, status, created_by, approved_by, approved_at, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, 'invited', ?, ?, ?, ?, ?)`,
    ).run(a.id, foldUsername(a.username), a.legalName, a.employeeNumber, a.department, a.contact, a.createdBy, a.approvedBy, a.approvedBy ? a.now : null, a.now, a.now);
  } catch (e) {
    conflictFromSqlite(e, { 'accounts.username': 'that username is taken', 'accounts.employee_number': 'an account with that employee number exists' });
  }
  for (const role of a.roles) grantRole(db, a.id, role, a.now);
}

/**
 * Removes an account that was just invited and never used, with its roles and invitations: the
 * undo of an invitation whose audit entry could not be written (its code was never shown).
 */
export function deleteUnusedAccount(db: Db, id: string): void {
  db.transaction(() => {
    db.prepare('DELETE FROM invitations WHERE account = ?').run(id);
    db.prepare('DELETE FROM account_roles WHERE account = ?').run(id);
    db.prepare('DELETE FROM accounts WHERE id = ? AND registered_at IS NULL').run(id);
  })();
}

/** Adds a role. The database trigger refuses a second administrator role (409 E_SEPARATION). */
export function grantRole(db: Db, account: string, role: Role, now: number): void {
  try {
    db.prepare('INSERT INTO account_roles (account, role, granted_at) VALUES (?, ?, ?)').run(account, role, now);
  } catch (e) {
    conflictFromSqlite(e, { 'account_roles.account': 'the account already holds that role' });
  }
}

export function revokeRole(db: Db, account: string, role: Role): void {
  const { changes } = db.prepare('DELETE FROM account_roles WHERE account = ? AND role = ?').run(account, role);
  if (changes !== 1) throw new HttpError(409, 'E_CONFLICT', 'the account does not hold that role');
}

/** Number of accounts that are not disabled and hold the role. */
export function holdersOf(db: Db, role: Role): number {
  const row = db.prepare(`SELECT count(*) AS n FROM account_roles r JOIN accounts a ON a.id = r.account WHERE r.role = ? AND a.status <> 'disabled'`).get(role) as { n: number };
  return row.n;
}

/**
 * The administrator role the account is the only (not disabled) holder of, if any: disabling it
 * or removing that role would leave nobody to approve anything, or nobody to read the audit log.
 */
export function soleAdminRole(db: Db, account: string): Role | undefined {
  return rolesOf(db, account).find((r) => isAdminRole(r) && holdersOf(db, r) <= 1);
}

/** An account becomes active once it is both approved and registered. */
export function activateIfReady(db: Db, id: string, now: number): void {
  db.prepare(`UPDATE accounts SET status = 'active', updated_at = ? WHERE id = ? AND status = 'invited' AND approved_by IS NOT NULL AND registered_at IS NOT NULL`).run(now, id);
}

/**
 * Certified means others may wrap keys to the account now: a certificate was stored, it has not
 * been revoked (a profile change revokes it: it names the old identity), and the account is not
 * disabled.
 */
export function isCertified(row: Pick<AccountRow, 'certified_at' | 'certificate_revoked_at' | 'status'>): boolean {
  return row.certified_at !== null && row.certificate_revoked_at === null && row.status !== 'disabled';
}

export type RevocationReason = 'profile-changed' | 'account-disabled';

/**
 * Revokes the account's current certificate, if it has one that is not revoked yet; returns what
 * was revoked (for the audit entry) or undefined. Call inside the transaction that changes the
 * account.
 */
export function revokeCertificate(db: Db, id: string, reason: RevocationReason, by: string, now: number): { serial: string | null } | undefined {
  const row = mustGetAccount(db, id);
  if (row.certified_at === null || row.certificate_revoked_at !== null) return undefined;
  db.prepare('UPDATE accounts SET certificate_revoked_at = ?, certificate_revoked_reason = ?, certificate_revoked_by = ?, updated_at = ? WHERE id = ?').run(now, reason, by, now, id);
  if (row.certificate_serial !== null) {
    db.prepare('INSERT OR IGNORE INTO certificate_revocations (serial, account, revoked_at, reason, revoked_by) VALUES (?, ?, ?, ?, ?)').run(row.certificate_serial, id, now, reason, by);
  }
  return { serial: row.certificate_serial };
}

export function toProfile(db: Db, row: AccountRow): AccountProfile {
  return {
    id: row.id,
    username: row.username,
    legalName: row.legal_name,
    employeeNumber: row.employee_number,
    department: row.department,
    contact: row.contact,
    status: row.status,
    roles: rolesOf(db, row.id),
    approved: row.approved_by !== null,
    registered: row.registered_at !== null,
    certified: isCertified(row),
    signingKeyId: row.signing_key_id,
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

export function listAccounts(db: Db): AccountRow[] {
  return db.prepare('SELECT * FROM accounts ORDER BY created_at, username').all() as AccountRow[];
}

type PersonRow = Pick<AccountRow, 'id' | 'username' | 'legal_name' | 'employee_number' | 'status' | 'certified_at' | 'certificate_revoked_at'> & {
  department_id: string | null;
  department_name: string | null;
};

/** Case folding for the phone book: Unicode-aware (SQLite's LIKE and lower() fold ASCII only). */
function fold(s: string): string {
  return s.normalize('NFC').toLowerCase();
}

/**
 * The enterprise phone book (GET /people): active accounts whose legal name, username or employee
 * number contains `q` (case-insensitive; every active account without `q`), sorted by legal name,
 * at most `limit`. Only these fields leave here: never contact, roles, keys or anything else.
 */
export function findPeople(db: Db, q: string | undefined, limit: number): z.infer<typeof PersonSchema>[] {
  const rows = db
    .prepare(
      `SELECT a.id, a.username, a.legal_name, a.employee_number, a.status, a.certified_at, a.certificate_revoked_at,
              d.id AS department_id, d.name AS department_name
       FROM accounts a LEFT JOIN departments d ON d.id = a.department
       WHERE a.status = 'active'
       ORDER BY a.legal_name COLLATE NOCASE, a.legal_name, a.id`,
    )
    .iterate() as IterableIterator<PersonRow>;
  const needle = q === undefined ? undefined : fold(q);
  const people: z.infer<typeof PersonSchema>[] = [];
  if (limit < 1) return people;
  for (const row of rows) {
    if (row.status !== 'active') continue;
    if (needle !== undefined && ![row.legal_name, row.username, row.employee_number].some((field) => fold(field).includes(needle))) continue;
    people.push({
      id: row.id,
      username: row.username,
      legalName: row.legal_name,
      employeeNumber: row.employee_number,
      department: row.department_id !== null && row.department_name !== null ? { id: row.department_id, name: row.department_name } : null,
      certified: isCertified(row),
    });
    if (people.length >= limit) break;
  }
  return people;
}

export interface DepartmentRow {
  id: string;
  name: string;
}

export function departmentExists(db: Db, id: string): boolean {
  return db.prepare('SELECT 1 FROM departments WHERE id = ?').get(id) !== undefined;
}

export function listDepartments(db: Db): DepartmentRow[] {
  return db.prepare('SELECT id, name FROM departments ORDER BY name').all() as DepartmentRow[];
}

export function insertDepartment(db: Db, d: { id: string; name: string; createdBy: string; now: number }): void {
  try {
    db.prepare('INSERT INTO departments (id, name, created_by, created_at) VALUES (?, ?, ?, ?)').run(d.id, d.name, d.createdBy, d.now);
  } catch (e) {
    conflictFromSqlite(e, { 'departments.name': 'a department with that name exists' });
  }
}

export interface RevocationRow {
  serial: string;
  revoked_at: number;
  reason: string;
}

/** Every employee certificate ever revoked, oldest first: what a PDF signature verifier needs. */
export function listRevocations(db: Db): RevocationRow[] {
  return db.prepare('SELECT serial, revoked_at, reason FROM certificate_revocations ORDER BY revoked_at, serial').all() as RevocationRow[];
}

export interface CertificateHistoryRow {
  serial: string | null;
  account: string;
  certificate: string;
  issued_at: number;
}

/** Records an issued certificate for good (call in the transaction that stores it on the account). */
export function recordIssuedCertificate(db: Db, row: CertificateHistoryRow): void {
  db.prepare('INSERT OR IGNORE INTO certificate_history (serial, account, certificate, issued_at) VALUES (?, ?, ?, ?)').run(row.serial, row.account, row.certificate, row.issued_at);
}

/** Every employee certificate ever issued, oldest first: what an audit verifier checks old entries with. */
export function listIssuedCertificates(db: Db): CertificateHistoryRow[] {
  return db.prepare('SELECT serial, account, certificate, issued_at FROM certificate_history ORDER BY issued_at, id').all() as CertificateHistoryRow[];
}
