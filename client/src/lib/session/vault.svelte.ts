/**
 * The unlocked vault of this tab: the session and the account's private keys as non-extractable
 * CryptoKeys, in memory only (never in storage: a reload locks). Logout, the idle timeout of the
 * security policy and an ended session all drop the keys.
 */
import { SessionResponse, type AccountProfile, MeResponse } from '$shared/schemas/directory';
import { parseAnswer, type UnlockedAccount } from '$shared/protocol/account';
import { RelayApiError } from '$shared/protocol/relay-transport';
import { VersionMemory } from '$shared/protocol/version-memory';
import { keepVersions } from './version-store';
import { logMemory } from '../audit/log-memory.svelte';
import { transport } from '../relay';
import { site } from './site.svelte';

export type LockReason = 'logout' | 'idle' | 'expired' | 'password-changed';

/** Refresh the 15-minute session this long before it ends, if the user was active. */
const REFRESH_BEFORE_S = 120;
const TICK_MS = 5_000;
const ACTIVITY_EVENTS = ['pointerdown', 'keydown', 'wheel', 'touchstart'] as const;

const memories = new Map<string, VersionMemory>();

/**
 * The rollback memory of `account` for this tab (space key versions, contract records and
 * files), sealed in IndexedDB after each change so it also survives a reload (version-store.ts).
 */
export function versionMemory(account: string): VersionMemory {
  let memory = memories.get(account);
  if (!memory) {
    memory = new VersionMemory();
    memories.set(account, memory);
  }
  return memory;
}

class Vault {
  unlocked = $state.raw<UnlockedAccount | null>(null);
  profile = $state.raw<AccountProfile | null>(null);
  lockReason = $state<LockReason | null>(null);
  private lastActivity = Date.now();
  private timer: ReturnType<typeof setInterval> | null = null;
  private refreshing = false;
  /** Set by the layout: where to send the person when the vault locks by itself. */
  onLock: (reason: LockReason) => void = () => {};

  get roles() {
    return this.unlocked?.roles ?? [];
  }

  has(role: string): boolean {
    return this.roles.some((r) => r === role);
  }

  async open(account: UnlockedAccount): Promise<void> {
    const memory = versionMemory(account.account);
    // Once per account and tab: what earlier sessions saw, so a reload does not forget it.
    if (!memory.onChange) await keepVersions(memory, account.account, account.localIndexKey);
    this.unlocked = { ...account, seen: memory };
    this.lockReason = null;
    this.lastActivity = Date.now();
    this.watch();
    // Not awaited: the check of the audit log must not hold up the unlock; a fork shows as a banner.
    void logMemory.check(account);
    await this.reloadProfile();
  }

  async reloadProfile(): Promise<void> {
    const me = parseAnswer(MeResponse, await this.call('GET', '/api/directory/me'), 'me');
    this.profile = me.account;
  }

  /** A relay call with this tab's session; an ended session locks the vault. */
  async call(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<unknown> {
    const current = this.unlocked;
    if (!current) throw new RelayApiError(401, 'E_LOCKED_VAULT', 'the vault is locked');
    try {
      return await transport.request(method, path, body, current.session);
    } catch (e) {
      if (e instanceof RelayApiError && e.status === 401 && this.unlocked === current) this.lock('expired', false);
      throw e;
    }
  }

  /** Replaces the session (after a password change the relay issues a new one and ends the others). */
  replaceSession(session: string, expiresAt: number): void {
    if (this.unlocked) this.unlocked = { ...this.unlocked, session, sessionExpiresAt: expiresAt };
  }

  lock(reason: LockReason, tellRelay = true): void {
    const current = this.unlocked;
    this.unlocked = null;
    this.profile = null;
    this.lockReason = reason;
    this.unwatch();
    logMemory.clear();
    // Dropping the references is what frees the CryptoKeys; the session is ended at the relay too.
    if (current && tellRelay) void transport.request('POST', '/api/directory/logout', {}, current.session).catch(() => {});
    if (current) this.onLock(reason);
  }

  private onActivity = () => {
    this.lastActivity = Date.now();
  };

  private watch(): void {
    this.unwatch();
    for (const name of ACTIVITY_EVENTS) globalThis.addEventListener?.(name, this.onActivity, { passive: true });
    this.timer = setInterval(() => void this.tick(), TICK_MS);
  }

  private unwatch(): void {
    for (const name of ACTIVITY_EVENTS) globalThis.removeEventListener?.(name, this.onActivity);
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private async tick(): Promise<void> {
    const current = this.unlocked;
    if (!current) return;
    const idleMs = site.policy.idleTimeoutMinutes * 60_000;
    if (Date.now() - this.lastActivity > idleMs) {
      this.lock('idle');
      return;
    }
    const secondsLeft = current.sessionExpiresAt - Date.now() / 1000;
    if (secondsLeft < REFRESH_BEFORE_S && !this.refreshing) {
      this.refreshing = true;
      try {
        const answer = parseAnswer(SessionResponse, await this.call('POST', '/api/directory/session/refresh', {}), 'session refresh');
        if (this.unlocked === current) this.unlocked = { ...current, session: answer.session, sessionExpiresAt: answer.expiresAt, roles: answer.roles };
      } catch {
        // call() locks on 401; a network error is retried on the next tick
      } finally {
        this.refreshing = false;
      }
    }
  }
}

export const vault = new Vault();
