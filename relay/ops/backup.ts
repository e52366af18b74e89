/**
 * `sealvault backup`: an online copy of each service's SQLite file (SQLite's backup API, safe
 * while the relay runs, WAL included) plus a manifest of the block stores. Each service's backup
 * lands in its own folder so that, in a split deployment, each operator keeps only their part:
 * run it with --service to back up one service.
 */
import Database from 'better-sqlite3';
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SERVICE_NAMES, type ServiceName } from '../services/names';

export interface BackupReport {
  dest: string;
  databases: { service: ServiceName; file: string; bytes: number }[];
  blockStores: { store: string; blocks: number; bytes: number }[];
}

function walkFiles(dir: string): { path: string; bytes: number }[] {
  const out: { path: string; bytes: number }[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...walkFiles(p));
    else if (entry.isFile() && !entry.name.endsWith('.tmp')) out.push({ path: p, bytes: statSync(p).size });
  }
  return out;
}

export function blockStoreFolders(dataDir: string, env: Readonly<Record<string, string | undefined>> = process.env): string[] {
  const configured = env.SEALVAULT_BLOCK_STORES?.split(',').map((s) => s.trim()).filter(Boolean);
  if (configured && configured.length > 0) return configured.map((s) => resolve(s));
  const root = join(dataDir, 'vault', 'stores');
  return existsSync(root) ? readdirSync(root).map((n) => join(root, n)).filter((p) => statSync(p).isDirectory()) : [];
}

export async function backup(options: { dataDir: string; dest: string; only?: ServiceName; env?: Readonly<Record<string, string | undefined>> }): Promise<BackupReport> {
  const dataDir = resolve(options.dataDir);
  const dest = resolve(options.dest);
  mkdirSync(dest, { recursive: true, mode: 0o700 });
  const report: BackupReport = { dest, databases: [], blockStores: [] };
  for (const service of options.only ? [options.only] : SERVICE_NAMES) {
    const dir = join(dataDir, service);
    if (!existsSync(dir)) continue;
    const out = join(dest, service);
    mkdirSync(out, { recursive: true, mode: 0o700 });
    for (const name of readdirSync(dir).filter((n) => n.endsWith('.sqlite'))) {
      const db = new Database(join(dir, name), { readonly: true, fileMustExist: true });
      try {
        await db.backup(join(out, name));
      } finally {
        db.close();
      }
      report.databases.push({ service, file: join(out, name), bytes: statSync(join(out, name)).size });
    }
    // The service's signing key: without it a restored service cannot sign as itself.
    if (existsSync(join(dir, 'service-key.pkcs8'))) {
      copyFileSync(join(dir, 'service-key.pkcs8'), join(out, 'service-key.pkcs8'));
    }
  }
  if (!options.only || options.only === 'vault') {
    const stores = blockStoreFolders(dataDir, options.env);
    const manifest = stores.map((store) => {
      const files = walkFiles(store);
      report.blockStores.push({ store, blocks: files.length, bytes: files.reduce((a, f) => a + f.bytes, 0) });
      return { store, files: files.map((f) => ({ path: f.path.slice(store.length + 1), bytes: f.bytes })) };
    });
    mkdirSync(join(dest, 'vault'), { recursive: true, mode: 0o700 });
    writeFileSync(join(dest, 'vault', 'block-stores.json'), JSON.stringify({ createdAt: new Date().toISOString(), stores: manifest }, null, 1), { mode: 0o600 });
  }
  return report;
}
