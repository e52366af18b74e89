/**
 * Moving a contract's files: uploads (named in the contract's fields first, so an upload that
 * stops half-way stays listed and can be resumed by choosing the same file again), and
 * downloads into memory, into a file the person picks (streamed, where the browser can), into
 * the browser's downloads through the download worker (streamed), or into a Blob (small files,
 * or no worker).
 */
import { saveBlob } from '$lib/save-blob';
import { updateFields, type OpenedContract } from '$shared/protocol/contracts';
import { recordAsAccount } from '$shared/protocol/audit-client';
import { collectingSink, downloadFile, fetchManifest, uploadFile, type FileProgress } from '$shared/protocol/files';
import type { VersionMemory } from '$shared/protocol/contracts';
import type { FileManifest } from '$shared/crypto/manifest';
import { DEFAULT_BLOCK_SIZE, planBlocks } from '$shared/crypto/blocks';
import { ciphertextLength } from '$shared/crypto/chunked';
import { fileTransport, me } from './session';
import { withFiles } from './fields';
import { NoticeError } from './errors';
import { openDownloadStream } from '$lib/download-stream/page';
import { DownloadStreamStopped } from '$lib/download-stream/port-sink';

export interface FileTarget {
  contract: string;
  file: string;
  version: number;
}

/** Stores the names of `files` in the contract's fields (one new fields version). */
export async function nameFiles(opened: OpenedContract, files: { id: string; file: File }[], memory: VersionMemory): Promise<OpenedContract> {
  if (files.length === 0) return opened;
  return updateFields(fileTransport, me(), opened, withFiles(opened.fields, files), memory);
}

/**
 * Uploads (or resumes) one file as version `version` of `id`.
 *
 * The block size is passed as the one the file's ciphertext length leads to (planBlocks):
 * prepareManifest writes the requested maximum into the manifest while the cutter uses the
 * planned size, so a file under three default blocks (12 MiB of ciphertext) would otherwise get
 * a manifest that does not verify (E_FORMAT). Both agree when they are given the planned size.
 */
export async function uploadOne(opened: OpenedContract, id: string, file: File, onProgress: (p: FileProgress) => void, version = 1): Promise<void> {
  const { blockSize } = planBlocks(ciphertextLength(file.size), DEFAULT_BLOCK_SIZE);
  const account = me();
  await uploadFile(fileTransport, account, opened.dek, file, { contract: opened.contract, file: id, version }, { onProgress, blockSize });
  // The uploader's own word that this version is theirs, beside the vault's record of the blocks.
  await recordAsAccount(fileTransport, account, { action: 'file.upload', target: `file:${id}`, details: { contract: opened.contract, version } });
}

/**
 * The actor's own signed audit entry for reading a file (DESIGN.md section 9): the vault logs the
 * block fetches; this says who read which file, and whether to view it or to save it.
 */
async function recordRead(opened: OpenedContract, target: FileTarget, purpose: 'view' | 'download'): Promise<void> {
  await recordAsAccount(fileTransport, me(), { action: purpose === 'view' ? 'file.view' : 'file.download', target: `file:${target.file}`, details: { contract: opened.contract, version: target.version } });
}

/** The whole plaintext of a file, verified and decrypted in memory (for viewing and small files). */
export async function downloadToMemory(opened: OpenedContract, target: FileTarget, onProgress: (p: FileProgress) => void, purpose: 'view' | 'download' = 'view'): Promise<Uint8Array<ArrayBuffer>> {
  const manifest = await fetchManifest(fileTransport, me(), target, opened.writers);
  return collect(opened, target, manifest, onProgress, purpose);
}

async function collect(opened: OpenedContract, target: FileTarget, manifest: FileManifest, onProgress: (p: FileProgress) => void, purpose: 'view' | 'download'): Promise<Uint8Array<ArrayBuffer>> {
  const collected = collectingSink();
  await downloadFile(fileTransport, me(), opened.dek, manifest, target, collected.sink, { onProgress });
  await recordRead(opened, target, purpose);
  const bytes = collected.bytes();
  return new Uint8Array(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength);
}

/** Streams the file into `writable`, which is aborted on any failure so nothing half-verified is kept. */
async function streamInto(writable: WritableStream<Uint8Array>, opened: OpenedContract, target: FileTarget, manifest: FileManifest | null, onProgress: (p: FileProgress) => void): Promise<void> {
  try {
    const account = me();
    manifest ??= await fetchManifest(fileTransport, account, target, opened.writers);
    await downloadFile(fileTransport, account, opened.dek, manifest, target, writable, { onProgress });
  } catch (e) {
    // pipeTo aborts the sink on a refusal; a failure before it started must discard the file too.
    await writable.abort(e).catch(() => {});
    if (e instanceof DownloadStreamStopped) throw new NoticeError(e.reason === 'cancelled' ? 'contracts.download.stopped' : 'contracts.download.notStarted');
    throw e;
  }
  await recordRead(opened, target, 'download');
}

type SaveFilePicker = (options: { suggestedName?: string }) => Promise<{ createWritable(): Promise<WritableStream<Uint8Array>> }>;

function savePicker(): SaveFilePicker | null {
  const picker = (globalThis as { showSaveFilePicker?: SaveFilePicker }).showSaveFilePicker;
  return typeof picker === 'function' ? picker.bind(globalThis) : null;
}

/**
 * Files up to this size go through memory when there is no save picker: a Blob download always
 * works, and one block's worth of memory is nothing to save.
 */
const IN_MEMORY_MAX = 4 * 1024 * 1024;

/**
 * Saves a file where the person chooses, streamed so that no file is ever held whole: with the
 * File System Access API straight into the chosen file; otherwise as a browser download fed by
 * the download worker (lib/download-stream). A refusal part-way fails the write or the download,
 * so nothing half-verified is kept as complete. Without either (no worker in private windows,
 * say), and for small files, the file is collected in memory and handed over as a Blob.
 * Returns false when the person cancelled the picker.
 */
export async function saveFile(opened: OpenedContract, target: FileTarget, name: string, type: string, onProgress: (p: FileProgress) => void): Promise<boolean> {
  const picker = savePicker();
  if (picker) {
    let writable: WritableStream<Uint8Array>;
    try {
      // First, while the click still counts as the person's gesture.
      writable = await (await picker({ suggestedName: name })).createWritable();
    } catch (e) {
      if (e instanceof DOMException && e.name === 'AbortError') return false;
      throw e;
    }
    await streamInto(writable, opened, target, null, onProgress);
    return true;
  }
  // The manifest first: a refused one never leaves a failed download in the browser's list.
  const manifest = await fetchManifest(fileTransport, me(), target, opened.writers);
  const stream = manifest.plaintextLength > IN_MEMORY_MAX ? await openDownloadStream({ name, size: manifest.plaintextLength, type }) : null;
  if (stream) {
    await streamInto(stream, opened, target, manifest, onProgress);
    return true;
  }
  const bytes = await collect(opened, target, manifest, onProgress, 'download');
  saveBlob(new Blob([bytes], { type: type || 'application/octet-stream' }), name);
  return true;
}

export function isPdf(name: string, type: string): boolean {
  return type === 'application/pdf' || /\.pdf$/i.test(name);
}
