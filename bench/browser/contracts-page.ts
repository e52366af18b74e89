/**
 * The page side of bench/contracts.ts. The relay itself serves this bundle (as the index page of
 * a bench-only SPA folder), so it runs on the relay's HTTPS origin under the relay's own CSP and
 * talks to it exactly as the app does: same origin, fetchTransport(''), Bearer sessions.
 *
 * Everything measured is the app's code path (shared/protocol/*.ts, as client/src/lib/contracts/
 * transfers.ts calls it): unlockAccount, openContract, uploadFile, fetchManifest, downloadFile,
 * recordAsAccount. The baseline is a plain fetch PUT / GET of the same plaintext bytes to the
 * bench-only route /api/vault/bench-plain/:name (bench/relay-fakes.ts, benchVault).
 *
 * The file is a Blob made of references, not of copies: each 4 MiB of it is a 16-byte stamp
 * (its index, a run id) followed by one of 4 random base Blobs of 4 MiB - 16 bytes, each included
 * whole (Chromium shares a whole referenced item but copies a slice of one), so the browser
 * stores 16 MiB of base data and a few bytes per 4 MiB, whatever the file size. The bases are also
 * kept as bytes in JS (16 MiB), so every byte of the file is known without storing it: the sink
 * counts bytes and compares 16-byte windows at the start, middle and end of every piece it gets
 * with the expected bytes at that offset.
 */
import { derivePasswordHalf } from '../../shared/crypto/argon2';
import { DEFAULT_BLOCK_SIZE, planBlocks } from '../../shared/crypto/blocks';
import { ciphertextLength, createEncryptStream, fileContext } from '../../shared/crypto/chunked';
import { unlockAccount, type UnlockedAccount } from '../../shared/protocol/account';
import { recordAsAccount } from '../../shared/protocol/audit-client';
import { openContract, VersionMemory, type OpenedContract } from '../../shared/protocol/contracts';
import { downloadFile, fetchManifest, prepareManifest, uploadFile, type FileProgress, type FileTransport } from '../../shared/protocol/files';
import { answerOrThrow, fetchTransport } from '../../shared/protocol/relay-transport';

const MiB = 1024 * 1024;
const UNIT = 4 * MiB;
const BASES = 4;
const STAMP = 16;

const appTransport: FileTransport = fetchTransport('');
/** Durations of the block requests (ms), for the bench's diagnostics; the requests themselves are the app's. */
let blockRequestMs: number[] = [];
const transport: FileTransport = {
  request: (...a) => appTransport.request(...a),
  async putBytes(path, bytes, session) {
    const t0 = performance.now();
    try {
      return await appTransport.putBytes(path, bytes, session);
    } finally {
      blockRequestMs.push(performance.now() - t0);
    }
  },
  async getBytes(path, session) {
    const t0 = performance.now();
    try {
      return await appTransport.getBytes(path, session);
    } finally {
      blockRequestMs.push(performance.now() - t0);
    }
  },
};

/** Median and 90th percentile of the block request durations since the last call. */
function takeBlockStats(): { median: number; p90: number; count: number } {
  const s = blockRequestMs.sort((a, b) => a - b);
  blockRequestMs = [];
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
  return { median: at(0.5), p90: at(0.9), count: s.length };
}
let me: UnlockedAccount | undefined;
let opened: OpenedContract | undefined;
let credentials: { username: string; password: string } | undefined;

interface Source {
  blob: Blob;
  run: Uint8Array;
  bases: Uint8Array[];
}
const sources = new Map<number, Source>();
let bases: Uint8Array[] | undefined;
let baseBlobs: Blob[] | undefined;

function need<T>(v: T | undefined, what: string): T {
  if (v === undefined) throw new Error(`call ${what} first`);
  return v;
}

/** Logs each phase at every tenth (the page's console goes to the bench's stderr). */
function progressLogger(label: string): (p: FileProgress) => void {
  let shown = '';
  return (p) => {
    const key = `${p.phase} ${p.total === 0 ? 100 : Math.floor((p.done / p.total) * 10) * 10}%`;
    if (key === shown) return;
    shown = key;
    console.log(`${label}: ${key}`);
  };
}

function stampOf(run: Uint8Array, index: number): Uint8Array<ArrayBuffer> {
  const stamp = new Uint8Array(STAMP);
  new DataView(stamp.buffer).setUint32(0, index);
  stamp.set(run.subarray(0, 8), 8);
  return stamp;
}

/** The expected byte at `offset` of a source. */
function byteAt(src: Source, run: Uint8Array, offset: number): number {
  const i = Math.floor(offset / UNIT);
  const p = offset - i * UNIT;
  if (p < STAMP) return p < 4 ? (i >>> (8 * (3 - p))) & 0xff : p < 8 ? 0 : run[p - 8]!;
  return src.bases[i % BASES]![p - STAMP]!;
}

