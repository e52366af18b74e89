/**
 * Moving a contract's files: uploads (named in the contract's fields first, so an upload that
 * stops half-way stays listed and can be resumed by choosing the same file again), and
 * downloads into memory, into a file the person picks (streamed, where the browser can), or
 * into a Blob handed to the browser's downloads.
 */
import { updateFields, type OpenedContract } from '$shared/protocol/contracts';
import { recordAsAccount } from '$shared/protocol/audit-client';
import { collectingSink, downloadFile, fetchManifest, uploadFile, type FileProgress } from '$shared/protocol/files';
import type { VersionMemory } from '$shared/protocol/contracts';
import { DEFAULT_BLOCK_SIZE, planBlocks } from '$shared/crypto/blocks';
import { ciphertextLength } from '$shared/crypto/chunked';
import { fileTransport, me } from './session';
import { withFiles } from './fields';

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
  const account = me();
  const manifest = await fetchManifest(fileTransport, account, target, opened.writers);
  const collected = collectingSink();
  await downloadFile(fileTransport, account, opened.dek, manifest, target, collected.sink, { onProgress });
  await recordRead(opened, target, purpose);
  const bytes = collected.bytes();
  return new Uint8Array(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength);
}

type SaveFilePicker = (options: { suggestedName?: string }) => Promise<{ createWritable(): Promise<WritableStream<Uint8Array>> }>;

function savePicker(): SaveFilePicker | null {
  const picker = (globalThis as { showSaveFilePicker?: SaveFilePicker }).showSaveFilePicker;
  return typeof picker === 'function' ? picker.bind(globalThis) : null;
}

/**
 * Saves a file where the person chooses. With the File System Access API the decrypted stream
 * goes straight into the file (a failed check aborts the write, so nothing half-verified is
 * kept); otherwise the file is collected in memory and handed over as a Blob download.
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
    try {
      const account = me();
      const manifest = await fetchManifest(fileTransport, account, target, opened.writers);
      await downloadFile(fileTransport, account, opened.dek, manifest, target, writable, { onProgress });
      await recordRead(opened, target, 'download');
    } catch (e) {
      // pipeTo aborts the sink on a refusal; a failure before it started must discard the file too.
      await writable.abort(e).catch(() => {});
      throw e;
    }
    return true;
  }
  const bytes = await downloadToMemory(opened, target, onProgress, 'download');
  const url = URL.createObjectURL(new Blob([bytes], { type: type || 'application/octet-stream' }));
  try {
    const a = document.createElement('a');
    a.href = url;
    a.download = name;
    a.rel = 'noopener';
    document.body.append(a);
    a.click();
    a.remove();
  } finally {
    // Give the browser time to start the download before the bytes are dropped.
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  }
  return true;
}

export function isPdf(name: string, type: string): boolean {
  return type === 'application/pdf' || /\.pdf$/i.test(name);
}
