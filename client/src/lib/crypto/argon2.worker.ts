/// <reference lib="webworker" />
// Argon2id blocks for hundreds of milliseconds; in a worker the page keeps painting its progress bar.
import { derivePasswordHalf } from '$shared/crypto/argon2';
import { isCryptoError } from '$shared/crypto/errors';

export interface Argon2Request {
  password: string;
  salt: Uint8Array;
  params: { m: number; t: number; p: number };
}
export type Argon2Response =
  | { ok: true; passwordHalf: Uint8Array }
  | { ok: false; code: string; message: string };

self.onmessage = async (event: MessageEvent<Argon2Request>) => {
  const { password, salt, params } = event.data;
  let reply: Argon2Response;
  try {
    reply = { ok: true, passwordHalf: await derivePasswordHalf(password, salt, params) };
  } catch (e) {
    reply = isCryptoError(e) ? { ok: false, code: e.code, message: e.message } : { ok: false, code: 'E_INTERNAL', message: String(e) };
  }
  // Transfer the buffer so no copy of P lingers in the worker.
  (self as unknown as DedicatedWorkerGlobalScope).postMessage(reply, reply.ok ? [reply.passwordHalf.buffer] : []);
};
