/**
 * Runs Argon2id in a Web Worker and reports progress. hash-wasm computes the hash in one WASM
 * call with no progress hook, so progress is estimated from this device's measured speed
 * (remembered per browser) and the requested memory and passes; it never claims 100% before
 * the worker answers.
 */
import { checkArgon2Params, type Argon2Params } from '$shared/crypto/argon2';
import { SealvaultCryptoError, type ErrorCode } from '$shared/crypto/errors';
import type { Argon2Request, Argon2Response } from './argon2.worker';

const CALIBRATION_KEY = 'sealvault.argon2.msPerMiBPass';
const DEFAULT_MS_PER_MIB_PASS = 3.5;

export interface Progress {
  /** 0..1, estimated */
  fraction: number;
  elapsedMs: number;
  estimateMs: number;
}

function readCalibration(): number {
  const v = Number(globalThis.localStorage?.getItem(CALIBRATION_KEY));
  return Number.isFinite(v) && v > 0.1 && v < 1000 ? v : DEFAULT_MS_PER_MIB_PASS;
}

export function estimateMs(params: Argon2Params): number {
  return readCalibration() * (params.m / 1024) * params.t;
}

function startWorker(): Worker {
  return new Worker(new URL('./argon2.worker.ts', import.meta.url), { type: 'module', name: 'argon2id' });
}

/** A worker started and warmed ahead of the password (login, registration): used once, then gone. */
let warm: { worker: Worker; ready: Promise<void> } | null = null;

/**
 * Starts the Argon2id worker and lets it compile hash-wasm and touch 64 MiB before the person
 * submits: about a tenth of a second less to wait after pressing the button.
 */
export function prewarmArgon2(): void {
  if (warm || typeof Worker === 'undefined') return;
  const worker = startWorker();
  const ready = new Promise<void>((resolve) => {
    worker.onmessage = () => resolve();
    worker.onerror = () => resolve();
  });
  worker.postMessage('warm');
  warm = { worker, ready };
}

async function takeWorker(): Promise<Worker> {
  const taken = warm;
  warm = null;
  if (!taken) return startWorker();
  await taken.ready;
  return taken.worker;
}

export async function derivePasswordHalfInWorker(
  password: string,
  salt: Uint8Array,
  params: unknown,
  onProgress: (p: Progress) => void = () => {},
  signal?: AbortSignal,
): Promise<Uint8Array> {
  // Checked here too, so hostile parameters are refused before a worker even starts.
  const checked = checkArgon2Params(params);
  const estimate = estimateMs(checked);
  const started = performance.now();
  const worker = await takeWorker();
  const timer = setInterval(() => {
    const elapsedMs = performance.now() - started;
    onProgress({ fraction: Math.min(0.95, elapsedMs / estimate), elapsedMs, estimateMs: estimate });
  }, 50);
  try {
    const reply = await new Promise<Argon2Response>((resolve, reject) => {
      worker.onmessage = (e: MessageEvent<Argon2Response>) => {
        if (!('warmed' in e.data)) resolve(e.data);
      };
      worker.onerror = (e) => reject(new Error(`Argon2id worker failed: ${e.message}`));
      signal?.addEventListener('abort', () => reject(new DOMException('cancelled', 'AbortError')), { once: true });
      const request: Argon2Request = { password, salt, params: checked };
      worker.postMessage(request);
    });
    if ('warmed' in reply) throw new Error('unreachable');
    if (!reply.ok) throw new SealvaultCryptoError(reply.code as ErrorCode, reply.message.replace(/^E_[A-Z_]+: /, ''));
    const elapsedMs = performance.now() - started;
    globalThis.localStorage?.setItem(CALIBRATION_KEY, String(elapsedMs / ((checked.m / 1024) * checked.t)));
    onProgress({ fraction: 1, elapsedMs, estimateMs: estimate });
    return reply.passwordHalf;
  } finally {
    clearInterval(timer);
    worker.terminate();
  }
}
