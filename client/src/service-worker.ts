/**
 * The download worker (issue 5): saves a decrypted file to disk as a stream where the browser has
 * no File System Access API, so no tab ever holds a whole file. It answers exactly one kind of
 * request, a same-origin GET of /download-stream/<id> that the page offered a moment before, with
 * a stream the page feeds (lib/download-stream). Everything else goes to the network untouched:
 * no caching, so it can never serve stale app code or a stale API answer.
 *
 * Why SvelteKit's service-worker convention rather than a hand-written static script: kit builds
 * this file, with its imports, into one classic script at /service-worker.js, outside _app/, so
 * the relay serves it like any top-level build file (text/javascript, Cache-Control: no-cache,
 * the same CSP, which it needs nothing beyond: it fetches nothing itself). The import map and
 * SRI cover the page's module graph only; a worker script is neither a module of that graph nor
 * an inline script, so neither machinery touches it. Kit's own registration (an inline script)
 * is switched off in svelte.config.js: the app registers it itself, to ignore a refusal quietly
 * and to wait for control before relying on it (lib/download-stream/page.ts).
 *
 * Nothing secret reaches the worker but the plaintext being saved and its name, size and type.
 */
import { downloadHeaders } from '$lib/download-stream/headers';
import { PendingStreams } from '$lib/download-stream/pending';
import { portSource } from '$lib/download-stream/port-source';
import { DOWNLOAD_STREAM_PATH, idFromPath, messageType, parseOffer } from '$lib/download-stream/protocol';

// The few service-worker types used here; the WebWorker lib would clash with DOM in this program.
interface WorkerEvent extends Event {
  waitUntil(promise: Promise<unknown>): void;
}
interface WorkerFetchEvent extends WorkerEvent {
  readonly request: Request;
  respondWith(response: Response | Promise<Response>): void;
}
interface WorkerMessageEvent extends WorkerEvent {
  readonly data: unknown;
  readonly ports: readonly MessagePort[];
}
interface WorkerScope {
  readonly location: { readonly origin: string };
  readonly clients: { claim(): Promise<void> };
  skipWaiting(): Promise<void>;
  addEventListener(type: 'install' | 'activate', listener: (event: WorkerEvent) => void): void;
  addEventListener(type: 'fetch', listener: (event: WorkerFetchEvent) => void): void;
  addEventListener(type: 'message', listener: (event: WorkerMessageEvent) => void): void;
}

const worker = self as unknown as WorkerScope;
const pending = new PendingStreams<MessagePort>();

// A new worker takes over at once: it holds no cache, so nothing can be left half-updated, and
// a page loaded before it can stream its next download.
worker.addEventListener('install', (event) => event.waitUntil(worker.skipWaiting()));
worker.addEventListener('activate', (event) => event.waitUntil(worker.clients.claim()));

worker.addEventListener('message', (event) => {
  // A page that is not controlled yet (loaded before activation, or by a forced reload).
  if (messageType(event.data) === 'claim') return event.waitUntil(worker.clients.claim());
  // The page's "keepalive" lands here too: arriving is its whole purpose (a message event
  // extends the worker's life while a long download streams).
  const offer = parseOffer(event.data);
  const port = event.ports[0];
  if (!offer || !port) return;
  if (pending.offer(offer, port)) port.postMessage({ type: 'accepted' });
});

worker.addEventListener('fetch', (event) => {
  const { request } = event;
  const url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== worker.location.origin || !url.pathname.startsWith(DOWNLOAD_STREAM_PATH)) return;
  const id = idFromPath(url.pathname);
  const taken = id === null ? null : pending.take(id);
  if (!taken) {
    event.respondWith(new Response('no such download\n', { status: 404, headers: { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-store' } }));
    return;
  }
  event.respondWith(new Response(portSource(taken.port, taken.offer.size), { headers: downloadHeaders(taken.offer) }));
});
