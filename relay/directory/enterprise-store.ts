/**
 * The enterprise in the directory's database: its name (from setup), its root CA certificate
 * (stored once; triggers in migrations.ts refuse any rewrite) and its security policy.
 */
import { DEFAULT_POLICY, PolicySchema, type Policy } from '../../shared/schemas/directory';
import type { Db } from '../common/db';
import { conflictFromSqlite } from './util';

export interface EnterpriseCaRow {
  certificate: string;
  fingerprint: string;
  subject: string;
  created_by: string;
  created_at: number;
}

export function enterpriseName(db: Db): string | null {
  return (db.prepare('SELECT name FROM enterprise WHERE id = 1').get() as { name: string } | undefined)?.name ?? null;
}

export function enterpriseCa(db: Db): EnterpriseCaRow | undefined {
  return db.prepare('SELECT certificate, fingerprint, subject, created_by, created_at FROM enterprise_ca WHERE id = 1').get() as EnterpriseCaRow | undefined;
}

/** Stores the root once; a second one (even from a concurrent request) is 409 E_CONFLICT. */
export function insertEnterpriseCa(db: Db, ca: EnterpriseCaRow): void {
  try {
    db.prepare('INSERT INTO enterprise_ca (id, certificate, fingerprint, subject, created_by, created_at) VALUES (1, ?, ?, ?, ?, ?)').run(
      ca.certificate,
      ca.fingerprint,
      ca.subject,
      ca.created_by,
      ca.created_at,
    );
  } catch (e) {
    conflictFromSqlite(e, { 'enterprise_ca.id': 'the enterprise CA is already set; it is stored once' });
  }
}

const POLICY_KEY = 'security_policy';

/**
 * The stored policy, or the defaults. One JSON value in settings, so a change is one write; it is
 * parsed with the wire schema, and a value that does not parse (written by hand) counts as unset
 * rather than weakening anything.
 */
export function getPolicy(db: Db): Policy {
  const row = db.prepare('SELECT value FROM settings WHERE key = ?').get(POLICY_KEY) as { value: string } | undefined;
  if (!row) return { ...DEFAULT_POLICY };
  try {
    const parsed = PolicySchema.safeParse(JSON.parse(row.value));
    if (parsed.success) return parsed.data;
  } catch {
    // fall through to the defaults
  }
  return { ...DEFAULT_POLICY };
}

export function setPolicy(db: Db, policy: Policy): void {
  db.prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(POLICY_KEY, JSON.stringify(PolicySchema.parse(policy)));
}
