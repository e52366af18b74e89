/**
 * The page's end: a WritableStream for downloadFile whose bytes go to the worker's download
 * response. Bytes are copied into one batch buffer; a full batch leaves only when the worker
 * asks ("pull"), and until then write() does not resolve, so downloadFile stops fetching blocks.
 *
 * close() sends what is left and "end"; abort() (downloadFile's refusal) sends "error", which
 * the worker turns into a failed download. The worker saying "cancel", or never saying
 * "started", fails the next write with a DownloadStreamStopped.
 */
import { BATCH_BYTES, messageType, type PortLike } from './protocol';

export class DownloadStreamStopped extends Error {
  override readonly name = 'DownloadStreamStopped';
  constructor(readonly reason: 'cancelled' | 'not-started') {
    super(reason === 'cancelled' ? 'the browser stopped the download' : 'the browser did not start the download');
  }
}

export interface SinkOptions {
  batchBytes?: number;
  /** how long the browser may take to request the download */
  startTimeoutMs?: number;
  aliveEveryMs?: number;
  /** called with each "alive": the page also wakes the worker, whose life a port message does not extend */
  onAlive?: () => void;
  /** called once when the stream is done with, whichever way */
  onStop?: () => void;
}

export function portSink(port: PortLike, options: SinkOptions = {}): WritableStream<Uint8Array> {
  const batchBytes = options.batchBytes ?? BATCH_BYTES;
  let batch = new Uint8Array(batchBytes);
  let filled = 0;
  let credits = 0;
  let failure: DownloadStreamStopped | null = null;
  let wake: (() => void) | null = null;
  let stopped = false;

  const wakeWriter = () => {
    const w = wake;
    wake = null;
    w?.();
  };
  const onMessage = (event: { data: unknown }) => {
    switch (messageType(event.data)) {
      case 'started':
        clearTimeout(startTimer);
        return;
      case 'pull':
        credits++;
        return wakeWriter();
      case 'cancel':
        failure ??= new DownloadStreamStopped('cancelled');
        return wakeWriter();
    }
  };
  const startTimer = setTimeout(() => {
    failure ??= new DownloadStreamStopped('not-started');
    wakeWriter();
  }, options.startTimeoutMs ?? 20_000);
  const aliveTimer = setInterval(() => {
    port.postMessage({ type: 'alive' });
    options.onAlive?.();
  }, options.aliveEveryMs ?? 10_000);
  port.addEventListener('message', onMessage);
  port.start();

  const stop = () => {
    if (stopped) return;
    stopped = true;
    clearTimeout(startTimer);
    clearInterval(aliveTimer);
    port.removeEventListener('message', onMessage);
    port.close();
    options.onStop?.();
  };
  const failed = () => {
    stop();
    return failure!;
  };
  const credit = async (signal: AbortSignal) => {
    for (;;) {
      if (failure) throw failed();
      // Aborted while waiting (a refusal while the browser is not reading, a paused download):
      // the write gives up so that abort() can run and fail the download now.
      signal.throwIfAborted();
      if (credits > 0) return void credits--;
      await new Promise<void>((resolve) => (wake = resolve));
    }
  };
  const send = async (signal: AbortSignal) => {
    await credit(signal);
    const piece = filled === batch.length ? batch : batch.slice(0, filled);
    // Transferred, not copied: the batch buffer becomes the worker's.
    port.postMessage({ type: 'chunk', bytes: piece.buffer }, [piece.buffer]);
    batch = new Uint8Array(batchBytes);
    filled = 0;
  };

  return new WritableStream<Uint8Array>({
    start(controller) {
      controller.signal.addEventListener('abort', wakeWriter, { once: true });
    },
    async write(chunk, controller) {
      if (failure) throw failed();
      // Copied at once: the writer may reuse its array after write() resolves.
      for (let at = 0; at < chunk.length; ) {
        const n = Math.min(batch.length - filled, chunk.length - at);
        batch.set(chunk.subarray(at, at + n), filled);
        filled += n;
        at += n;
        if (filled === batch.length) await send(controller.signal);
      }
    },
    async close() {
      if (filled > 0) await send(new AbortController().signal);
      if (failure) throw failed();
      port.postMessage({ type: 'end' });
      stop();
    },
    abort() {
      // The reason stays on the page, which shows it; the worker only needs to fail the download.
      if (!stopped) port.postMessage({ type: 'error', message: 'refused' });
      stop();
    },
  });
}
