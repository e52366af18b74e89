/**
 * "Your activity" on a contract: the caller's own audit entries that name it or one of its
 * files. Only the auditor reads the whole log (DESIGN.md section 9); an employee sees what the
 * log holds about their own actions. Per-block entries the vault writes are left out: one
 * download is one line, not one per 4 MiB. So are the vault's own observations of what the
 * browser also signed (a contract created is one line, not the browser's and the vault's), and
 * its low-level reads and writes that a signed browser entry already tells in words.
 */
import { parseAnswer } from '$shared/protocol/account';
import { EntriesPageSchema } from '$shared/schemas/audit';
import type { z } from 'zod';
import { vault } from '$lib/session/vault.svelte';

export interface ActivityItem {
  index: number;
  time: number;
  action: string;
  target: string;
  outcome: 'ok' | 'refused';
  /** the version the details name, when they name one */
  version: number | null;
}

const PAGE = 500;
/** What the vault observes underneath one action the browser signs (file.upload, contract.view, ...). */
const MECHANICS = new Set(['record.read', 'manifest.read', 'file.register', 'file.commit']);
/** Pages read at most (10,000 of the account's entries): enough for a contract page, bounded for a very long history. */
const MAX_PAGES = 20;

export function concernsContract(target: string, details: Record<string, unknown> | null, contract: string, files: ReadonlySet<string>): boolean {
  if (target === `contract:${contract}` || target.startsWith(`contract:${contract}/`)) return true;
  if (target.startsWith('file:') && files.has(target.slice('file:'.length))) return true;
  return details?.contract === contract;
}

export async function myContractActivity(contract: string, files: ReadonlySet<string>, limit = 50): Promise<ActivityItem[]> {
  const items: (ActivityItem & { signedBy: 'account' | 'service' })[] = [];
  let start: number | null = 0;
  for (let pages = 0; start !== null && pages < MAX_PAGES; pages++) {
    const page: z.infer<typeof EntriesPageSchema> = parseAnswer(EntriesPageSchema, await vault.call('GET', `/api/audit/entries/mine?start=${start}&limit=${PAGE}`), 'activity');
    for (const stored of page.entries) {
      const e = stored.entry;
      if (!e || e.action.startsWith('block.') || MECHANICS.has(e.action)) continue;
      const details = (stored.detailsJson ?? null) as Record<string, unknown> | null;
      if (!concernsContract(e.target, details, contract, files)) continue;
      const version = typeof details?.version === 'number' ? details.version : null;
      items.push({ index: stored.index, time: e.time, action: e.action, target: e.target, outcome: e.outcome, version, signedBy: e.signer.kind });
    }
    start = page.nextStart;
  }
  const signed = new Set(items.filter((i) => i.signedBy === 'account').map((i) => `${i.action}\u0000${i.target}`));
  return items
    .filter((i) => i.signedBy === 'account' || !signed.has(`${i.action}\u0000${i.target}`))
    .sort((a, b) => b.index - a.index)
    .slice(0, limit)
    .map(({ signedBy: _, ...item }) => item);
}
