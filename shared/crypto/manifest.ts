/**
 * The signed file manifest (DESIGN.md section 5): what the uploader vouches for about one file
 * version. A reader checks the signature and that the manifest is for the contract, version and
 * file it asked for, then checks every block's SHA-256 before a byte reaches the decryptor.
 */
import { abytes, equalBytes } from './bytes';
import { DEFAULT_BLOCK_SIZE, planBlocks, type BlockPlan } from './blocks';
import { CHUNK_SIZE, COMMITMENT_SIZE, HEADER_SIZE, SALT_SIZE, ciphertextLength } from './chunked';
import { fromBase64url, toBase64url } from './encoding';
import { fail } from './errors';
import { checkId } from './account-keys';
import { signStatement, verifyStatement, type SignedStatement } from './statements';

export const MANIFEST_TYPE = 'sealvault/v1/file-manifest';
export const FILE_CIPHER = 'c2sp.org/chunked-encryption@v1+AEAD_AES_256_GCM+HKDF-SHA-256';

export interface FileManifest {
  type: typeof MANIFEST_TYPE;
  contract: string;
  version: number;
  file: string;
  uploader: string;
  cipher: typeof FILE_CIPHER;
  chunkSize: number;
  salt: string;
  commitment: string;
  plaintextLength: number;
  ciphertextLength: number;
  blockSize: number;
  /** base64url SHA-256 of each ciphertext block, in order */
  blocks: string[];
  [field: string]: string | number | string[];
}

export interface ManifestTarget {
  contract: string;
  version: number;
  file: string;
}

export function buildManifest(input: ManifestTarget & {
  uploader: string;
  salt: Uint8Array;
  commitment: Uint8Array;
  plaintextLength: number;
  blockSize: number;
  blockHashes: Uint8Array[];
}): FileManifest {
  abytes('salt', input.salt, SALT_SIZE);
  abytes('commitment', input.commitment, COMMITMENT_SIZE);
  const manifest: FileManifest = {
    type: MANIFEST_TYPE,
    contract: checkId('contract', input.contract),
    version: input.version,
    file: checkId('file', input.file),
    uploader: checkId('uploader', input.uploader),
    cipher: FILE_CIPHER,
    chunkSize: CHUNK_SIZE,
    salt: toBase64url(input.salt),
    commitment: toBase64url(input.commitment),
    plaintextLength: input.plaintextLength,
    ciphertextLength: ciphertextLength(input.plaintextLength),
    blockSize: input.blockSize,
    blocks: input.blockHashes.map((h) => toBase64url(abytes('block hash', h, 32))),
  };
  checkShape(manifest);
  return manifest;
}

export function signManifest(privateKey: CryptoKey, manifest: FileManifest): Promise<SignedStatement<FileManifest>> {
  checkShape(manifest);
  return signStatement(privateKey, manifest);
}

/** Internal consistency: the lengths, block size and block count must be the only ones possible. */
function checkShape(m: FileManifest): BlockPlan {
  if (m.cipher !== FILE_CIPHER || m.chunkSize !== CHUNK_SIZE) fail('E_FORMAT', 'manifest names another cipher or chunk size: refusing to fall back');
  if (!Number.isSafeInteger(m.version) || m.version < 1) fail('E_FORMAT', 'manifest version must be a positive integer');
  if (!Number.isSafeInteger(m.plaintextLength) || m.plaintextLength < 0) fail('E_FORMAT', 'manifest plaintext length is invalid');
  if (m.ciphertextLength !== ciphertextLength(m.plaintextLength)) fail('E_FORMAT', 'manifest lengths do not match the chunked format');
  if (!Number.isSafeInteger(m.blockSize) || m.blockSize < 1 || m.blockSize > DEFAULT_BLOCK_SIZE) fail('E_FORMAT', 'manifest block size is invalid');
  // Any maximum block size up to the default is allowed, but it must still give at least three blocks.
  const plan = planBlocks(m.ciphertextLength, m.blockSize);
  if (plan.blockSize !== m.blockSize || !Array.isArray(m.blocks) || plan.count !== m.blocks.length) {
    fail('E_FORMAT', `manifest lists ${Array.isArray(m.blocks) ? m.blocks.length : 'no'} blocks of ${m.blockSize} bytes; the file needs ${plan.count} of ${plan.blockSize}`);
  }
  for (const h of m.blocks) if (typeof h !== 'string' || fromBase64url(h).length !== 32) fail('E_FORMAT', 'manifest block hash is not 32 bytes');
  if (fromBase64url(m.salt).length !== SALT_SIZE || fromBase64url(m.commitment).length !== COMMITMENT_SIZE) fail('E_FORMAT', 'manifest salt or commitment has the wrong size');
  return plan;
}

/**
 * Verifies the uploader's signature, then that the manifest is for `target` and is internally
 * consistent. The caller chooses `uploaderKey` from certified keys of accounts allowed to write.
 */
export async function verifyManifest(uploaderKey: CryptoKey, signed: unknown, target: ManifestTarget): Promise<FileManifest> {
  const m = await verifyStatement<FileManifest>(uploaderKey, signed, MANIFEST_TYPE);
  if (m.contract !== target.contract || m.version !== target.version || m.file !== target.file) {
    fail('E_CONTEXT', `manifest is for ${m.contract}/v${m.version}/${m.file}, expected ${target.contract}/v${target.version}/${target.file}`);
  }
  checkShape(m);
  return m;
}

/** Checks one block against the manifest before anything else touches it. */
export async function checkBlock(manifest: FileManifest, index: number, bytes: Uint8Array): Promise<void> {
  const expected = manifest.blocks[index];
  if (expected === undefined) return fail('E_CONTEXT', `block ${index} is not part of this file`);
  abytes('block', bytes);
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as BufferSource));
  if (!equalBytes(digest, fromBase64url(expected))) fail('E_HASH', `block ${index} does not match its signed hash`);
}

/** The salt and commitment at the head of the ciphertext must be the ones the manifest signs. */
export function checkHeaderMatches(manifest: FileManifest, header: Uint8Array): void {
  abytes('header', header, HEADER_SIZE);
  if (!equalBytes(header.subarray(0, SALT_SIZE), fromBase64url(manifest.salt)) || !equalBytes(header.subarray(SALT_SIZE), fromBase64url(manifest.commitment))) {
    fail('E_COMMITMENT', 'ciphertext header differs from the signed manifest');
  }
}

/**
 * Turns blocks (in any arrival order is NOT allowed: strictly 0, 1, 2, ...) into the verified
 * ciphertext stream. A wrong, repeated, missing or extra block errors the stream.
 */
export function createBlockVerifier(manifest: FileManifest): TransformStream<{ index: number; bytes: Uint8Array }, Uint8Array> {
  let next = 0;
  return new TransformStream({
    async transform(block, controller) {
      if (block.index !== next) fail('E_CONTEXT', `expected block ${next}, got block ${block.index}`);
      await checkBlock(manifest, block.index, block.bytes);
      next++;
      controller.enqueue(block.bytes);
    },
    flush() {
      if (next !== manifest.blocks.length) fail('E_TRUNCATED', `file ended after ${next} of ${manifest.blocks.length} blocks`);
    },
  });
}
