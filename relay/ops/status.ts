/** `sealvault status`: what is in a data folder, and whether a running relay answers. */
import Database from 'better-sqlite3';
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SERVICE_NAMES } from '../services/names';
import { blockStoreFolders } from './backup';

export interface StatusReport {
  dataDir: string;
  services: { service: string; database: string | null; bytes: number; schemaVersion: number | null }[];
  blockStores: { store: string; present: boolean; blocks: number; bytes: number }[];
  tls: { certificate: string; validTo: string; daysLeft: number } | null;
  relay?: { url: string; ok: boolean; detail: string };
}

function usage(dir: string): { blocks: number; bytes: number } {
  let blocks = 0;
  let bytes = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) {
      const u = usage(p);
      blocks += u.blocks;
      bytes += u.bytes;
    } else if (entry.isFile()) {
      blocks++;
      bytes += statSync(p).size;
    }
  }
  return { blocks, bytes };
}

export async function status(options: { dataDir: string; url?: string; env?: Readonly<Record<string, string | undefined>> }): Promise<StatusReport> {
  const dataDir = resolve(options.dataDir);
  const services = SERVICE_NAMES.map((service) => {
    const file = join(dataDir, service, `${service}.sqlite`);
    if (!existsSync(file)) return { service, database: null, bytes: 0, schemaVersion: null };
    const db = new Database(file, { readonly: true, fileMustExist: true });
    try {
      return { service, database: file, bytes: statSync(file).size, schemaVersion: db.pragma('user_version', { simple: true }) as number };
    } finally {
      db.close();
    }
  });
  const blockStores = blockStoreFolders(dataDir, options.env).map((store) => (existsSync(store) ? { store, present: true, ...usage(store) } : { store, present: false, blocks: 0, bytes: 0 }));
  const certPath = join(dataDir, 'tls', 'server.pem');
  let tls: StatusReport['tls'] = null;
  if (existsSync(certPath)) {
    const cert = new X509Certificate(readFileSync(certPath));
    tls = { certificate: certPath, validTo: new Date(cert.validTo).toISOString(), daysLeft: Math.floor((Date.parse(cert.validTo) - Date.now()) / 86_400_000) };
  }
  const report: StatusReport = { dataDir, services, blockStores, tls };
  if (options.url) {
    try {
      const res = await fetch(new URL('/api/health', options.url));
      report.relay = { url: options.url, ok: res.ok, detail: res.ok ? JSON.stringify(await res.json()) : `HTTP ${res.status}` };
    } catch (e) {
      report.relay = { url: options.url, ok: false, detail: e instanceof Error ? (e.cause instanceof Error ? e.cause.message : e.message) : String(e) };
    }
  }
  return report;
}
