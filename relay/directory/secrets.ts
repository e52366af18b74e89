/**
 * Per-installation secrets kept in the directory's own database (its folder is 0700 and holds
 * the service key too): the OPAQUE server setup (OPRF seed and server key pair, which must stay
 * the same for every stored registration record to keep working) and the key of the fake
 * prelogin salts (stable across restarts so an unknown name always gets the same answer).
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { Db } from '../common/db';
import { randomSecret, sha256B64u } from './util';

function getSetting(db: Db, key: string): string | undefined {
  return (db.prepare('SELECT value FROM settings WHERE key = ?').get(key) as { value: string } | undefined)?.value;
}

function getOrCreate(db: Db, key: string, make: () => string): string {
  db.prepare('INSERT OR IGNORE INTO settings (key, value) VALUES (?, ?)').run(key, make());
  return getSetting(db, key)!;
}

export interface InstallationSecrets {
  opaqueServerSetup: string;
  /** first 16 bytes of HMAC-SHA-256(prelogin key, username): the fake salt for unknown names */
  fakeSalt(username: string): Buffer;
}

export function loadSecrets(db: Db, createOpaqueSetup: () => string): InstallationSecrets {
  const opaqueServerSetup = getOrCreate(db, 'opaque_server_setup', createOpaqueSetup);
  const preloginKey = Buffer.from(getOrCreate(db, 'prelogin_hmac_key', () => randomBytes(32).toString('base64url')), 'base64url');
  return {
    opaqueServerSetup,
    fakeSalt: (username) => createHmac('sha256', preloginKey).update(username, 'utf8').digest().subarray(0, 16),
  };
}

// --- One-time setup token ---------------------------------------------------------------

export function setupDone(db: Db): boolean {
  return getSetting(db, 'setup_done_at') !== undefined;
}

/**
 * While setup is pending, each start makes a fresh token and replaces the stored hash: only the
 * hash is kept, so a token printed before a restart cannot be shown again, and an operator who
 * lost it must not be locked out of a relay nobody has set up yet. The old token stops working.
 */
export function issueSetupToken(db: Db): string | undefined {
  if (setupDone(db)) return undefined;
  const token = randomSecret();
  db.prepare(`INSERT INTO settings (key, value) VALUES ('setup_token_sha256', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`).run(sha256B64u(token));
  return token;
}

export function setupTokenHash(db: Db): string | undefined {
  return getSetting(db, 'setup_token_sha256');
}

/** Undoes spendSetupToken (inside the transaction that also removes what setup made). */
export function unspendSetupToken(db: Db, tokenHash: string): void {
  db.prepare(`DELETE FROM settings WHERE key = 'setup_done_at'`).run();
  db.prepare(`INSERT INTO settings (key, value) VALUES ('setup_token_sha256', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`).run(tokenHash);
}

/** Marks setup done and forgets the token hash; false if setup was already done (call inside the setup transaction). */
export function spendSetupToken(db: Db, now: number): boolean {
  const { changes } = db.prepare(`INSERT OR IGNORE INTO settings (key, value) VALUES ('setup_done_at', ?)`).run(String(now));
  if (changes !== 1) return false;
  db.prepare(`DELETE FROM settings WHERE key = 'setup_token_sha256'`).run();
  return true;
}
