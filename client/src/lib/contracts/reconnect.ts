/**
 * Waiting out a lost connection during a long transfer: the relay restarts, the laptop changes
 * network. A resumed upload skips the blocks the relay already holds, so trying again costs
 * little; the delays grow so a relay that stays down is not hammered, and the browser's
 * `online` event cuts a wait short. After RECONNECT_GIVE_UP_MS the person decides.
 */
const DELAYS_MS = [1_000, 2_000, 4_000, 8_000, 15_000];
export const RECONNECT_GIVE_UP_MS = 10 * 60_000;

/** The pause before try `attempt` (1-based) after a transient failure. */
export function reconnectDelayMs(attempt: number): number {
  return DELAYS_MS[Math.min(Math.max(attempt, 1), DELAYS_MS.length) - 1]!;
}

type OnlineEvents = Pick<EventTarget, 'addEventListener' | 'removeEventListener'>;

/** Resolves after `ms`, or earlier when `events` (the window) says the browser is back online. */
export function pauseForReconnect(ms: number, events: OnlineEvents | undefined = typeof window === 'undefined' ? undefined : window): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      events?.removeEventListener('online', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    events?.addEventListener('online', done);
  });
}
