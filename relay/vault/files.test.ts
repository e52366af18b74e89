/**
 * Files through the vault API as a browser uses it: a real chunked-encrypted file cut into
 * blocks with a signed manifest, uploaded block by block (resumably), committed, downloaded and
 * decrypted; plus every refusal the relay owes: hashes, lengths, manifests, missing blocks.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { blockStores } from '../../shared/crypto/blocks';
import { createDecryptStream, fileContext } from '../../shared/crypto/chunked';
import { generateDek } from '../../shared/crypto/contract-keys';
import { toBase64url } from '../../shared/crypto/encoding';
import { buildManifest, createBlockVerifier, signManifest, verifyManifest } from '../../shared/crypto/manifest';
import { createFakePeers, encryptFile, pieces, startVault, type EncryptedFile, type FakePeers, type VaultHarness } from './test-fixture';
import { call, errorCode, nonCanonical, putBlock } from './test-http';

let fake: FakePeers;
let dek: CryptoKey;
let signer: CryptoKeyPair;
let alice: string;
let dave: string;
const harnesses: VaultHarness[] = [];

beforeAll(async () => {
  fake = await createFakePeers();
  fake.grant('space-1', 'alice', 'editor');
  fake.grant('space-1', 'dave', 'signer');
  fake.grant('space-1', 'bob', 'viewer');
  dek = await generateDek({ extractable: false });
  signer = await fake.signer('alice');
  alice = await fake.session('alice');
  dave = await fake.session('dave');
});

afterEach(async () => {
  while (harnesses.length) {
    const h = harnesses.pop()!;
    await h.close();
    rmSync(h.dataDir, { recursive: true, force: true });
  }
});

async function vault(dataDir?: string): Promise<VaultHarness> {
  const h = await startVault(fake, dataDir ? { dataDir } : {});
  harnesses.push(h);
  return h;
}

let counter = 0;
async function newFile(h: VaultHarness, size = 300_000, maxBlockSize = 64 * 1024, version = 1): Promise<EncryptedFile & { contract: string; file: string }> {
  const contract = `c-${++counter}`;
  const file = `f-${counter}`;
  expect((await call(h.app, 'POST', '/contracts', { token: alice, json: { contract, space: 'space-1' } })).status).toBe(201);
  const plaintext = Uint8Array.from({ length: size }, (_, i) => (i * 31 + 7) % 256);
  const enc = await encryptFile({ dek, signer: signer.privateKey, contract, file, version, uploader: 'alice', plaintext, maxBlockSize });
  return { ...enc, contract, file };
}

async function register(h: VaultHarness, f: { contract: string; file: string; signed: unknown; manifest: { version: number } }, token = alice): Promise<Response> {
  return call(h.app, 'POST', `/contracts/${f.contract}/files`, { token, json: { file: f.file, version: f.manifest.version, manifest: f.signed } });
}

async function download(h: VaultHarness, f: { contract: string; file: string; manifest: { version: number } }, token = alice): Promise<Uint8Array> {
  const v = f.manifest.version;
  const res = await call(h.app, 'GET', `/files/${f.file}/versions/${v}/manifest`, { token });
  expect(res.status).toBe(200);
  const manifest = await verifyManifest(signer.publicKey, await res.json(), { contract: f.contract, version: v, file: f.file });
  let index = 0;
  const blocks = new ReadableStream<{ index: number; bytes: Uint8Array }>({
    async pull(controller) {
      if (index >= manifest.blocks.length) return controller.close();
      const r = await call(h.app, 'GET', `/files/${f.file}/versions/${v}/blocks/${index}`, { token });
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toBe('application/octet-stream');
      controller.enqueue({ index, bytes: new Uint8Array(await r.arrayBuffer()) });
      index++;
    },
  });
  const out: Uint8Array[] = [];
  const reader = blocks.pipeThrough(createBlockVerifier(manifest)).pipeThrough(createDecryptStream(dek, { context: fileContext(f.contract, f.file) })).getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    out.push(value);
  }
  return new Uint8Array(Buffer.concat(out));
}

function storeDir(h: VaultHarness, i: number): string {
  return join(h.dataDir, 'stores', `store-${i}`);
}

/** Every committed blob file in a store folder. */
function blobFiles(h: VaultHarness, i: number): string[] {
  const root = join(storeDir(h, i), 'blobs');
  if (!existsSync(root)) return [];
  return readdirSync(root).flatMap((shard) => readdirSync(join(root, shard)).map((name) => join(root, shard, name)));
}

