import { afterEach, describe, expect, it, vi } from 'vitest';
import { pauseForReconnect, reconnectDelayMs } from './reconnect';

describe('reconnecting after a lost connection', () => {
  afterEach(() => vi.useRealTimers());

  it('waits longer after each failed try, up to 15 s', () => {
    expect([1, 2, 3, 4, 5, 6, 50].map(reconnectDelayMs)).toEqual([1_000, 2_000, 4_000, 8_000, 15_000, 15_000, 15_000]);
    expect(reconnectDelayMs(0)).toBe(1_000);
  });

  it('ends a pause when its time is up', async () => {
    vi.useFakeTimers();
    let over = false;
    const pause = pauseForReconnect(4_000).then(() => (over = true));
    await vi.advanceTimersByTimeAsync(3_999);
    expect(over).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await pause;
    expect(over).toBe(true);
  });

  it('ends a pause early when the browser is back online', async () => {
    vi.useFakeTimers();
    let over = false;
    const events = new EventTarget();
    const pause = pauseForReconnect(15_000, events).then(() => (over = true));
    await vi.advanceTimersByTimeAsync(100);
    expect(over).toBe(false);
    events.dispatchEvent(new Event('online'));
    await pause;
    expect(over).toBe(true);
  });
});
