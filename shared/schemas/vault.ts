/**
 * Wire schemas of the vault service (relay/vault): contracts, sealed records, signed file
 * manifests and storage blocks. The relay stores ciphertext it cannot read; these schemas only
 * pin down shapes, sizes and the internal consistency a manifest must have
 * (docs/FORMATS.md sections 4, 6 and 7). Clients check signatures and certified keys; the vault
 * checks them too, as a second wall, when a record or manifest is stored (the author or uploader
 * must be the caller and its signature must verify with the caller's certified signing key).
 */
import { z } from 'zod';
import { DEFAULT_BLOCK_SIZE, MAX_BLOCKS, MIN_BLOCKS, planBlocks } from '../crypto/blocks';
import { CHUNK_SIZE, COMMITMENT_SIZE, SALT_SIZE, TAG_SIZE, ciphertextLength } from '../crypto/chunked';
import { FILE_CIPHER, MANIFEST_TYPE } from '../crypto/manifest';
import { RECORD_MAX_PLAINTEXT, RECORD_NONCE_SIZE } from '../crypto/records';
import { SIGNATURE_LENGTH } from '../crypto/statements';
import { RECORD_STATEMENT_TYPE } from '../formats/record-statement';
import { B64u, Id, NonNegativeInt, PositiveInt, Sha256B64u } from './common';

export const RecordKind = z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'a record kind: a-z first, then up to 31 of a-z 0-9 -');
export const SpaceRole = z.enum(['viewer', 'editor', 'signer', 'manager']);
export type SpaceRole = z.infer<typeof SpaceRole>;
export const FileState = z.enum(['uploading', 'committed']);
export type FileState = z.infer<typeof FileState>;

/** Largest JSON body of a record PUT: base64url of 1 MiB + tag, plus the small fields and the signed statement. */
export const RECORD_BODY_LIMIT = 1536 * 1024;
/**
 * Largest JSON body of a file creation. A manifest lists one 43-character hash per block, so
 * 8 MiB holds about 180 000 blocks (700 GiB at 4 MiB blocks).
 */
export const MANIFEST_BODY_LIMIT = 8 * 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Path and query parameters (path values are strings; numbers are canonical decimal only)

const decimal = (max: number) =>
  z
    .string()
    .regex(/^(0|[1-9][0-9]{0,15})$/, 'a canonical decimal integer')
    .transform(Number)
    .pipe(z.number().int().min(0).max(max));
export const VersionParam = decimal(Number.MAX_SAFE_INTEGER).pipe(z.number().min(1));
export const IndexParam = decimal(MAX_BLOCKS - 1);

export const ContractParams = z.strictObject({ contract: Id });
export const RecordParams = z.strictObject({ contract: Id, kind: RecordKind });
export const RecordVersionParams = z.strictObject({ contract: Id, kind: RecordKind, version: VersionParam });
export const FileVersionParams = z.strictObject({ file: Id, version: VersionParam });
export const BlockParams = z.strictObject({ file: Id, version: VersionParam, index: IndexParam });
export const SpaceQuery = z.strictObject({ space: Id });

// ---------------------------------------------------------------------------------------------
// Contracts

export const CreateContractSchema = z.strictObject({ contract: Id, space: Id });
export const ContractSchema = z.strictObject({ contract: Id, space: Id, created: z.boolean() });

// ---------------------------------------------------------------------------------------------
// Records (shared/crypto/records.ts SealedRecord): opaque ciphertext, shape-checked only

export const SealedRecordSchema = z.strictObject({
  v: z.literal(1),
  kind: RecordKind,
  contract: Id,
  version: PositiveInt,
  nonce: B64u({ bytes: RECORD_NONCE_SIZE }),
  ct: B64u({ maxBytes: RECORD_MAX_PLAINTEXT + TAG_SIZE }).refine((s) => s.length >= Math.ceil((TAG_SIZE * 4) / 3), 'ciphertext shorter than a tag'),
});
export type SealedRecordWire = z.infer<typeof SealedRecordSchema>;

/** The author's statement about a sealed record (shared/formats/record-statement.ts). */
export const RecordStatementSchema = z.strictObject({
  type: z.literal(RECORD_STATEMENT_TYPE),
  contract: Id,
  kind: RecordKind,
  version: PositiveInt,
  author: Id,
  recordDigest: Sha256B64u,
});
export type RecordStatementWire = z.infer<typeof RecordStatementSchema>;

export const SignedRecordStatementSchema = z.strictObject({
  statement: RecordStatementSchema,
  signature: B64u({ bytes: SIGNATURE_LENGTH }),
});
export type SignedRecordStatementWire = z.infer<typeof SignedRecordStatementSchema>;

/** PUT /contracts/:contract/records/:kind/:version */
export const PutRecordBodySchema = z.strictObject({ record: SealedRecordSchema, signed: SignedRecordStatementSchema });

/**
 * GET .../records/:kind/latest and .../:version. `signed` is null only for a record stored
 * before records were signed; clients refuse such a record.
 */
export const StoredRecordSchema = z.strictObject({ record: SealedRecordSchema, signed: SignedRecordStatementSchema.nullable() });
export type StoredRecordWire = z.infer<typeof StoredRecordSchema>;

export const PutRecordResponseSchema = z.strictObject({ contract: Id, kind: RecordKind, version: PositiveInt, stored: z.boolean() });

// ---------------------------------------------------------------------------------------------
// File manifests (shared/crypto/manifest.ts FileManifest), mirrored field for field

