/**
 * Storage blocks: the chunked ciphertext of a file version is cut into byte ranges (default
 * 4 MiB) for upload and striping. Every file has at least three blocks, so that with block i on
 * stores (i mod N) and ((i + 1) mod N), no single store ever holds a whole file.
 */
import { anumber } from './bytes';
import { fail } from './errors';

export const DEFAULT_BLOCK_SIZE = 4 * 1024 * 1024;
export const MIN_BLOCKS = 3;
/** 2^20 blocks of 4 MiB is 4 TiB: far past any contract, low enough to bound a manifest. */
export const MAX_BLOCKS = 1 << 20;

export interface BlockPlan {
  blockSize: number;
  count: number;
}

/** The one block size a given ciphertext length and maximum block size lead to. */
export function planBlocks(ciphertextLength: number, maxBlockSize = DEFAULT_BLOCK_SIZE): BlockPlan {
  anumber('ciphertextLength', ciphertextLength, MIN_BLOCKS);
  anumber('maxBlockSize', maxBlockSize, 1);
  const blockSize = Math.min(maxBlockSize, Math.ceil(ciphertextLength / MIN_BLOCKS));
  const count = Math.ceil(ciphertextLength / blockSize);
  if (count > MAX_BLOCKS) fail('E_LIMIT', `file needs ${count} blocks, more than ${MAX_BLOCKS}`);
  return { blockSize, count };
}

export function blockRange(plan: BlockPlan, ciphertextLength: number, index: number): { offset: number; length: number } {
  anumber('index', index, 0, plan.count - 1);
  const offset = index * plan.blockSize;
  return { offset, length: Math.min(plan.blockSize, ciphertextLength - offset) };
}

/** The two stores that hold block `index` out of `storeCount` (DESIGN.md section 6). */
export function blockStores(index: number, storeCount: number): [number, number] {
  anumber('index', index);
  anumber('storeCount', storeCount, 3);
  return [index % storeCount, (index + 1) % storeCount];
}

export interface CutBlock {
  index: number;
  bytes: Uint8Array;
  sha256: Uint8Array;
}

/**
 * Spare block buffers. A consumer that is done with a block's bytes (hashed, or sent and
 * acknowledged) gives them back, and the cutter fills them again instead of allocating a new
 * block: a browser maps every large new buffer as fresh memory, zeroed and faulted in page by
 * page, which cost about 17 ms per 4 MiB in Chromium on the bench machine, close to half the
 * time it takes to encrypt the block (bench/README-contracts.md).
 * Giving back bytes that are still in use would corrupt them: give back only what nothing
 * reads any more. Bytes never given back are simply not reused.
 */
export class BlockBufferPool {
  private readonly spare: ArrayBuffer[] = [];
  constructor(private readonly keep = 8) {}

  /** A buffer of `length` bytes: a spare one if one is big enough, else a new one. Contents are unspecified. */
  take(length: number): Uint8Array<ArrayBuffer> {
    const i = this.spare.findIndex((b) => b.byteLength >= length);
    if (i < 0) return new Uint8Array(length);
    const [buffer] = this.spare.splice(i, 1);
    return new Uint8Array(buffer!, 0, length);
  }

  /** Returns `bytes` (and the whole buffer they view) for reuse. */
  give(bytes: Uint8Array): void {
    const buffer = bytes.buffer;
    if (!(buffer instanceof ArrayBuffer) || this.spare.length >= this.keep || this.spare.includes(buffer)) return;
    this.spare.push(buffer);
  }
}

/**
 * Cuts a ciphertext stream of known length into blocks with their SHA-256. Holds at most one
 * block in memory; refuses a stream longer or shorter than announced. With a `pool`, block
 * buffers come from it (the consumer gives each block's bytes back when done with them).
 */
export function createBlockCutter(ciphertextLength: number, maxBlockSize = DEFAULT_BLOCK_SIZE, pool?: BlockBufferPool): TransformStream<Uint8Array, CutBlock> {
  const plan = planBlocks(ciphertextLength, maxBlockSize);
  let index = 0;
  let current: Uint8Array | undefined;
  let filled = 0;
  let seen = 0;
  const emit = async (controller: TransformStreamDefaultController<CutBlock>) => {
    const bytes = current!.subarray(0, filled);
    const sha256 = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as BufferSource));
    controller.enqueue({ index: index++, bytes, sha256 });
    current = undefined;
    filled = 0;
  };
  return new TransformStream<Uint8Array, CutBlock>({
    async transform(piece, controller) {
      seen += piece.length;
      if (seen > ciphertextLength) fail('E_LIMIT', 'ciphertext is longer than announced');
      let data = piece;
      while (data.length > 0) {
        if (!current) {
          const { length } = blockRange(plan, ciphertextLength, index);
          current = pool ? pool.take(length) : new Uint8Array(length);
        }
        const n = Math.min(current.length - filled, data.length);
        current.set(data.subarray(0, n), filled);
        filled += n;
        data = data.subarray(n);
        if (filled === current.length) await emit(controller);
      }
    },
    flush() {
      if (seen !== ciphertextLength || index !== plan.count) fail('E_TRUNCATED', `ciphertext ended after ${seen} of ${ciphertextLength} bytes`);
    },
  });
}
