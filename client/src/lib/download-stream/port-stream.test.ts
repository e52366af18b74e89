/**
 * The page's sink and the worker's source joined by a real MessageChannel (node's), as in the
 * browser: bytes arrive whole and in order, the page sends only what the worker asked for, and
 * every failure on either side fails the other, never ending as a short "complete" stream.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { messageType, type PortLike } from './protocol';
import { DownloadStreamStopped, portSink } from './port-sink';
import { portSource } from './port-source';

const opened: MessagePort[] = [];
afterEach(() => {
  for (const port of opened.splice(0)) port.close();
});

/** A channel whose page end records every message it sends. */
function channel(): { page: PortLike; worker: PortLike; sent: unknown[] } {
  const { port1, port2 } = new MessageChannel();
  opened.push(port1, port2);
  const sent: unknown[] = [];
  const page: PortLike = {
    postMessage: (message, transfer) => {
      sent.push(message);
      port1.postMessage(message, transfer ?? []);
    },
    addEventListener: (type, listener) => port1.addEventListener(type, listener as (e: MessageEvent) => void),
    removeEventListener: (type, listener) => port1.removeEventListener(type, listener as (e: MessageEvent) => void),
    start: () => port1.start(),
    close: () => port1.close(),
  };
  return { page, worker: port2, sent };
}

const chunksSent = (sent: unknown[]) => sent.filter((m) => messageType(m) === 'chunk').length;

function pattern(length: number, seed = 7): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

/** A producer like downloadFile's pipeline: `pieces` pieces of `size` bytes, made only when asked for. */
function producer(bytes: Uint8Array, pieceSize: number, onMade?: () => void, failAt?: number): ReadableStream<Uint8Array> {
  let at = 0;
  let made = 0;
  return new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (failAt !== undefined && made === failAt) return controller.error(new Error('E_HASH: block 3 does not match its signed hash'));
        if (at >= bytes.length) return controller.close();
        // A fresh copy each time, as the decrypt stream hands out fresh arrays.
        controller.enqueue(bytes.slice(at, at + pieceSize));
        at += pieceSize;
        made++;
        onMade?.();
      },
    },
    { highWaterMark: 0 },
  );
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const tick = (ms = 30) => new Promise((r) => setTimeout(r, ms));

describe('a download streamed from the page to the worker', () => {
  it('arrives whole and in order, in batches of the agreed size', async () => {
    const { page, worker, sent } = channel();
    const bytes = pattern(10 * 1024 + 123);
    const source = portSource(worker, bytes.length);
    const [received] = await Promise.all([readAll(source), producer(bytes, 700).pipeTo(portSink(page, { batchBytes: 1024 }))]);
    expect(received).toEqual(bytes);
    expect(chunksSent(sent)).toBe(11);
    expect(sent.at(-1)).toEqual({ type: 'end' });
  });

  it('handles an empty file', async () => {
    const { page, worker } = channel();
    const [received] = await Promise.all([readAll(portSource(worker, 0)), producer(new Uint8Array(0), 1).pipeTo(portSink(page))]);
    expect(received).toHaveLength(0);
  });

  it('sends only what the worker asked for: an unread download stops the producer within a few pieces', async () => {
    const { page, worker, sent } = channel();
    const bytes = pattern(64 * 1024);
    let made = 0;
    const source = portSource(worker, bytes.length);
    const piping = producer(bytes, 256, () => made++).pipeTo(portSink(page, { batchBytes: 1024 }));
    await tick();
    // Nothing read yet: the source pulled once to fill its queue of one piece, and the page's
    // next batch is full and waiting for a pull. 256 pieces would otherwise all be made by now.
    expect(chunksSent(sent)).toBe(1);
    expect(made).toBeLessThanOrEqual(2 * (1024 / 256) + 2);
    const reader = source.getReader();
    await reader.read();
    await tick();
    expect(chunksSent(sent)).toBe(2);
    expect(made).toBeLessThanOrEqual(3 * (1024 / 256) + 2);
    reader.releaseLock();
    const [rest] = await Promise.all([readAll(source), piping]);
    expect(rest).toEqual(bytes.subarray(1024));
  });

  it('copies what it is given, so a writer may reuse its array', async () => {
    const { page, worker } = channel();
    const source = portSource(worker, 8);
    const reading = readAll(source);
    const writer = portSink(page, { batchBytes: 4 }).getWriter();
    const scratch = new Uint8Array([1, 2, 3, 4]);
    await writer.write(scratch);
    scratch.fill(9);
    await writer.write(new Uint8Array([5, 6, 7, 8]));
    await writer.close();
    expect(await reading).toEqual(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]));
  });
});

