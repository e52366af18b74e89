/**
 * The whole file path as a client runs it, against a relay that plays the attacker: encrypt as a
 * stream, cut into blocks, sign the manifest; then fetch blocks back, verify, and decrypt.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { BlockBufferPool, blockRange, blockStores, createBlockCutter, planBlocks, type CutBlock } from './blocks';
import { ciphertextLength, createDecryptStream, createEncryptStream, fileContext, HEADER_SIZE } from './chunked';
import { generateDek } from './contract-keys';
import { toBase64url } from './encoding';
import { codeOf } from '../test-support/outcome';
import { buildManifest, checkHeaderMatches, createBlockVerifier, signManifest, verifyManifest, type FileManifest } from './manifest';
import { generateSigningKeyPair, signStatement } from './statements';
import type { SignedStatement } from './statements';
import { pipeThrough } from '../test-support/streams';

const target = { contract: 'c-1', version: 1, file: 'f-1' };
let uploader: CryptoKeyPair;
let mallory: CryptoKeyPair;
let dek: CryptoKey;
beforeAll(async () => {
  [uploader, mallory] = await Promise.all([generateSigningKeyPair(), generateSigningKeyPair()]);
  dek = await generateDek({ extractable: false });
});

async function upload(plaintext: Uint8Array, maxBlockSize: number, t = target, signer = uploader) {
  const context = fileContext(t.contract, t.file);
  const enc = await createEncryptStream(dek, { context });
  const cutter = createBlockCutter(ciphertextLength(plaintext.length), maxBlockSize);
  const blocks: CutBlock[] = [];
  const reader = new Blob([plaintext as BlobPart]).stream().pipeThrough(enc.stream).pipeThrough(cutter).getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    blocks.push(value);
  }
  const manifest = buildManifest({
    ...t,
    uploader: 'acct-alice',
    salt: enc.salt,
    commitment: enc.commitment,
    plaintextLength: plaintext.length,
    blockSize: planBlocks(ciphertextLength(plaintext.length), maxBlockSize).blockSize,
    blockHashes: blocks.map((b) => b.sha256),
  });
  return { blocks, signed: await signManifest(signer.privateKey, manifest) };
}

async function download(signed: unknown, blocks: { index: number; bytes: Uint8Array }[], t = target): Promise<Uint8Array> {
  const manifest = await verifyManifest(uploader.publicKey, signed, t);
  const source = new ReadableStream({
    start(c) {
      for (const b of blocks) c.enqueue(b);
      c.close();
    },
  });
  const chunks: Uint8Array[] = [];
  const reader = source
    .pipeThrough(createBlockVerifier(manifest))
    .pipeThrough(createDecryptStream(dek, { context: fileContext(t.contract, t.file) }))
    .getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
  }
  return new Uint8Array(await new Blob(chunks as BlobPart[]).arrayBuffer());
}

const plaintext = Uint8Array.from({ length: 300_000 }, (_, i) => (i * 7) % 256);

describe('block plan', () => {
  it('gives every file at least three blocks, small blocks for small files, 4 MiB at most', () => {
    expect(planBlocks(72)).toEqual({ blockSize: 24, count: 3 });
    expect(planBlocks(100)).toEqual({ blockSize: 34, count: 3 });
    expect(planBlocks(12 * 1024 * 1024)).toEqual({ blockSize: 4 * 1024 * 1024, count: 3 });
    expect(planBlocks(12 * 1024 * 1024 + 1)).toEqual({ blockSize: 4 * 1024 * 1024, count: 4 });
    expect(blockRange(planBlocks(100), 100, 2)).toEqual({ offset: 68, length: 32 });
  });
  it('stripes block i to stores i mod N and i+1 mod N, so no store holds every block of a 3-block file', () => {
    for (const n of [3, 4, 5]) {
      for (let store = 0; store < n; store++) {
        const held = [0, 1, 2].filter((i) => blockStores(i, n).includes(store));
        expect(held.length).toBeLessThan(3);
      }
    }
    expect(blockStores(4, 3)).toEqual([1, 2]);
  });
});

describe('file upload and download through a hostile relay', () => {
  it('round-trips through stream encryption, blocks, a signed manifest and verified download', async () => {
    const { blocks, signed } = await upload(plaintext, 64 * 1024);
    expect(blocks.length).toBe(Math.ceil(ciphertextLength(plaintext.length) / (64 * 1024)));
    checkHeaderMatches(signed.statement, blocks[0]!.bytes.subarray(0, HEADER_SIZE));
    const back = await download(signed, blocks);
    expect(Buffer.from(back).equals(Buffer.from(plaintext))).toBe(true);
  });

  it('round-trips an empty file in three tiny blocks', async () => {
    const { blocks, signed } = await upload(new Uint8Array(0), 4 * 1024 * 1024);
    expect(blocks.map((b) => b.bytes.length)).toEqual([24, 24, 24]);
    expect((await download(signed, blocks)).length).toBe(0);
  });

  it('refuses a flipped bit in a block (E_HASH)', async () => {
    const { blocks, signed } = await upload(plaintext, 64 * 1024);
    const bad = blocks.map((b) => ({ index: b.index, bytes: b.bytes.slice() }));
    bad[2]!.bytes[5]! ^= 1;
    expect(await codeOf(download(signed, bad))).toBe('E_HASH');
  });

  it('refuses reordered, duplicated, dropped and missing-tail blocks', async () => {
    const { blocks, signed } = await upload(plaintext, 64 * 1024);
    const swapped = [blocks[1]!, blocks[0]!, ...blocks.slice(2)];
    expect(await codeOf(download(signed, swapped))).toBe('E_CONTEXT');
    // relabelled to look in order: the hash at that index does not match
    const relabelled = swapped.map((b, i) => ({ index: i, bytes: b.bytes }));
    expect(await codeOf(download(signed, relabelled))).toBe('E_HASH');
    const duplicated = [...blocks.slice(0, 2), { index: 2, bytes: blocks[1]!.bytes }, ...blocks.slice(3)];
    expect(await codeOf(download(signed, duplicated))).toBe('E_HASH');
    expect(await codeOf(download(signed, blocks.slice(0, -1)))).toBe('E_TRUNCATED');
    const extra = [...blocks, { index: blocks.length, bytes: new Uint8Array(10) }];
    expect(await codeOf(download(signed, extra))).toBe('E_CONTEXT');
  });

  it('refuses blocks taken from another file version, even with its own valid manifest hashes', async () => {
    const a = await upload(plaintext, 64 * 1024);
    const b = await upload(plaintext, 64 * 1024);
    // Same contract, same file, same plaintext: only the salt differs, and the hashes catch the swap.
    expect(await codeOf(download(a.signed, b.blocks))).toBe('E_HASH');
  });

  it('refuses a manifest for another contract, version or file (E_CONTEXT)', async () => {
    const { blocks, signed } = await upload(plaintext, 64 * 1024, { contract: 'c-2', version: 1, file: 'f-1' });
    expect(await codeOf(download(signed, blocks))).toBe('E_CONTEXT');
    const older = await upload(plaintext, 64 * 1024, { contract: 'c-1', version: 1, file: 'f-1' });
    expect(await codeOf(download(older.signed, older.blocks, { contract: 'c-1', version: 2, file: 'f-1' }))).toBe('E_CONTEXT');
  });

  it('refuses a manifest not signed by the expected uploader, or edited after signing (E_SIGNATURE)', async () => {
    const forged = await upload(plaintext, 64 * 1024, target, mallory);
    expect(await codeOf(download(forged.signed, forged.blocks))).toBe('E_SIGNATURE');
    const { blocks, signed } = await upload(plaintext, 64 * 1024);
    const edited: SignedStatement<FileManifest> = { ...signed, statement: { ...signed.statement, plaintextLength: 10 } };
    expect(await codeOf(download(edited, blocks))).toBe('E_SIGNATURE');
  });

  it('refuses an internally inconsistent manifest even when validly signed (E_FORMAT)', async () => {
    const { blocks, signed } = await upload(plaintext, 64 * 1024);
    const m = signed.statement;
    for (const bad of [
      { ...m, ciphertextLength: m.ciphertextLength + 1 },
      { ...m, blocks: m.blocks.slice(1) },
      { ...m, blockSize: m.ciphertextLength },
      { ...m, cipher: 'aes-cbc' },
      { ...m, salt: toBase64url(new Uint8Array(16)) },
    ]) {
      // signStatement, not signManifest: a malicious writer skips the client's own shape checks.
      const s = await signStatement(uploader.privateKey, bad as FileManifest);
      expect(await codeOf(download(s, blocks)), JSON.stringify(Object.keys(bad))).toBe('E_FORMAT');
    }
  });

  it('errors a block cutter fed more or fewer bytes than announced', async () => {
    await expect(pipeThrough(createBlockCutter(100) as unknown as TransformStream<Uint8Array, Uint8Array>, new Uint8Array(99))).rejects.toThrow(/E_TRUNCATED/);
    await expect(pipeThrough(createBlockCutter(100) as unknown as TransformStream<Uint8Array, Uint8Array>, new Uint8Array(101))).rejects.toThrow(/E_LIMIT/);
  });

  it('cuts the same blocks into reused buffers when the consumer gives each one back', async () => {
    const ciphertext = crypto.getRandomValues(new Uint8Array(10 * 1000 + 7));
    const cut = async (pool?: BlockBufferPool) => {
      const reader = new Blob([ciphertext]).stream().pipeThrough(createBlockCutter(ciphertext.length, 1000, pool)).getReader();
      const out: { bytes: Uint8Array; sha256: Uint8Array; buffer: ArrayBufferLike }[] = [];
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        out.push({ bytes: value.bytes.slice(), sha256: value.sha256, buffer: value.bytes.buffer });
        pool?.give(value.bytes);
      }
      return out;
    };
    const plain = await cut();
    const pooled = await cut(new BlockBufferPool());
    expect(pooled.map((b) => [b.bytes, b.sha256])).toEqual(plain.map((b) => [b.bytes, b.sha256]));
    expect(pooled.length).toBe(11);
    // Fewer distinct buffers than blocks: given-back buffers were filled again (the short last block included).
    expect(new Set(pooled.map((b) => b.buffer)).size).toBeLessThan(4);
  });

  it('hands out a fresh buffer when no spare one is big enough, and keeps a bounded number', () => {
    const pool = new BlockBufferPool(2);
    const a = pool.take(10);
    pool.give(a);
    expect(pool.take(20).buffer).not.toBe(a.buffer);
    const b = pool.take(5);
    expect(b.buffer).toBe(a.buffer);
    expect(b.length).toBe(5);
    for (const x of [new Uint8Array(8), new Uint8Array(8), new Uint8Array(8)]) pool.give(x);
    const kept = new Set([pool.take(8).buffer, pool.take(8).buffer, pool.take(8).buffer]);
    expect(kept.size).toBe(3); // two spares, then a new one
  });
});
