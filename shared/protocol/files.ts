/**
 * Contract files in the browser (DESIGN.md sections 5 and 6): a file is encrypted with the
 * chunked format under its contract's DEK, cut into storage blocks, described by a manifest the
 * uploader signs, and uploaded block by block; any block the relay already holds is skipped, so
 * an upload resumes after a reload or a relay restart. Memory stays at a few blocks, whatever
 * the file's size: the file is read as a stream (File/Blob.stream()) twice, once to hash the
 * blocks for the manifest, once to send them (up to UPLOADS_IN_FLIGHT blocks at a time, so the
 * next blocks are encrypted while the relay stores the last ones). Block buffers are reused.
 *
 * Downloading trusts nothing from the relay: the manifest must be signed by an account the
 * caller allows to write this contract and name exactly this contract, file and version; every
 * block is checked against it before decryption; the decrypted stream errors on any failure and
 * its consumer must discard what it wrote (docs/FORMATS.md section 5).
 */
import { BlockBufferPool, createBlockCutter, DEFAULT_BLOCK_SIZE, planBlocks } from '../crypto/blocks';
import { ciphertextLength, createDecryptStream, createEncryptStream, fileContext } from '../crypto/chunked';
import { equalBytes } from '../crypto/bytes';
import { fromBase64url } from '../crypto/encoding';
import { fail } from '../crypto/errors';
import { buildManifest, createBlockVerifier, signManifest, verifyManifest, type FileManifest, type ManifestTarget } from '../crypto/manifest';
import { BlockListSchema, CommitResponseSchema, SignedManifestSchema } from '../schemas/vault';
import { parseAnswer, withRetry, type UnlockedAccount } from './account';
import { RelayApiError, type BlockTransport, type RelayTransport } from './relay-transport';

export type FileTransport = RelayTransport & BlockTransport;

export interface FileProgress {
  /** bytes done of `total` in the current phase */
  done: number;
  total: number;
  phase: 'hashing' | 'uploading' | 'downloading';
}

const filePath = (t: ManifestTarget) => `/api/vault/files/${encodeURIComponent(t.file)}/versions/${t.version}`;

/** Block uploads in flight at once: enough to keep encrypting while the relay stores a block. */
export const UPLOADS_IN_FLIGHT = 2;

/**
 * Encrypts `blob` and hands its blocks to `onBlock` one at a time, in order. Block buffers come
 * from `pool`: `onBlock` (or what it starts) gives each block's bytes back when nothing reads
 * them any more.
 */
async function cutBlocks(
  dek: CryptoKey,
  blob: Blob,
  target: ManifestTarget,
  blockSize: number,
  salt: Uint8Array | undefined,
  pool: BlockBufferPool,
  onBlock: (block: { index: number; bytes: Uint8Array; sha256: Uint8Array }) => Promise<void>,
): Promise<{ salt: Uint8Array; commitment: Uint8Array }> {
  const enc = await createEncryptStream(dek, { context: fileContext(target.contract, target.file), ...(salt ? { reencryptSalt: salt } : {}) });
  const blocks = blob.stream().pipeThrough(enc.stream).pipeThrough(createBlockCutter(ciphertextLength(blob.size), blockSize, pool));
  const reader = blocks.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      await onBlock(value);
    }
  } catch (e) {
    // Stop reading and encrypting the rest of the file.
    await reader.cancel(e).catch(() => {});
    throw e;
  }
  return { salt: enc.salt, commitment: enc.commitment };
}

/** The signed manifest of `blob` for `target`: one pass over the file, holding one block at a time. */
export async function prepareManifest(
  me: UnlockedAccount,
  dek: CryptoKey,
  blob: Blob,
  target: ManifestTarget,
  options: { blockSize?: number; onProgress?: (p: FileProgress) => void } = {},
) {
  const total = ciphertextLength(blob.size);
  // The planned size, not the requested maximum: a small file is cut into three smaller blocks.
  const blockSize = planBlocks(total, options.blockSize ?? DEFAULT_BLOCK_SIZE).blockSize;
  const hashes: Uint8Array[] = [];
  let done = 0;
  const pool = new BlockBufferPool();
  const { salt, commitment } = await cutBlocks(dek, blob, target, blockSize, undefined, pool, async (b) => {
    hashes.push(b.sha256);
    done += b.bytes.length;
    pool.give(b.bytes); // only its hash is kept
    options.onProgress?.({ done, total, phase: 'hashing' });
  });
  const manifest = buildManifest({ ...target, uploader: me.account, salt, commitment, plaintextLength: blob.size, blockSize, blockHashes: hashes });
  return signManifest(me.signing.privateKey, manifest);
}

/**
 * Uploads `blob` as `target`, or resumes an upload of the same file begun earlier (by this
 * account): the manifest already stored is checked to be this account's and this file's, the
 * blocks are re-created with its salt, each compared with its signed hash (a file changed on disk
 * since is refused before any of its bytes leave), and only missing blocks are sent.
 */
