/**
 * Recovery challenges: 32 random bytes per attempt, kept on the relay for 2 minutes under a
 * random id and taken exactly once by /recovery/finish. Unknown names and accounts without a
 * recovery key get a challenge too (with no account behind it), so the answer to /recovery/start
 * never tells whether a name exists or has a recovery key.
 */
import { randomBytes } from 'node:crypto';
import { HttpError } from '../http/errors';
import { randomId } from './util';

export const RECOVERY_CHALLENGE_TTL_MS = 2 * 60_000;
/** Bounds memory if many recoveries are started and never finished; the rate limits keep it far below. */
const MAX_PENDING = 10_000;

export interface PendingRecovery {
  /** null for a name without an account or without a recovery key (the fake path) */
  account: string | null;
  /** folded username the challenge was asked for */
  username: string;
  address: string;
  challenge: Uint8Array;
  expiresAt: number;
}

export class PendingRecoveries {
  private readonly pending = new Map<string, PendingRecovery>();

  constructor(private readonly now: () => number) {}

  add(r: Omit<PendingRecovery, 'challenge' | 'expiresAt'>): { id: string; recovery: PendingRecovery } {
    const now = this.now();
    if (this.pending.size >= MAX_PENDING) for (const [id, p] of this.pending) if (p.expiresAt <= now) this.pending.delete(id);
    if (this.pending.size >= MAX_PENDING) throw new HttpError(429, 'E_RATE_LIMITED', 'too many recoveries in progress; try again in a minute');
    const id = randomId();
    const recovery = { ...r, challenge: new Uint8Array(randomBytes(32)), expiresAt: now + RECOVERY_CHALLENGE_TTL_MS };
    this.pending.set(id, recovery);
    return { id, recovery };
  }

  /** Removes and returns the challenge (the caller checks expiresAt): a second finish with the same id finds nothing. */
  take(id: string): PendingRecovery | undefined {
    const r = this.pending.get(id);
    this.pending.delete(id);
    return r;
  }

  get size(): number {
    return this.pending.size;
  }
}