describe('failures reach the other side', () => {
  it('a refusal on the page errors the download (the browser fails it), after bytes already went out', async () => {
    const { page, worker, sent } = channel();
    const bytes = pattern(8 * 1024);
    const source = portSource(worker, bytes.length);
    // Read as the browser does, all along: pipeTo aborts its sink only once the pending write is done.
    let got = 0;
    const reading = (async () => {
      const reader = source.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return 'closed';
        got += value.length;
      }
    })();
    const piping = producer(bytes, 512, undefined, 5).pipeTo(portSink(page, { batchBytes: 1024 }));
    await expect(piping).rejects.toThrow(/E_HASH/);
    await expect(reading).rejects.toThrow(/refused/);
    expect(got).toBe(2048);
    expect(sent.at(-1)).toEqual({ type: 'error', message: 'refused' });
  });

  it('an abort while a write waits for the worker goes through at once (a paused download)', async () => {
    const { page, worker, sent } = channel();
    const source = portSource(worker, 4096);
    const writer = portSink(page, { batchBytes: 1024 }).getWriter();
    await writer.write(pattern(1024));
    await tick();
    const waiting = writer.write(pattern(1024));
    await tick();
    await writer.abort(new Error('E_HASH'));
    await expect(waiting).rejects.toThrow();
    expect(sent.at(-1)).toEqual({ type: 'error', message: 'refused' });
    await expect(readAll(source)).rejects.toThrow(/refused/);
  });

  it('a stream that ends short of the announced size errors instead of closing', async () => {
    const { page, worker } = channel();
    const source = portSource(worker, 5000);
    const reading = readAll(source);
    await producer(pattern(4000), 1000).pipeTo(portSink(page, { batchBytes: 1024 }));
    await expect(reading).rejects.toThrow(/fewer bytes than announced/);
  });

  it('a stream longer than announced errors, and the page is told to stop', async () => {
    const { page, worker } = channel();
    const source = portSource(worker, 1000);
    const reading = readAll(source);
    const piping = producer(pattern(4000), 1000).pipeTo(portSink(page, { batchBytes: 1024 }));
    await expect(reading).rejects.toThrow(/more bytes than announced/);
    await expect(piping).rejects.toBeInstanceOf(DownloadStreamStopped);
  });

  it('the browser cancelling the download fails the page\'s next write', async () => {
    const { page, worker } = channel();
    const source = portSource(worker, 64 * 1024);
    const piping = producer(pattern(64 * 1024), 512).pipeTo(portSink(page, { batchBytes: 1024 }));
    const reader = source.getReader();
    await reader.read();
    await reader.cancel('the person cancelled');
    const stopped = await piping.catch((e: unknown) => e);
    expect(stopped).toBeInstanceOf(DownloadStreamStopped);
    expect((stopped as DownloadStreamStopped).reason).toBe('cancelled');
  });

  it('a download the browser never requests fails instead of waiting for ever', async () => {
    const { page } = channel();
    const writer = portSink(page, { batchBytes: 4, startTimeoutMs: 50 }).getWriter();
    const stopped = await writer.write(pattern(8)).catch((e: unknown) => e);
    expect(stopped).toBeInstanceOf(DownloadStreamStopped);
    expect((stopped as DownloadStreamStopped).reason).toBe('not-started');
  });

  it('a page that goes silent fails the download; "alive" keeps a slow one going', async () => {
    const { page, worker } = channel();
    const source = portSource(worker, 10, { idleMs: 120 });
    const writer = portSink(page, { batchBytes: 4, aliveEveryMs: 40 }).getWriter();
    const reading = readAll(source);
    await writer.write(pattern(4));
    // Nothing more for three idle periods, but the page says it is alive.
    await tick(400);
    await writer.write(pattern(6));
    await writer.close();
    expect(await reading).toHaveLength(10);

    const silent = channel();
    const lonely = readAll(portSource(silent.worker, 10, { idleMs: 60 }));
    await expect(lonely).rejects.toThrow(/stopped sending/);
  });
});
