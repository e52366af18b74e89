import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../crypto/encoding';
import { isCryptoError, type ErrorCode } from '../crypto/errors';
import {
  consistencyProof,
  emptyTreeHash,
  inclusionProof,
  leafHash,
  nodeHash,
  treeHash,
  verifyConsistency,
  verifyInclusion,
} from './merkle';

interface MerkleVectors {
  leaves_hex: string[];
  trees: { size: number; root_hex: string }[];
  inclusion: { index: number; size: number; path_hex: string[] }[];
  consistency: { first: number; second: number; path_hex: string[] }[];
}
const V: MerkleVectors = JSON.parse(readFileSync(new URL('../vectors/merkle.json', import.meta.url), 'utf8'));

// Published RFC 6962 test data: the 8 leaves and the tree heads for sizes 0..8, as in
// transparency-dev/merkle testonly/constants.go (LeafInputs, RootHashes) and
// google/certificate-transparency-go's merkle tests. Sizes 1..8 below; size 0 is SHA-256("").
const RFC6962_LEAVES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'];
const RFC6962_ROOTS = [
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];
// Published proofs over the same leaves, from transparency-dev/merkle proof/verify_test.go
// (which numbers leaves from 1; the indexes here are 0-based).
const RFC6962_INCLUSION = [
  { index: 0, size: 8, path: ['96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7', '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4'] },
  { index: 5, size: 8, path: ['bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b', 'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0', 'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7'] },
  { index: 2, size: 3, path: ['fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125'] },
  { index: 1, size: 5, path: ['6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d', '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', 'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b'] },
];
const RFC6962_CONSISTENCY = [
  { first: 1, second: 8, path: ['96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7', '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4'] },
  { first: 6, second: 8, path: ['0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a', 'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0', 'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7'] },
  { first: 2, second: 5, path: ['5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', 'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b'] },
  { first: 6, second: 7, path: ['0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a', 'b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f', 'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7'] },
];

const ENTRIES = V.leaves_hex.map(fromHex);
const LEAF_HASHES = await Promise.all(ENTRIES.map(leafHash));
const ROOTS = new Map(V.trees.map((t) => [t.size, fromHex(t.root_hex)]));
const root = (size: number): Uint8Array => ROOTS.get(size) ?? expect.fail(`no root for size ${size} in the vectors`);
const hexes = (hs: Uint8Array[]): string[] => hs.map(toHex);

async function rejects(p: Promise<unknown>, code: ErrorCode, message?: RegExp): Promise<void> {
  const e = await p.then(
    () => expect.fail(`expected ${code}, but it resolved`),
    (err: unknown) => err,
  );
  expect(isCryptoError(e, code), `expected ${code}, got ${String(e)}`).toBe(true);
  if (message) expect((e as Error).message).toMatch(message);
}

/** node:crypto MTH written from the RFC's definition, independent of the code under test. */
function nodeMth(entries: Uint8Array[]): string {
  const h = (...parts: Uint8Array[]) => {
    const x = createHash('sha256');
    for (const p of parts) x.update(p);
    return x.digest();
  };
  const rec = (d: Uint8Array[]): Buffer => {
    if (d.length === 0) return h();
    if (d.length === 1) return h(Uint8Array.of(0), d[0]!);
    let k = 1;
    while (k * 2 < d.length) k *= 2;
    return h(Uint8Array.of(1), rec(d.slice(0, k)), rec(d.slice(k)));
  };
  return rec(entries).toString('hex');
}

describe('RFC 6962 published data', () => {
  it('the vector leaves start with the RFC 6962 test leaves', () => {
    expect(V.leaves_hex.slice(0, 8)).toEqual(RFC6962_LEAVES);
  });

  it('roots for sizes 0..8 match the published tree heads, in our code and in the vectors', async () => {
    expect(toHex(await emptyTreeHash())).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(toHex(await treeHash(LEAF_HASHES, 0))).toBe(toHex(await emptyTreeHash()));
    for (let n = 1; n <= 8; n++) {
      expect(toHex(await treeHash(LEAF_HASHES, n)), `size ${n}`).toBe(RFC6962_ROOTS[n - 1]);
      expect(V.trees.find((t) => t.size === n)?.root_hex, `vector size ${n}`).toBe(RFC6962_ROOTS[n - 1]);
    }
  });

  it('published inclusion and consistency proofs are generated and verified', async () => {
    for (const p of RFC6962_INCLUSION) {
      expect(hexes(await inclusionProof(LEAF_HASHES, p.index, p.size))).toEqual(p.path);
      await verifyInclusion({ leafHash: LEAF_HASHES[p.index]!, index: p.index, size: p.size, proof: p.path.map(fromHex), root: fromHex(RFC6962_ROOTS[p.size - 1]!) });
    }
    for (const p of RFC6962_CONSISTENCY) {
      expect(hexes(await consistencyProof(LEAF_HASHES, p.first, p.second))).toEqual(p.path);
      await verifyConsistency({
        first: p.first,
        second: p.second,
        firstRoot: fromHex(RFC6962_ROOTS[p.first - 1]!),
        secondRoot: fromHex(RFC6962_ROOTS[p.second - 1]!),
        proof: p.path.map(fromHex),
      });
    }
  });
});

