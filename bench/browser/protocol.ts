/** Messages between the bench page and its dedicated Web Workers (bench/browser/worker.ts). */
import type { Timing } from '../lib/raw';

export type ToWorker =
  /** Make `bytes` of random plaintext (untimed) and keep the key; nonces start at `nonceBase`. */
  | { type: 'setup'; key: CryptoKey; bytes: number; nonceBase: number }
  /** Encrypt all of it in 16 KiB calls, one awaited after another. */
  | { type: 'run' };

export type FromWorker = { type: 'ready' } | { type: 'done'; timing: Timing } | { type: 'error'; message: string };
