/**
 * Wire schemas of the keys service (relay/keys): wrapped private keys, recovery wrappings,
 * contract spaces, grants and digital envelopes. The relay only ever holds wrapped or public
 * material; these schemas bound every field so it cannot be made to hold much else.
 */
import { z } from 'zod';
import { ENVELOPE_ALG } from '../crypto/envelopes';
import { canonicalJson, fromBase64url, toBase64url } from '../crypto/encoding';
import { utf8 } from '../crypto/bytes';
import { B64u, Id, PositiveInt, ShortText, Sha256B64u } from './common';

/** Canonical base64url decoding to between `min` and `max` bytes. */
export function B64uRange(min: number, max: number) {
  return B64u({ maxBytes: max }).refine((s) => {
    try {
      return fromBase64url(s).length >= min;
    } catch {
      return true; // B64u already reported it
    }
  }, `must decode to at least ${min} bytes`);
}

// ---- wrapped private keys (AES-256-GCM under the KEK, docs/FORMATS.md section 2) ----------

export const GCM_NONCE_BYTES = 12;

/** AES-GCM-wrapped PKCS#8: RSA up to 8192 bits is under 5 KiB; a P-256 key about 150 bytes. */
export const WrappedEnvelopeKeySchema = z.strictObject({ wrapped: B64uRange(64, 8192), nonce: B64u({ bytes: GCM_NONCE_BYTES }) });
export const WrappedSigningKeySchema = z.strictObject({ wrapped: B64uRange(64, 512), nonce: B64u({ bytes: GCM_NONCE_BYTES }) });

/** The KDF parameters the KEK was made with; the same bounds a client enforces (FORMATS.md section 1). */
export const KekParamsSchema = z.strictObject({
  salt: B64uRange(16, 64),
  m: z.number().int().min(65536).max(1048576),
  t: z.number().int().min(3).max(10),
  p: z.number().int().min(1).max(16),
  /** which escrow share version E the KEK was derived with */
  escrowVersion: PositiveInt,
});

export const PutPrivateKeysSchema = z.strictObject({
  envelopeKey: WrappedEnvelopeKeySchema,
  signingKey: WrappedSigningKeySchema,
  kek: KekParamsSchema,
});
export type PutPrivateKeys = z.infer<typeof PutPrivateKeysSchema>;

export const PrivateKeysSchema = PutPrivateKeysSchema.extend({
  account: Id,
  version: PositiveInt,
  /** milliseconds since the epoch, relay clock */
  createdAt: PositiveInt,
});

/** Path parameter `:version`: a positive decimal integer without leading zeros. */
export const VersionParamSchema = z.strictObject({
  version: z
    .string()
    .regex(/^[1-9][0-9]{0,14}$/, 'a positive integer')
    .transform((v) => Number(v))
    .pipe(PositiveInt),
});

export const StoredVersionSchema = z.strictObject({ account: Id, version: PositiveInt });

// ---- recovery-code wrapping (opaque to the relay) -----------------------------------------

export const PutRecoverySchema = z.strictObject({ blob: B64uRange(16, 16384) });
export const RecoverySchema = z.strictObject({ account: Id, version: PositiveInt, blob: B64uRange(16, 16384), createdAt: PositiveInt });

// ---- envelopes (docs/FORMATS.md section 8) ------------------------------------------------

const ContextKey = z.string().regex(/^[A-Za-z][A-Za-z0-9]{0,31}$/, 'a context field name');
const ContextValue = z.union([z.string().min(1).max(128), z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)]);

export const EnvelopeContextSchema = z
  .record(ContextKey, ContextValue)
  .refine((c) => Object.keys(c).length <= 12, 'at most 12 context fields')
  .refine((c) => typeof c.purpose === 'string' && /^[a-z][a-z0-9-]{0,31}$/.test(c.purpose), 'context.purpose is missing or malformed')
  .refine((c) => typeof c.recipient === 'string' && Id.safeParse(c.recipient).success, 'context.recipient must be an account id');

export const EnvelopeSchema = z.strictObject({
  v: z.literal(1),
  alg: z.literal(ENVELOPE_ALG),
  context: EnvelopeContextSchema,
  /** RSA-OAEP ciphertext: modulus-size bytes (3072 to 8192 bits) */
  wrapped: B64uRange(384, 1024),
});
export type EnvelopeWire = z.infer<typeof EnvelopeSchema>;

/**
 * SHA-256 of the canonical JSON of the whole envelope, base64url: what a signed statement names
 * so that the relay cannot swap the wrapped bytes for a key it knows.
 */
export async function envelopeDigest(envelope: EnvelopeWire): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', utf8(canonicalJson(envelope)));
  return toBase64url(new Uint8Array(digest));
}

// ---- spaces and grants (DESIGN.md section 7) ----------------------------------------------

export const GRANT_STATEMENT_TYPE = 'sealvault/v1/grant';
export const ENVELOPE_STATEMENT_TYPE = 'sealvault/v1/envelope';

/** Roles a manager grants; "manager" only names the space's own manager (its self-grant of the space key). */
export const GrantRoleSchema = z.enum(['viewer', 'editor', 'signer', 'manager']);
export type GrantRole = z.infer<typeof GrantRoleSchema>;

