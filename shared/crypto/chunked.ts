/**
 * c2sp.org/chunked-encryption v1, instantiated with HKDF-Expand-SHA-256 and AEAD_AES_256_GCM.
 *
 *   key || base nonce || commitment = HKDF-Expand(input key,
 *       "c2sp.org/chunked-encryption@v1+AEAD_AES_256_GCM" || 0x00 || salt || context, 32 + 12 + 32)
 *   ciphertext = salt (24) || commitment (32) || AES-GCM(chunk 0) || ... || AES-GCM(final chunk)
 *
 * Chunks are 16 KiB of plaintext; the final chunk is always shorter (possibly empty), which is the
 * end-of-message signal. Chunk i uses base nonce XOR i (big-endian) and an empty AAD. The
 * commitment is checked before any chunk is decrypted. Nothing here returns partial plaintext
 * of a failed message: a whole-message call throws, and a stream errors (its consumer must
 * discard what it has read; see docs/FORMATS.md).
 */
import { abytes, anumber, concatBytes, equalBytes, own, randomBytes, utf8 } from './bytes';
import { fail } from './errors';
import { hkdfExpand } from './hkdf';

export const CHUNK_SIZE = 16 * 1024;
export const TAG_SIZE = 16;
export const SALT_SIZE = 24;
export const COMMITMENT_SIZE = 32;
export const HEADER_SIZE = SALT_SIZE + COMMITMENT_SIZE;
export const CIPHERTEXT_CHUNK_SIZE = CHUNK_SIZE + TAG_SIZE;
export const AEAD_NAME = 'AEAD_AES_256_GCM';
/** Sealvault's own cap (the spec allows 2^38 chunks and asks implementations not to go below 2^32). */
export const MAX_CHUNKS = 2 ** 32;
const INFO_PREFIX = utf8(`c2sp.org/chunked-encryption@v1+${AEAD_NAME}\u0000`);
/** How many chunk operations a stream keeps in flight: enough to overlap WebCrypto's async hops. */
const DEFAULT_IN_FLIGHT = 16;

/** The input key: a 32-byte secret, as raw bytes or as an HMAC-SHA-256 CryptoKey (the contract DEK). */
export type InputKey = CryptoKey | Uint8Array;

interface MessageKeys {
  key: CryptoKey;
  baseNonce: Uint8Array;
  commitment: Uint8Array;
}

async function deriveMessageKeys(inputKey: InputKey, salt: Uint8Array, context: Uint8Array): Promise<MessageKeys> {
  if (inputKey instanceof Uint8Array) abytes('inputKey', inputKey, 32);
  abytes('salt', salt, SALT_SIZE);
  abytes('context', context);
  const okm = await hkdfExpand(inputKey, concatBytes(INFO_PREFIX, salt, context), 32 + 12 + COMMITMENT_SIZE);
  const key = await crypto.subtle.importKey('raw', own(okm.subarray(0, 32)), 'AES-GCM', false, ['encrypt', 'decrypt']);
  const out = { key, baseNonce: okm.slice(32, 44), commitment: okm.slice(44, 76) };
  okm.fill(0);
  return out;
}

/** base nonce XOR counter, the counter as a big-endian integer over the last 5 bytes (38 bits used). */
function chunkNonce(baseNonce: Uint8Array, index: number): Uint8Array<ArrayBuffer> {
  if (index >= MAX_CHUNKS) fail('E_LIMIT', `chunk counter ${index} reached the limit of ${MAX_CHUNKS}`);
  const nonce = own(baseNonce);
  let n = index;
  for (let i = 11; i >= 7 && n > 0; i--) {
    nonce[i]! ^= n % 256;
    n = Math.floor(n / 256);
  }
  return nonce;
}

async function sealChunk(keys: MessageKeys, index: number, plaintext: Uint8Array): Promise<Uint8Array> {
  const ct = await crypto.subtle.encrypt({ name: 'AES-GCM', iv: chunkNonce(keys.baseNonce, index) }, keys.key, plaintext as BufferSource);
  return new Uint8Array(ct);
}

async function openChunk(keys: MessageKeys, index: number, ciphertext: Uint8Array): Promise<Uint8Array> {
  try {
    const pt = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: chunkNonce(keys.baseNonce, index) }, keys.key, ciphertext as BufferSource);
    return new Uint8Array(pt);
  } catch (e) {
    return fail('E_AUTH', `chunk ${index} failed authentication: the file was changed, reordered or cut`, e);
  }
}

