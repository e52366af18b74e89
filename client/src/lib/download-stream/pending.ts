/**
 * The worker's offered downloads, waiting for the browser's request. An id is used once and
 * lives OFFER_TTL_MS: a late or repeated request for it, or a guessed one, finds nothing (404).
 */
import { OFFER_TTL_MS, type DownloadOffer, type PortLike } from './protocol';

export interface PendingStream<P extends PortLike = PortLike> {
  offer: DownloadOffer;
  port: P;
}

export class PendingStreams<P extends PortLike = PortLike> {
  private readonly entries = new Map<string, PendingStream<P> & { expires: number; timer: ReturnType<typeof setTimeout> }>();

  constructor(private readonly ttlMs = OFFER_TTL_MS) {}

  /** False (and the port closed) when the id is already waiting: an id names one download. */
  offer(offer: DownloadOffer, port: P): boolean {
    if (this.entries.has(offer.id)) {
      port.close();
      return false;
    }
    const timer = setTimeout(() => this.expire(offer.id), this.ttlMs);
    this.entries.set(offer.id, { offer, port, expires: Date.now() + this.ttlMs, timer });
    return true;
  }

  /** The offer for `id`, removed; null when unknown, taken or expired. */
  take(id: string): PendingStream<P> | null {
    const entry = this.entries.get(id);
    if (!entry) return null;
    this.entries.delete(id);
    clearTimeout(entry.timer);
    // A worker's timers may be held back while it is idle; the clock still tells.
    if (Date.now() >= entry.expires) {
      this.drop(entry.port);
      return null;
    }
    return { offer: entry.offer, port: entry.port };
  }

  get size(): number {
    return this.entries.size;
  }

  private expire(id: string): void {
    const entry = this.entries.get(id);
    if (!entry) return;
    this.entries.delete(id);
    this.drop(entry.port);
  }

  // The page is told at once rather than waiting out its own start timeout.
  private drop(port: P): void {
    port.postMessage({ type: 'cancel' });
    port.close();
  }
}