describe('merkle.json vectors', () => {
  it('leaf hashes equal node:crypto SHA-256(0x00 || entry)', () => {
    ENTRIES.forEach((e, i) => {
      expect(toHex(LEAF_HASHES[i]!)).toBe(createHash('sha256').update(Uint8Array.of(0)).update(e).digest('hex'));
    });
  });

  it('every tree root: our treeHash, the vector and node:crypto agree', async () => {
    for (const t of V.trees) {
      expect(toHex(await treeHash(LEAF_HASHES, t.size)), `size ${t.size}`).toBe(t.root_hex);
      expect(nodeMth(ENTRIES.slice(0, t.size)), `node:crypto size ${t.size}`).toBe(t.root_hex);
    }
  });

  it('covers every index of sizes 1..17 and every 1 <= first <= second <= 17', () => {
    for (let n = 1; n <= 17; n++) {
      for (let i = 0; i < n; i++) expect(V.inclusion.some((p) => p.index === i && p.size === n)).toBe(true);
      for (let m = 1; m <= n; m++) expect(V.consistency.some((p) => p.first === m && p.second === n)).toBe(true);
    }
  });

  it('every inclusion proof is what we generate, and verifies', async () => {
    for (const p of V.inclusion) {
      const label = `index ${p.index} size ${p.size}`;
      expect(hexes(await inclusionProof(LEAF_HASHES, p.index, p.size)), label).toEqual(p.path_hex);
      await expect(
        verifyInclusion({ leafHash: LEAF_HASHES[p.index]!, index: p.index, size: p.size, proof: p.path_hex.map(fromHex), root: root(p.size) }),
        label,
      ).resolves.toBeUndefined();
    }
  });

  it('every consistency proof is what we generate, and verifies', async () => {
    for (const p of V.consistency) {
      const label = `${p.first} -> ${p.second}`;
      expect(hexes(await consistencyProof(LEAF_HASHES, p.first, p.second)), label).toEqual(p.path_hex);
      await expect(
        verifyConsistency({ first: p.first, second: p.second, firstRoot: root(p.first), secondRoot: root(p.second), proof: p.path_hex.map(fromHex) }),
        label,
      ).resolves.toBeUndefined();
    }
  });

  it('bigint sizes and indexes give the same answers as numbers', async () => {
    const p = V.inclusion.find((x) => x.size === 1000 && x.index === 767)!;
    await verifyInclusion({ leafHash: LEAF_HASHES[767]!, index: 767n, size: 1000n, proof: p.path_hex.map(fromHex), root: root(1000) });
    const c = V.consistency.find((x) => x.first === 500 && x.second === 1000)!;
    await verifyConsistency({ first: 500n, second: 1000n, firstRoot: root(500), secondRoot: root(1000), proof: c.path_hex.map(fromHex) });
  });
});

