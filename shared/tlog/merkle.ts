/**
 * RFC 9162 section 2.1 Merkle tree hashing, inclusion proofs and consistency proofs.
 *
 * Hashing uses WebCrypto's SHA-256 rather than hash-wasm: verification needs at most ~130
 * hashes, the rest of the core is already async for WebCrypto, and a native digest needs no
 * WASM instance in the browser. Proof *generation* from a flat list of leaf hashes is O(n)
 * digests per call; that is fine for tests and small logs, and a large log keeps its interior
 * nodes instead of calling these functions.
 *
 * Sizes and indexes are unsigned 64-bit values in the RFC. JavaScript bit operators work on 32
 * bits, so all verification arithmetic is done with BigInt.
 */
import { concatBytes, equalBytes } from '../crypto/bytes';
import { fail } from '../crypto/errors';

export const HASH_SIZE = 32;
/** A proof for a tree of fewer than 2^64 leaves never needs more hashes than this. */
export const MAX_PROOF_HASHES = 64;

const U64_END = 1n << 64n;
const LEAF_PREFIX = new Uint8Array([0x00]);
const NODE_PREFIX = new Uint8Array([0x01]);

export type TreeSize = number | bigint;

/** Converts an index or size to BigInt; refuses unsafe numbers and anything outside uint64. */
export function toU64(name: string, value: unknown): bigint {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) {
      return fail('E_LIMIT', `${name} must be a non-negative safe integer (or a bigint), got ${value}`);
    }
    return BigInt(value);
  }
  if (typeof value === 'bigint') {
    if (value < 0n || value >= U64_END) return fail('E_LIMIT', `${name} must fit in 64 unsigned bits, got ${value}`);
    return value;
  }
  throw new TypeError(`${name} must be a number or a bigint, got ${typeof value}`);
}

async function sha256(...parts: Uint8Array[]): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', concatBytes(...parts)));
}

function hash32(name: string, value: unknown): Uint8Array {
  if (!(value instanceof Uint8Array)) throw new TypeError(`${name} must be a Uint8Array`);
  if (value.length !== HASH_SIZE) fail('E_FORMAT', `${name} must be ${HASH_SIZE} bytes, got ${value.length}`);
  return value;
}

/** Checks the proof's shape before any hashing: a bounded array of 32-byte hashes. */
function proofHashes(value: unknown): Uint8Array[] {
  if (!Array.isArray(value)) throw new TypeError('proof must be an array of Uint8Array');
  if (value.length > MAX_PROOF_HASHES) {
    fail('E_LIMIT', `proof has ${value.length} hashes, at most ${MAX_PROOF_HASHES} are allowed`);
  }
  value.forEach((h: unknown, i) => {
    if (!(h instanceof Uint8Array)) throw new TypeError(`proof[${i}] must be a Uint8Array`);
    if (h.length !== HASH_SIZE) fail('E_PROOF', `proof[${i}] is ${h.length} bytes, not ${HASH_SIZE}`);
  });
  return value as Uint8Array[];
}

/** Leaf hashes used for generation: the first `size` entries must be 32-byte hashes. */
function leafList(leafHashes: unknown, size: number): Uint8Array[] {
  if (!Array.isArray(leafHashes)) throw new TypeError('leafHashes must be an array of Uint8Array');
  if (size > leafHashes.length) throw new RangeError(`size ${size} exceeds the ${leafHashes.length} leaf hashes given`);
  for (let i = 0; i < size; i++) hash32(`leafHashes[${i}]`, leafHashes[i]);
  return leafHashes as Uint8Array[];
}

/** Generation works on in-memory arrays, so a safe-integer number is always enough. */
function arrayIndex(name: string, value: unknown): number {
  return Number(toU64(name, value));
}

/** SHA-256(0x00 || entry). */
export function leafHash(entry: Uint8Array): Promise<Uint8Array> {
  if (!(entry instanceof Uint8Array)) throw new TypeError('entry must be a Uint8Array');
  return sha256(LEAF_PREFIX, entry);
}

/** SHA-256(0x01 || left || right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Promise<Uint8Array> {
  return sha256(NODE_PREFIX, hash32('left', left), hash32('right', right));
}

/** MTH({}) = SHA-256() */
export function emptyTreeHash(): Promise<Uint8Array> {
  return sha256();
}

/** The largest power of two strictly smaller than n (n >= 2), as RFC 9162 section 2.1.1 splits. */
function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

async function mth(leaves: Uint8Array[], lo: number, hi: number): Promise<Uint8Array> {
  const n = hi - lo;
  if (n === 0) return emptyTreeHash();
  if (n === 1) return leaves[lo]!;
  const k = split(n);
  return nodeHash(await mth(leaves, lo, lo + k), await mth(leaves, lo + k, hi));
}

/** MTH of the first `size` leaf hashes (all of them by default). */
export async function treeHash(leafHashes: Uint8Array[], size: TreeSize = leafHashes.length): Promise<Uint8Array> {
  const n = arrayIndex('size', size);
  return mth(leafList(leafHashes, n), 0, n);
}

/** PATH(m, D[lo:hi]) from RFC 9162 section 2.1.3.1. */
async function path(leaves: Uint8Array[], m: number, lo: number, hi: number): Promise<Uint8Array[]> {
  const n = hi - lo;
  if (n <= 1) return [];
  const k = split(n);
  if (m < k) return [...(await path(leaves, m, lo, lo + k)), await mth(leaves, lo + k, hi)];
  return [...(await path(leaves, m - k, lo + k, hi)), await mth(leaves, lo, lo + k)];
}

