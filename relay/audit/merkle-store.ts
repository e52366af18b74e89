/**
 * The audit log's RFC 9162 Merkle tree, kept incrementally in SQLite.
 *
 * Every complete, aligned subtree is stored once, when its last leaf arrives, as a node
 * (level, index): level 0 holds the leaf hashes, and node (l, i) is the MTH of leaves
 * [i * 2^l, (i + 1) * 2^l). Appending a leaf writes at most log2(n) + 1 nodes. Every range the
 * RFC 9162 recursion visits is either such an aligned power-of-two subtree (read directly) or is
 * split at the largest power of two below its size, so the root of any size up to the current
 * one takes O(log n) reads and a proof O(log^2 n), without rehashing the leaves.
 *
 * Hashing is node:crypto SHA-256, synchronous, so an append and its node updates run inside one
 * SQLite transaction. shared/tlog (WebCrypto) is the independent verifier of what this produces.
 */
import { createHash } from 'node:crypto';
import type { Db } from '../common/db';

export const EMPTY_ROOT: Buffer = createHash('sha256').digest();

export function sha256LeafHash(leaf: Uint8Array): Buffer {
  return createHash('sha256').update(Buffer.from([0x00])).update(leaf).digest();
}

export function sha256NodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  return createHash('sha256').update(Buffer.from([0x01])).update(left).update(right).digest();
}

/** The largest power of two strictly smaller than n (n >= 2). Arithmetic, not 32-bit bit operators. */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** log2(n) when n is a power of two, else -1. */
function exactLog2(n: number): number {
  let level = 0;
  let p = 1;
  while (p < n) {
    p *= 2;
    level++;
  }
  return p === n ? level : -1;
}

function checkSize(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${name} must be a non-negative safe integer`);
  return value;
}

export class MerkleStore {
  private readonly getNode;
  private readonly putNode;
  private readonly maxLeaf;

  constructor(private readonly db: Db) {
    this.getNode = db.prepare<[number, number], { hash: Buffer }>('SELECT hash FROM nodes WHERE level = ? AND idx = ?');
    this.putNode = db.prepare<[number, number, Buffer]>('INSERT INTO nodes (level, idx, hash) VALUES (?, ?, ?)');
    this.maxLeaf = db.prepare<[], { n: number }>('SELECT COALESCE(MAX(idx) + 1, 0) AS n FROM nodes WHERE level = 0');
  }

  /** The number of leaves. */
  size(): number {
    return this.maxLeaf.get()!.n;
  }

  /**
   * Appends one leaf hash and stores every subtree it completes. Call it inside the caller's
   * transaction (the entry row and the nodes commit together). Returns the leaf's index.
   * `knownSize`: the tree's size as the caller counted it inside the same transaction.
   */
  append(leafHash: Uint8Array, knownSize?: number): number {
    if (leafHash.length !== 32) throw new RangeError('leaf hash must be 32 bytes');
    // A caller appending many leaves in one transaction knows the size already; the leaf (0, index)
    // is a primary key, so a wrong size fails the insert rather than corrupting the tree.
    const index = knownSize ?? this.size();
    let hash: Buffer = Buffer.from(leafHash);
    let level = 0;
    let i = index;
    this.putNode.run(0, i, hash);
    // A right child (odd index) completes its parent.
    while (i % 2 === 1) {
      hash = sha256NodeHash(this.node(level, i - 1), hash);
      i = (i - 1) / 2;
      level++;
      this.putNode.run(level, i, hash);
    }
    return index;
  }

  /** The stored node (level, index); it must exist. */
  node(level: number, index: number): Buffer {
    const row = this.getNode.get(level, index);
    if (!row) throw new Error(`merkle node (${level}, ${index}) is missing`);
    return row.hash;
  }

  /** The leaf hash at `index`. */
  leafHash(index: number): Buffer {
    return this.node(0, index);
  }

  /** MTH(D[lo:hi]). */
  private mth(lo: number, hi: number): Buffer {
    const n = hi - lo;
    if (n === 0) return EMPTY_ROOT;
    const level = exactLog2(n);
    if (level >= 0 && lo % n === 0) return this.node(level, lo / n);
    const k = splitPoint(n);
    return sha256NodeHash(this.mth(lo, lo + k), this.mth(lo + k, hi));
  }

  private checkWithin(size: number): void {
    const current = this.size();
    if (size > current) throw new RangeError(`tree size ${size} is beyond the log's ${current} leaves`);
  }

  /** The root of the tree of the first `size` leaves. */
  root(size: number): Buffer {
    checkSize('size', size);
    this.checkWithin(size);
    return this.mth(0, size);
  }

  /** PATH(index, D[0:size]), RFC 9162 section 2.1.3.1. */
  inclusionProof(index: number, size: number): Buffer[] {
    checkSize('index', index);
    checkSize('size', size);
    if (index >= size) throw new RangeError(`index ${index} is not below size ${size}`);
    this.checkWithin(size);
    const path = (m: number, lo: number, hi: number): Buffer[] => {
      const n = hi - lo;
      if (n <= 1) return [];
      const k = splitPoint(n);
      if (m < k) return [...path(m, lo, lo + k), this.mth(lo + k, hi)];
      return [...path(m - k, lo + k, hi), this.mth(lo, lo + k)];
    };
    return path(index, 0, size);
  }

  /** PROOF(first, D[0:second]), RFC 9162 section 2.1.4.1; empty for first = 0 or first = second. */
  consistencyProof(first: number, second: number): Buffer[] {
    checkSize('first', first);
    checkSize('second', second);
    if (first > second) throw new RangeError(`first ${first} is larger than second ${second}`);
    this.checkWithin(second);
    if (first === 0 || first === second) return [];
    const subproof = (m: number, lo: number, hi: number, b: boolean): Buffer[] => {
      const n = hi - lo;
      if (m === n) return b ? [] : [this.mth(lo, hi)];
      const k = splitPoint(n);
      if (m <= k) return [...subproof(m, lo, lo + k, b), this.mth(lo + k, hi)];
      return [...subproof(m - k, lo + k, hi, false), this.mth(lo, lo + k)];
    };
    return subproof(first, 0, second, true);
  }
}
