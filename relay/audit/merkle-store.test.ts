import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../shared/crypto/encoding';
import { consistencyProof, inclusionProof, leafHash, treeHash, verifyConsistency, verifyInclusion } from '../../shared/tlog';
import { openDatabase } from '../common/db';
import { EMPTY_ROOT, MerkleStore, sha256LeafHash } from './merkle-store';
import { AUDIT_MIGRATIONS } from './migrations';

interface MerkleVectors {
  leaves_hex: string[];
  trees: { size: number; root_hex: string }[];
  inclusion: { index: number; size: number; path_hex: string[] }[];
  consistency: { first: number; second: number; path_hex: string[] }[];
}
const V: MerkleVectors = JSON.parse(readFileSync(new URL('../../shared/vectors/merkle.json', import.meta.url), 'utf8'));

function freshStore(): MerkleStore {
  return new MerkleStore(openDatabase(':memory:', AUDIT_MIGRATIONS));
}

function appendAll(store: MerkleStore, leaves: Uint8Array[]): Buffer[] {
  const db = (store as unknown as { db: ReturnType<typeof openDatabase> }).db;
  const hashes = leaves.map((l) => sha256LeafHash(l));
  db.transaction(() => hashes.forEach((h, i) => expect(store.append(h)).toBe(i)))();
  return hashes;
}

describe('MerkleStore against the published vectors (shared/vectors/merkle.json)', () => {
  const store = freshStore();
  appendAll(
    store,
    V.leaves_hex.map((h) => fromHex(h)),
  );

  it('holds 1000 leaves', () => {
    expect(store.size()).toBe(1000);
  });

  it('gives every listed tree root, for sizes below the current one too', () => {
    for (const t of V.trees) expect(toHex(store.root(t.size)), `size ${t.size}`).toBe(t.root_hex);
  });

  it('gives every listed inclusion path', () => {
    for (const v of V.inclusion) expect(store.inclusionProof(v.index, v.size).map(toHex), `${v.index}/${v.size}`).toEqual(v.path_hex);
  });

  it('gives every listed consistency path', () => {
    for (const v of V.consistency) expect(store.consistencyProof(v.first, v.second).map(toHex), `${v.first}->${v.second}`).toEqual(v.path_hex);
  });
});

describe('MerkleStore against shared/tlog', () => {
  const leaves = Array.from({ length: 70 }, (_, i) => new TextEncoder().encode(`audit leaf ${i}`));
  const store = freshStore();
  const hashes = appendAll(store, leaves);

  it('computes the same leaf hashes as shared/tlog', async () => {
    for (let i = 0; i < leaves.length; i++) expect(toHex(hashes[i]!)).toBe(toHex(await leafHash(leaves[i]!)));
  });

  it('gives the shared/tlog treeHash for every size 0..70', async () => {
    expect(toHex(store.root(0))).toBe(toHex(EMPTY_ROOT));
    for (let n = 0; n <= 70; n++) expect(toHex(store.root(n))).toBe(toHex(await treeHash(hashes, n)));
  });

  it('gives proofs identical to shared/tlog generation, which shared/tlog verifies', async () => {
    for (let n = 1; n <= 40; n++) {
      const root = store.root(n);
      for (let m = 0; m < n; m++) {
        const proof = store.inclusionProof(m, n);
        expect(proof.map(toHex)).toEqual((await inclusionProof(hashes, m, n)).map(toHex));
        await verifyInclusion({ leafHash: hashes[m]!, index: m, size: n, proof, root });
      }
      for (let m = 0; m <= n; m++) {
        const proof = store.consistencyProof(m, n);
        expect(proof.map(toHex)).toEqual((await consistencyProof(hashes, m, n)).map(toHex));
        await verifyConsistency({ first: m, second: n, firstRoot: store.root(m), secondRoot: root, proof });
      }
    }
  });

  it('stores each complete subtree once: 2n - popcount(n) nodes', () => {
    const db = (store as unknown as { db: ReturnType<typeof openDatabase> }).db;
    const count = (db.prepare('SELECT COUNT(*) AS n FROM nodes').get() as { n: number }).n;
    expect(count).toBe(2 * 70 - 3); // 70 = 0b1000110
  });

  it('refuses sizes beyond the log and indexes beyond the size', () => {
    expect(() => store.root(71)).toThrow(RangeError);
    expect(() => store.inclusionProof(5, 5)).toThrow(RangeError);
    expect(() => store.inclusionProof(0, 71)).toThrow(RangeError);
    expect(() => store.consistencyProof(6, 5)).toThrow(RangeError);
    expect(() => store.consistencyProof(5, 71)).toThrow(RangeError);
    expect(() => store.root(-1)).toThrow(RangeError);
    expect(() => store.root(1.5)).toThrow(RangeError);
  });

  it('refuses UPDATE and DELETE on the node table', () => {
    const db = (store as unknown as { db: ReturnType<typeof openDatabase> }).db;
    expect(() => db.prepare('UPDATE nodes SET hash = ? WHERE level = 0 AND idx = 0').run(Buffer.alloc(32))).toThrow(/append-only/);
    expect(() => db.prepare('DELETE FROM nodes WHERE level = 0 AND idx = 69').run()).toThrow(/append-only/);
    expect(store.size()).toBe(70);
  });
});
