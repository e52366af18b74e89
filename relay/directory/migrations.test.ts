import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../common/db';
import { getAccount, insertAccount, isCertified, listIssuedCertificates, listRevocations } from './accounts-store';
import { DIRECTORY_MIGRATIONS } from './migrations';

describe('directory migrations', () => {
  it('upgrades a version 1 database in place, keeping its accounts and sessions', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'sealvault-dir-mig-')), 'directory.sqlite');
    const v1 = openDatabase(file, DIRECTORY_MIGRATIONS.filter((m) => m.version === 1));
    insertAccount(v1, { id: 'a1', username: 'a1', legalName: 'A', employeeNumber: 'A1', department: null, contact: 'c', createdBy: 'setup', approvedBy: 'setup', roles: ['employee'], now: 1 });
    v1.prepare(`UPDATE accounts SET certificate = 'pem', certified_by = 'x', certified_at = 2 WHERE id = 'a1'`).run();
    v1.prepare(`INSERT INTO sessions (id, account, created_at, expires_at, not_after) VALUES ('s1', 'a1', 1, 1, 1)`).run();
    v1.close();

    const db = openDatabase(file, DIRECTORY_MIGRATIONS);
    expect(db.pragma('user_version', { simple: true })).toBe(4);
    const row = getAccount(db, 'a1')!;
    expect(row).toMatchObject({ legal_name: 'A', certificate_serial: null, certificate_revoked_at: null, recovery_key: null });
    expect(isCertified(row)).toBe(true);
    // A session from before the column has no origin, so it never counts as fresh.
    expect(db.prepare(`SELECT via FROM sessions WHERE id = 's1'`).get()).toEqual({ via: null });
    expect(db.prepare(`SELECT count(*) AS n FROM account_requests`).get()).toEqual({ n: 0 });
    db.close();
  });

  it('carries revocations made before version 3 into the list, which then refuses edits', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'sealvault-dir-mig-')), 'directory.sqlite');
    const v2 = openDatabase(file, DIRECTORY_MIGRATIONS.filter((m) => m.version <= 2));
    insertAccount(v2, { id: 'a1', username: 'a1', legalName: 'A', employeeNumber: 'A1', department: null, contact: 'c', createdBy: 'setup', approvedBy: 'setup', roles: ['employee'], now: 1 });
    v2.prepare(`UPDATE accounts SET certificate = 'pem', certificate_serial = '0abc', certified_by = 'x', certified_at = 2, certificate_revoked_at = 5, certificate_revoked_reason = 'account-disabled', certificate_revoked_by = 'sec' WHERE id = 'a1'`).run();
    v2.close();

    const db = openDatabase(file, DIRECTORY_MIGRATIONS);
    expect(listRevocations(db)).toEqual([{ serial: '0abc', revoked_at: 5, reason: 'account-disabled' }]);
    expect(() => db.prepare(`DELETE FROM certificate_revocations`).run()).toThrow(/E_REVOCATION_FIXED/);
    expect(() => db.prepare(`UPDATE certificate_revocations SET reason = 'x'`).run()).toThrow(/E_REVOCATION_FIXED/);
    db.close();
  });

  it('carries the certificates stored before version 4 into the history, which then refuses edits', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'sealvault-dir-mig-')), 'directory.sqlite');
    const v3 = openDatabase(file, DIRECTORY_MIGRATIONS.filter((m) => m.version <= 3));
    insertAccount(v3, { id: 'a1', username: 'a1', legalName: 'A', employeeNumber: 'A1', department: null, contact: 'c', createdBy: 'setup', approvedBy: 'setup', roles: ['employee'], now: 1 });
    insertAccount(v3, { id: 'a2', username: 'a2', legalName: 'B', employeeNumber: 'A2', department: null, contact: 'c', createdBy: 'setup', approvedBy: 'setup', roles: ['employee'], now: 1 });
    v3.prepare(`UPDATE accounts SET certificate = 'pem', certificate_serial = '0abc', certified_by = 'x', certified_at = 7 WHERE id = 'a1'`).run();
    v3.close();

    const db = openDatabase(file, DIRECTORY_MIGRATIONS);
    expect(listIssuedCertificates(db)).toEqual([{ serial: '0abc', account: 'a1', certificate: 'pem', issued_at: 7 }]);
    expect(() => db.prepare(`DELETE FROM certificate_history`).run()).toThrow(/E_CERTIFICATE_HISTORY_FIXED/);
    expect(() => db.prepare(`UPDATE certificate_history SET certificate = 'x'`).run()).toThrow(/E_CERTIFICATE_HISTORY_FIXED/);
    db.close();
  });
});
