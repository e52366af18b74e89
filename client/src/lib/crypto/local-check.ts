/**
 * Encrypts a file with the Sealvault file format and decrypts it again in one streaming pass,
 * comparing SHA-256 of the input and the output, so any size works in bounded memory.
 */
import { createSHA256 } from 'hash-wasm';
import { createDecryptStream, createEncryptStream, fileContext } from '$shared/crypto/chunked';
import { generateDek } from '$shared/crypto/contract-keys';

export interface CheckResult {
  bytes: number;
  ms: number;
  intact: boolean;
  /** The decrypted bytes, only when asked for with `keepDecrypted` (they are held in memory). */
  decrypted?: Uint8Array;
}

function tap(onBytes: (piece: Uint8Array) => void): TransformStream<Uint8Array, Uint8Array> {
  return new TransformStream({
    transform(piece, controller) {
      onBytes(piece);
      controller.enqueue(piece);
    },
  });
}

export async function encryptDecryptCheck(file: Blob, onProgress: (fraction: number) => void, keepDecrypted = false): Promise<CheckResult> {
  const dek = await generateDek({ extractable: false });
  const context = fileContext('local-check', 'file');
  const [before, after] = await Promise.all([createSHA256(), createSHA256()]);
  before.init();
  after.init();
  let read = 0;
  const started = performance.now();
  const { stream: encrypt } = await createEncryptStream(dek, { context });
  const out = (file.stream() as ReadableStream<Uint8Array>)
    .pipeThrough(
      tap((p) => {
        read += p.length;
        before.update(p);
        onProgress(file.size === 0 ? 1 : read / file.size);
      }),
    )
    .pipeThrough(encrypt)
    .pipeThrough(createDecryptStream(dek, { context }));
  let written = 0;
  const pieces: Uint8Array[] = [];
  const reader = out.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    written += value.length;
    after.update(value);
    if (keepDecrypted) pieces.push(value);
  }
  const intact = written === file.size && before.digest('hex') === after.digest('hex');
  const result: CheckResult = { bytes: written, ms: performance.now() - started, intact };
  if (keepDecrypted) result.decrypted = concat(pieces, written);
  return result;
}

function concat(pieces: Uint8Array[], length: number): Uint8Array {
  const whole = new Uint8Array(length);
  let at = 0;
  for (const piece of pieces) {
    whole.set(piece, at);
    at += piece.length;
  }
  return whole;
}
