/**
 * The worker's end: the body of the download response, pulled from the page over a MessagePort.
 * The worker asks for one piece at a time and only when the browser reads (ReadableStream pull),
 * so the page, the port and this stream hold a few pieces whatever the file's size.
 *
 * The stream must error, never close, unless exactly `size` bytes arrived and the page said
 * "end": an errored body is a failed download in the browser, a closed one a complete file.
 */
import { messageType, type PortLike } from './protocol';

/** With no word from the page for this long (it sends "alive" every 10 s), the page is gone. */
export const IDLE_MS = 60_000;

export function portSource(port: PortLike, size: number, options: { idleMs?: number } = {}): ReadableStream<Uint8Array> {
  const idleMs = options.idleMs ?? IDLE_MS;
  const inbox: unknown[] = [];
  let waiting: { resolve: (data: unknown) => void; reject: (e: Error) => void } | null = null;
  let idleTimer: ReturnType<typeof setTimeout> | undefined;
  let received = 0;
  let finished = false;

  const armIdle = () => {
    clearTimeout(idleTimer);
    idleTimer = setTimeout(() => {
      const w = waiting;
      waiting = null;
      w?.reject(new Error('the page stopped sending'));
    }, idleMs);
  };
  const onMessage = (event: { data: unknown }) => {
    if (finished) return;
    if (messageType(event.data) === 'alive') {
      if (waiting) armIdle();
      return;
    }
    const w = waiting;
    waiting = null;
    if (w) {
      clearTimeout(idleTimer);
      w.resolve(event.data);
    } else inbox.push(event.data);
  };
  const next = () =>
    inbox.length > 0
      ? Promise.resolve(inbox.shift())
      : new Promise<unknown>((resolve, reject) => {
          waiting = { resolve, reject };
          armIdle();
        });
  const finish = () => {
    finished = true;
    clearTimeout(idleTimer);
    port.removeEventListener('message', onMessage);
    port.close();
  };
  /** The worker's own refusal: the page stops too. */
  const refuse = (controller: ReadableStreamDefaultController<Uint8Array>, why: string) => {
    if (finished) return; // cancelled by the browser meanwhile: nothing left to tell anyone
    port.postMessage({ type: 'cancel' });
    finish();
    controller.error(new Error(why));
  };

  return new ReadableStream<Uint8Array>({
    start() {
      port.addEventListener('message', onMessage);
      port.start();
      port.postMessage({ type: 'started' });
    },
    async pull(controller) {
      port.postMessage({ type: 'pull' });
      for (;;) {
        let message: unknown;
        try {
          message = await next();
        } catch (e) {
          return refuse(controller, (e as Error).message);
        }
        switch (messageType(message)) {
          case 'chunk': {
            const bytes = (message as { bytes?: unknown }).bytes;
            if (!(bytes instanceof ArrayBuffer)) return refuse(controller, 'a piece that is not bytes');
            received += bytes.byteLength;
            if (received > size) return refuse(controller, 'more bytes than announced');
            // A pull that enqueues nothing would never be called again: ask for the next piece.
            if (bytes.byteLength === 0) {
              port.postMessage({ type: 'pull' });
              continue;
            }
            controller.enqueue(new Uint8Array(bytes));
            return;
          }
          case 'end':
            if (received !== size) return refuse(controller, 'fewer bytes than announced');
            finish();
            return controller.close();
          case 'error':
            finish();
            return controller.error(new Error('the page refused the download'));
          default:
            return refuse(controller, 'an unknown message');
        }
      }
    },
    cancel() {
      if (finished) return;
      const w = waiting;
      waiting = null;
      w?.reject(new Error('cancelled'));
      port.postMessage({ type: 'cancel' });
      finish();
    },
  });
}
