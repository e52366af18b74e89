/**
 * Online guessing limits for login. With OPAQUE a wrong password is noticed by the client, which
 * then never calls /login/finish, so the relay counts every /login/start as an attempt and gives
 * it back when the login succeeds. What remains counted is exactly the unsuccessful attempts.
 *
 * In memory and per process: a restart resets the counters, which costs an attacker a restart
 * they cannot cause. Fixed windows keep the state to one small record per key.
 */
export interface LimitOptions {
  /** attempts allowed per window */
  limit: number;
  windowMs: number;
}

const MAX_KEYS = 100_000;

export class AttemptLimiter {
  private readonly counts = new Map<string, { count: number; windowStart: number }>();

  constructor(
    private readonly options: LimitOptions,
    private readonly now: () => number,
  ) {}

  private current(key: string): { count: number; windowStart: number } {
    const now = this.now();
    let entry = this.counts.get(key);
    if (!entry || now - entry.windowStart >= this.options.windowMs) {
      if (this.counts.size >= MAX_KEYS) this.prune(now);
      entry = { count: 0, windowStart: now };
      this.counts.set(key, entry);
    }
    return entry;
  }

  /** True when the key has used up its attempts in this window. */
  blocked(key: string): boolean {
    return this.current(key).count >= this.options.limit;
  }

  hit(key: string): void {
    this.current(key).count++;
  }

  /** Gives one attempt back (a login that succeeded was not a guess). */
  refund(key: string): void {
    const entry = this.counts.get(key);
    if (entry && entry.count > 0) entry.count--;
  }

  reset(key: string): void {
    this.counts.delete(key);
  }

  private prune(now: number): void {
    for (const [key, entry] of this.counts) if (now - entry.windowStart >= this.options.windowMs) this.counts.delete(key);
    // Still full of live keys (a flood from many addresses): forget the oldest rather than grow without bound.
    if (this.counts.size >= MAX_KEYS) {
      const oldest = this.counts.keys().next().value;
      if (oldest !== undefined) this.counts.delete(oldest);
    }
  }
}

export interface LoginLimits {
  perUsername: LimitOptions;
  perAddress: LimitOptions;
}

/** 10 unsuccessful logins per name and 50 per client address per 15 minutes. */
export const DEFAULT_LOGIN_LIMITS: LoginLimits = {
  perUsername: { limit: 10, windowMs: 15 * 60_000 },
  perAddress: { limit: 50, windowMs: 15 * 60_000 },
};
