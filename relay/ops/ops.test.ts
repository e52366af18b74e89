import Database from 'better-sqlite3';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../common/db';
import { backup } from './backup';
import { status } from './status';

function dataFolder() {
  const data = mkdtempSync(join(tmpdir(), 'sealvault-ops-'));
  mkdirSync(join(data, 'escrow'), { recursive: true });
  // A live database in WAL mode with rows not yet checkpointed into the main file.
  const db = openDatabase(join(data, 'escrow', 'escrow.sqlite'), [{ version: 1, sql: 'CREATE TABLE shares (account TEXT PRIMARY KEY, share BLOB)' }]);
  db.prepare('INSERT INTO shares VALUES (?, ?)').run('acct-1', Buffer.alloc(32, 1));
  writeFileSync(join(data, 'escrow', 'service-key.pkcs8'), 'key');
  for (let s = 0; s < 3; s++) {
    mkdirSync(join(data, 'vault', 'stores', `store-${s}`, 'ab'), { recursive: true });
    writeFileSync(join(data, 'vault', 'stores', `store-${s}`, 'ab', `block-${s}`), Buffer.alloc(100 + s));
  }
  return { data, db };
}

describe('sealvault backup', () => {
  it('copies a live WAL database online, with its rows, and lists every block store', async () => {
    const { data, db } = dataFolder();
    const dest = join(data, '..', `${data.split('/').pop()}-backup`);
    const report = await backup({ dataDir: data, dest, env: {} });
    db.close();
    expect(report.databases.map((d) => d.service)).toEqual(['escrow']);
    const copy = new Database(join(dest, 'escrow', 'escrow.sqlite'), { readonly: true });
    expect(copy.prepare('SELECT account FROM shares').all()).toEqual([{ account: 'acct-1' }]);
    copy.close();
    expect(existsSync(join(dest, 'escrow', 'service-key.pkcs8'))).toBe(true);
    const manifest = JSON.parse(readFileSync(join(dest, 'vault', 'block-stores.json'), 'utf8'));
    expect(manifest.stores).toHaveLength(3);
    expect(manifest.stores[2].files).toEqual([{ path: 'ab/block-2', bytes: 102 }]);
  });

  it('backs up one service alone for a split deployment', async () => {
    const { data, db } = dataFolder();
    const report = await backup({ dataDir: data, dest: join(data, 'only-escrow'), only: 'escrow', env: {} });
    db.close();
    expect(report.blockStores).toEqual([]);
    expect(existsSync(join(data, 'only-escrow', 'vault'))).toBe(false);
  });
});

describe('sealvault status', () => {
  it('reports databases, schema versions, block stores and an unreachable relay', async () => {
    const { data, db } = dataFolder();
    const report = await status({ dataDir: data, url: 'https://127.0.0.1:1/', env: {} });
    db.close();
    expect(report.services.find((s) => s.service === 'escrow')).toMatchObject({ schemaVersion: 1 });
    expect(report.services.find((s) => s.service === 'vault')).toMatchObject({ database: null });
    expect(report.blockStores.map((s) => s.blocks)).toEqual([1, 1, 1]);
    expect(report.relay?.ok).toBe(false);
  });
});