/**
 * A space's name sealed under its space key (docs/FORMATS.md section 8): the relay stores and
 * serves it without reading it. `keyVersion` names the space key that opens it.
 */
export const SealedSpaceNameSchema = z.strictObject({
  keyVersion: PositiveInt,
  nonce: B64u({ bytes: GCM_NONCE_BYTES }),
  // up to 200 characters of UTF-8 (800 bytes) and the 16-byte tag
  ct: B64uRange(17, 1088),
});
export type SealedSpaceName = z.infer<typeof SealedSpaceNameSchema>;

/** `name` is a plaintext label the relay can read (kept for spaces named before); the app sends only `sealedName`. */
export const CreateSpaceSchema = z.strictObject({ space: Id, name: ShortText.optional(), sealedName: SealedSpaceNameSchema.optional() });
export const SpaceNameParamSchema = z.strictObject({ space: Id });
export const PutSpaceNameSchema = z.strictObject({ sealedName: SealedSpaceNameSchema });

export const SpaceSchema = z.strictObject({
  space: Id,
  name: ShortText.nullable(),
  sealedName: SealedSpaceNameSchema.nullable(),
  manager: Id,
  /** the space key version new contracts must use; bumped by every revocation */
  keyVersion: PositiveInt,
});

export const GrantStatementSchema = z.strictObject({
  type: z.literal(GRANT_STATEMENT_TYPE),
  space: Id,
  member: Id,
  role: GrantRoleSchema,
  keyVersion: PositiveInt,
  granter: Id,
  /** envelopeDigest() of the space-key envelope this grant carries: without it a relay could swap the wrapped bytes */
  envelopeDigest: Sha256B64u,
});
export const SignedGrantSchema = z.strictObject({ statement: GrantStatementSchema, signature: B64u({ bytes: 64 }) });

export const CreateGrantSchema = z.strictObject({
  space: Id,
  member: Id,
  role: GrantRoleSchema,
  keyVersion: PositiveInt,
  envelope: EnvelopeSchema,
  grantStatement: SignedGrantSchema,
});
export type CreateGrant = z.infer<typeof CreateGrantSchema>;

export const GrantResultSchema = z.strictObject({ space: Id, member: Id, role: GrantRoleSchema, keyVersion: PositiveInt });
export const RevokeResultSchema = z.strictObject({ space: Id, member: Id, keyVersion: PositiveInt });
export const GrantPathSchema = z.strictObject({ space: Id, member: Id });
export const SpaceQuerySchema = z.strictObject({ space: Id });

export const GrantsListSchema = z.strictObject({
  space: Id,
  name: ShortText.nullable(),
  sealedName: SealedSpaceNameSchema.nullable(),
  manager: Id,
  keyVersion: PositiveInt,
  members: z.array(z.strictObject({ member: Id, role: GrantRoleSchema })),
  /** one per member and key version; `envelope` only on the caller's own entries */
  grants: z.array(
    z.strictObject({
      member: Id,
      role: GrantRoleSchema,
      keyVersion: PositiveInt,
      grantStatement: SignedGrantSchema,
      envelope: EnvelopeSchema.optional(),
    }),
  ),
});

/**
 * GET /grants/mine?space=[&contract=] (docs/relay-api.md): the caller's role in the space, or
 * null. Asked about one contract, a caller who is no member but holds a live single share of it
 * (shared/protocol/sharing.ts) is answered "viewer", and the answer names the contract.
 */
export const MyGrantQuerySchema = z.strictObject({ space: Id, contract: Id.optional() });
export const MyGrantSchema = z.strictObject({ space: Id, contract: Id.optional(), role: GrantRoleSchema.nullable() });

/**
 * GET /spaces (docs/relay-api.md): the spaces the caller is a member of, each with the caller's own
 * role; sorted by name (unnamed last) then id; at most 1000. Nothing about other spaces.
 */
export const MySpacesSchema = z.strictObject({
  spaces: z.array(SpaceSchema.extend({ role: GrantRoleSchema })).max(1000),
});

// ---- envelopes shared to one account ------------------------------------------------------

export const EnvelopeStatementSchema = z.strictObject({
  type: z.literal(ENVELOPE_STATEMENT_TYPE),
  granter: Id,
  /** equal to the envelope's context */
  context: EnvelopeContextSchema,
  /** envelopeDigest() of the envelope */
  envelopeDigest: Sha256B64u,
});
export const SignedEnvelopeStatementSchema = z.strictObject({ statement: EnvelopeStatementSchema, signature: B64u({ bytes: 64 }) });

export const CreateEnvelopeSchema = z.strictObject({ envelope: EnvelopeSchema, signedBy: SignedEnvelopeStatementSchema });
export type CreateEnvelope = z.infer<typeof CreateEnvelopeSchema>;
export const CreateEnvelopeResultSchema = z.strictObject({ id: Sha256B64u });

export const DEK_PURPOSE = 'dek';