describe('inclusion proof failures (one per cause)', () => {
  const p = V.inclusion.find((x) => x.index === 5 && x.size === 13)!;
  const good = { leafHash: LEAF_HASHES[5]!, index: 5, size: 13, proof: p.path_hex.map(fromHex), root: root(13) };

  it('the untouched proof verifies', async () => {
    await verifyInclusion(good);
  });
  it('one flipped bit in a proof hash', async () => {
    const proof = good.proof.map((h) => h.slice());
    proof[1]![7]! ^= 0x10;
    await rejects(verifyInclusion({ ...good, proof }), 'E_PROOF', /root does not match/);
  });
  it('wrong index', async () => {
    await rejects(verifyInclusion({ ...good, index: 4 }), 'E_PROOF');
  });
  it('index not below size', async () => {
    await rejects(verifyInclusion({ ...good, index: 13 }), 'E_PROOF', /not below tree size/);
  });
  it('wrong size (a smaller tree)', async () => {
    await rejects(verifyInclusion({ ...good, size: 8 }), 'E_PROOF', /longer than the tree is deep/);
  });
  it('wrong size (a deeper tree)', async () => {
    await rejects(verifyInclusion({ ...good, size: 100 }), 'E_PROOF', /too short/);
  });
  it('known property: a size with the same path shape verifies, so the size must come from a signed checkpoint', async () => {
    // Leaf 5 sits in the left 8-leaf subtree for every size 9..16; the root binds the rest.
    await verifyInclusion({ ...good, size: 14 });
  });
  it('proof one hash too long', async () => {
    await rejects(verifyInclusion({ ...good, proof: [...good.proof, good.root] }), 'E_PROOF', /longer than the tree is deep/);
  });
  it('proof one hash too short', async () => {
    await rejects(verifyInclusion({ ...good, proof: good.proof.slice(0, -1) }), 'E_PROOF', /too short/);
  });
  it('wrong root', async () => {
    await rejects(verifyInclusion({ ...good, root: root(12) }), 'E_PROOF', /root does not match/);
  });
  it('wrong leaf', async () => {
    await rejects(verifyInclusion({ ...good, leafHash: LEAF_HASHES[6]! }), 'E_PROOF');
  });
  it('more than 64 hashes is refused before any hashing', async () => {
    await rejects(verifyInclusion({ ...good, proof: Array.from({ length: 65 }, () => good.root) }), 'E_LIMIT');
  });
  it('a proof hash that is not 32 bytes', async () => {
    await rejects(verifyInclusion({ ...good, proof: [...good.proof.slice(0, 2), new Uint8Array(31), good.proof[3]!] }), 'E_PROOF', /31 bytes/);
  });
  it('a root or leaf hash that is not 32 bytes', async () => {
    await rejects(verifyInclusion({ ...good, root: new Uint8Array(33) }), 'E_FORMAT');
    await rejects(verifyInclusion({ ...good, leafHash: new Uint8Array(0) }), 'E_FORMAT');
  });
  it('an unsafe number size is refused; use bigint', async () => {
    await rejects(verifyInclusion({ ...good, size: 2 ** 53 }), 'E_LIMIT');
    await rejects(verifyInclusion({ ...good, index: -1 }), 'E_LIMIT');
    await rejects(verifyInclusion({ ...good, index: 1.5 }), 'E_LIMIT');
    await rejects(verifyInclusion({ ...good, size: 1n << 64n }), 'E_LIMIT');
  });
});

describe('consistency proof failures (one per cause)', () => {
  const p = V.consistency.find((x) => x.first === 6 && x.second === 15)!;
  const good = { first: 6, second: 15, firstRoot: root(6), secondRoot: root(15), proof: p.path_hex.map(fromHex) };

  it('the untouched proof verifies', async () => {
    await verifyConsistency(good);
  });
  it('a tampered proof hash', async () => {
    const proof = good.proof.map((h) => h.slice());
    proof[0]![0]! ^= 0x01;
    await rejects(verifyConsistency({ ...good, proof }), 'E_PROOF');
  });
  it('first > second', async () => {
    await rejects(verifyConsistency({ ...good, first: 16 }), 'E_PROOF', /larger than second/);
  });
  it('truncated path', async () => {
    await rejects(verifyConsistency({ ...good, proof: good.proof.slice(0, -1) }), 'E_PROOF', /too short/);
  });
  it('path with an extra hash', async () => {
    await rejects(verifyConsistency({ ...good, proof: [...good.proof, good.secondRoot] }), 'E_PROOF');
  });
  it('empty path', async () => {
    await rejects(verifyConsistency({ ...good, proof: [] }), 'E_PROOF', /empty proof/);
  });
  it('non-32-byte hashes in the path', async () => {
    await rejects(verifyConsistency({ ...good, proof: [good.proof[0]!, new Uint8Array(64)] }), 'E_PROOF', /64 bytes/);
  });
  it('more than 64 hashes', async () => {
    await rejects(verifyConsistency({ ...good, proof: Array.from({ length: 65 }, () => good.firstRoot) }), 'E_LIMIT');
  });
  it('swapped roots', async () => {
    await rejects(verifyConsistency({ ...good, firstRoot: good.secondRoot, secondRoot: good.firstRoot }), 'E_PROOF');
  });
  it('the second tree is not an extension of the first (fork)', async () => {
    // A second tree of size 15 whose leaf 10 differs: same size, new root, same proof shape.
    const forked = LEAF_HASHES.slice(0, 15);
    forked[10] = await leafHash(new TextEncoder().encode('rewritten history'));
    const forkRoot = await treeHash(forked);
    await rejects(verifyConsistency({ ...good, secondRoot: forkRoot }), 'E_PROOF', /second root/);
    // With its own proof it does extend the size-6 tree: leaves 0..5 are intact. Only the
    // comparison with the real size-15 root (the same-size check) exposes this fork.
    await verifyConsistency({ ...good, secondRoot: forkRoot, proof: await consistencyProof(forked, 6, 15) });
    forked[2] = await leafHash(new TextEncoder().encode('rewritten older history'));
    await rejects(
      verifyConsistency({ ...good, secondRoot: await treeHash(forked), proof: await consistencyProof(forked, 6, 15) }),
      'E_PROOF',
      /first root/,
    );
  });
  it('two roots for the same size (fork) are refused', async () => {
    await verifyConsistency({ first: 7, second: 7, firstRoot: root(7), secondRoot: root(7), proof: [] });
    await rejects(verifyConsistency({ first: 7, second: 7, firstRoot: root(7), secondRoot: root(8), proof: [] }), 'E_PROOF', /fork/);
    await rejects(verifyConsistency({ first: 7, second: 7, firstRoot: root(7), secondRoot: root(7), proof: [root(7)] }), 'E_PROOF');
  });
  it('first == 0: the empty tree extends to anything, with an empty proof and the empty root', async () => {
    const empty = await emptyTreeHash();
    await verifyConsistency({ first: 0, second: 9, firstRoot: empty, secondRoot: root(9), proof: [] });
    await rejects(verifyConsistency({ first: 0, second: 9, firstRoot: root(1), secondRoot: root(9), proof: [] }), 'E_PROOF', /empty tree/);
    await rejects(verifyConsistency({ first: 0, second: 9, firstRoot: empty, secondRoot: root(9), proof: [empty] }), 'E_PROOF');
    expect(await consistencyProof(LEAF_HASHES, 0, 9)).toEqual([]);
    await verifyConsistency({ first: 0, second: 0, firstRoot: empty, secondRoot: empty, proof: [] });
    await rejects(verifyConsistency({ first: 0, second: 0, firstRoot: root(1), secondRoot: root(1), proof: [] }), 'E_PROOF', /empty tree/);
  });
  it('sizes of 2^53 and beyond given as numbers are refused', async () => {
    await rejects(verifyConsistency({ ...good, second: Number.MAX_SAFE_INTEGER + 1 }), 'E_LIMIT');
    await rejects(verifyConsistency({ ...good, first: -6 }), 'E_LIMIT');
  });
});

