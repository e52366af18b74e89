import { afterEach, describe, expect, it, vi } from 'vitest';
import { PendingStreams } from './pending';
import { DOWNLOAD_STREAM_PATH, idFromPath, isStreamId, newStreamId, OFFER_TTL_MS, parseOffer, PROTOCOL, streamUrl, type DownloadOffer, type PortLike } from './protocol';

function fakePort(): PortLike & { posted: unknown[]; closed: boolean } {
  const port = {
    posted: [] as unknown[],
    closed: false,
    postMessage: (m: unknown) => void port.posted.push(m),
    addEventListener: () => {},
    removeEventListener: () => {},
    start: () => {},
    close: () => void (port.closed = true),
  };
  return port;
}

const offer = (id = newStreamId()): DownloadOffer => ({ type: 'offer', protocol: PROTOCOL, id, name: '合同.pdf', size: 1234, mimeType: 'application/pdf' });

describe('offered downloads waiting for their request', () => {
  afterEach(() => vi.useRealTimers());

  it('are handed out once: a second request for the same id finds nothing', () => {
    const pending = new PendingStreams();
    const o = offer();
    const port = fakePort();
    expect(pending.offer(o, port)).toBe(true);
    expect(pending.take(o.id)).toEqual({ offer: o, port });
    expect(pending.take(o.id)).toBeNull();
    expect(port.closed).toBe(false); // now the stream's
  });

  it('know nothing of an id never offered', () => {
    expect(new PendingStreams().take(newStreamId())).toBeNull();
  });

  it('refuse a second offer under a waiting id, keeping the first', () => {
    const pending = new PendingStreams();
    const o = offer();
    const first = fakePort();
    const second = fakePort();
    pending.offer(o, first);
    expect(pending.offer({ ...o, name: 'other.pdf' }, second)).toBe(false);
    expect(second.closed).toBe(true);
    expect(pending.take(o.id)?.port).toBe(first);
  });

  it('expire after their time, telling the page and closing the port', async () => {
    vi.useFakeTimers();
    const pending = new PendingStreams();
    const o = offer();
    const port = fakePort();
    pending.offer(o, port);
    await vi.advanceTimersByTimeAsync(OFFER_TTL_MS - 1);
    expect(pending.size).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(pending.size).toBe(0);
    expect(port.posted).toEqual([{ type: 'cancel' }]);
    expect(port.closed).toBe(true);
    expect(pending.take(o.id)).toBeNull();
  });

  it('expire by the clock even when the timer has not run (a worker held idle)', () => {
    vi.useFakeTimers();
    const pending = new PendingStreams(1_000);
    const o = offer();
    const port = fakePort();
    pending.offer(o, port);
    vi.setSystemTime(Date.now() + 1_000);
    expect(pending.take(o.id)).toBeNull();
    expect(port.closed).toBe(true);
  });
});

describe('the protocol\'s words', () => {
  it('ids are 128 random bits in hex, and only such paths name one', () => {
    const id = newStreamId();
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(newStreamId()).not.toBe(id);
    expect(idFromPath(streamUrl(id))).toBe(id);
    expect(streamUrl(id)).toBe(`${DOWNLOAD_STREAM_PATH}${id}`);
    for (const path of [`/download-stream/${id}/x`, `/download-stream/${id.toUpperCase()}`, `/download-stream/${id.slice(1)}`, '/download-stream/', `/other/${id}`, `/download-stream/../${id}`]) {
      expect(idFromPath(path)).toBeNull();
    }
    expect(isStreamId(42)).toBe(false);
  });

  it('an offer is read strictly: anything else posted to the worker is ignored', () => {
    const good = offer();
    expect(parseOffer(good)).toEqual(good);
    expect(parseOffer({ ...good, extra: 'dropped' })).toEqual(good);
    for (const bad of [
      null,
      'offer',
      { type: 'keepalive' },
      { ...good, protocol: 'sealvault/download-stream/0' },
      { ...good, id: 'not-an-id' },
      { ...good, name: '' },
      { ...good, name: 'x'.repeat(1025) },
      { ...good, size: -1 },
      { ...good, size: 1.5 },
      { ...good, size: '1234' },
      { ...good, size: 2 ** 53 },
      { ...good, mimeType: 7 },
    ]) {
      expect(parseOffer(bad)).toBeNull();
    }
  });
});