/**
 * The context of a contract's DEK wrapped to one account (a single share): exactly
 * {purpose: "dek", recipient, contract, space}. The OAEP label binds all four, so an envelope
 * cannot be moved to another contract, space or person.
 */
export const DekEnvelopeContextSchema = z.strictObject({ purpose: z.literal(DEK_PURPOSE), recipient: Id, contract: Id, space: Id });
export type DekEnvelopeContext = z.infer<typeof DekEnvelopeContextSchema>;

export const EnvelopesQuerySchema = z.strictObject({
  purpose: z.enum(['dek', 'space-key']).optional(),
  space: Id.optional(),
  contract: Id.optional(),
});

export const EnvelopeListSchema = z.strictObject({
  envelopes: z.array(
    z.strictObject({
      id: z.string(),
      purpose: z.string(),
      granter: Id,
      space: Id.nullable(),
      contract: Id.nullable(),
      keyVersion: PositiveInt.nullable(),
      envelope: EnvelopeSchema,
      /** the granter's signed statement: a grant (space-key) or an envelope statement (dek) */
      signedBy: z.union([SignedGrantSchema, SignedEnvelopeStatementSchema]),
      createdAt: PositiveInt,
    }),
  ),
});

/** GET /envelopes/shares?space=&contract= (writers of the space): who holds a single share of a contract. */
export const SharesQuerySchema = z.strictObject({ space: Id, contract: Id });
export const ContractShareSchema = z.strictObject({
  id: Sha256B64u,
  recipient: Id,
  granter: Id,
  /** milliseconds since the epoch, relay clock */
  createdAt: PositiveInt,
  /** the granter's signed statement; the wrapped key itself is served to its recipient only */
  signedBy: SignedEnvelopeStatementSchema,
});
export const ContractSharesSchema = z.strictObject({ space: Id, contract: Id, shares: z.array(ContractShareSchema) });

/** DELETE /envelopes/:id (the granter, or the manager of the envelope's space). */
export const EnvelopeIdParamSchema = z.strictObject({ id: Sha256B64u });
export const DeleteEnvelopeResultSchema = z.strictObject({ id: Sha256B64u, recipient: Id, contract: Id.nullable(), space: Id.nullable() });

// ---- enterprise CA private key envelopes (security administrators only) -------------------

export const CA_KEY_PURPOSE = 'ca-key';

/**
 * The context of an envelope holding the enterprise CA private key (PKCS#8, ECDSA P-256) for one
 * security administrator: exactly {purpose: "ca-key", recipient, ca}, where `ca` is the SHA-256
 * fingerprint (base64url) of the CA certificate whose key it is. The OAEP label binds all three.
 */
export const CaKeyEnvelopeContextSchema = z.strictObject({
  purpose: z.literal(CA_KEY_PURPOSE),
  recipient: Id,
  ca: Sha256B64u,
});
export type CaKeyEnvelopeContext = z.infer<typeof CaKeyEnvelopeContextSchema>;

/** An EnvelopeSchema whose context is a CaKeyEnvelopeContext. */
export const CaKeyEnvelopeSchema = EnvelopeSchema.extend({ context: CaKeyEnvelopeContextSchema });

/** PUT /ca-key/:recipient */
export const PutCaKeyEnvelopeSchema = z.strictObject({ envelope: CaKeyEnvelopeSchema });
export const CaKeyRecipientParamSchema = z.strictObject({ recipient: Id });
/** GET /ca-key/recipients?ca=: who holds an envelope of that CA's key (ids only, no envelopes). */
export const CaKeyRecipientsQuerySchema = z.strictObject({ ca: Sha256B64u });
export const CaKeyRecipientsSchema = z.strictObject({ ca: Sha256B64u, recipients: z.array(Id) });
export const PutCaKeyEnvelopeResultSchema = z.strictObject({
  recipient: Id,
  ca: Sha256B64u,
  /** true when an envelope for this recipient and CA was already stored and has been replaced */
  replaced: z.boolean(),
});

/** GET /ca-key: the caller's own CA-key envelopes, one per CA certificate. */
export const CaKeyEnvelopeListSchema = z.strictObject({
  envelopes: z.array(
    z.strictObject({
      ca: Sha256B64u,
      envelope: CaKeyEnvelopeSchema,
      /** the security administrator who stored it */
      createdBy: Id,
      /** milliseconds since the epoch, relay clock */
      createdAt: PositiveInt,
    }),
  ),
});

export const ServiceKeySchema = z.strictObject({ service: z.string(), publicKey: B64u({ bytes: 32 }) });

/** What keys reads from the directory (docs/relay-api.md); fields it does not use are ignored. */
export const DirectoryPublicKeysSchema = z.object({
  account: Id,
  status: z.enum(['invited', 'active', 'disabled']),
  roles: z.array(z.string()),
  envelopeKey: z.string().nullable(),
  signingKey: z.string().nullable(),
  signingKeyId: z.string().nullable(),
  certified: z.boolean(),
  certificate: z.string().nullable(),
  /** the account's certificate was revoked (absent from older directories: not revoked) */
  revoked: z.boolean().optional(),
});
export type DirectoryPublicKeys = z.infer<typeof DirectoryPublicKeysSchema>;