function tmpFiles(h: VaultHarness): string[] {
  return [0, 1, 2].flatMap((i) => {
    const dir = join(storeDir(h, i), 'tmp');
    return existsSync(dir) ? readdirSync(dir) : [];
  });
}

const allBlobs = (h: VaultHarness) => [0, 1, 2].flatMap((i) => blobFiles(h, i));

describe('upload, commit, download', () => {
  it('round-trips a real chunked-encrypted file through blocks, a signed manifest and verified decryption', async () => {
    const h = await vault();
    const f = await newFile(h);
    expect(f.blocks.length).toBe(5);
    const res = await register(h, f);
    expect(res.status).toBe(201);
    expect(await res.json()).toEqual({ file: f.file, version: 1, state: 'uploading', blockCount: 5, blockSize: 65536, ciphertextLength: f.manifest.ciphertextLength, created: true });
    // Blocks go up in pieces, as a network delivers them.
    for (const b of f.blocks) expect((await putBlock(h.app, alice, f.file, 1, b.index, pieces(b.bytes, 7000))).status).toBe(201);
    const listed = await call(h.app, 'GET', `/files/${f.file}/versions/1/blocks`, { token: alice });
    expect(await listed.json()).toEqual({ file: f.file, version: 1, state: 'uploading', present: [0, 1, 2, 3, 4], missing: [] });
    expect((await call(h.app, 'POST', `/files/${f.file}/versions/1/commit`, { token: alice })).status).toBe(200);

    const back = await download(h, f);
    expect(Buffer.from(back).equals(Buffer.from(f.plaintext))).toBe(true);
    // A viewer may download too, and every block download is audited.
    expect(Buffer.from(await download(h, f, await fake.session('bob'))).equals(Buffer.from(f.plaintext))).toBe(true);
    const downloads = h.audit.events.filter((e) => e.action === 'block.download');
    expect(downloads).toHaveLength(10);
    expect(downloads[0]).toMatchObject({ actor: 'alice', outcome: 'ok', target: `file:${f.file}/v1/block:0`, details: { contract: f.contract, bytes: f.blocks[0]!.bytes.length } });

    const files = await call(h.app, 'GET', `/contracts/${f.contract}/files`, { token: alice });
    expect(await files.json()).toEqual({
      contract: f.contract,
      files: [{ file: f.file, versions: [{ version: 1, state: 'committed', uploader: 'alice', blockCount: 5, ciphertextLength: f.manifest.ciphertextLength }] }],
    });
  });

  it('stripes two copies of each block so that no store folder holds every block, under random names', async () => {
    const h = await vault();
    const f = await newFile(h);
    expect((await register(h, f)).status).toBe(201);
    for (const b of f.blocks) await putBlock(h.app, alice, f.file, 1, b.index, b.bytes);
    const hashToIndex = new Map(f.manifest.blocks.map((hash, i) => [hash, i]));
    for (let store = 0; store < 3; store++) {
      const held = blobFiles(h, store).map((p) => {
        expect(p).not.toContain(f.file);
        expect(p).not.toContain(f.contract);
        expect(statSync(p).mode & 0o077).toBe(0);
        return hashToIndex.get(toBase64url(createHash('sha256').update(readFileSync(p)).digest()));
      });
      const expected = f.blocks.map((b) => b.index).filter((i) => blockStores(i, 3).includes(store));
      expect(held.sort()).toEqual(expected.sort());
      expect(held.length).toBeLessThan(f.blocks.length);
    }
    expect(allBlobs(h)).toHaveLength(2 * f.blocks.length);
    const metrics = await h.ctx.metrics.registry.getSingleMetricAsString('sealvault_block_bytes_stored');
    const total = f.blocks.reduce((n, b) => n + b.bytes.length, 0);
    const perStore = [...metrics.matchAll(/store="(store-\d)"\} (\d+)/g)].map((m) => Number(m[2]));
    expect(perStore.reduce((a, b) => a + b, 0)).toBe(2 * total);
  });

  it('resumes an upload after a restart: lists present and missing blocks, then finishes', async () => {
    const first = await vault();
    const f = await newFile(first);
    expect((await register(first, f)).status).toBe(201);
    for (const i of [0, 2]) expect((await putBlock(first.app, alice, f.file, 1, i, f.blocks[i]!.bytes)).status).toBe(201);
    harnesses.splice(harnesses.indexOf(first), 1);
    await first.close();

    const second = await vault(first.dataDir);
    const listed = await call(second.app, 'GET', `/files/${f.file}/versions/1/blocks`, { token: alice });
    expect(await listed.json()).toEqual({ file: f.file, version: 1, state: 'uploading', present: [0, 2], missing: [1, 3, 4] });
    const early = await call(second.app, 'POST', `/files/${f.file}/versions/1/commit`, { token: alice });
    expect(early.status).toBe(409);
    expect(await early.json()).toEqual({ error: { code: 'E_INCOMPLETE', message: 'missing blocks: 1, 3, 4' } });
    // Registering the same manifest again is a harmless retry.
    const again = await register(second, f);
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ created: false, state: 'uploading' });
    for (const i of [1, 3, 4]) expect((await putBlock(second.app, alice, f.file, 1, i, f.blocks[i]!.bytes)).status).toBe(201);
    expect((await call(second.app, 'POST', `/files/${f.file}/versions/1/commit`, { token: alice })).status).toBe(200);
    expect(Buffer.from(await download(second, f)).equals(Buffer.from(f.plaintext))).toBe(true);
  });

  it('answers a repeated block PUT with 200 without rewriting it', async () => {
    const h = await vault();
    const f = await newFile(h);
    await register(h, f);
    expect((await putBlock(h.app, alice, f.file, 1, 3, f.blocks[3]!.bytes)).status).toBe(201);
    const before = allBlobs(h).map((p) => [p, statSync(p).mtimeMs, statSync(p).ino]);
    const res = await putBlock(h.app, alice, f.file, 1, 3, f.blocks[3]!.bytes);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ file: f.file, version: 1, index: 3, stored: false });
    expect(allBlobs(h).map((p) => [p, statSync(p).mtimeMs, statSync(p).ino])).toEqual(before);
    expect(tmpFiles(h)).toEqual([]);
  });

  it('keeps one copy per store when the same block is uploaded twice at once', async () => {
    const h = await vault();
    const f = await newFile(h);
    await register(h, f);
    const results = await Promise.all([0, 1, 2].map(() => putBlock(h.app, alice, f.file, 1, 2, pieces(f.blocks[2]!.bytes, 4096))));
    for (const r of results) expect([200, 201]).toContain(r.status);
    expect(allBlobs(h)).toHaveLength(2);
    expect(tmpFiles(h)).toEqual([]);
    const metrics = await h.ctx.metrics.registry.getSingleMetricAsString('sealvault_block_bytes_stored');
    const perStore = [...metrics.matchAll(/store="(store-\d)"\} (\d+)/g)].map((m) => Number(m[2]));
    expect(perStore.reduce((a, b) => a + b, 0)).toBe(2 * f.blocks[2]!.bytes.length);
  });

  it('refuses a block whose bytes or length differ from the manifest (422 E_HASH) and keeps nothing', async () => {
    const h = await vault();
    const f = await newFile(h);
    await register(h, f);
    const flipped = f.blocks[1]!.bytes.slice();
    flipped[100]! ^= 1;
    const res = await putBlock(h.app, alice, f.file, 1, 1, flipped);
    expect(res.status).toBe(422);
    expect(await errorCode(res)).toBe('E_HASH');
    const short = await putBlock(h.app, alice, f.file, 1, 1, pieces(f.blocks[1]!.bytes.subarray(0, 1000)));
    expect(short.status).toBe(422);
    expect(await errorCode(short)).toBe('E_HASH');
    // Another block's bytes at this index are refused too.
    expect((await putBlock(h.app, alice, f.file, 1, 1, f.blocks[2]!.bytes)).status).toBe(422);
    expect(allBlobs(h)).toEqual([]);
    expect(tmpFiles(h)).toEqual([]);
    expect(await (await call(h.app, 'GET', `/files/${f.file}/versions/1/blocks`, { token: alice })).json()).toMatchObject({ present: [] });
  });

  it('refuses a body longer than the planned block (413) without writing past it', async () => {
    const h = await vault();
    const f = await newFile(h);
    await register(h, f);
    const block = f.blocks[0]!.bytes;
    const longer = new Uint8Array(block.length + 1);
    longer.set(block);
    // Declared length: refused before a byte is read.
    const declared = await putBlock(h.app, alice, f.file, 1, 0, longer, { 'content-length': String(longer.length) });
    expect(declared.status).toBe(413);
    expect(await errorCode(declared)).toBe('E_TOO_LARGE');
    // Streamed without a length: refused the moment it passes the plan.
    let pulled = 0;
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled += 4096;
        controller.enqueue(new Uint8Array(4096));
      },
    });
    const streamed = await putBlock(h.app, alice, f.file, 1, 0, endless);
    expect(streamed.status).toBe(413);
    expect(pulled).toBeLessThan(block.length + 4 * 4096);
    expect(allBlobs(h)).toEqual([]);
    expect(tmpFiles(h)).toEqual([]);
    // Index past the plan, wrong media type.
    expect((await putBlock(h.app, alice, f.file, 1, 5, block)).status).toBe(404);
    expect((await call(h.app, 'PUT', `/files/${f.file}/versions/1/blocks/0`, { token: alice, body: block, headers: { 'content-type': 'text/plain' } })).status).toBe(415);
    expect((await putBlock(h.app, alice, f.file, 1, Number.NaN, block)).status).toBe(400);
    expect((await call(h.app, 'PUT', `/files/${f.file}/versions/1/blocks/01`, { token: alice, body: block, headers: { 'content-type': 'application/octet-stream' } })).status).toBe(400);
  });

  it('refuses to commit while blocks are missing, and to serve blocks before the commit', async () => {
    const h = await vault();
    const f = await newFile(h);
    await register(h, f);
    await putBlock(h.app, alice, f.file, 1, 0, f.blocks[0]!.bytes);
    const res = await call(h.app, 'POST', `/files/${f.file}/versions/1/commit`, { token: alice });
    expect(res.status).toBe(409);
    expect(await res.json()).toEqual({ error: { code: 'E_INCOMPLETE', message: 'missing blocks: 1, 2, 3, 4' } });
    const early = await call(h.app, 'GET', `/files/${f.file}/versions/1/blocks/0`, { token: alice });
    expect(early.status).toBe(409);
    expect(await errorCode(early)).toBe('E_NOT_COMMITTED');
    // Only what did happen: the contract and the file version were registered; no commit, no download.
    expect(h.audit.events.map((e) => e.action)).toEqual(['contract.create', 'file.register']);
  });

  it.each([0, 1, 2])('serves every block after store folder %i is lost entirely, from the replicas', async (lost) => {
    const h = await vault();
    const f = await newFile(h, 500_000);
    await register(h, f);
    for (const b of f.blocks) await putBlock(h.app, alice, f.file, 1, b.index, b.bytes);
    expect((await call(h.app, 'POST', `/files/${f.file}/versions/1/commit`, { token: alice })).status).toBe(200);
    rmSync(storeDir(h, lost), { recursive: true, force: true });
    expect(Buffer.from(await download(h, f)).equals(Buffer.from(f.plaintext))).toBe(true);
    expect(await (await call(h.app, 'GET', `/files/${f.file}/versions/1/blocks`, { token: alice })).json()).toMatchObject({ missing: [] });
  });

  it('falls back to the replica when one copy has the wrong length, and repairs a lost copy on re-upload', async () => {
    const h = await vault();
    const f = await newFile(h);
    await register(h, f);
    for (const b of f.blocks) await putBlock(h.app, alice, f.file, 1, b.index, b.bytes);
    await call(h.app, 'POST', `/files/${f.file}/versions/1/commit`, { token: alice });
    // Block 0 lives on stores 0 and 1: truncate the copy on store 0.
    const [copy] = blobFiles(h, 0).filter((p) => readFileSync(p).length === f.blocks[0]!.bytes.length && createHash('sha256').update(readFileSync(p)).digest().equals(Buffer.from(f.blocks[0]!.sha256)));
    truncateSync(copy!, 10);
    const res = await call(h.app, 'GET', `/files/${f.file}/versions/1/blocks/0`, { token: alice });
    expect(Buffer.from(await res.arrayBuffer()).equals(Buffer.from(f.blocks[0]!.bytes))).toBe(true);
    // Re-uploading block 0 rewrites only the damaged copy.
    rmSync(copy!);
    const before = blobFiles(h, 1).length;
    expect((await putBlock(h.app, alice, f.file, 1, 0, f.blocks[0]!.bytes)).status).toBe(201);
    expect(blobFiles(h, 1).length).toBe(before);
    expect(blobFiles(h, 0).length).toBe(f.blocks.filter((b) => blockStores(b.index, 3).includes(0)).length);
  });

  it('cuts off a download whose stored copy fails its SHA-256, then serves the replica', async () => {
    const h = await vault();
    const f = await newFile(h);
    await register(h, f);
    for (const b of f.blocks) await putBlock(h.app, alice, f.file, 1, b.index, b.bytes);
    await call(h.app, 'POST', `/files/${f.file}/versions/1/commit`, { token: alice });
    const copy = blobFiles(h, 0).find((p) => createHash('sha256').update(readFileSync(p)).digest().equals(Buffer.from(f.blocks[0]!.sha256)))!;
    const bytes = readFileSync(copy);
    bytes[bytes.length - 1]! ^= 0x80;
    writeFileSync(copy, bytes);
    const damaged = await call(h.app, 'GET', `/files/${f.file}/versions/1/blocks/0`, { token: alice });
    expect(damaged.status).toBe(200);
    await expect(damaged.arrayBuffer()).rejects.toThrow();
    const res = await call(h.app, 'GET', `/files/${f.file}/versions/1/blocks/0`, { token: alice });
    expect(Buffer.from(await res.arrayBuffer()).equals(Buffer.from(f.blocks[0]!.bytes))).toBe(true);
  });

  it('with download verification off, checks only the length and leaves the hash to the client', async () => {
    const h = await startVault(fake, { verifyDownloads: false });
    harnesses.push(h);
    const f = await newFile(h);
    await register(h, f);
    for (const b of f.blocks) await putBlock(h.app, alice, f.file, 1, b.index, b.bytes);
    await call(h.app, 'POST', `/files/${f.file}/versions/1/commit`, { token: alice });
    const copy = blobFiles(h, 0).find((p) => createHash('sha256').update(readFileSync(p)).digest().equals(Buffer.from(f.blocks[0]!.sha256)))!;
    const bytes = readFileSync(copy);
    bytes[0]! ^= 1;
    writeFileSync(copy, bytes);
    const res = await call(h.app, 'GET', `/files/${f.file}/versions/1/blocks/0`, { token: alice });
    expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);
    await expect(download(h, f)).rejects.toThrow(/E_HASH/);
    const dir = mkdtempSync(join(tmpdir(), 'sealvault-vault-'));
    await expect(startVault(fake, { dataDir: dir, env: { SEALVAULT_VERIFY_DOWNLOADS: 'maybe' } })).rejects.toThrow(/true or false/);
    rmSync(dir, { recursive: true, force: true });
  });

  it('handles full 4 MiB blocks and a tiny file of three tiny blocks', async () => {
    const h = await vault();
    const big = await newFile(h, 13 * 1024 * 1024, 4 * 1024 * 1024);
    expect(big.blocks.map((b) => b.bytes.length)).toEqual([4194304, 4194304, 4194304, big.manifest.ciphertextLength - 3 * 4194304]);
    const tiny = await newFile(h, 0, 4 * 1024 * 1024);
    expect(tiny.blocks.map((b) => b.bytes.length)).toEqual([24, 24, 24]);
    for (const f of [big, tiny]) {
      expect((await register(h, f)).status).toBe(201);
      for (const b of f.blocks) expect((await putBlock(h.app, alice, f.file, 1, b.index, pieces(b.bytes, 65536))).status).toBe(201);
      expect((await call(h.app, 'POST', `/files/${f.file}/versions/1/commit`, { token: alice })).status).toBe(200);
      expect(Buffer.from(await download(h, f)).equals(Buffer.from(f.plaintext))).toBe(true);
    }
  });

  it('answers 503, never "deleted", when no store holds a block any more', async () => {
    const h = await vault();
    const f = await newFile(h);
    await register(h, f);
    for (const b of f.blocks) await putBlock(h.app, alice, f.file, 1, b.index, b.bytes);
    await call(h.app, 'POST', `/files/${f.file}/versions/1/commit`, { token: alice });
    rmSync(storeDir(h, 0), { recursive: true, force: true });
    rmSync(storeDir(h, 1), { recursive: true, force: true });
    const res = await call(h.app, 'GET', `/files/${f.file}/versions/1/blocks/0`, { token: alice });
    expect(res.status).toBe(503);
    expect(await errorCode(res)).toBe('E_UNAVAILABLE');
    // Uploads need both copies: with a store gone, a new block is refused, not half-stored.
    const g = await newFile(h);
    await register(h, g);
    const put = await putBlock(h.app, alice, g.file, 1, 0, g.blocks[0]!.bytes);
    expect(put.status).toBe(503);
    expect(await errorCode(put)).toBe('E_STORE_UNAVAILABLE');
  });
});

