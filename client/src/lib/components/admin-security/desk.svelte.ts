/**
 * What the security administrator's console shows and how its actions run: one call at a time
 * (every button is disabled meanwhile, so a double click cannot decide twice), and every list
 * re-read afterwards, whether the call succeeded or not, because a refusal often means someone
 * else decided first.
 */
import { z } from 'zod';
import { parseAnswer } from '$shared/protocol/account';
import {
  AccountHistoryResponse,
  AccountListResponse,
  AccountRequestListResponse,
  DepartmentListResponse,
  RoleRequestListResponse,
  type AccountProfile,
  type AccountRequest,
  type RoleRequestSchema,
} from '$shared/schemas/directory';
import { locale } from '$lib/i18n/locale.svelte';
import { vault } from '$lib/session/vault.svelte';

export type RoleRequest = z.infer<typeof RoleRequestSchema>;
export type Section = 'approvals' | 'certify' | 'ca' | 'policy';

const DIR = '/api/directory';

export class SecurityDesk {
  accounts = $state.raw<AccountProfile[]>([]);
  roleRequests = $state.raw<RoleRequest[]>([]);
  accountRequests = $state.raw<AccountRequest[]>([]);
  /** account id -> who created it (an account id, or 'setup') */
  creators = $state.raw<ReadonlyMap<string, string>>(new Map());
  private departments = $state.raw<ReadonlyMap<string, string>>(new Map());
  loaded = $state(false);
  loadError = $state('');
  busy = $state(false);
  /** refusals, keyed by the row (or form) they belong to */
  errors = $state.raw<Record<string, string>>({});
  /** the last success, shown in the section it happened in */
  notice = $state<{ section: Section; text: string } | null>(null);

  readonly me = $derived(vault.unlocked?.account ?? null);
  readonly pendingAccounts = $derived(this.accounts.filter((a) => a.status === 'invited' && !a.approved));
  readonly toCertify = $derived(this.accounts.filter((a) => a.status === 'active' && a.registered && !a.certified && a.id !== this.me));
  readonly certified = $derived(this.accounts.filter((a) => a.certified));

  private byId = $derived(new Map(this.accounts.map((a) => [a.id, a])));

  account(id: string): AccountProfile | undefined {
    return this.byId.get(id);
  }

  /** A person's legal name for an id from a request, or the id itself for an account not listed. */
  nameOf(id: string): string {
    return this.byId.get(id)?.legalName ?? id;
  }

  departmentOf(id: string | null): string {
    if (id === null) return '—';
    return this.departments.get(id) ?? id;
  }

  async reload(): Promise<void> {
    try {
      const [accounts, roles, requests, departments] = await Promise.all([
        vault.call('GET', `${DIR}/accounts`).then((v) => parseAnswer(AccountListResponse, v, 'accounts')),
        vault.call('GET', `${DIR}/role-requests?status=pending`).then((v) => parseAnswer(RoleRequestListResponse, v, 'role requests')),
        vault.call('GET', `${DIR}/account-requests?status=pending`).then((v) => parseAnswer(AccountRequestListResponse, v, 'account requests')),
        vault.call('GET', `${DIR}/departments`).then((v) => parseAnswer(DepartmentListResponse, v, 'departments')),
      ]);
      const pending = accounts.accounts.filter((a) => a.status === 'invited' && !a.approved);
      this.creators = new Map(await Promise.all(pending.map(async (a) => [a.id, await this.creatorOf(a.id)] as const)));
      this.accounts = accounts.accounts;
      // A request the relay calls pending but lists under another status would be decided blind.
      this.roleRequests = roles.requests.filter((r) => r.status === 'pending');
      this.accountRequests = requests.requests.filter((r) => r.status === 'pending');
      this.departments = new Map(departments.departments.map((d) => [d.id, d.name]));
      this.loadError = '';
    } catch (e) {
      this.loadError = locale.error(e);
    } finally {
      this.loaded = true;
    }
  }

  private async creatorOf(account: string): Promise<string> {
    const history = parseAnswer(AccountHistoryResponse, await vault.call('GET', `${DIR}/accounts/${encodeURIComponent(account)}/history`), 'account history');
    if (history.account !== account) return '';
    return history.events.find((e) => e.kind === 'account.created')?.by ?? '';
  }

  /**
   * Runs one action. A refusal is kept under `key` (the row it concerns); a returned sentence
   * becomes the section's notice. Returns whether it succeeded.
   */
  async act(key: string, section: Section, action: () => Promise<string | void>): Promise<boolean> {
    if (this.busy) return false;
    this.busy = true;
    this.notice = null;
    const errors = { ...this.errors };
    delete errors[key];
    this.errors = errors;
    let ok = false;
    try {
      const text = await action();
      if (text) this.notice = { section, text };
      ok = true;
    } catch (e) {
      this.errors = { ...this.errors, [key]: locale.error(e) };
    }
    try {
      await this.reload();
    } finally {
      this.busy = false;
    }
    return ok;
  }

  clear(): void {
    this.accounts = [];
    this.roleRequests = [];
    this.accountRequests = [];
    this.creators = new Map();
    this.errors = {};
    this.notice = null;
    this.loaded = false;
    this.loadError = '';
  }

  /** A directory call whose answer is checked against `schema`. */
  async send<S extends z.ZodType>(method: 'POST' | 'PUT', path: string, schema: S, body: unknown = {}): Promise<z.infer<S>> {
    return parseAnswer(schema, await vault.call(method, `${DIR}${path}`, body), path);
  }
}
