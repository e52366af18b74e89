/**
 * The page's use of the download worker: registered once at start, used for a save only when it
 * already controls the page and answers an offer in this build's words; otherwise the caller
 * falls back (private windows, a worker refused by the browser, a first visit cut short).
 */
import { dev } from '$app/environment';
import { newStreamId, PROTOCOL, streamUrl, type DownloadOffer } from './protocol';
import { portSink } from './port-sink';

const CONTROL_WAIT_MS = 3_000;
const ACCEPT_WAIT_MS = 2_000;

/**
 * Scope "/" (the script's own folder, so no Service-Worker-Allowed header); updateViaCache
 * "none" so every update check asks the relay: a worker replaced with the app is never kept old.
 * A refusal (no service workers here, a certificate the browser does not trust) is quiet.
 */
export function registerDownloadWorker(): void {
  if (typeof navigator === 'undefined' || !('serviceWorker' in navigator)) return;
  navigator.serviceWorker.register('/service-worker.js', { scope: '/', type: dev ? 'module' : 'classic', updateViaCache: 'none' }).catch(() => {});
}

/**
 * The worker controlling this page. With none yet but a registration (a first visit, a forced
 * reload), the active worker is asked to claim the page and given a moment; with no
 * registration at all (refused, or never made) there is nothing to wait for.
 */
async function controller(container: ServiceWorkerContainer): Promise<ServiceWorker | null> {
  if (container.controller) return container.controller;
  const registration = await container.getRegistration('/').catch(() => undefined);
  if (!registration) return null;
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      container.removeEventListener('controllerchange', done);
      resolve(container.controller);
    };
    const timer = setTimeout(done, CONTROL_WAIT_MS);
    container.addEventListener('controllerchange', done);
    registration.active?.postMessage({ type: 'claim' });
  });
}

function accepted(port: MessagePort): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      clearTimeout(timer);
      port.removeEventListener('message', onMessage);
      resolve(ok);
    };
    const onMessage = (e: MessageEvent) => done((e.data as { type?: unknown } | null)?.type === 'accepted');
    const timer = setTimeout(() => done(false), ACCEPT_WAIT_MS);
    port.addEventListener('message', onMessage);
    port.start();
  });
}

/**
 * Starts a browser download of `size` bytes named `name`, fed by the returned stream; null when
 * no worker can carry it (nothing is started then). The caller writes exactly `size` bytes and
 * closes, or aborts on a refusal, which fails the browser's download.
 */
export async function openDownloadStream(file: { name: string; size: number; type: string }): Promise<WritableStream<Uint8Array> | null> {
  const container = typeof navigator === 'undefined' ? undefined : navigator.serviceWorker;
  if (!container) return null;
  const worker = await controller(container);
  if (!worker) return null;
  const { port1, port2 } = new MessageChannel();
  const offer: DownloadOffer = { type: 'offer', protocol: PROTOCOL, id: newStreamId(), name: file.name, size: file.size, mimeType: file.type };
  worker.postMessage(offer, [port2]);
  if (!(await accepted(port1))) {
    port1.close();
    return null;
  }
  // Listening before the request exists, so "started" cannot be missed.
  const frame = hiddenFrame();
  const sink = portSink(port1, {
    onAlive: () => navigator.serviceWorker.controller?.postMessage({ type: 'keepalive' }),
    // Kept a while after the last byte: removing the frame at once could cut the download short.
    onStop: () => setTimeout(() => frame.remove(), 60_000),
  });
  frame.src = streamUrl(offer.id);
  return sink;
}

/**
 * A hidden frame navigated to the stream's URL: the worker answers that navigation with an
 * attachment, which becomes a browser download. Not <a download>, which Chromium fetches past
 * the worker; not the tab itself, which a missing worker would replace with the relay's 404.
 */
function hiddenFrame(): HTMLIFrameElement {
  const frame = document.createElement('iframe');
  frame.hidden = true;
  frame.setAttribute('aria-hidden', 'true');
  frame.tabIndex = -1;
  document.body.append(frame);
  return frame;
}
