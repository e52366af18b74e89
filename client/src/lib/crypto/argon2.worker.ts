/// <reference lib="webworker" />
// Argon2id blocks for hundreds of milliseconds; in a worker the page keeps painting its progress bar.
// A page that expects a password soon starts the worker early and sends 'warm': hash-wasm then
// compiles its WebAssembly and grows its memory before the person presses the button.
import { argon2id } from 'hash-wasm';
import { derivePasswordHalf } from '$shared/crypto/argon2';
import { isCryptoError } from '$shared/crypto/errors';

export interface Argon2Request {
  password: string;
  salt: Uint8Array;
  params: { m: number; t: number; p: number };
}
export type Argon2Message = Argon2Request | 'warm';
export type Argon2Response =
  | { ok: true; passwordHalf: Uint8Array }
  | { ok: false; code: string; message: string }
  | { warmed: true };

self.onmessage = async (event: MessageEvent<Argon2Message>) => {
  const scope = self as unknown as DedicatedWorkerGlobalScope;
  if (event.data === 'warm') {
    // The same memory size as the real call, one pass: compiles the module and maps the pages.
    await argon2id({ password: 'warm-up', salt: new Uint8Array(16), parallelism: 1, iterations: 1, memorySize: 65536, hashLength: 32, outputType: 'binary' }).catch(() => {});
    scope.postMessage({ warmed: true } satisfies Argon2Response);
    return;
  }
  const { password, salt, params } = event.data;
  let reply: Argon2Response;
  try {
    reply = { ok: true, passwordHalf: await derivePasswordHalf(password, salt, params) };
  } catch (e) {
    reply = isCryptoError(e) ? { ok: false, code: e.code, message: e.message } : { ok: false, code: 'E_INTERNAL', message: String(e) };
  }
  // Transfer the buffer so no copy of P lingers in the worker.
  scope.postMessage(reply, 'ok' in reply && reply.ok ? [reply.passwordHalf.buffer] : []);
};
