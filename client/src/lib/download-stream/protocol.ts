/**
 * The words the page and the download service worker exchange (client/src/service-worker.ts).
 * The page offers one download (an id, the file's name, size and type, and one end of a
 * MessageChannel) to the worker that controls it, then sends the browser to
 * DOWNLOAD_STREAM_PATH + id; the worker answers that one request with a stream it pulls from the
 * port. Everything here is plain data, so both sides and the tests (node) share it.
 *
 * The worker is a separate script that may lag one build behind the page (it is replaced after
 * the page loads): PROTOCOL names this version, and a worker that does not answer an offer in
 * these words is simply not used. Nothing is imported: the worker's bundle stays this small.
 */
export const PROTOCOL = 'sealvault/download-stream/1';
/** Reserved for this: the worker answers nothing else, and the relay answers 404 here. */
export const DOWNLOAD_STREAM_PATH = '/download-stream/';
/** How long an offered id waits for its request (then it is forgotten and answers 404). */
export const OFFER_TTL_MS = 30_000;
/** The page's pieces are gathered into messages of about this size: fewer round trips, few in memory. */
export const BATCH_BYTES = 1024 * 1024;

/** What either side of the MessageChannel needs: a browser MessagePort and node's both fit. */
export interface PortLike {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  removeEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  start(): void;
  close(): void;
}

/**
 * Page to worker, on the controller: an offer (with the port transferred beside it); besides it
 * only `{ type: 'keepalive' }` (every 10 s while a download streams) and `{ type: 'claim' }`
 * (take control of an uncontrolled page).
 */
export interface DownloadOffer {
  type: 'offer';
  protocol: typeof PROTOCOL;
  id: string;
  name: string;
  /** plaintext bytes: the Content-Length, and exactly what the stream must carry */
  size: number;
  mimeType: string;
}

/** Worker to page, on the port. */
export type WorkerMessage =
  | { type: 'accepted' }
  /** the browser asked for the id: the download has begun */
  | { type: 'started' }
  /** send the next piece */
  | { type: 'pull' }
  /** the browser stopped reading (the person cancelled, the disk is full) */
  | { type: 'cancel' };

/** Page to worker, on the port. */
export type PageMessage =
  | { type: 'chunk'; bytes: ArrayBuffer }
  | { type: 'end' }
  /** the download was refused: the worker errors the stream so the browser fails the download */
  | { type: 'error'; message: string }
  /** the page is still there, between pieces that take long (a slow block) */
  | { type: 'alive' };

const ID = /^[0-9a-f]{32}$/;

/** 128 random bits: one id per download, guessed by no other page. */
export function newStreamId(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}

export function isStreamId(value: unknown): value is string {
  return typeof value === 'string' && ID.test(value);
}

export function streamUrl(id: string): string {
  return `${DOWNLOAD_STREAM_PATH}${id}`;
}

/** The id named by a request's path, or null when the path is not exactly the reserved path and an id. */
export function idFromPath(pathname: string): string | null {
  if (!pathname.startsWith(DOWNLOAD_STREAM_PATH)) return null;
  const id = pathname.slice(DOWNLOAD_STREAM_PATH.length);
  return isStreamId(id) ? id : null;
}

const MAX_NAME = 1024;

/** A strict reading of an offer: anything else posted to the worker is ignored. */
export function parseOffer(data: unknown): DownloadOffer | null {
  if (typeof data !== 'object' || data === null) return null;
  const o = data as Record<string, unknown>;
  if (o.type !== 'offer' || o.protocol !== PROTOCOL || !isStreamId(o.id)) return null;
  if (typeof o.name !== 'string' || o.name.length === 0 || o.name.length > MAX_NAME) return null;
  if (typeof o.size !== 'number' || !Number.isSafeInteger(o.size) || o.size < 0) return null;
  if (typeof o.mimeType !== 'string' || o.mimeType.length > 255) return null;
  return { type: 'offer', protocol: PROTOCOL, id: o.id, name: o.name, size: o.size, mimeType: o.mimeType };
}

export function messageType(data: unknown): string | null {
  return typeof data === 'object' && data !== null && typeof (data as { type?: unknown }).type === 'string' ? (data as { type: string }).type : null;
}