export const FileManifestSchema = z
  .strictObject({
    type: z.literal(MANIFEST_TYPE),
    contract: Id,
    version: PositiveInt,
    file: Id,
    uploader: Id,
    cipher: z.literal(FILE_CIPHER),
    chunkSize: z.literal(CHUNK_SIZE),
    salt: B64u({ bytes: SALT_SIZE }),
    commitment: B64u({ bytes: COMMITMENT_SIZE }),
    plaintextLength: NonNegativeInt,
    ciphertextLength: PositiveInt,
    blockSize: z.number().int().min(1).max(DEFAULT_BLOCK_SIZE),
    blocks: z.array(Sha256B64u).min(MIN_BLOCKS).max(MAX_BLOCKS),
  })
  .superRefine((m, ctx) => {
    // The same consistency rules as checkShape in shared/crypto/manifest.ts, with its helpers:
    // exactly one ciphertext length per plaintext length, one block plan per block size.
    let expectedLength: number;
    try {
      expectedLength = ciphertextLength(m.plaintextLength);
    } catch {
      ctx.addIssue({ code: 'custom', path: ['plaintextLength'], message: 'plaintext length beyond the format limit' });
      return;
    }
    if (m.ciphertextLength !== expectedLength) {
      ctx.addIssue({ code: 'custom', path: ['ciphertextLength'], message: `must be ${expectedLength} for ${m.plaintextLength} plaintext bytes` });
      return;
    }
    let plan: { blockSize: number; count: number };
    try {
      plan = planBlocks(m.ciphertextLength, m.blockSize);
    } catch {
      ctx.addIssue({ code: 'custom', path: ['blocks'], message: 'the file needs more blocks than allowed' });
      return;
    }
    if (plan.blockSize !== m.blockSize) {
      ctx.addIssue({ code: 'custom', path: ['blockSize'], message: `a ${m.ciphertextLength}-byte ciphertext cannot have ${m.blockSize}-byte blocks (at most ${plan.blockSize})` });
    } else if (plan.count !== m.blocks.length) {
      ctx.addIssue({ code: 'custom', path: ['blocks'], message: `the file needs ${plan.count} block hashes, got ${m.blocks.length}` });
    }
  });
export type FileManifestWire = z.infer<typeof FileManifestSchema>;

export const SignedManifestSchema = z.strictObject({
  statement: FileManifestSchema,
  signature: B64u({ bytes: SIGNATURE_LENGTH }),
});
export type SignedManifestWire = z.infer<typeof SignedManifestSchema>;

export const CreateFileSchema = z.strictObject({ file: Id, version: PositiveInt, manifest: SignedManifestSchema });

export const FileVersionStatusSchema = z.strictObject({
  file: Id,
  version: PositiveInt,
  state: FileState,
  blockCount: PositiveInt,
  blockSize: PositiveInt,
  ciphertextLength: PositiveInt,
  created: z.boolean(),
});

// ---------------------------------------------------------------------------------------------
// Blocks

export const PutBlockResponseSchema = z.strictObject({ file: Id, version: PositiveInt, index: NonNegativeInt, stored: z.boolean() });
export const BlockListSchema = z.strictObject({
  file: Id,
  version: PositiveInt,
  state: FileState,
  present: z.array(NonNegativeInt),
  missing: z.array(NonNegativeInt),
});
export const CommitResponseSchema = z.strictObject({ file: Id, version: PositiveInt, state: z.literal('committed') });

// ---------------------------------------------------------------------------------------------
// Listings: ids, versions, states and sizes only (the relay never sees names)

export const FileVersionSummarySchema = z.strictObject({
  version: PositiveInt,
  state: FileState,
  uploader: Id,
  blockCount: PositiveInt,
  ciphertextLength: PositiveInt,
});
export const ContractFilesSchema = z.strictObject({
  contract: Id,
  files: z.array(z.strictObject({ file: Id, versions: z.array(FileVersionSummarySchema) })),
});
export const ContractListSchema = z.strictObject({
  space: Id,
  contracts: z.array(
    z.strictObject({
      contract: Id,
      records: z.array(z.strictObject({ kind: RecordKind, versions: z.array(PositiveInt) })),
      files: z.array(Id),
    }),
  ),
});

/** What the keys service answers to GET /grants/mine?space=[&contract=] (docs/relay-api.md). */
export const GrantMineSchema = z.object({ space: Id, contract: Id.optional(), role: SpaceRole.nullable() });

// ---- deleting a contract (four eyes: one writer asks, another writer or the manager decides) ----

/** The record kind holding the requester's reason, sealed under the contract key like its fields. */
export const DELETION_RECORD_KIND = 'deletion';

/** POST /contracts/:contract/deletion: the version of the caller's own "deletion" record that says why. */
export const DeletionRequestBodySchema = z.strictObject({ recordVersion: PositiveInt });
/** POST /contracts/:contract/deletion/decision */
export const DeletionDecisionBodySchema = z.strictObject({ approve: z.boolean() });

export const DeletionStateSchema = z.strictObject({
  contract: Id,
  /** when the contract was deleted (approved), else null */
  deletedAt: NonNegativeInt.nullable(),
  request: z
    .strictObject({
      requestedBy: Id,
      requestedAt: NonNegativeInt,
      recordVersion: PositiveInt,
      state: z.enum(['pending', 'rejected', 'approved']),
      decidedBy: Id.nullable(),
      decidedAt: NonNegativeInt.nullable(),
    })
    .nullable(),
});
export type DeletionState = z.infer<typeof DeletionStateSchema>;
