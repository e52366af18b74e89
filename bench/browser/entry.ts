/**
 * The page side of the Chromium bench: bench/crypto.ts bundles this with esbuild, serves it on
 * 127.0.0.1 and calls the methods of `globalThis.sealvaultBench` one by one with page.evaluate.
 * All data is made here, in the page; nothing but small results crosses the wire.
 */
import { argon2Once, CryptoSuite } from '../lib/suite';
import type { Timing } from '../lib/raw';
import type { FromWorker, ToWorker } from './protocol';

let suite: CryptoSuite | undefined;
let workers: Worker[] = [];

function need(): CryptoSuite {
  if (!suite) throw new Error('call setup() first');
  return suite;
}

function send(w: Worker, msg: ToWorker): void {
  w.postMessage(msg);
}

/** Resolves with the worker's next message, rejecting on an error message or an error event. */
function next(w: Worker): Promise<FromWorker> {
  return new Promise((resolve, reject) => {
    w.onmessage = (e: MessageEvent<FromWorker>) => (e.data.type === 'error' ? reject(new Error(`worker: ${e.data.message}`)) : resolve(e.data));
    w.onerror = (e) => reject(new Error(`worker failed: ${e.message}`));
  });
}

const api = {
  /** Makes the plaintext (random, 1 MiB pieces) and starts `workerCount` workers holding an equal share each. */
  async setup(totalBytes: number, workerCount: number): Promise<string> {
    suite = new CryptoSuite(totalBytes);
    const key = await suite.aesKey(); // non-extractable, yet structured-clonable to a worker
    workers = Array.from({ length: workerCount }, () => new Worker('/worker.js', { type: 'module', name: 'bench' }));
    const share = totalBytes / workerCount;
    if (!Number.isInteger(share / (16 * 1024))) throw new Error('total bytes must split into whole 16 KiB units per worker');
    await Promise.all(
      workers.map((w, i) => {
        const ready = next(w);
        send(w, { type: 'setup', key, bytes: share, nonceBase: i * 2 ** 28 });
        return ready;
      }),
    );
    return navigator.userAgent;
  },
  encrypt: (keep = true): Promise<Timing> => need().encrypt(keep),
  decrypt: (): Promise<Timing> => need().decrypt(),
  dropCiphertext: (): void => need().dropCiphertext(),
  raw: (): Promise<Timing> => need().raw(),
  rawConcurrent: (width: number): Promise<Timing> => need().rawConcurrent(width),
  /** The raw baseline split over the first `count` workers; wall clock from the start signal to the last result. */
  async workersRaw(count: number): Promise<{ wall: Timing; each: Timing[] }> {
    const used = workers.slice(0, count);
    if (used.length !== count) throw new Error(`only ${workers.length} workers were started`);
    const t0 = performance.now();
    const results = used.map((w) => next(w));
    for (const w of used) send(w, { type: 'run' });
    const each = (await Promise.all(results)).map((r) => {
      if (r.type !== 'done') throw new Error(`unexpected worker message ${r.type}`);
      return r.timing;
    });
    const ms = performance.now() - t0;
    return { wall: { ms, bytes: each.reduce((a, t) => a + t.bytes, 0) }, each };
  },
  argon2: (): Promise<number> => argon2Once(),
  teardown(): void {
    for (const w of workers) w.terminate();
    workers = [];
    suite = undefined;
  },
};

export type BenchApi = typeof api;

(globalThis as unknown as { sealvaultBench: BenchApi }).sealvaultBench = api;
