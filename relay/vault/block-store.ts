/**
 * Block stores: where ciphertext blocks live, behind one small interface so that a local folder
 * (the embedded default) and, later, an S3-compatible bucket are interchangeable (DESIGN.md
 * section 6). A store knows nothing about files, contracts or indexes: it holds opaque blobs
 * under random ids that the vault's database maps to (file, version, index).
 *
 * Writes are atomic: bytes stream into a temporary object that becomes visible under its id only
 * on commit() (local folder: temp file, fsync, rename, fsync of the directory; S3: a streamed
 * PutObject with the expected length and SHA-256, or a multipart upload completed on commit).
 * Deleting exists for the vault's own housekeeping (a duplicate of a concurrent upload) and is
 * never reachable from the HTTP API.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { isAbsolute, join, resolve } from 'node:path';

export interface BlockWriter {
  /**
   * Appends bytes. Resolves once the store no longer needs `chunk` (written out, or copied), so
   * the caller may then reuse its memory; the caller bounds how many writes it keeps in flight.
   */
  write(chunk: Uint8Array): Promise<void>;
  /** Makes the blob durable and visible under its id. */
  commit(): Promise<void>;
  /** Discards whatever was written; safe to call more than once or after a failed commit. */
  abort(): Promise<void>;
}

/** Watches the bytes of a blob as they are read (to verify them) and decides how the stream ends. */
export interface StreamCheck {
  update(chunk: Uint8Array): void | Promise<void>;
  /** After the last byte; a rejection errors the stream instead of ending it cleanly. */
  end(): void | Promise<void>;
  /** The stream was cancelled or failed before its end. */
  abort(): void;
}

export interface StoredBlob {
  size: number;
  /** The blob's bytes; cancel it to release the underlying handle early. */
  stream: ReadableStream<Uint8Array>;
}

export interface BlockStore {
  /** Label for metrics and logs ("store-0"); never a path or a secret. */
  readonly label: string;
  /**
   * Checks the store is reachable and returns its marker: a random id written once into the
   * store, so a configuration that swaps two stores is caught at start. `expected` is the
   * marker this position held before (a store found empty gets it back).
   */
  open(expected?: string): Promise<string>;
  /** Starts an atomic write of a new blob under `id` (a fresh random id, never reused). */
  create(id: string): Promise<BlockWriter>;
  /** Convenience: the whole of `source` as blob `id`, atomically. Returns the byte count. */
  put(id: string, source: AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>): Promise<number>;
  /**
   * The blob, or null when this store does not have it (or cannot be reached). With `check`,
   * every byte passes through it before it is handed on, and the stream ends only if
   * `check.end()` accepts (an S3 store would do the same around its response body).
   */
  get(id: string, check?: StreamCheck): Promise<StoredBlob | null>;
  /** Size of the blob, or null when absent. */
  size(id: string): Promise<number | null>;
  has(id: string): Promise<boolean>;
  /** Internal housekeeping only; never exposed by the API. */
  delete(id: string): Promise<void>;
  /** Bytes held in blobs. */
  usage(): Promise<number>;
}

export function newBlobId(): string {
  return randomBytes(16).toString('hex');
}

const BLOB_ID = /^[0-9a-f]{32}$/;
const MARKER_FILE = 'sealvault-store.json';
const WRITE_HIGH_WATER = 1024 * 1024;
const READ_PIECE = 256 * 1024;

function checkBlobId(id: string): string {
  if (!BLOB_ID.test(id)) throw new TypeError('blob id must be 32 lower-case hex digits');
  return id;
}

