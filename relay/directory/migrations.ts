/**
 * The directory's SQLite schema. Rules that protect the enterprise (three-member separation,
 * four eyes) are written into the schema as CHECKs and triggers, so a bug in a route, or a
 * future route that forgets a check, still cannot store an account with two administrator roles
 * or a request approved by its own requester.
 */
import type { Migration } from '../common/db';

const ADMIN = `('system-admin', 'security-admin', 'auditor')`;
const ALL_ROLES = `('system-admin', 'security-admin', 'auditor', 'space-manager', 'employee')`;

export const DIRECTORY_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `
      -- Installation secrets and setup state (OPAQUE server setup, prelogin HMAC key, setup token hash).
      CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;

      CREATE TABLE enterprise (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        name TEXT NOT NULL,
        created_at INTEGER NOT NULL
      ) STRICT;

      CREATE TABLE departments (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE COLLATE NOCASE,
        created_by TEXT NOT NULL,
        created_at INTEGER NOT NULL
      ) STRICT;

      -- Times are milliseconds since the epoch. created_by / approved_by are account ids or 'setup'.
      CREATE TABLE accounts (
        id TEXT PRIMARY KEY,
        username TEXT NOT NULL UNIQUE CHECK (username = lower(username)),
        legal_name TEXT NOT NULL,
        employee_number TEXT NOT NULL UNIQUE COLLATE NOCASE,
        department TEXT REFERENCES departments(id),
        contact TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('invited', 'active', 'disabled')),
        created_by TEXT NOT NULL,
        approved_by TEXT,
        approved_at INTEGER,
        registered_at INTEGER,
        opaque_record TEXT,
        kdf_salt TEXT,
        kdf_m INTEGER,
        kdf_t INTEGER,
        kdf_p INTEGER,
        envelope_key TEXT UNIQUE,
        signing_key TEXT UNIQUE,
        signing_key_id TEXT,
        certificate TEXT,
        certified_by TEXT,
        certified_at INTEGER,
        disabled_reason TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        -- four eyes: whoever created an account cannot be the one who approves it (the three
        -- administrators made at setup are created and approved by the one-time setup itself)
        CHECK (approved_by IS NULL OR approved_by <> created_by OR created_by = 'setup'),
        -- active means both approved and registered
        CHECK (status <> 'active' OR (approved_by IS NOT NULL AND registered_at IS NOT NULL))
      ) STRICT;

      CREATE TABLE account_roles (
        account TEXT NOT NULL REFERENCES accounts(id),
        role TEXT NOT NULL CHECK (role IN ${ALL_ROLES}),
        granted_at INTEGER NOT NULL,
        PRIMARY KEY (account, role)
      ) STRICT;

      -- Three-member separation, enforced by the database itself.
      CREATE TRIGGER account_roles_separation BEFORE INSERT ON account_roles
      WHEN NEW.role IN ${ADMIN}
        AND EXISTS (SELECT 1 FROM account_roles WHERE account = NEW.account AND role IN ${ADMIN} AND role <> NEW.role)
      BEGIN
        SELECT RAISE(ABORT, 'E_SEPARATION: an account may hold only one administrator role');
      END;
      -- An UPDATE could turn one admin role into another past the insert trigger: roles are only added or removed.
      CREATE TRIGGER account_roles_no_update BEFORE UPDATE ON account_roles
      BEGIN
        SELECT RAISE(ABORT, 'E_SEPARATION: roles are added or removed, never rewritten');
      END;

      CREATE TABLE invitations (
        code_sha256 TEXT PRIMARY KEY,
        account TEXT NOT NULL REFERENCES accounts(id),
        created_by TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        used_at INTEGER
      ) STRICT;
      CREATE INDEX invitations_account ON invitations(account);

      CREATE TABLE role_requests (
        id TEXT PRIMARY KEY,
        account TEXT NOT NULL REFERENCES accounts(id),
        role TEXT NOT NULL CHECK (role IN ${ALL_ROLES}),
        op TEXT NOT NULL CHECK (op IN ('add', 'remove')),
        status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
        requested_by TEXT NOT NULL REFERENCES accounts(id),
        requested_at INTEGER NOT NULL,
        decided_by TEXT REFERENCES accounts(id),
        decided_at INTEGER,
        reason TEXT,
        -- four eyes: the requester never decides their own request
        CHECK (decided_by IS NULL OR decided_by <> requested_by),
        CHECK ((status = 'pending') = (decided_by IS NULL))
      ) STRICT;
      CREATE INDEX role_requests_status ON role_requests(status, requested_at);

      -- One row per login session (the token's jti). Tokens are re-issued on refresh with the same
      -- id; ending the row ends every token of the session at the directory.
      CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        account TEXT NOT NULL REFERENCES accounts(id),
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        not_after INTEGER NOT NULL,
        ended_at INTEGER,
        end_reason TEXT
      ) STRICT;
      CREATE INDEX sessions_account ON sessions(account);
    `,
  },
  {
    // Enterprise accounts (issue 4): the enterprise root CA, certificate revocation, four-eyes
    // account requests, session origins (for fresh-login checks) and recovery-auth keys.
    version: 2,
    sql: `
      -- The enterprise root CA certificate, stored once and never rewritten: every employee
      -- certificate is checked against it, so replacing it would silently re-root the enterprise.
      CREATE TABLE enterprise_ca (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        certificate TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        subject TEXT NOT NULL,
        created_by TEXT NOT NULL REFERENCES accounts(id),
        created_at INTEGER NOT NULL
      ) STRICT;
      CREATE TRIGGER enterprise_ca_no_update BEFORE UPDATE ON enterprise_ca
      BEGIN
        SELECT RAISE(ABORT, 'E_CA_FIXED: the enterprise CA is stored once');
      END;
      CREATE TRIGGER enterprise_ca_no_delete BEFORE DELETE ON enterprise_ca
      BEGIN
        SELECT RAISE(ABORT, 'E_CA_FIXED: the enterprise CA is stored once');
      END;

      -- The current certificate's serial and its revocation. A new certificate clears the revocation.
      ALTER TABLE accounts ADD COLUMN certificate_serial TEXT;
      ALTER TABLE accounts ADD COLUMN certificate_revoked_at INTEGER;
      ALTER TABLE accounts ADD COLUMN certificate_revoked_reason TEXT;
      ALTER TABLE accounts ADD COLUMN certificate_revoked_by TEXT;
      -- Raw Ed25519 public key (base64url) of the recovery-auth key made from the recovery code.
      ALTER TABLE accounts ADD COLUMN recovery_key TEXT;
      ALTER TABLE accounts ADD COLUMN recovery_key_at INTEGER;

      -- How a session began: 'login', 'registration', 'recovery' or 'password-change' (NULL for
      -- sessions older than this column). Password change and the recovery key need a session
      -- that began with a proof of the password (or recovery code) minutes ago, not a refreshed one.
      ALTER TABLE sessions ADD COLUMN via TEXT;

      -- Four eyes for real-name changes and disabling: one person asks, a security-admin who is
      -- neither the requester nor the account concerned decides.
      CREATE TABLE account_requests (
        id TEXT PRIMARY KEY,
        account TEXT NOT NULL REFERENCES accounts(id),
        kind TEXT NOT NULL CHECK (kind IN ('profile', 'disable')),
        legal_name TEXT,
        employee_number TEXT,
        reason TEXT,
        status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
        requested_by TEXT NOT NULL REFERENCES accounts(id),
        requested_at INTEGER NOT NULL,
        decided_by TEXT REFERENCES accounts(id),
        decided_at INTEGER,
        rejection_reason TEXT,
        -- what the approval replaced (profile), so history shows old and new
        replaced_legal_name TEXT,
        replaced_employee_number TEXT,
        CHECK (decided_by IS NULL OR decided_by <> requested_by),
        CHECK (decided_by IS NULL OR decided_by <> account),
        CHECK ((status = 'pending') = (decided_by IS NULL)),
        -- a profile change is asked by the account itself and names something to change
        CHECK (kind <> 'profile' OR (requested_by = account AND reason IS NULL AND (legal_name IS NOT NULL OR employee_number IS NOT NULL))),
        -- nobody asks to disable their own account
        CHECK (kind <> 'disable' OR (requested_by <> account AND reason IS NOT NULL AND legal_name IS NULL AND employee_number IS NULL))
      ) STRICT;
      CREATE INDEX account_requests_status ON account_requests(status, requested_at);
      CREATE INDEX account_requests_account ON account_requests(account, requested_at);
      -- At most one pending request of each kind per account.
      CREATE UNIQUE INDEX account_requests_one_pending ON account_requests(account, kind) WHERE status = 'pending';
    `,
  },
  {
    // Signing (issue 6): every revoked certificate stays on the list, so a PDF signature made
    // with a certificate that was later replaced is still known to be revoked. The accounts row
    // only keeps the current certificate.
    version: 3,
    sql: `
      CREATE TABLE certificate_revocations (
        serial TEXT PRIMARY KEY,
        account TEXT NOT NULL REFERENCES accounts(id),
        revoked_at INTEGER NOT NULL,
        reason TEXT NOT NULL,
        revoked_by TEXT NOT NULL
      ) STRICT;
      INSERT INTO certificate_revocations (serial, account, revoked_at, reason, revoked_by)
        SELECT certificate_serial, id, certificate_revoked_at, COALESCE(certificate_revoked_reason, 'unknown'), COALESCE(certificate_revoked_by, 'unknown')
        FROM accounts WHERE certificate_serial IS NOT NULL AND certificate_revoked_at IS NOT NULL;
      CREATE TRIGGER certificate_revocations_no_update BEFORE UPDATE ON certificate_revocations
      BEGIN
        SELECT RAISE(ABORT, 'E_REVOCATION_FIXED: a revocation is never undone');
      END;
      CREATE TRIGGER certificate_revocations_no_delete BEFORE DELETE ON certificate_revocations
      BEGIN
        SELECT RAISE(ABORT, 'E_REVOCATION_FIXED: a revocation is never undone');
      END;
    `,
  },
  {
    // Independent audit (issue 7): an audit entry signed years ago must be checked against the
    // certificate that was current then, so every certificate ever issued stays here. The
    // accounts row only keeps the current one, so this history is filled from it once and from
    // then on by the route that stores a certificate. serial is NULL only for certificates
    // stored before version 2, which kept no serial.
    version: 4,
    sql: `
      CREATE TABLE certificate_history (
        id INTEGER PRIMARY KEY,
        serial TEXT UNIQUE,
        account TEXT NOT NULL REFERENCES accounts(id),
        certificate TEXT NOT NULL,
        issued_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX certificate_history_account ON certificate_history(account, issued_at);
      INSERT INTO certificate_history (serial, account, certificate, issued_at)
        SELECT certificate_serial, id, certificate, COALESCE(certified_at, updated_at)
        FROM accounts WHERE certificate IS NOT NULL ORDER BY certified_at, id;
      CREATE TRIGGER certificate_history_no_update BEFORE UPDATE ON certificate_history
      BEGIN
        SELECT RAISE(ABORT, 'E_CERTIFICATE_HISTORY_FIXED: issued certificates are never rewritten');
      END;
      CREATE TRIGGER certificate_history_no_delete BEFORE DELETE ON certificate_history
      BEGIN
        SELECT RAISE(ABORT, 'E_CERTIFICATE_HISTORY_FIXED: issued certificates are never rewritten');
      END;
    `,
  },
];