/** Ciphertext length of a message of `plaintextLength` bytes. */
export function ciphertextLength(plaintextLength: number): number {
  anumber('plaintextLength', plaintextLength);
  const full = Math.floor(plaintextLength / CHUNK_SIZE);
  if (full + 1 > MAX_CHUNKS) fail('E_LIMIT', 'message too long');
  return HEADER_SIZE + full * CIPHERTEXT_CHUNK_SIZE + (plaintextLength % CHUNK_SIZE) + TAG_SIZE;
}

/** Chunk count and plaintext length implied by a ciphertext length; refuses impossible lengths. */
export function parseCiphertextLength(length: number): { chunkCount: number; plaintextLength: number } {
  anumber('ciphertextLength', length);
  if (length < HEADER_SIZE) fail('E_TRUNCATED', `ciphertext of ${length} bytes is shorter than the ${HEADER_SIZE}-byte header`);
  const body = length - HEADER_SIZE;
  const full = Math.floor(body / CIPHERTEXT_CHUNK_SIZE);
  const rest = body % CIPHERTEXT_CHUNK_SIZE;
  if (rest < TAG_SIZE) fail('E_TRUNCATED', 'ciphertext ends without a final chunk');
  if (full + 1 > MAX_CHUNKS) fail('E_LIMIT', 'message too long');
  return { chunkCount: full + 1, plaintextLength: full * CHUNK_SIZE + rest - TAG_SIZE };
}

async function checkHeader(inputKey: InputKey, header: Uint8Array, context: Uint8Array): Promise<MessageKeys> {
  if (header.length < HEADER_SIZE) fail('E_TRUNCATED', 'ciphertext is shorter than its header');
  const keys = await deriveMessageKeys(inputKey, header.subarray(0, SALT_SIZE), context);
  if (!equalBytes(keys.commitment, header.subarray(SALT_SIZE, HEADER_SIZE))) {
    fail('E_COMMITMENT', 'key commitment does not match: wrong key, wrong file context, or a changed header');
  }
  return keys;
}

export interface EncryptOptions {
  context: Uint8Array;
  /**
   * Only for reproducing published test vectors. A salt must never come from anywhere but this
   * device's CSPRNG: a repeated salt under one key repeats the key and nonce.
   */
  testOnlySalt?: Uint8Array;
  /**
   * Re-creating the ciphertext of a file whose block hashes are already signed, to resume its
   * upload. The same salt over the same plaintext gives the same bytes; over a changed file it
   * would reuse nonces, so the caller MUST compare every block with the signed hashes and let
   * none that differ leave the device (shared/protocol/files.ts does).
   */
  reencryptSalt?: Uint8Array;
}

/** Encrypts a whole in-memory message. For large files use createEncryptStream. */
export async function encryptMessage(inputKey: InputKey, plaintext: Uint8Array, options: EncryptOptions): Promise<Uint8Array> {
  abytes('plaintext', plaintext);
  const total = ciphertextLength(plaintext.length);
  const salt = options.testOnlySalt ?? randomBytes(SALT_SIZE);
  const keys = await deriveMessageKeys(inputKey, salt, options.context);
  const out = new Uint8Array(total);
  out.set(salt, 0);
  out.set(keys.commitment, SALT_SIZE);
  const chunkCount = Math.floor(plaintext.length / CHUNK_SIZE) + 1;
  const sealed = await Promise.all(
    Array.from({ length: chunkCount }, (_, i) => sealChunk(keys, i, plaintext.subarray(i * CHUNK_SIZE, Math.min((i + 1) * CHUNK_SIZE, plaintext.length)))),
  );
  sealed.forEach((c, i) => out.set(c, HEADER_SIZE + i * CIPHERTEXT_CHUNK_SIZE));
  return out;
}

