/**
 * SHA-256 of streamed blocks, computed off the event loop. The relay hashes every byte it
 * stores (to refuse a block that differs from its signed manifest) and every byte it serves (to
 * catch a damaged copy); on the event loop that costs about 1 s of CPU per GB, time the loop
 * cannot spend on TLS and other requests.
 *
 * Bytes are staged into 256 KiB shared segments. A full segment is handed to the job's optional
 * sink (the block stores: one write per replica per segment instead of one per 16 KiB network
 * chunk) and posted to a worker thread that hashes it meanwhile; the segment is reused once both
 * are done. Memory per job is bounded by its window of segments in flight, and segments are
 * recycled, so a long upload allocates nothing per chunk. SEALVAULT_HASH_THREADS=0 hashes on the
 * event loop instead (a one-core host gains nothing from a worker).
 */
import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

export const SEGMENT = 256 * 1024;
const DEFAULT_WINDOW = 8;
const SPARE_SEGMENTS = 32;
export const HASH_THREADS_ENV = 'SEALVAULT_HASH_THREADS';

// Plain JavaScript so the worker runs the same under tsx, vitest and a build.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const jobs = new Map();
parentPort.on('message', (m) => {
  if (m.type === 'update') {
    let h = jobs.get(m.job);
    if (!h) { h = createHash('sha256'); jobs.set(m.job, h); }
    h.update(new Uint8Array(m.sab, 0, m.length));
    parentPort.postMessage({ type: 'ack', job: m.job });
  } else if (m.type === 'digest') {
    const h = jobs.get(m.job) || createHash('sha256');
    jobs.delete(m.job);
    parentPort.postMessage({ type: 'digest', job: m.job, digest: h.digest() });
  } else if (m.type === 'drop') {
    jobs.delete(m.job);
  }
});
`;

export interface HashJob {
  /** Adds bytes; returns a promise only when the job's window is full (wait for it). */
  update(chunk: Uint8Array): void | Promise<void>;
  /** Waits for every segment (hash and sink), then returns the SHA-256 of everything added. */
  digest(): Promise<Buffer>;
  /** Drops the job (a failed upload or download); pending sink writes are left to finish. */
  abort(): void;
}

export interface JobOptions {
  /**
   * Receives every staged segment, in order, before it is hashed. The segment's memory is reused
   * only after the returned promise settles, so the sink may keep it until then.
   */
  sink?: (segment: Buffer) => Promise<void>;
  /** Segments in flight before update() makes the caller wait. */
  window?: number;
}

/** Where a job's segments are hashed: a worker thread, or inline. */
interface Backend {
  hash(sab: SharedArrayBuffer, length: number): Promise<void>;
  digest(): Promise<Buffer>;
  drop(): void;
}

interface Pending {
  acks: { resolve: () => void; reject: (e: Error) => void }[];
  digest?: { resolve: (d: Buffer) => void; reject: (e: Error) => void };
}

class HashWorker {
  readonly jobs = new Map<number, Pending>();
  worker: Worker;

  constructor(private readonly pool: HashPool) {
    this.worker = this.spawn();
  }

  private spawn(): Worker {
    const worker = new Worker(WORKER_SOURCE, { eval: true });
    worker.unref();
    worker.on('message', (m: { type: 'ack' | 'digest'; job: number; digest?: Uint8Array }) => {
      const job = this.jobs.get(m.job);
      if (!job) return;
      if (m.type === 'ack') job.acks.shift()?.resolve();
      else {
        this.jobs.delete(m.job);
        job.digest?.resolve(Buffer.from(m.digest!));
      }
    });
    worker.on('error', (e) => this.fail(e));
    worker.on('exit', (code) => {
      if (!this.pool.closed) this.fail(new Error(`hash worker exited with ${code}`));
    });
    return worker;
  }

  private fail(e: Error): void {
    const jobs = [...this.jobs.values()];
    this.jobs.clear();
    for (const job of jobs) {
      for (const ack of job.acks.splice(0)) ack.reject(e);
      job.digest?.reject(e);
    }
    if (!this.pool.closed) this.worker = this.spawn();
  }

  backend(id: number): Backend {
    const pending: Pending = { acks: [] };
    this.jobs.set(id, pending);
    return {
      hash: (sab, length) =>
        new Promise<void>((resolve, reject) => {
          pending.acks.push({ resolve, reject });
          this.worker.postMessage({ type: 'update', job: id, sab, length });
        }),
      digest: () =>
        new Promise<Buffer>((resolve, reject) => {
          pending.digest = { resolve, reject };
          this.worker.postMessage({ type: 'digest', job: id });
        }),
      drop: () => {
        this.jobs.delete(id);
        this.worker.postMessage({ type: 'drop', job: id });
      },
    };
  }
}

function inlineBackend(): Backend {
  const hash = createHash('sha256');
  return {
    hash: (sab, length) => {
      hash.update(new Uint8Array(sab, 0, length));
      return Promise.resolve();
    },
    digest: () => Promise.resolve(hash.digest()),
    drop: () => undefined,
  };
}

/** SEALVAULT_HASH_THREADS, or one thread per spare core (at least one, at most four). */
export function hashThreads(env: Record<string, string | undefined> = process.env): number {
  const raw = env[HASH_THREADS_ENV];
  if (raw === undefined || raw.trim() === '') return Math.max(1, Math.min(4, availableParallelism() - 1));
  if (!/^[0-9]{1,2}$/.test(raw.trim())) throw new Error(`${HASH_THREADS_ENV} must be a whole number (0 hashes on the event loop), got "${raw}"`);
  return Number(raw);
}

export class HashPool {
  closed = false;
  private readonly workers: HashWorker[];
  private readonly spare: SharedArrayBuffer[] = [];
  private nextJob = 1;

  /** `threads` worker threads; 0 hashes on the calling thread instead. */
  constructor(threads = hashThreads()) {
    if (!Number.isSafeInteger(threads) || threads < 0 || threads > 64) throw new Error(`hash threads must be 0 to 64, got ${threads}`);
    this.workers = Array.from({ length: threads }, () => new HashWorker(this));
  }

  private take(): SharedArrayBuffer {
    return this.spare.pop() ?? new SharedArrayBuffer(SEGMENT);
  }

  private give(sab: SharedArrayBuffer): void {
    if (this.spare.length < SPARE_SEGMENTS) this.spare.push(sab);
  }

  job(options: JobOptions = {}): HashJob {
    if (this.closed) throw new Error('hash pool is closed');
    const id = this.nextJob++;
    const backend = this.workers.length === 0 ? inlineBackend() : this.workers[id % this.workers.length]!.backend(id);
    const window = options.window ?? DEFAULT_WINDOW;
    const inFlight = new Set<Promise<void>>();
    const waiters: (() => void)[] = [];
    let failure: Error | undefined;
    let current: { sab: SharedArrayBuffer; view: Uint8Array } | undefined;
    let fill = 0;
    let finished = false;

    const flush = () => {
      const { sab } = current!;
      const length = fill;
      current = undefined;
      fill = 0;
      const hashed = backend.hash(sab, length);
      const written = options.sink?.(Buffer.from(sab, 0, length));
      const settled: Promise<void> = Promise.all([hashed, written]).then(
        () => {
          inFlight.delete(settled);
          this.give(sab);
          waiters.shift()?.();
        },
        (e: unknown) => {
          inFlight.delete(settled);
          failure ??= e instanceof Error ? e : new Error(String(e));
          for (const wake of waiters.splice(0)) wake();
        },
      );
      inFlight.add(settled);
    };

    const job: HashJob = {
      update: (chunk) => {
        if (finished) throw new Error('hash job already finished');
        if (failure) throw failure;
        let offset = 0;
        while (offset < chunk.length) {
          if (!current) {
            if (inFlight.size >= window) {
              const rest = chunk.subarray(offset);
              return new Promise<void>((wake) => waiters.push(wake)).then(() => job.update(rest));
            }
            const sab = this.take();
            current = { sab, view: new Uint8Array(sab) };
          }
          const n = Math.min(SEGMENT - fill, chunk.length - offset);
          current.view.set(n === chunk.length ? chunk : chunk.subarray(offset, offset + n), fill);
          fill += n;
          offset += n;
          if (fill === SEGMENT) flush();
        }
        return undefined;
      },
      digest: async () => {
        if (finished) throw new Error('hash job already finished');
        finished = true;
        if (current && fill > 0) flush();
        while (inFlight.size > 0) await Promise.all(inFlight);
        if (failure) {
          backend.drop();
          throw failure;
        }
        return backend.digest();
      },
      abort: () => {
        if (finished) return;
        finished = true;
        if (current) this.give(current.sab);
        current = undefined;
        backend.drop();
      },
    };
    return job;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
  }
}