/** The inclusion proof of leaf `index` in the tree of the first `size` leaves. */
export async function inclusionProof(leafHashes: Uint8Array[], index: TreeSize, size: TreeSize): Promise<Uint8Array[]> {
  const m = arrayIndex('index', index);
  const n = arrayIndex('size', size);
  if (m >= n) throw new RangeError(`index ${m} is not below size ${n}`);
  return path(leafList(leafHashes, n), m, 0, n);
}

/** SUBPROOF(m, D[lo:hi], b) from RFC 9162 section 2.1.4.1. */
async function subproof(leaves: Uint8Array[], m: number, lo: number, hi: number, b: boolean): Promise<Uint8Array[]> {
  const n = hi - lo;
  if (m === n) return b ? [] : [await mth(leaves, lo, hi)];
  const k = split(n);
  if (m <= k) return [...(await subproof(leaves, m, lo, lo + k, b)), await mth(leaves, lo + k, hi)];
  return [...(await subproof(leaves, m - k, lo + k, hi, false)), await mth(leaves, lo, lo + k)];
}

/**
 * The consistency proof from the tree of the first `first` leaves to that of the first
 * `second`. The RFC defines it for 0 < first < second; for first == second and for first == 0
 * the proof is empty (there is nothing to prove beyond comparing roots, see verifyConsistency).
 */
export async function consistencyProof(leafHashes: Uint8Array[], first: TreeSize, second: TreeSize): Promise<Uint8Array[]> {
  const m = arrayIndex('first', first);
  const n = arrayIndex('second', second);
  if (m > n) throw new RangeError(`first ${m} is larger than second ${n}`);
  const leaves = leafList(leafHashes, n);
  if (m === 0 || m === n) return [];
  return subproof(leaves, m, 0, n, true);
}

export interface InclusionInput {
  leafHash: Uint8Array;
  index: TreeSize;
  size: TreeSize;
  proof: Uint8Array[];
  root: Uint8Array;
}

/** RFC 9162 section 2.1.3.2. Resolves when the proof holds; throws E_PROOF otherwise. */
export async function verifyInclusion(input: InclusionInput): Promise<void> {
  const index = toU64('index', input.index);
  const size = toU64('size', input.size);
  const leaf = hash32('leafHash', input.leafHash);
  const root = hash32('root', input.root);
  const proof = proofHashes(input.proof);

  if (index >= size) fail('E_PROOF', `inclusion: index ${index} is not below tree size ${size}`);
  let fn = index;
  let sn = size - 1n;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0n) fail('E_PROOF', 'inclusion: proof is longer than the tree is deep');
    if ((fn & 1n) === 1n || fn === sn) {
      r = await nodeHash(p, r);
      while ((fn & 1n) === 0n && fn !== 0n) {
        fn >>= 1n;
        sn >>= 1n;
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) fail('E_PROOF', 'inclusion: proof is too short for this tree size');
  if (!equalBytes(r, root)) fail('E_PROOF', 'inclusion: computed root does not match the expected root');
}

export interface ConsistencyInput {
  first: TreeSize;
  second: TreeSize;
  firstRoot: Uint8Array;
  secondRoot: Uint8Array;
  proof: Uint8Array[];
}

/**
 * RFC 9162 section 2.1.4.2, which is defined for 0 < first < second. The two edge cases are
 * decided here without a proof, and any proof given for them is refused:
 * - first == second: the trees are the same tree, so the roots must be equal (a different root
 *   at the same size is a fork);
 * - first == 0: every tree extends the empty tree, whose root must be SHA-256 of nothing.
 */
export async function verifyConsistency(input: ConsistencyInput): Promise<void> {
  const first = toU64('first', input.first);
  const second = toU64('second', input.second);
  const firstRoot = hash32('firstRoot', input.firstRoot);
  const secondRoot = hash32('secondRoot', input.secondRoot);
  const path = proofHashes(input.proof);

  if (first > second) fail('E_PROOF', `consistency: first size ${first} is larger than second size ${second}`);
  if (first === 0n || first === second) {
    if (path.length !== 0) fail('E_PROOF', 'consistency: a proof from the empty tree or between equal sizes must be empty');
    if (first === 0n && !equalBytes(firstRoot, await emptyTreeHash())) fail('E_PROOF', 'consistency: wrong root for the empty tree');
    if (first === second && !equalBytes(firstRoot, secondRoot)) {
      fail('E_PROOF', `consistency: two different roots for tree size ${first} (fork)`);
    }
    return;
  }

  // 1. An empty path proves nothing.
  if (path.length === 0) fail('E_PROOF', 'consistency: empty proof');
  // 2. For a power-of-two first tree, its root is itself the first node of the path.
  const c = (first & (first - 1n)) === 0n ? [firstRoot, ...path] : path;
  // 3. and 4.
  let fn = first - 1n;
  let sn = second - 1n;
  while ((fn & 1n) === 1n) {
    fn >>= 1n;
    sn >>= 1n;
  }
  // 5.
  let fr = c[0]!;
  let sr = c[0]!;
  // 6.
  for (const h of c.slice(1)) {
    if (sn === 0n) fail('E_PROOF', 'consistency: proof is longer than the tree is deep');
    if ((fn & 1n) === 1n || fn === sn) {
      fr = await nodeHash(h, fr);
      sr = await nodeHash(h, sr);
      while ((fn & 1n) === 0n && fn !== 0n) {
        fn >>= 1n;
        sn >>= 1n;
      }
    } else {
      sr = await nodeHash(sr, h);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  // 7.
  if (sn !== 0n) fail('E_PROOF', 'consistency: proof is too short for these tree sizes');
  if (!equalBytes(fr, firstRoot)) fail('E_PROOF', 'consistency: proof does not lead to the first root');
  if (!equalBytes(sr, secondRoot)) fail('E_PROOF', 'consistency: proof does not lead to the second root (not an extension)');
}
