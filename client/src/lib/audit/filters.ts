/** The console's filters, applied to each page of the log as it is read (console.svelte.ts). */
import type { StoredEntry } from '$shared/protocol/audit-inspect';

export interface Filters {
  actor: string;
  role: string;
  /** a prefix of the dotted action */
  action: string;
  target: string;
  targetExact: boolean;
  /** datetime-local values, the browser's time zone */
  from: string;
  to: string;
  /** the history of one thing: the target itself and everything under `<target>/` */
  history: string;
}

export const emptyFilters = (): Filters => ({ actor: '', role: '', action: '', target: '', targetExact: false, from: '', to: '', history: '' });

export function isFiltered(f: Filters): boolean {
  return Object.entries(f).some(([k, v]) => k !== 'targetExact' && v !== '');
}

/** Whether `stored` passes the filters; `roles` are the actor's roles ('service' for a service). */
export function matches(stored: StoredEntry, f: Filters, roles: readonly string[]): boolean {
  const e = stored.entry;
  if (!e) return !isFiltered(f); // a leaf that does not parse has no fields to match; shown only unfiltered
  if (f.actor && !e.actor.toLowerCase().includes(f.actor.trim().toLowerCase())) return false;
  if (f.role && !roles.includes(f.role)) return false;
  if (f.action && !e.action.startsWith(f.action.trim())) return false;
  if (f.target) {
    const t = f.target.trim();
    if (f.targetExact ? e.target !== t : !e.target.includes(t)) return false;
  }
  if (f.history && e.target !== f.history && !e.target.startsWith(`${f.history}/`)) return false;
  const from = f.from ? new Date(f.from).getTime() : NaN;
  const to = f.to ? new Date(f.to).getTime() : NaN;
  if (!Number.isNaN(from) && e.time < from) return false;
  // "to" is the minute shown, inclusive
  if (!Number.isNaN(to) && e.time >= to + 60_000) return false;
  return true;
}

