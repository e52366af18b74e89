/**
 * The auditor's console state (routes/admin/audit): the log read page by page, never whole;
 * filters applied to pages as they are read ("scanned N of M"); one entry's checks on demand;
 * the whole-log verification (export, then a worker); the bundle download; the witness
 * cosignature. The components only bind to this.
 */
import type { AuditVerdict } from '$shared/audit/verify';
import { exportAuditBundle } from '$shared/protocol/audit-export';
import { checkDetails, checkInclusion, checkSignature, type CheckOutcome, type StoredEntry } from '$shared/protocol/audit-inspect';
import { fetchLogIdentity, isAuditForkError, type LogIdentity } from '$shared/protocol/audit-memory';
import { cosignLatestCheckpoint, type CosignResult } from '$shared/protocol/audit-witness';
import type { UnlockedAccount } from '$shared/protocol/account';
import { parseAnswer } from '$shared/protocol/account';
import { CheckpointResponseSchema, EntriesPageSchema } from '$shared/schemas/audit';
import { PublicKeysResponse } from '$shared/schemas/directory';
import { transport } from '../relay';
import { saveBlob } from '../save-blob';
import { sealedCheckpointStore } from './checkpoint-store';
import { logMemory } from './log-memory.svelte';
import { verifyInWorker } from './verify-in-worker';
import { emptyFilters, isFiltered, matches, type Filters } from './filters';

export { emptyFilters, isFiltered, matches, type Filters };

export const PAGE_SIZE = 100;
/** The role filter's choices: the roles of DESIGN.md section 1, and the relay's services. */
export const ROLE_CHOICES = ['system-admin', 'security-admin', 'auditor', 'space-manager', 'employee', 'service'] as const;
export type HistoryKind = 'contract' | 'seal' | 'account';

export interface EntryChecks {
  index: number;
  details: CheckOutcome | { ok: 'absent' } | null;
  signature: CheckOutcome | null;
  inclusion: { outcome: CheckOutcome; size?: number } | null;
  busy: boolean;
}

export type VerifyPhase = 'idle' | 'export' | 'verify' | 'done' | 'error';

export class AuditConsole {
  filters = $state<Filters>(emptyFilters());
  /** the filters the rows were read with */
  private applied: Filters = emptyFilters();
  rows = $state.raw<StoredEntry[]>([]);
  /** unfiltered: index of the first row shown; filtered: index of the first match page */
  start = $state(0);
  nextStart = $state<number | null>(null);
  /** the latest checkpoint's size: the log as far as it is committed */
  total = $state<number | null>(null);
  scanned = $state(0);
  scanning = $state(false);
  matchPage = $state(0);
  matchCount = $state(0);
  scanDone = $state(false);
  loading = $state(false);
  error = $state<string | null>(null);
  selected = $state.raw<StoredEntry | null>(null);
  checks = $state.raw<EntryChecks | null>(null);

  verifyPhase = $state<VerifyPhase>('idle');
  progress = $state.raw<{ done: number; total: number } | null>(null);
  verdict = $state.raw<AuditVerdict | null>(null);
  verifyError = $state<string | null>(null);
  exporting = $state(false);
  exportError = $state<string | null>(null);

  cosigning = $state(false);
  cosigned = $state.raw<CosignResult | null>(null);
  cosignFork = $state.raw<{ seenSize: number; servedSize: number; reason: string; message: string } | null>(null);
  cosignError = $state<string | null>(null);

  private matchesFound: StoredEntry[] = [];
  private scanNext: number | null = 0;
  private generation = 0;
  private roleCache = new Map<string, Promise<string[]>>();

  get filtered(): boolean {
    return isFiltered(this.applied);
  }

  clear(): void {
    this.generation++;
    this.rows = [];
    this.selected = null;
    this.checks = null;
    this.verdict = null;
    this.cosigned = null;
    this.cosignFork = null;
    this.roleCache.clear();
  }

  private async page(me: UnlockedAccount, start: number): Promise<{ entries: StoredEntry[]; nextStart: number | null }> {
    return parseAnswer(EntriesPageSchema, await transport.request('GET', `/api/audit/entries?start=${start}&limit=${PAGE_SIZE}`, undefined, me.session), 'audit entries');
  }

