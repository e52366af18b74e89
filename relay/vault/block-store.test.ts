/** The local-folder block store and the store configuration the vault starts with. */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BLOCK_STORES_ENV, configureBlockStores, LocalFolderStore, newBlobId } from './block-store';
import { createVaultService } from './index';
import { testServiceContext } from '../test-support/service-context';

const root = mkdtempSync(join(tmpdir(), 'sealvault-stores-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const folder = () => {
  const dir = join(root, `f${++n}`);
  mkdirSync(dir);
  return dir;
};

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Buffer> {
  return Buffer.from(await new Response(stream).arrayBuffer());
}

describe('LocalFolderStore', () => {
  it('writes atomically under a random id and reads back, with size, has, usage and delete', async () => {
    const store = new LocalFolderStore(folder(), 'store-0');
    await store.open();
    const id = newBlobId();
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    const writer = await store.create(id);
    await writer.write(new Uint8Array([1, 2, 3]));
    // Nothing is visible before the commit.
    expect(await store.has(id)).toBe(false);
    expect(readdirSync(join(store.root, 'tmp'))).toHaveLength(1);
    await writer.write(new Uint8Array([4, 5]));
    await writer.commit();
    expect(readdirSync(join(store.root, 'tmp'))).toEqual([]);
    expect(await store.size(id)).toBe(5);
    expect(statSync(join(store.root, 'blobs', id.slice(0, 2), id)).mode & 0o777).toBe(0o600);
    const blob = await store.get(id);
    expect(blob!.size).toBe(5);
    expect([...(await readAll(blob!.stream))]).toEqual([1, 2, 3, 4, 5]);
    const big = new Uint8Array(1_000_000).map((_, i) => i % 253);
    const other = newBlobId();
    expect(await store.put(other, new Blob([big]).stream())).toBe(big.length);
    expect((await readAll((await store.get(other))!.stream)).equals(Buffer.from(big))).toBe(true);
    expect(await store.usage()).toBe(5 + big.length);
    await store.delete(id);
    expect(await store.get(id)).toBeNull();
    expect(await store.has(id)).toBe(false);
    await expect(store.size('../../etc/passwd')).rejects.toThrow(TypeError);
  });

  it('leaves nothing behind when a write is aborted, and clears interrupted writes at open', async () => {
    const store = new LocalFolderStore(folder(), 'store-0');
    await store.open();
    const writer = await store.create(newBlobId());
    await writer.write(new Uint8Array(1000));
    await writer.abort();
    await writer.abort();
    expect(readdirSync(join(store.root, 'tmp'))).toEqual([]);
    expect(await store.usage()).toBe(0);
    writeFileSync(join(store.root, 'tmp', 'crashed.part'), 'x');
    await store.open();
    expect(readdirSync(join(store.root, 'tmp'))).toEqual([]);
  });

  it('reports a missing folder as missing blobs, not as a crash', async () => {
    const dir = folder();
    const store = new LocalFolderStore(dir, 'store-0');
    await store.open();
    const id = newBlobId();
    await store.put(id, new Blob([new Uint8Array(10)]).stream());
    rmSync(dir, { recursive: true });
    expect(await store.get(id)).toBeNull();
    expect(await store.size(id)).toBeNull();
    await expect(store.create(newBlobId())).rejects.toThrow();
    // A configured folder must exist: it is never silently created (it may be an unmounted mount point).
    await expect(store.open()).rejects.toThrow(/not an existing folder/);
  });

  it('marks each folder with a store id and refuses a folder that belongs to another position', async () => {
    const a = new LocalFolderStore(folder(), 'store-0');
    const b = new LocalFolderStore(folder(), 'store-1');
    const ma = await a.open();
    const mb = await b.open();
    expect(ma).not.toBe(mb);
    expect(JSON.parse(readFileSync(join(a.root, 'sealvault-store.json'), 'utf8'))).toEqual({ store: ma });
    expect(await a.open(ma)).toBe(ma);
    await expect(a.open(mb)).rejects.toThrow(/another store's blocks/);
    // An emptied (replaced) folder takes its position's marker back.
    const c = new LocalFolderStore(folder(), 'store-2');
    expect(await c.open(ma)).toBe(ma);
  });
});

describe('configureBlockStores', () => {
  it('defaults to three folders inside the data folder', () => {
    const stores = configureBlockStores('/data/vault', {});
    expect(stores.map((s) => [s.label, s.root])).toEqual([0, 1, 2].map((i) => [`store-${i}`, `/data/vault/stores/store-${i}`]));
  });

  it('takes comma-separated absolute folders from SEALVAULT_BLOCK_STORES', () => {
    const stores = configureBlockStores('/data/vault', { [BLOCK_STORES_ENV]: '/mnt/a, /mnt/b,/mnt/c,/mnt/d' });
    expect(stores.map((s) => s.root)).toEqual(['/mnt/a', '/mnt/b', '/mnt/c', '/mnt/d']);
  });

  it.each([
    ['/mnt/a,/mnt/b', /at least 3/],
    ['/mnt/a', /at least 3/],
    ['/mnt/a,relative/b,/mnt/c', /not an absolute path/],
    ['/mnt/a,/mnt/b,/mnt/a', /listed twice/],
    ['/mnt/a,/mnt/b/,/mnt/b', /listed twice/],
    ['/mnt/a,/mnt/a/inner,/mnt/c', /inside another store/],
    ['/mnt/a,,/mnt/c', /empty entry/],
  ])('refuses %s', (value, message) => {
    expect(() => configureBlockStores('/data/vault', { [BLOCK_STORES_ENV]: value })).toThrow(message);
  });
});

describe('vault start', () => {
  it('refuses to start with fewer than three stores', async () => {
    const ctx = await testServiceContext('vault', { dataDir: folder() });
    await expect(createVaultService(ctx, { env: { [BLOCK_STORES_ENV]: `${folder()},${folder()}` } })).rejects.toThrow(/at least 3/);
    await expect(createVaultService(ctx, { stores: [new LocalFolderStore(folder(), 'a'), new LocalFolderStore(folder(), 'b')] })).rejects.toThrow(/at least 3/);
  });

  it('uses configured folders, and refuses to start when two were swapped or one was dropped', async () => {
    const ctx = await testServiceContext('vault', { dataDir: folder() });
    const dirs = [folder(), folder(), folder()];
    const first = await createVaultService(ctx, { env: { [BLOCK_STORES_ENV]: dirs.join(',') } });
    await first.close?.();
    for (const d of dirs) expect(existsSync(join(d, 'sealvault-store.json'))).toBe(true);
    expect(existsSync(join(ctx.dataDir, 'stores'))).toBe(false);
    await expect(createVaultService(ctx, { env: { [BLOCK_STORES_ENV]: [dirs[1], dirs[0], dirs[2]].join(',') } })).rejects.toThrow(/another store's blocks/);
    const again = await createVaultService(ctx, { env: { [BLOCK_STORES_ENV]: dirs.join(',') } });
    await again.close?.();
    const four = await createVaultService(ctx, { env: { [BLOCK_STORES_ENV]: [...dirs, folder()].join(',') } });
    await four.close?.();
    await expect(createVaultService(ctx, { env: { [BLOCK_STORES_ENV]: dirs.join(',') } })).rejects.toThrow(/removing a store is not supported/);
    // A configured folder that is gone (an unmounted disk) stops the start.
    renameSync(dirs[2]!, `${dirs[2]}-away`);
    await expect(createVaultService(ctx, { env: { [BLOCK_STORES_ENV]: [...dirs, folder()].join(',') } })).rejects.toThrow(/not an existing folder/);
  });
});
