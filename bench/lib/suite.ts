/**
 * The measurements themselves, written once against web-platform globals only (crypto.subtle,
 * WHATWG streams, performance), so the very same code runs in Node (bench/crypto.ts) and in
 * headless Chromium (bench/browser/entry.ts). No Node or DOM-only APIs here.
 */
import { derivePasswordHalf, DEFAULT_ARGON2_PARAMS } from '../../shared/crypto/argon2';
import { CHUNK_SIZE, ciphertextLength, createDecryptStream, createEncryptStream, fileContext } from '../../shared/crypto/chunked';
import { chunkViews, importRawAesKey, makePlaintext, PIECE_SIZE, rawConcurrent, rawSequential, UNIT_SIZE, type Timing } from './raw';

export { mbps, MiB, type Timing } from './raw';

if (UNIT_SIZE !== CHUNK_SIZE) throw new Error('bench/lib/raw.ts UNIT_SIZE must equal the format chunk size');

function sourceOf(pieces: readonly Uint8Array[]): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i < pieces.length) controller.enqueue(pieces[i++]!);
      else controller.close();
    },
  });
}

/**
 * Checks a few bytes at the start, middle and end of every decrypted piece against the plaintext
 * at the same offset: O(1) per piece, so it costs nothing measurable, yet any dropped, repeated,
 * reordered or unencrypted chunk fails (GCM's tag already covers the bytes themselves).
 */
class SpotChecker {
  offset = 0;
  constructor(private readonly plain: readonly Uint8Array[]) {}
  private at(o: number): number {
    return this.plain[Math.floor(o / PIECE_SIZE)]![o % PIECE_SIZE]!;
  }
  check(piece: Uint8Array): void {
    const n = piece.length;
    const windows = [0, n >> 1, Math.max(0, n - 16)];
    for (const start of windows) {
      const end = Math.min(n, start + 16);
      for (let k = start; k < end; k++) {
        if (piece[k] !== this.at(this.offset + k)) {
          throw new Error(`decrypted byte at offset ${this.offset + k} differs from the plaintext`);
        }
      }
    }
    this.offset += n;
  }
}

/**
 * The benchmark state of one environment: a random plaintext, a 32-byte input key, the
 * ciphertext pieces of the last encrypt run (kept for the decrypt run, then dropped).
 */
export class CryptoSuite {
  readonly plaintext: Uint8Array<ArrayBuffer>[];
  readonly units: Uint8Array[];
  readonly total: number;
  private readonly inputKey = crypto.getRandomValues(new Uint8Array(32));
  private readonly context = fileContext('bench', 'file');
  private ciphertext: Uint8Array[] | undefined;
  private rawKey: CryptoKey | undefined;

  constructor(totalBytes: number) {
    this.total = totalBytes;
    this.plaintext = makePlaintext(totalBytes);
    this.units = chunkViews(this.plaintext);
  }

  async aesKey(): Promise<CryptoKey> {
    this.rawKey ??= await importRawAesKey(crypto.getRandomValues(new Uint8Array(32)));
    return this.rawKey;
  }

  /**
   * The project's streaming encryption: plaintext in 1 MiB pieces through createEncryptStream.
   * The ciphertext pieces are kept for decrypt() unless `keep` is false (a diagnostic: then only
   * the header and first chunk are kept, as a real upload would let the rest go).
   */
  async encrypt(keep = true): Promise<Timing> {
    this.ciphertext = undefined; // let the previous round's ciphertext go before making a new one
    const out: Uint8Array[] = [];
    let ctBytes = 0;
    const t0 = performance.now();
    const { stream } = await createEncryptStream(this.inputKey, { context: this.context });
    const reader = sourceOf(this.plaintext).pipeThrough(stream).getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (keep || out.length < 2) out.push(value);
      ctBytes += value.length;
    }
    const ms = performance.now() - t0;
    if (ctBytes !== ciphertextLength(this.total)) throw new Error(`ciphertext is ${ctBytes} bytes, expected ${ciphertextLength(this.total)}`);
    // An identity "encryption" paired with an identity "decryption" would pass the round trip: refuse it.
    const first = out[1];
    if (this.total >= 16 && first && first.subarray(0, 16).every((b, i) => b === this.plaintext[0]![i])) {
      throw new Error('first ciphertext chunk starts with the plaintext: the stream did not encrypt');
    }
    if (keep) this.ciphertext = out;
    return { ms, bytes: this.total };
  }

  /** The project's streaming decryption of the pieces the last encrypt run produced, as they came. */
  async decrypt(): Promise<Timing> {
    const ciphertext = this.ciphertext;
    if (!ciphertext) throw new Error('decrypt() needs an encrypt() run first');
    const checker = new SpotChecker(this.plaintext);
    const t0 = performance.now();
    const reader = sourceOf(ciphertext).pipeThrough(createDecryptStream(this.inputKey, { context: this.context })).getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      checker.check(value); // the decrypted piece is dropped right after: memory stays at ~2 message copies
    }
    const ms = performance.now() - t0;
    if (checker.offset !== this.total) throw new Error(`decrypted ${checker.offset} bytes, expected ${this.total}`);
    return { ms, bytes: this.total };
  }

  dropCiphertext(): void {
    this.ciphertext = undefined;
  }

  async raw(): Promise<Timing> {
    return rawSequential(await this.aesKey(), this.units);
  }

  async rawConcurrent(width: number): Promise<Timing> {
    return rawConcurrent(await this.aesKey(), this.units, width);
  }
}

/** derivePasswordHalf with the default parameters (64 MiB, t=3, p=1): one run, in milliseconds. */
export async function argon2Once(): Promise<number> {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const t0 = performance.now();
  const p = await derivePasswordHalf('correct horse battery staple', salt, DEFAULT_ARGON2_PARAMS);
  const ms = performance.now() - t0;
  if (p.length !== 32) throw new Error('Argon2id returned a wrong-length output');
  return ms;
}

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