/** Decrypts a whole in-memory message; throws on any failure and returns nothing partial. */
export async function decryptMessage(inputKey: InputKey, ciphertext: Uint8Array, options: { context: Uint8Array }): Promise<Uint8Array> {
  abytes('ciphertext', ciphertext);
  if (ciphertext.length < HEADER_SIZE) fail('E_TRUNCATED', `ciphertext of ${ciphertext.length} bytes is shorter than the ${HEADER_SIZE}-byte header`);
  const keys = await checkHeader(inputKey, ciphertext, options.context);
  const { chunkCount, plaintextLength } = parseCiphertextLength(ciphertext.length);
  const out = new Uint8Array(plaintextLength);
  const opened = await Promise.allSettled(
    Array.from({ length: chunkCount }, (_, i) => {
      const start = HEADER_SIZE + i * CIPHERTEXT_CHUNK_SIZE;
      return openChunk(keys, i, ciphertext.subarray(start, Math.min(start + CIPHERTEXT_CHUNK_SIZE, ciphertext.length)));
    }),
  );
  for (let i = 0; i < opened.length; i++) {
    const r = opened[i]!;
    if (r.status === 'rejected') {
      out.fill(0);
      throw r.reason;
    }
    out.set(r.value, i * CHUNK_SIZE);
  }
  return out;
}

/**
 * Keeps up to `limit` chunk operations running and hands results out in order. WebCrypto calls
 * are asynchronous, so several in flight hide the per-call hop without unbounded buffering.
 */
class OrderedPipeline {
  private readonly queue: Promise<Uint8Array>[] = [];
  constructor(private readonly limit: number) {}
  async push(work: Promise<Uint8Array>, emit: (bytes: Uint8Array) => void): Promise<void> {
    // Attach a handler now so a rejection waiting in the queue is not reported as unhandled.
    work.catch(() => undefined);
    this.queue.push(work);
    while (this.queue.length >= this.limit) emit(await this.queue.shift()!);
  }
  async drain(emit: (bytes: Uint8Array) => void): Promise<void> {
    while (this.queue.length > 0) emit(await this.queue.shift()!);
  }
}

/** Accumulates stream pieces into fixed-size units without copying when a piece already holds whole units. */
class Reframer {
  private pending = new Uint8Array(0);
  constructor(private readonly unit: number) {}
  /** Returns the whole units available now; keeps the remainder. */
  take(piece: Uint8Array): Uint8Array[] {
    const units: Uint8Array[] = [];
    let data = piece;
    if (this.pending.length > 0) {
      const need = this.unit - this.pending.length;
      if (data.length < need) {
        this.pending = concatBytes(this.pending, data);
        return units;
      }
      units.push(concatBytes(this.pending, data.subarray(0, need)));
      data = data.subarray(need);
      this.pending = new Uint8Array(0);
    }
    while (data.length >= this.unit) {
      units.push(data.subarray(0, this.unit));
      data = data.subarray(this.unit);
    }
    if (data.length > 0) this.pending = data.slice();
    return units;
  }
  rest(): Uint8Array {
    return this.pending;
  }
}

export interface EncryptStream {
  salt: Uint8Array;
  commitment: Uint8Array;
  stream: TransformStream<Uint8Array, Uint8Array>;
}

/**
 * A TransformStream from plaintext pieces of any size to the ciphertext (header first). Memory
 * stays bounded by the in-flight window plus one chunk, whatever the message length.
 */
export async function createEncryptStream(
  inputKey: InputKey,
  options: EncryptOptions & { inFlight?: number },
): Promise<EncryptStream> {
  const salt = options.testOnlySalt ?? options.reencryptSalt ?? randomBytes(SALT_SIZE);
  abytes('salt', salt, SALT_SIZE);
  const keys = await deriveMessageKeys(inputKey, salt, options.context);
  const frames = new Reframer(CHUNK_SIZE);
  const pipeline = new OrderedPipeline(options.inFlight ?? DEFAULT_IN_FLIGHT);
  let index = 0;
  const stream = new TransformStream<Uint8Array, Uint8Array>(
    {
      start(controller) {
        controller.enqueue(concatBytes(salt, keys.commitment));
      },
      async transform(piece, controller) {
        abytes('plaintext piece', piece);
        // A full 16 KiB chunk is never final (the final chunk is always shorter), so it can go now.
        for (const unit of frames.take(piece)) {
          await pipeline.push(sealChunk(keys, index++, unit), (c) => controller.enqueue(c));
        }
      },
      async flush(controller) {
        await pipeline.push(sealChunk(keys, index++, frames.rest()), (c) => controller.enqueue(c));
        await pipeline.drain((c) => controller.enqueue(c));
      },
    },
    { highWaterMark: 4 },
    { highWaterMark: 4 },
  );
  return { salt, commitment: keys.commitment, stream };
}