export async function uploadFile(
  transport: FileTransport,
  me: UnlockedAccount,
  dek: CryptoKey,
  blob: Blob,
  target: ManifestTarget,
  options: { blockSize?: number; onProgress?: (p: FileProgress) => void; signal?: AbortSignal } = {},
): Promise<FileManifest> {
  let manifest: FileManifest;
  let existing: unknown = null;
  try {
    existing = await transport.request('GET', `${filePath(target)}/manifest`, undefined, me.session);
  } catch (e) {
    if (!(e instanceof RelayApiError && e.status === 404)) throw e;
  }
  if (existing) {
    manifest = await verifyManifest(me.signing.publicKey, parseAnswer(SignedManifestSchema, existing, 'manifest'), target);
    if (manifest.uploader !== me.account) fail('E_CONTEXT', 'this file version was started by someone else');
    if (manifest.plaintextLength !== blob.size) fail('E_CONTEXT', 'this file version was started with another file');
  } else {
    const signed = await prepareManifest(me, dek, blob, target, options);
    await transport.request('POST', `/api/vault/contracts/${encodeURIComponent(target.contract)}/files`, { file: target.file, version: target.version, manifest: signed }, me.session);
    manifest = signed.statement;
  }

  const status = parseAnswer(BlockListSchema, await transport.request('GET', `${filePath(target)}/blocks`, undefined, me.session), 'block list');
  const missing = new Set(status.missing);
  const total = manifest.ciphertextLength;
  let done = total - status.missing.reduce((sum, i) => sum + blockLength(manifest, i), 0);
  options.onProgress?.({ done, total, phase: 'uploading' });
  if (missing.size > 0) {
    const pool = new BlockBufferPool(UPLOADS_IN_FLIGHT + 3);
    // Block uploads in flight; none of them rejects: the first failure is kept in `stop` and ends the upload.
    const inFlight = new Set<Promise<void>>();
    const stop: { failed: boolean; error?: unknown } = { failed: false };
    try {
      await cutBlocks(dek, blob, target, manifest.blockSize, fromBase64url(manifest.salt), pool, async (b) => {
        options.signal?.throwIfAborted();
        if (stop.failed) throw stop.error;
        // Checked before the block can leave: a block that differs from its signed hash never does.
        if (!equalBytes(b.sha256, fromBase64url(manifest.blocks[b.index]!))) fail('E_CONTEXT', 'the file changed since its upload began: start a new version');
        if (!missing.has(b.index)) return pool.give(b.bytes);
        const upload = withRetry(() => transport.putBytes(`${filePath(target)}/blocks/${b.index}`, b.bytes, me.session), 4)
          .then(() => {
            // Sent and stored, retries included: nothing reads these bytes any more.
            pool.give(b.bytes);
            done += b.bytes.length;
            options.onProgress?.({ done, total, phase: 'uploading' });
          })
          .catch((error: unknown) => {
            if (!stop.failed) {
              stop.failed = true;
              stop.error = error;
            }
          })
          .finally(() => inFlight.delete(upload));
        inFlight.add(upload);
        while (inFlight.size >= UPLOADS_IN_FLIGHT && !stop.failed) await Promise.race(inFlight);
        if (stop.failed) throw stop.error;
      });
    } finally {
      // No upload keeps running behind an error, or behind the commit.
      await Promise.all(inFlight);
    }
    if (stop.failed) throw stop.error;
  }
  parseAnswer(CommitResponseSchema, await transport.request('POST', `${filePath(target)}/commit`, {}, me.session), 'commit');
  return manifest;
}

function blockLength(manifest: FileManifest, index: number): number {
  const start = index * manifest.blockSize;
  return Math.max(0, Math.min(manifest.blockSize, manifest.ciphertextLength - start));
}

/**
 * The verified manifest of `target`, signed by one of `writers` (account id -> signing public
 * key, from verified grants): anyone else's is refused with E_SIGNATURE.
 */
export async function fetchManifest(transport: FileTransport, me: UnlockedAccount, target: ManifestTarget, writers: ReadonlyMap<string, CryptoKey>): Promise<FileManifest> {
  const signed = parseAnswer(SignedManifestSchema, await transport.request('GET', `${filePath(target)}/manifest`, undefined, me.session), 'manifest');
  const key = writers.get(signed.statement.uploader);
  if (!key) fail('E_SIGNATURE', 'the manifest was not signed by an account allowed to write this contract');
  return verifyManifest(key, signed, target);
}

/**
 * Streams the plaintext of `target` into `sink`: blocks fetched in order and checked against the
 * manifest, then decrypted. On any refusal `sink` is aborted (the consumer discards the output).
 */
export async function downloadFile(
  transport: FileTransport,
  me: UnlockedAccount,
  dek: CryptoKey,
  manifest: FileManifest,
  target: ManifestTarget,
  sink: WritableStream<Uint8Array>,
  options: { onProgress?: (p: FileProgress) => void } = {},
): Promise<void> {
  let index = 0;
  let done = 0;
  const blocks = new ReadableStream<{ index: number; bytes: Uint8Array }>({
    async pull(controller) {
      if (index >= manifest.blocks.length) return controller.close();
      const bytes = await withRetry(() => transport.getBytes(`${filePath(target)}/blocks/${index}`, me.session), 4);
      controller.enqueue({ index, bytes });
      index++;
      done += bytes.length;
      options.onProgress?.({ done, total: manifest.ciphertextLength, phase: 'downloading' });
    },
  });
  await blocks.pipeThrough(createBlockVerifier(manifest)).pipeThrough(createDecryptStream(dek, { context: fileContext(target.contract, target.file) })).pipeTo(sink);
}

/** A sink that collects everything, for small files and tests. */
export function collectingSink(): { sink: WritableStream<Uint8Array>; bytes: () => Uint8Array } {
  const parts: Uint8Array[] = [];
  return {
    sink: new WritableStream({ write: (p) => void parts.push(p) }),
    bytes: () => {
      const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      let at = 0;
      for (const p of parts) {
        out.set(p, at);
        at += p.length;
      }
      return out;
    },
  };
}