/**
 * A sink that keeps nothing: counts bytes and checks three 16-byte windows of every piece
 * against the expected bytes; `bytes()` is the count so far.
 */
function checkingSink(src: Source): { sink: WritableStream<Uint8Array>; bytes: () => number } {
  let offset = 0;
  const sink = new WritableStream<Uint8Array>({
    write(piece) {
      const n = piece.length;
      for (const start of [0, n >> 1, Math.max(0, n - 16)]) {
        for (let k = start, end = Math.min(n, start + 16); k < end; k++) {
          if (piece[k] !== byteAt(src, src.run, offset + k)) throw new Error(`byte ${offset + k} of the download differs from the file`);
        }
      }
      offset += n;
    },
  });
  return { sink, bytes: () => offset };
}

export interface Timed {
  ms: number;
  bytes: number;
  /** app upload: time to the end of the first pass (hashing, manifest signed and stored) */
  firstPassMs?: number;
  /** app path: durations of its block PUTs or GETs, each from the call to the relay's answer */
  blocks?: { median: number; p90: number; count: number };
}

const api = {
  /** The real sign-in: prelogin, Argon2id (on this page's thread), OPAQUE, escrow, key unwrap. */
  async unlock(username: string, password: string): Promise<string> {
    credentials = { username, password };
    me = await unlockAccount({ transport, username, password, deriveP: derivePasswordHalf });
    return me.account;
  },

  /** Signs in again when less than `minSeconds` of the session are left (sessions last 15 minutes). */
  async freshSession(minSeconds: number): Promise<boolean> {
    const c = need(credentials, 'unlock()');
    if (need(me, 'unlock()').sessionExpiresAt - Date.now() / 1000 > minSeconds) return false;
    me = await unlockAccount({ transport, username: c.username, password: c.password, deriveP: derivePasswordHalf });
    return true;
  },

  /** Opens the contract as the app does: grant verified, space key and DEK unwrapped, fields opened. */
  async open(caPem: string, space: string, contract: string): Promise<number> {
    opened = await openContract(transport, need(me, 'unlock()'), caPem, space, contract, new VersionMemory());
    return opened.writers.size;
  },

  /** Makes a source of `size` bytes (a Blob of references, see above); returns its id. */
  makeSource(size: number): number {
    bases ??= Array.from({ length: BASES }, () => {
      const b = new Uint8Array(UNIT - STAMP);
      for (let o = 0; o < b.length; o += 65536) crypto.getRandomValues(b.subarray(o, o + 65536));
      return b;
    });
    baseBlobs ??= bases.map((b) => new Blob([b as Uint8Array<ArrayBuffer>]));
    const run = crypto.getRandomValues(new Uint8Array(8));
    const parts: BlobPart[] = [];
    for (let i = 0, off = 0; off < size; i++, off += UNIT) {
      const len = Math.min(UNIT, size - off);
      const stamp = stampOf(run, i);
      parts.push(stamp.subarray(0, Math.min(STAMP, len)));
      // Only a short last piece is a slice (and copied): every other one is the whole base Blob.
      if (len === UNIT) parts.push(baseBlobs[i % BASES]!);
      else if (len > STAMP) parts.push(baseBlobs[i % BASES]!.slice(0, len - STAMP));
    }
    const blob = new Blob(parts, { type: 'application/octet-stream' });
    if (blob.size !== size) throw new Error(`source is ${blob.size} bytes, expected ${size}`);
    const id = sources.size + 1;
    sources.set(id, { blob, run, bases });
    return id;
  },

  /** Checks the whole source against byteAt (untimed, once): the Blob is the file the sink expects. */
  async checkSource(id: number): Promise<void> {
    const src = need(sources.get(id), 'makeSource()');
    const { sink, bytes } = checkingSink(src);
    await src.blob.stream().pipeTo(sink);
    if (bytes() !== src.blob.size) throw new Error('the source stream has the wrong length');
    // And every byte of the first and last 64 KiB (the windows check the rest piece by piece).
    for (const [start, end] of [[0, 65536], [Math.max(0, src.blob.size - 65536), src.blob.size]] as const) {
      const got = new Uint8Array(await src.blob.slice(start, end).arrayBuffer());
      for (let k = 0; k < got.length; k++) if (got[k] !== byteAt(src, src.run, start + k)) throw new Error(`source byte ${start + k} is wrong`);
    }
  },

  /** uploadFile as transfers.ts uploadOne calls it: the planned block size, progress reported. */
  async appUpload(id: number, file: string): Promise<Timed> {
    const src = need(sources.get(id), 'makeSource()');
    const c = need(opened, 'open()');
    const { blockSize } = planBlocks(ciphertextLength(src.blob.size), DEFAULT_BLOCK_SIZE);
    const logProgress = progressLogger(`upload ${file}`);
    let firstPassMs = 0;
    takeBlockStats();
    const t0 = performance.now();
    const onProgress = (p: FileProgress) => {
      if (p.phase === 'uploading' && firstPassMs === 0) firstPassMs = performance.now() - t0;
      logProgress(p);
    };
    const manifest = await uploadFile(transport, need(me, 'unlock()'), c.dek, src.blob, { contract: c.contract, file, version: 1 }, { blockSize, onProgress });
    const ms = performance.now() - t0;
    if (manifest.plaintextLength !== src.blob.size) throw new Error('the manifest has the wrong length');
    return { ms, bytes: src.blob.size, firstPassMs, blocks: takeBlockStats() };
  },

  /** transfers.ts saveFile with a sink instead of a picked file: verified manifest, download, audit entry. */
  async appDownload(id: number, file: string): Promise<Timed> {
    const src = need(sources.get(id), 'makeSource()');
    const c = need(opened, 'open()');
    const account = need(me, 'unlock()');
    const target = { contract: c.contract, file, version: 1 };
    const { sink, bytes } = checkingSink(src);
    takeBlockStats();
    const t0 = performance.now();
    const manifest = await fetchManifest(transport, account, target, c.writers);
    await downloadFile(transport, account, c.dek, manifest, target, sink, { onProgress: progressLogger(`download ${file}`) });
    await recordAsAccount(transport, account, { action: 'file.download', target: `file:${file}`, details: { contract: c.contract, version: 1 } });
    const ms = performance.now() - t0;
    if (bytes() !== src.blob.size) throw new Error(`downloaded ${bytes()} bytes, expected ${src.blob.size}`);
    return { ms, bytes: bytes(), blocks: takeBlockStats() };
  },

  /** The baseline: one plain authenticated fetch PUT of the same Blob. */
  async plainUpload(id: number, name: string): Promise<Timed> {
    const src = need(sources.get(id), 'makeSource()');
    const t0 = performance.now();
    const res = await fetch(`/api/vault/bench-plain/${name}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${need(me, 'unlock()').session}`, 'content-type': 'application/octet-stream' },
      body: src.blob,
    });
    const answer = (await answerOrThrow(res)) as { bytes?: number };
    const ms = performance.now() - t0;
    if (answer.bytes !== src.blob.size) throw new Error(`the relay stored ${answer.bytes} bytes, expected ${src.blob.size}`);
    return { ms, bytes: src.blob.size };
  },

  /** The baseline: one plain authenticated fetch GET, its body piped into the same checking sink. */
  async plainDownload(id: number, name: string): Promise<Timed> {
    const src = need(sources.get(id), 'makeSource()');
    const { sink, bytes } = checkingSink(src);
    const t0 = performance.now();
    const res = await fetch(`/api/vault/bench-plain/${name}`, { headers: { authorization: `Bearer ${need(me, 'unlock()').session}` } });
    if (!res.ok || !res.body) await answerOrThrow(res);
    await res.body!.pipeTo(sink);
    const ms = performance.now() - t0;
    if (bytes() !== src.blob.size) throw new Error(`downloaded ${bytes()} bytes, expected ${src.blob.size}`);
    return { ms, bytes: bytes() };
  },

  /**
   * Diagnostics, timed alone: reading the Blob, encrypting it (createEncryptStream), and
   * encrypting and cutting it into hashed blocks (prepareManifest: the upload's first pass).
   */
  async passes(id: number): Promise<{ readMs: number; encryptMs: number; manifestMs: number; bytes: number }> {
    const src = need(sources.get(id), 'makeSource()');
    const c = need(opened, 'open()');
    const count = () => new WritableStream<Uint8Array>({ write: () => undefined });
    let t0 = performance.now();
    await src.blob.stream().pipeTo(count());
    const readMs = performance.now() - t0;
    t0 = performance.now();
    const enc = await createEncryptStream(c.dek, { context: fileContext(c.contract, 'f-diagnostic') });
    await src.blob.stream().pipeThrough(enc.stream).pipeTo(count());
    const encryptMs = performance.now() - t0;
    const { blockSize } = planBlocks(ciphertextLength(src.blob.size), DEFAULT_BLOCK_SIZE);
    t0 = performance.now();
    await prepareManifest(need(me, 'unlock()'), c.dek, src.blob, { contract: c.contract, file: 'f-diagnostic', version: 1 }, { blockSize });
    const manifestMs = performance.now() - t0;
    return { readMs, encryptMs, manifestMs, bytes: src.blob.size };
  },

  dropSource(id: number): void {
    sources.delete(id);
  },
};

export type ContractsBenchApi = typeof api;
(globalThis as unknown as { sealvaultContractsBench: ContractsBenchApi }).sealvaultContractsBench = api;
