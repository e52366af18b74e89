/**
 * One SQLite file per service, in WAL mode, with numbered migrations tracked in user_version.
 * No service opens another's file: the path always comes from its own data folder.
 */
import Database from 'better-sqlite3';

export type Db = Database.Database;

export interface Migration {
  version: number;
  sql: string;
}

export function openDatabase(file: string, migrations: readonly Migration[]): Db {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  db.pragma('synchronous = NORMAL');
  const current = db.pragma('user_version', { simple: true }) as number;
  const pending = [...migrations].sort((a, b) => a.version - b.version).filter((m) => m.version > current);
  for (const m of pending) {
    db.transaction(() => {
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    })();
  }
  return db;
}