describe('manifests', () => {
  type Mutable = Record<string, unknown>;
  async function refused(h: VaultHarness, f: EncryptedFile & { contract: string; file: string }, edit: (body: { file: string; version: number; manifest: { statement: Mutable; signature: string } }) => void, token = alice): Promise<string> {
    const body = structuredClone({ file: f.file, version: 1, manifest: f.signed as unknown as { statement: Mutable; signature: string } });
    edit(body);
    const res = await call(h.app, 'POST', `/contracts/${f.contract}/files`, { token, json: body });
    expect(res.status, JSON.stringify(await res.clone().json())).toBe(400);
    return errorCode(res);
  }

  it('refuses manifests for another contract, file, version or uploader, and inconsistent ones', async () => {
    const h = await vault();
    const f = await newFile(h);
    const other = await newFile(h);
    expect(await refused(h, f, (b) => (b.manifest.statement.contract = other.contract))).toBe('E_CONTEXT');
    expect(await refused(h, f, (b) => (b.file = 'another-file'))).toBe('E_CONTEXT');
    expect(await refused(h, f, (b) => (b.version = 2))).toBe('E_CONTEXT');
    expect(await refused(h, f, (b) => (b.manifest.statement.version = 2))).toBe('E_CONTEXT');
    expect(await refused(h, f, () => undefined, dave)).toBe('E_CONTEXT'); // uploader is alice, caller is dave
    const s = f.manifest;
    expect(await refused(h, f, (b) => (b.manifest.statement.ciphertextLength = s.ciphertextLength + 1))).toBe('E_VALIDATION');
    expect(await refused(h, f, (b) => (b.manifest.statement.plaintextLength = s.plaintextLength + 1))).toBe('E_VALIDATION');
    expect(await refused(h, f, (b) => (b.manifest.statement.blockSize = s.blockSize * 2))).toBe('E_VALIDATION');
    // At most ceil(ciphertextLength / 3): fewer than three blocks is refused.
    expect(await refused(h, f, (b) => (b.manifest.statement.blockSize = Math.ceil(s.ciphertextLength / 3) + 1))).toBe('E_VALIDATION');
    expect(await refused(h, f, (b) => (b.manifest.statement.blockSize = 4 * 1024 * 1024 + 1))).toBe('E_VALIDATION');
    expect(await refused(h, f, (b) => (b.manifest.statement.blocks = s.blocks.slice(1)))).toBe('E_VALIDATION');
    expect(await refused(h, f, (b) => (b.manifest.statement.blocks = [...s.blocks, s.blocks[0]]))).toBe('E_VALIDATION');
    expect(await refused(h, f, (b) => (b.manifest.statement.cipher = 'c2sp.org/chunked-encryption@v1+AEAD_CHACHA20_POLY1305'))).toBe('E_VALIDATION');
    expect(await refused(h, f, (b) => (b.manifest.statement.chunkSize = 65536))).toBe('E_VALIDATION');
    expect(await refused(h, f, (b) => (b.manifest.statement.type = 'sealvault/v1/grant'))).toBe('E_VALIDATION');
    expect(await refused(h, f, (b) => (b.manifest.statement.blocks = s.blocks.map((x, i) => (i === 2 ? x.slice(0, 40) : x))))).toBe('E_VALIDATION');
    expect(await refused(h, f, (b) => (b.manifest.signature = b.manifest.signature.slice(0, 40)))).toBe('E_VALIDATION');
  });

  it('refuses a manifest not signed with the uploader\'s certified signing key', async () => {
    const h = await vault();
    const f = await newFile(h);
    const post = (signed: unknown, token = alice) => call(h.app, 'POST', `/contracts/${f.contract}/files`, { token, json: { file: f.file, version: 1, manifest: signed } });
    const expectRefused = async (res: Response, status: number, code: string) => {
      expect(res.status).toBe(status);
      expect(await errorCode(res)).toBe(code);
    };
    // Naming alice, signed with dave's key.
    await expectRefused(await post(await signManifest((await fake.signer('dave')).privateKey, f.manifest)), 400, 'E_SIGNATURE');
    // Alice's signature over another manifest: one block hash changed after signing.
    const swapped = structuredClone(f.signed);
    swapped.statement.blocks[1] = f.manifest.blocks[0]!;
    await expectRefused(await post(swapped), 400, 'E_SIGNATURE');
    // Dave's genuine manifest naming dave, stored by alice: the uploader must be the caller.
    const daves = await signManifest((await fake.signer('dave')).privateKey, buildManifest({
      contract: f.contract,
      version: 1,
      file: f.file,
      uploader: 'dave',
      salt: f.salt,
      commitment: Buffer.from(f.manifest.commitment, 'base64url'),
      plaintextLength: f.manifest.plaintextLength,
      blockSize: f.manifest.blockSize,
      blockHashes: f.manifest.blocks.map((b) => Buffer.from(b, 'base64url')),
    }));
    await expectRefused(await post(daves), 400, 'E_CONTEXT');
    // Signed by the uploader, but the uploader is not (or no longer) certified.
    const daveKey = fake.accounts.get('dave')!.signingKey;
    for (const state of [{ certified: false }, { revoked: true }, { status: 'disabled' as const }, { signingKey: null }]) {
      await fake.signer('dave', state);
      await expectRefused(await post(daves, dave), 409, 'E_NOT_CERTIFIED');
      await fake.signer('dave', { certified: true, revoked: false, status: 'active', signingKey: daveKey });
    }
    // An account the directory does not know.
    fake.grant('space-1', 'ghost', 'editor');
    const ghost = structuredClone(daves);
    ghost.statement.uploader = 'ghost';
    await expectRefused(await post(ghost, await fake.session('ghost')), 409, 'E_NOT_CERTIFIED');
    expect(h.audit.events.filter((e) => e.action === 'file.register')).toEqual([]);
    expect(await (await call(h.app, 'GET', `/contracts/${f.contract}/files`, { token: alice })).json()).toEqual({ contract: f.contract, files: [] });
    // Dave's own, certified: accepted; the vault asked the directory about the signer.
    const before = fake.directoryLookups.length;
    expect((await post(daves, dave)).status).toBe(201);
    expect(fake.directoryLookups.slice(before)).toEqual(['dave']);
  });

  it('refuses unknown fields and non-canonical base64url', async () => {
    const h = await vault();
    const f = await newFile(h);
    expect(await refused(h, f, (b) => (b.manifest.statement.name = 'contract.pdf'))).toBe('E_VALIDATION');
    expect(await refused(h, f, (b) => ((b as Mutable).name = 'contract.pdf'))).toBe('E_VALIDATION');
    expect(await refused(h, f, (b) => ((b.manifest as Mutable).signer = 'alice'))).toBe('E_VALIDATION');
    expect(await refused(h, f, (b) => (b.manifest.statement.commitment = nonCanonical(f.manifest.commitment)))).toBe('E_VALIDATION');
    expect(await refused(h, f, (b) => (b.manifest.statement.salt = `${f.manifest.salt}==`))).toBe('E_VALIDATION');
    expect(await refused(h, f, (b) => (b.manifest.statement.blocks = f.manifest.blocks.map((x, i) => (i === 0 ? nonCanonical(x) : x))))).toBe('E_VALIDATION');
    expect(await refused(h, f, (b) => (b.manifest.signature = nonCanonical(f.signed.signature)))).toBe('E_VALIDATION');
    expect(await refused(h, f, (b) => (b.manifest.statement.salt = f.manifest.salt.replace(/.$/, '+')))).toBe('E_VALIDATION');
  });

  it('keeps file ids to one contract and file versions going up', async () => {
    const h = await vault();
    const f2 = await newFile(h, 300_000, 64 * 1024, 2);
    expect((await register(h, f2)).status).toBe(201);
    const f1 = await encryptFile({ dek, signer: signer.privateKey, contract: f2.contract, file: f2.file, version: 1, uploader: 'alice', plaintext: new Uint8Array(10), maxBlockSize: 4 << 20 });
    const older = await register(h, { ...f1, contract: f2.contract, file: f2.file });
    expect(older.status).toBe(409);
    expect(await errorCode(older)).toBe('E_ROLLBACK');
    // Version 2 again with another manifest: refused.
    const f2b = await encryptFile({ dek, signer: signer.privateKey, contract: f2.contract, file: f2.file, version: 2, uploader: 'alice', plaintext: new Uint8Array(10), maxBlockSize: 4 << 20 });
    expect((await register(h, { ...f2b, contract: f2.contract, file: f2.file })).status).toBe(409);
    // The same file id under another contract.
    const elsewhere = await newFile(h);
    const moved = await encryptFile({ dek, signer: signer.privateKey, contract: elsewhere.contract, file: f2.file, version: 3, uploader: 'alice', plaintext: new Uint8Array(10), maxBlockSize: 4 << 20 });
    const res = await register(h, { ...moved, contract: elsewhere.contract, file: f2.file });
    expect(res.status).toBe(409);
    expect(await errorCode(res)).toBe('E_EXISTS');
  });

  it('serves the stored manifest unchanged', async () => {
    const h = await vault();
    const f = await newFile(h);
    await register(h, f);
    const res = await call(h.app, 'GET', `/files/${f.file}/versions/1/manifest`, { token: alice });
    expect(await res.json()).toEqual(f.signed);
    expect((await call(h.app, 'GET', `/files/${f.file}/versions/9/manifest`, { token: alice })).status).toBe(404);
  });
});