/**
 * A TransformStream from ciphertext pieces to plaintext. The commitment is checked before any
 * chunk; a full-size ciphertext chunk is never the final one, so no look-ahead is needed, and a
 * stream that ends on a chunk boundary is reported as truncated. On any failure the stream
 * errors: the consumer must discard everything it has read (see docs/FORMATS.md).
 */
export function createDecryptStream(
  inputKey: InputKey,
  options: { context: Uint8Array; inFlight?: number },
): TransformStream<Uint8Array, Uint8Array> {
  abytes('context', options.context);
  let head = new Uint8Array(0);
  const frames = new Reframer(CIPHERTEXT_CHUNK_SIZE);
  const pipeline = new OrderedPipeline(options.inFlight ?? DEFAULT_IN_FLIGHT);
  let keys: MessageKeys | undefined;
  let index = 0;
  const emitTo = (controller: TransformStreamDefaultController<Uint8Array>) => (p: Uint8Array) => controller.enqueue(p);
  return new TransformStream<Uint8Array, Uint8Array>(
    {
      async transform(piece, controller) {
        abytes('ciphertext piece', piece);
        let data = piece;
        if (!keys) {
          const need = HEADER_SIZE - head.length;
          head = concatBytes(head, piece.subarray(0, need));
          data = piece.subarray(Math.min(need, piece.length));
          if (head.length < HEADER_SIZE) return;
          keys = await checkHeader(inputKey, head, options.context);
        }
        for (const unit of frames.take(data)) {
          await pipeline.push(openChunk(keys, index++, unit), emitTo(controller));
        }
      },
      async flush(controller) {
        if (!keys) fail('E_TRUNCATED', 'ciphertext is shorter than its header');
        const last = frames.rest();
        if (last.length < TAG_SIZE) fail('E_TRUNCATED', 'ciphertext ends without a final chunk');
        await pipeline.push(openChunk(keys, index++, last), emitTo(controller));
        await pipeline.drain(emitTo(controller));
      },
    },
    { highWaterMark: 4 },
    { highWaterMark: 4 },
  );
}

export interface RandomAccessReader {
  chunkCount: number;
  plaintextLength: number;
  /** Byte range of chunk `index` within the whole ciphertext. */
  chunkRange(index: number): { offset: number; length: number };
  /** Decrypts one chunk given exactly its ciphertext bytes. */
  decryptChunk(index: number, chunkCiphertext: Uint8Array): Promise<Uint8Array>;
}

/**
 * Random access over a ciphertext of known length: checks the commitment from the 56-byte header
 * first, then opens single chunks by index. Callers that need the message length authenticated
 * must decrypt the final chunk (the spec's rule for seeking relative to the end).
 */
export async function openRandomAccess(
  inputKey: InputKey,
  header: Uint8Array,
  options: { context: Uint8Array; ciphertextLength: number },
): Promise<RandomAccessReader> {
  const { chunkCount, plaintextLength } = parseCiphertextLength(options.ciphertextLength);
  const keys = await checkHeader(inputKey, abytes('header', header), options.context);
  const chunkRange = (index: number) => {
    anumber('index', index, 0, chunkCount - 1);
    const offset = HEADER_SIZE + index * CIPHERTEXT_CHUNK_SIZE;
    return { offset, length: Math.min(CIPHERTEXT_CHUNK_SIZE, options.ciphertextLength - offset) };
  };
  return {
    chunkCount,
    plaintextLength,
    chunkRange,
    async decryptChunk(index, chunkCiphertext) {
      const { length } = chunkRange(index);
      abytes('chunkCiphertext', chunkCiphertext);
      if (chunkCiphertext.length !== length) fail('E_TRUNCATED', `chunk ${index} must be ${length} bytes, got ${chunkCiphertext.length}`);
      return openChunk(keys, index, chunkCiphertext);
    },
  };
}

/** The Sealvault file context: "sealvault/v1/file" || 0x00 || contract id || 0x00 || file id. */
export function fileContext(contractId: string, fileId: string): Uint8Array {
  for (const [name, id] of [['contractId', contractId], ['fileId', fileId]] as const) {
    if (typeof id !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(id)) throw new TypeError(`${name} must be an id of 1 to 64 URL-safe characters`);
  }
  return utf8(`sealvault/v1/file\u0000${contractId}\u0000${fileId}`);
}