describe('sizes beyond 2^53 as bigint', () => {
  // Tree of 2^53 + 1 leaves: a perfect left subtree of 2^53 leaves (root L, any hash) and one
  // more leaf X. Inclusion of X is the path [L]; consistency from 2^53 to 2^53 + 1 is [X].
  const big = 1n << 53n;
  const L = fromHex('11'.repeat(32));

  it('inclusion of leaf 2^53 in a tree of 2^53 + 1 leaves', async () => {
    const X = await leafHash(Uint8Array.of(42));
    const top = await nodeHash(L, X);
    await verifyInclusion({ leafHash: X, index: big, size: big + 1n, proof: [L], root: top });
    await rejects(verifyInclusion({ leafHash: X, index: big - 1n, size: big + 1n, proof: [L], root: top }), 'E_PROOF');
    await rejects(verifyInclusion({ leafHash: X, index: big, size: big + 2n, proof: [L], root: top }), 'E_PROOF');
  });

  it('consistency from 2^53 (a power of two) to 2^53 + 1', async () => {
    const X = await leafHash(Uint8Array.of(42));
    const top = await nodeHash(L, X);
    await verifyConsistency({ first: big, second: big + 1n, firstRoot: L, secondRoot: top, proof: [X] });
    await rejects(verifyConsistency({ first: big, second: 2n * big + 1n, firstRoot: L, secondRoot: top, proof: [X] }), 'E_PROOF', /too short/);
    await rejects(verifyConsistency({ first: big, second: big + 1n, firstRoot: top, secondRoot: top, proof: [X] }), 'E_PROOF');
  });

  it('the deepest possible tree (2^64 - 1 leaves) still fits the 64-hash bound', async () => {
    // Leaf 0 of a tree of 2^64 - 1 leaves has a 64-hash path; the arithmetic must not wrap.
    const proof = Array.from({ length: 64 }, (_, i) => fromHex(i.toString(16).padStart(2, '0').repeat(32)));
    let r = LEAF_HASHES[0]!;
    for (const h of proof) r = await nodeHash(r, h);
    await verifyInclusion({ leafHash: LEAF_HASHES[0]!, index: 0n, size: (1n << 64n) - 1n, proof, root: r });
  });
});

describe('generation input checks', () => {
  it('refuses sizes beyond the leaves given and indexes not below size', async () => {
    await expect(treeHash(LEAF_HASHES.slice(0, 3), 4)).rejects.toThrow(RangeError);
    await expect(inclusionProof(LEAF_HASHES, 5, 5)).rejects.toThrow(RangeError);
    await expect(consistencyProof(LEAF_HASHES, 6, 5)).rejects.toThrow(RangeError);
    await rejects(treeHash([new Uint8Array(31)]), 'E_FORMAT');
  });
});