function isNotFound(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * A block store in a local folder:
 *   <root>/sealvault-store.json   {"store": marker}
 *   <root>/tmp/<random>.part      writes in progress (removed at open)
 *   <root>/blobs/<id[0..2]>/<id>  committed blobs, mode 0600
 * The folder is expected to exist (it may be a mount point); it is never created here unless
 * `createRoot` is set (the default folders inside the service's data folder).
 */
export class LocalFolderStore implements BlockStore {
  readonly root: string;
  private readonly tmpDir: string;
  private readonly blobDir: string;

  constructor(
    root: string,
    readonly label: string,
    private readonly options: { createRoot?: boolean } = {},
  ) {
    this.root = resolve(root);
    this.tmpDir = join(this.root, 'tmp');
    this.blobDir = join(this.root, 'blobs');
  }

  private pathOf(id: string): string {
    checkBlobId(id);
    return join(this.blobDir, id.slice(0, 2), id);
  }

  async open(expected?: string): Promise<string> {
    if (this.options.createRoot) await mkdir(this.root, { recursive: true, mode: 0o700 });
    const info = await stat(this.root).catch(() => null);
    if (!info?.isDirectory()) throw new Error(`block store ${this.label}: ${this.root} is not an existing folder`);
    await mkdir(this.tmpDir, { recursive: true, mode: 0o700 });
    await mkdir(this.blobDir, { recursive: true, mode: 0o700 });
    // Leftovers of writes interrupted by a crash: never committed, never referenced.
    for (const name of await readdir(this.tmpDir)) if (name.endsWith('.part')) await rm(join(this.tmpDir, name), { force: true });
    const markerPath = join(this.root, MARKER_FILE);
    let marker: string | undefined;
    try {
      const parsed = JSON.parse(await readFile(markerPath, 'utf8')) as { store?: unknown };
      if (typeof parsed.store !== 'string' || !BLOB_ID.test(parsed.store)) throw new Error('bad marker');
      marker = parsed.store;
    } catch (e) {
      if (!isNotFound(e)) throw new Error(`block store ${this.label}: ${markerPath} is unreadable or damaged`, { cause: e });
    }
    if (marker === undefined) {
      marker = expected ?? newBlobId();
      await writeFile(markerPath, `${JSON.stringify({ store: marker })}\n`, { mode: 0o600, flag: 'wx' });
      await fsyncDir(this.root);
    } else if (expected !== undefined && marker !== expected) {
      throw new Error(`block store ${this.label}: ${this.root} holds another store's blocks (marker ${marker}, expected ${expected}); check the order of the configured folders`);
    }
    return marker;
  }

  async create(id: string): Promise<BlockWriter> {
    const final = this.pathOf(id);
    const temp = join(this.tmpDir, `${newBlobId()}.part`);
    const out: WriteStream = createWriteStream(temp, { flags: 'wx', mode: 0o600, highWaterMark: WRITE_HIGH_WATER, flush: true });
    let failure: Error | undefined;
    out.on('error', (e) => {
      failure ??= e;
    });
    await new Promise<void>((ok, fail) => {
      out.once('open', () => ok());
      out.once('error', fail);
    });
    let state: 'open' | 'committed' | 'aborted' = 'open';
    const closed = () => new Promise<void>((ok) => (out.closed ? ok() : out.once('close', () => ok())));
    return {
      write: (chunk) => {
        if (failure) return Promise.reject(failure);
        if (state !== 'open') return Promise.reject(new Error('blob write already finished'));
        return new Promise<void>((ok, fail) => {
          out.write(chunk, (e) => (e ? fail(e) : ok()));
        });
      },
      commit: async () => {
        if (state !== 'open') throw new Error('blob write already finished');
        // flush: true makes the stream fsync before it closes.
        await new Promise<void>((ok, fail) => {
          out.end((e?: Error | null) => (e ? fail(e) : ok()));
        });
        await closed();
        if (failure) throw failure;
        const dir = join(this.blobDir, id.slice(0, 2));
        try {
          await rename(temp, final);
        } catch (e) {
          if (!isNotFound(e)) throw e;
          // First blob in this shard folder (not recursive: a vanished store must not be recreated).
          await mkdir(dir, { mode: 0o700 }).catch((m: NodeJS.ErrnoException) => {
            if (m.code !== 'EEXIST') throw m;
          });
          await rename(temp, final);
        }
        state = 'committed';
        try {
          await fsyncDir(dir);
        } catch (e) {
          // Not durable, so not committed: take it back.
          await unlink(final).catch(() => undefined);
          throw e;
        }
      },
      abort: async () => {
        if (state !== 'open') return;
        state = 'aborted';
        out.destroy();
        await closed();
        await unlink(temp).catch(() => undefined);
      },
    };
  }

  async put(id: string, source: AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>): Promise<number> {
    const writer = await this.create(id);
    let total = 0;
    // Up to WRITE_HIGH_WATER bytes written ahead, as a plain pipe would.
    const pending: { done: Promise<void>; size: number }[] = [];
    let pendingBytes = 0;
    try {
      for await (const chunk of source as AsyncIterable<Uint8Array>) {
        total += chunk.length;
        const done = writer.write(chunk);
        done.catch(() => undefined);
        pending.push({ done, size: chunk.length });
        pendingBytes += chunk.length;
        while (pendingBytes > WRITE_HIGH_WATER) {
          const oldest = pending.shift()!;
          await oldest.done;
          pendingBytes -= oldest.size;
        }
      }
      await Promise.all(pending.map((p) => p.done));
      await writer.commit();
      return total;
    } catch (e) {
      await writer.abort();
      throw e;
    }
  }

  async get(id: string, check?: StreamCheck): Promise<StoredBlob | null> {
    let handle: FileHandle;
    try {
      handle = await open(this.pathOf(id), 'r');
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
    let size: number;
    try {
      size = (await handle.stat()).size;
    } catch (e) {
      await handle.close();
      throw e;
    }
    const label = this.label;
    let position = 0;
    let done = false;
    const finish = async (ok: boolean) => {
      if (done) return;
      done = true;
      if (!ok) check?.abort();
      await handle.close().catch(() => undefined);
    };
    const stream = new ReadableStream<Uint8Array>(
      {
        async pull(controller) {
          try {
            const want = Math.min(READ_PIECE, size - position);
            if (want > 0) {
              const buffer = Buffer.allocUnsafe(want);
              const { bytesRead } = await handle.read(buffer, 0, want, position);
              if (bytesRead === 0) throw new Error(`blob ${id} in ${label} is shorter than it was`);
              position += bytesRead;
              const piece = new Uint8Array(buffer.buffer, buffer.byteOffset, bytesRead);
              await check?.update(piece);
              controller.enqueue(piece);
            }
            if (position >= size) {
              await check?.end();
              await finish(true);
              controller.close();
            }
          } catch (e) {
            await finish(false);
            controller.error(e);
          }
        },
        cancel: () => finish(false),
      },
      { highWaterMark: 1 },
    );
    return { size, stream };
  }

  async size(id: string): Promise<number | null> {
    try {
      const info = await stat(this.pathOf(id));
      return info.isFile() ? info.size : null;
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
  }

  async has(id: string): Promise<boolean> {
    return (await this.size(id)) !== null;
  }

  async delete(id: string): Promise<void> {
    await rm(this.pathOf(id), { force: true });
  }

  async usage(): Promise<number> {
    let total = 0;
    const shards = await readdir(this.blobDir).catch((e: unknown) => {
      if (isNotFound(e)) return [] as string[];
      throw e;
    });
    for (const shard of shards) {
      const names = await readdir(join(this.blobDir, shard)).catch(() => [] as string[]);
      for (const name of names) total += (await stat(join(this.blobDir, shard, name)).catch(() => null))?.size ?? 0;
    }
    return total;
  }
}

export const MIN_BLOCK_STORES = 3;
export const BLOCK_STORES_ENV = 'SEALVAULT_BLOCK_STORES';

/**
 * The block stores the vault uses: SEALVAULT_BLOCK_STORES (comma-separated absolute folders,
 * at least three, each existing) or three folders `<dataDir>/stores/store-0..2`.
 */
export function configureBlockStores(dataDir: string, env: Record<string, string | undefined> = process.env): LocalFolderStore[] {
  const raw = env[BLOCK_STORES_ENV];
  if (raw === undefined || raw.trim() === '') {
    return Array.from({ length: MIN_BLOCK_STORES }, (_, i) => new LocalFolderStore(join(dataDir, 'stores', `store-${i}`), `store-${i}`, { createRoot: true }));
  }
  const folders = raw.split(',').map((s) => s.trim());
  if (folders.some((f) => f === '')) throw new Error(`${BLOCK_STORES_ENV} has an empty entry`);
  const relative = folders.find((f) => !isAbsolute(f));
  if (relative !== undefined) throw new Error(`${BLOCK_STORES_ENV}: "${relative}" is not an absolute path`);
  const resolved = folders.map((f) => resolve(f));
  const twice = resolved.find((f, i) => resolved.indexOf(f) !== i);
  if (twice !== undefined) throw new Error(`${BLOCK_STORES_ENV}: ${twice} is listed twice; each store must be a different folder`);
  const nested = resolved.find((f) => resolved.some((g) => g !== f && f.startsWith(`${g}/`)));
  if (nested !== undefined) throw new Error(`${BLOCK_STORES_ENV}: ${nested} is inside another store folder`);
  if (resolved.length < MIN_BLOCK_STORES) {
    throw new Error(`${BLOCK_STORES_ENV} lists ${resolved.length} folder(s); the vault needs at least ${MIN_BLOCK_STORES} block stores so that no store holds a whole file`);
  }
  return resolved.map((f, i) => new LocalFolderStore(f, `store-${i}`));
}
