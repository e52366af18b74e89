/**
 * Argon2id for the account flows, in the Web Worker, with its progress sent to the page.
 */
import type { DeriveP } from '$shared/protocol/account';
import { derivePasswordHalfInWorker, type Progress } from '../crypto/password-half';

export function workerDeriveP(onProgress: (p: Progress) => void): DeriveP {
  return (password, salt, params) => derivePasswordHalfInWorker(password, salt, params, onProgress);
}