  private async refreshTotal(me: UnlockedAccount): Promise<void> {
    const cp = parseAnswer(CheckpointResponseSchema, await transport.request('GET', '/api/audit/checkpoint', undefined, me.session), 'audit checkpoint');
    this.total = cp.size;
  }

  /** An account's roles as the directory states them now (public keys, which an auditor may read); 'service' for a service. */
  rolesOf(actor: string): Promise<string[]> {
    if (actor.startsWith('service:')) return Promise.resolve(['service']);
    let cached = this.roleCache.get(actor);
    if (!cached) {
      cached = transport
        .request('GET', `/api/directory/accounts/${encodeURIComponent(actor)}/public-keys`)
        .then((a) => parseAnswer(PublicKeysResponse, a, 'public keys').roles as string[])
        .catch(() => []);
      this.roleCache.set(actor, cached);
    }
    return cached;
  }

  /** Reads the log from `start` (unfiltered) or starts a filtered scan from index 0. */
  async load(me: UnlockedAccount, start = 0): Promise<void> {
    const mine = ++this.generation;
    this.applied = $state.snapshot(this.filters);
    this.error = null;
    this.loading = true;
    try {
      await this.refreshTotal(me);
      if (!this.filtered) {
        const p = await this.page(me, Math.max(0, start));
        if (mine !== this.generation) return;
        this.rows = p.entries;
        this.start = Math.max(0, start);
        this.nextStart = p.nextStart;
        return;
      }
      this.matchesFound = [];
      this.matchCount = 0;
      this.scanNext = 0;
      this.scanned = 0;
      this.scanDone = false;
      this.matchPage = 0;
      this.rows = [];
      await this.scanUntil(me, PAGE_SIZE, mine);
    } catch (e) {
      if (mine === this.generation) this.error = e instanceof Error ? e.message : String(e);
    } finally {
      if (mine === this.generation) this.loading = false;
    }
  }

  /** Reads further pages until `want` matches are found or the log ends, showing rows as they come. */
  private async scanUntil(me: UnlockedAccount, want: number, mine: number): Promise<void> {
    this.scanning = true;
    try {
      while (this.matchesFound.length < want && this.scanNext !== null) {
        const p = await this.page(me, this.scanNext);
        if (mine !== this.generation) return;
        for (const stored of p.entries) {
          const roles = this.applied.role && stored.entry ? await this.rolesOf(stored.entry.actor) : [];
          if (matches(stored, this.applied, roles)) this.matchesFound.push(stored);
        }
        if (mine !== this.generation) return;
        this.scanned += p.entries.length;
        this.scanNext = p.nextStart;
        this.matchCount = this.matchesFound.length;
        this.rows = this.matchesFound.slice(this.matchPage * PAGE_SIZE, (this.matchPage + 1) * PAGE_SIZE);
      }
      if (this.scanNext === null) this.scanDone = true;
    } finally {
      if (mine === this.generation) this.scanning = false;
    }
  }

  get hasNext(): boolean {
    if (!this.filtered) return this.nextStart !== null;
    return this.matchesFound.length > (this.matchPage + 1) * PAGE_SIZE || !this.scanDone;
  }

  get hasPrevious(): boolean {
    return this.filtered ? this.matchPage > 0 : this.start > 0;
  }

  async next(me: UnlockedAccount): Promise<void> {
    if (!this.filtered) {
      if (this.nextStart !== null) await this.load(me, this.nextStart);
      return;
    }
    const mine = this.generation;
    this.loading = true;
    try {
      this.matchPage++;
      this.rows = this.matchesFound.slice(this.matchPage * PAGE_SIZE, (this.matchPage + 1) * PAGE_SIZE);
      await this.scanUntil(me, (this.matchPage + 1) * PAGE_SIZE, mine);
    } catch (e) {
      this.error = e instanceof Error ? e.message : String(e);
    } finally {
      this.loading = false;
    }
  }

  async previous(me: UnlockedAccount): Promise<void> {
    if (!this.filtered) {
      await this.load(me, Math.max(0, this.start - PAGE_SIZE));
      return;
    }
    this.matchPage = Math.max(0, this.matchPage - 1);
    this.rows = this.matchesFound.slice(this.matchPage * PAGE_SIZE, (this.matchPage + 1) * PAGE_SIZE);
  }

