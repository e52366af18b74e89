/**
 * A sliding-window counter per key (an account, or a client address), in memory: at most `max`
 * calls in any `windowMs`. It forgets idle keys, so its size is bounded by the keys seen in one
 * window. A restart forgets the counts; the lockout after failed signatures is kept in SQLite.
 */
export interface RateLimitResult {
  allowed: boolean;
  /** the first refusal of this key in the current window (so refusals are audited once, not flooded) */
  firstRefusal: boolean;
  retryAfterSeconds: number;
}

export class SlidingWindowLimiter {
  private readonly hits = new Map<string, { times: number[]; refusedAt: number | null }>();
  private lastSweep = 0;

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
  ) {}

  hit(key: string, now: number): RateLimitResult {
    this.sweep(now);
    const entry = this.hits.get(key) ?? { times: [], refusedAt: null };
    entry.times = entry.times.filter((t) => t > now - this.windowMs);
    if (entry.refusedAt !== null && entry.refusedAt <= now - this.windowMs) entry.refusedAt = null;
    this.hits.set(key, entry);
    if (entry.times.length >= this.max) {
      const firstRefusal = entry.refusedAt === null;
      if (firstRefusal) entry.refusedAt = now;
      const retryAfterSeconds = Math.max(1, Math.ceil((entry.times[0]! + this.windowMs - now) / 1000));
      return { allowed: false, firstRefusal, retryAfterSeconds };
    }
    entry.times.push(now);
    return { allowed: true, firstRefusal: false, retryAfterSeconds: 0 };
  }

  private sweep(now: number): void {
    if (now - this.lastSweep < this.windowMs) return;
    this.lastSweep = now;
    for (const [key, entry] of this.hits) {
      if (entry.times.every((t) => t <= now - this.windowMs) && (entry.refusedAt === null || entry.refusedAt <= now - this.windowMs)) this.hits.delete(key);
    }
  }
}