  /** Shows the page that starts at `index` (filters are cleared: an index names one entry of the whole log). */
  async jump(me: UnlockedAccount, index: number): Promise<void> {
    this.filters = emptyFilters();
    await this.load(me, index);
  }

  async history(me: UnlockedAccount, kind: HistoryKind, id: string): Promise<void> {
    this.filters = { ...emptyFilters(), history: `${kind}:${id.trim()}` };
    await this.load(me);
  }

  async resetFilters(me: UnlockedAccount): Promise<void> {
    this.filters = emptyFilters();
    await this.load(me);
  }

  select(stored: StoredEntry | null): void {
    this.selected = stored;
    this.checks = null;
  }

  private async logIdentity(): Promise<LogIdentity> {
    // The key pinned at sign-in, if there is one: the relay's current statement is only a fallback.
    const pinned = logMemory.seen;
    return pinned ? { origin: pinned.origin, vkey: pinned.logVkey } : fetchLogIdentity(transport);
  }

  /** Verifies the selected entry's details, signature and inclusion in the latest checkpoint. */
  async checkSelected(me: UnlockedAccount, caCertificatePem: string | null): Promise<void> {
    const stored = this.selected;
    if (!stored) return;
    this.checks = { index: stored.index, details: null, signature: null, inclusion: null, busy: true };
    const [details, signature, inclusion] = await Promise.all([
      checkDetails(stored),
      checkSignature(transport, stored, caCertificatePem),
      this.logIdentity().then(
        (log) => checkInclusion(transport, me.session, stored, log),
        (e: unknown) => ({ outcome: { ok: false as const, code: 'E_FORMAT', message: e instanceof Error ? e.message : String(e) } }),
      ),
    ]);
    if (this.selected === stored) this.checks = { index: stored.index, details, signature, inclusion, busy: false };
  }

  /** Exports the evidence, then verifies it in a worker. */
  async verifyAll(me: UnlockedAccount): Promise<void> {
    this.verifyPhase = 'export';
    this.verdict = null;
    this.verifyError = null;
    this.progress = null;
    try {
      const bundle = await exportAuditBundle(transport, me, (...args: unknown[]) => {
        this.progress = progressOf(args);
      });
      this.verifyPhase = 'verify';
      this.progress = null;
      this.verdict = await verifyInWorker(bundle.evidence, (done, total) => {
        this.progress = { done, total };
      });
      this.verifyPhase = 'done';
    } catch (e) {
      this.verifyError = e instanceof Error ? e.message : String(e);
      this.verifyPhase = 'error';
    }
  }

  async exportBundle(me: UnlockedAccount): Promise<void> {
    this.exporting = true;
    this.exportError = null;
    this.progress = null;
    try {
      const bundle = await exportAuditBundle(transport, me, (...args: unknown[]) => {
        this.progress = progressOf(args);
      });
      const stamp = new Date().toISOString().replace(/[:.]/g, '-');
      saveBlob(new Blob([JSON.stringify(bundle, null, 2)], { type: 'application/json' }), `sealvault-audit-bundle-${stamp}.json`);
    } catch (e) {
      this.exportError = e instanceof Error ? e.message : String(e);
    } finally {
      this.exporting = false;
    }
  }

  async cosign(me: UnlockedAccount): Promise<void> {
    this.cosigning = true;
    this.cosigned = null;
    this.cosignFork = null;
    this.cosignError = null;
    try {
      this.cosigned = await cosignLatestCheckpoint(transport, me, sealedCheckpointStore(me.account, me.localIndexKey, 'cosigned'), { host: location.host });
    } catch (e) {
      if (isAuditForkError(e)) this.cosignFork = { seenSize: e.seenSize, servedSize: e.servedSize, reason: e.reason, message: e.message };
      else this.cosignError = e instanceof Error ? e.message : String(e);
    } finally {
      this.cosigning = false;
    }
  }
}

/** The export's progress, whatever shape its callback reports: (done, total) or { done, total }. */
function progressOf(args: unknown[]): { done: number; total: number } | null {
  const [a, b] = args;
  if (typeof a === 'number' && typeof b === 'number') return { done: a, total: b };
  const o = a as { done?: unknown; total?: unknown } | null;
  if (o && typeof o.done === 'number' && typeof o.total === 'number') return { done: o.done, total: o.total };
  return null;
}
