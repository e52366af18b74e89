/**
 * Wire schemas of the directory service (enterprise and policy, accounts, roles, requests,
 * registration, login, password change, recovery, sessions).
 * Every request body is a strict object (unknown fields refused), every string is bounded and
 * every binary value is canonical base64url of a checked length. The relay validates requests
 * with these; clients validate the relay's answers with the same schemas (the relay is not
 * trusted to answer in shape).
 */
import { z } from 'zod';
import { fromBase64 } from '../crypto/encoding';
import { RECOVERY_CHALLENGE_LENGTH, RECOVERY_PUBLIC_KEY_LENGTH, RECOVERY_SIGNATURE_LENGTH } from '../formats/recovery-challenge';
import { B64u, Id } from './common';

// --- Roles -------------------------------------------------------------------------------

/** The three administrator roles: no account may hold two of them (three-member separation). */
export const ADMIN_ROLES = ['system-admin', 'security-admin', 'auditor'] as const;
export const ROLES = [...ADMIN_ROLES, 'space-manager', 'employee'] as const;
export type Role = (typeof ROLES)[number];
export type AdminRole = (typeof ADMIN_ROLES)[number];
export const RoleSchema = z.enum(ROLES);
export const AdminRoleSchema = z.enum(ADMIN_ROLES);

export function isAdminRole(role: string): role is AdminRole {
  return (ADMIN_ROLES as readonly string[]).includes(role);
}

// --- Building blocks ---------------------------------------------------------------------

/** Printable text without control characters (no newlines or escapes smuggled into admin screens or logs). */
export function PlainText(max: number) {
  return z
    .string()
    .min(1)
    .max(max)
    .regex(/^[^\p{Cc}\p{Cs}]+$/u, 'no control characters')
    .refine((s) => s.trim() === s, 'no leading or trailing spaces');
}

/**
 * Login name. ASCII only so that case folding is plain lower-casing and two spellings of one name
 * cannot exist (no Unicode confusables); the relay stores it lower-cased.
 */
export const Username = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, '1 to 64 characters from A-Z a-z 0-9 . _ -, starting with a letter or digit');
export const EmployeeNumber = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/, '1 to 32 characters from A-Z a-z 0-9 . _ -, starting with a letter or digit');
export const LegalName = PlainText(200);
export const Contact = PlainText(200);
export const DepartmentName = PlainText(100);
export const Reason = PlainText(500);

/** 32 random bytes: setup tokens and invitation codes. */
export const Secret32 = B64u({ bytes: 32 });

/** Seconds since the epoch, the unit of token `exp`. */
export const EpochSeconds = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).describe('seconds since the epoch');
/** ISO 8601 time in UTC. */
export const IsoTime = z.string().max(40).describe('ISO 8601 time (UTC)');

export const AccountStatusSchema = z.enum(['invited', 'active', 'disabled']);
export type AccountStatus = z.infer<typeof AccountStatusSchema>;

// OPAQUE messages of @serenity-kit/opaque 1.1 (ristretto255, 3DH): exact decoded lengths.
export const OPAQUE_LENGTHS = { registrationRequest: 32, registrationResponse: 64, registrationRecord: 192, startLoginRequest: 96, loginResponse: 320, finishLoginRequest: 64 } as const;

/**
 * Argon2id salt: 16 to 64 bytes (docs/FORMATS.md section 1). Unpadded base64url of n bytes is
 * ceil(4n/3) characters, so "at least 22 characters" is exactly "at least 16 bytes".
 */
export const KdfSalt = B64u({ maxBytes: 64 }).refine((s) => s.length >= 22, 'salt must be at least 16 bytes');
/** Argon2id parameters as integers; their bounds are checked with checkArgon2Params (shared/crypto/argon2.ts). */
export const KdfParamsSchema = z.strictObject({ m: z.number().int(), t: z.number().int(), p: z.number().int() });

/** SPKI DER public keys: RSA up to 8192 bits (about 1.1 KiB), ECDSA P-256 (91 bytes). */
export const EnvelopeKeySpki = B64u({ maxBytes: 1200 });
export const SigningKeySpki = B64u({ maxBytes: 200 });

/** One PEM certificate: the label lines and base64 lines of at most 76 characters, bounded to 16 KiB. */
export const CertificatePem = z
  .string()
  .max(16 * 1024)
  .regex(/^-----BEGIN CERTIFICATE-----\r?\n(?:[A-Za-z0-9+/=]{1,76}\r?\n)+-----END CERTIFICATE-----\r?\n?$/, 'one PEM certificate (BEGIN/END CERTIFICATE, base64 lines)')
  .refine(pemBodyIsDer, 'the certificate body must be canonical base64 of a DER SEQUENCE');

function pemBodyIsDer(pem: string): boolean {
  try {
    const body = pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\r?\n/g, '');
    const der = fromBase64(body);
    return der.length > 2 && der[0] === 0x30;
  } catch {
    return false;
  }
}

// --- Setup ------------------------------------------------------------------------------

export const AdministratorInput = z.strictObject({
  role: AdminRoleSchema,
  legalName: LegalName,
  employeeNumber: EmployeeNumber,
  contact: Contact,
  username: Username.optional(),
});

export const SetupRequest = z.strictObject({
  setupToken: Secret32,
  enterprise: z.strictObject({ name: PlainText(200) }),
  administrators: z
    .array(AdministratorInput)
    .length(3)
    .refine((admins) => ADMIN_ROLES.every((r) => admins.filter((a) => a.role === r).length === 1), 'exactly one system-admin, one security-admin and one auditor'),
});

export const InvitationAnswer = z.strictObject({ account: Id, username: Username, invitationCode: Secret32, expiresAt: IsoTime });

export const SetupResponse = z.strictObject({
  enterprise: z.strictObject({ name: z.string() }),
  invitations: z.array(InvitationAnswer.extend({ role: AdminRoleSchema })),
});

// --- Accounts ---------------------------------------------------------------------------

export const CreateAccountRequest = z.strictObject({
  legalName: LegalName,
  employeeNumber: EmployeeNumber,
  contact: Contact,
  department: Id.optional(),
  username: Username.optional(),
});

export const AccountProfileSchema = z.strictObject({
  id: Id,
  username: Username,
  legalName: z.string(),
  employeeNumber: z.string(),
  department: Id.nullable(),
  contact: z.string(),
  status: AccountStatusSchema,
  roles: z.array(RoleSchema),
  approved: z.boolean(),
  registered: z.boolean(),
  certified: z.boolean(),
  signingKeyId: z.string().nullable(),
  createdAt: IsoTime,
  updatedAt: IsoTime,
});
export type AccountProfile = z.infer<typeof AccountProfileSchema>;

export const AccountListResponse = z.strictObject({ accounts: z.array(AccountProfileSchema) });

/** docs/relay-api.md: what keys and vault read before a grant, what audit reads to check account signatures. */
export const PublicKeysResponse = z.strictObject({
  account: Id,
  status: AccountStatusSchema,
  roles: z.array(RoleSchema),
  envelopeKey: EnvelopeKeySpki.nullable(),
  signingKey: SigningKeySpki.nullable(),
  signingKeyId: z.string().nullable(),
  /** certified: a current certificate that is neither revoked nor of a disabled account */
  certified: z.boolean(),
  /** the stored certificate was revoked (a profile change or disabling); a new certificate clears it */
  revoked: z.boolean(),
  /** the last certificate issued to the account, revoked or not; null when none */
  certificate: CertificatePem.nullable(),
});

/** An employee certificate (POST /accounts/:id/certificate) or the enterprise root (PUT /enterprise/ca). */
export const CertificateRequest = z.strictObject({ certificate: CertificatePem });

/** PUT /accounts/:id/contact */
export const ContactChangeRequest = z.strictObject({ contact: Contact });

export const DepartmentSchema = z.strictObject({ id: Id, name: z.string() });
export const CreateDepartmentRequest = z.strictObject({ name: DepartmentName });
export const DepartmentListResponse = z.strictObject({ departments: z.array(DepartmentSchema) });

// --- People (the enterprise phone book) ------------------------------------------------

export const PEOPLE_LIMIT = { default: 50, max: 100 } as const;

/**
 * GET /people?q=&limit=: `q` is matched case-insensitively as a substring of the legal name,
 * username or employee number (optional, 1 to 100 characters, no control characters); `limit` a
 * decimal 1..100, default 50.
 */
export const PeopleQuery = z.strictObject({
  q: z
    .string()
    .min(1)
    .max(100)
    .regex(/^[^\p{Cc}\p{Cs}]+$/u, 'no control characters')
    .optional(),
  limit: z
    .string()
    .regex(/^[1-9][0-9]{0,2}$/, 'an integer from 1 to 100')
    .transform((v) => Number(v))
    .pipe(z.number().int().min(1).max(PEOPLE_LIMIT.max))
    .optional(),
});

/** One active account as the phone book shows it: no contact, roles, keys or status. */
export const PersonSchema = z.strictObject({
  id: Id,
  username: Username,
  legalName: z.string(),
  employeeNumber: z.string(),
  department: DepartmentSchema.nullable(),
  /** as in public-keys: a current certificate that is not revoked */
  certified: z.boolean(),
});

/** Active accounts only, sorted by legal name. */
export const PeopleResponse = z.strictObject({ people: z.array(PersonSchema).max(PEOPLE_LIMIT.max) });

// --- Role requests ----------------------------------------------------------------------

export const RoleRequestInput = z.strictObject({ account: Id, role: RoleSchema, op: z.enum(['add', 'remove']) });
export const RejectRequest = z.strictObject({ reason: Reason });
/** Status of every four-eyes request (role requests and account requests). */
export const RequestStatusSchema = z.enum(['pending', 'approved', 'rejected']);
export type RequestStatus = z.infer<typeof RequestStatusSchema>;
export const RoleRequestStatusSchema = RequestStatusSchema;

export const RoleRequestSchema = z.strictObject({
  id: Id,
  account: Id,
  role: RoleSchema,
  op: z.enum(['add', 'remove']),
  status: RoleRequestStatusSchema,
  requestedBy: Id,
  requestedAt: IsoTime,
  decidedBy: Id.nullable(),
  decidedAt: IsoTime.nullable(),
  reason: z.string().nullable(),
});
export const RoleRequestListQuery = z.strictObject({ status: RoleRequestStatusSchema.optional() });
export const RoleRequestListResponse = z.strictObject({ requests: z.array(RoleRequestSchema) });

// --- Account requests (four eyes for profile changes and disabling) ----------------------

export const AccountRequestKindSchema = z.enum(['profile', 'disable']);
export type AccountRequestKind = z.infer<typeof AccountRequestKindSchema>;

/** A change of the account's own legal name and/or employee number; only the account itself asks. */
export const ProfileChangeInput = z
  .strictObject({ kind: z.literal('profile'), account: Id, legalName: LegalName.optional(), employeeNumber: EmployeeNumber.optional() })
  .refine((r) => r.legalName !== undefined || r.employeeNumber !== undefined, 'name at least one of legalName and employeeNumber');

/** Disabling another account (system-admin); a security-admin approves. */
export const DisableRequestInput = z.strictObject({ kind: z.literal('disable'), account: Id, reason: Reason });

/** POST /account-requests */
export const AccountRequestInput = z.discriminatedUnion('kind', [ProfileChangeInput, DisableRequestInput]);

export const AccountRequestSchema = z.strictObject({
  id: Id,
  account: Id,
  kind: AccountRequestKindSchema,
  /** profile: the requested values (null for a field that does not change, and for disable) */
  legalName: z.string().nullable(),
  employeeNumber: z.string().nullable(),
  /** disable: why (null for profile) */
  reason: z.string().nullable(),
  status: RequestStatusSchema,
  requestedBy: Id,
  requestedAt: IsoTime,
  decidedBy: Id.nullable(),
  decidedAt: IsoTime.nullable(),
  /** the decider's reason when rejected */
  rejectionReason: z.string().nullable(),
});
export type AccountRequest = z.infer<typeof AccountRequestSchema>;
export const AccountRequestListQuery = z.strictObject({ status: RequestStatusSchema.optional(), account: Id.optional() });
export const AccountRequestListResponse = z.strictObject({ requests: z.array(AccountRequestSchema) });

// --- Account history --------------------------------------------------------------------

/** Who did it: an account id, or "setup" for what the one-time setup did (the administrators' creation). */
export const Actor = Id.describe("an account id, or 'setup'");

const RequestOutcome = {
  request: Id,
  status: RequestStatusSchema,
  decidedBy: Id.nullable(),
  decidedAt: IsoTime.nullable(),
  rejectionReason: z.string().nullable(),
};

/**
 * One event in an account's life. `at` is when it happened (for requests: when requested), `by`
 * who did it (for requests: the requester; the decision is in status / decidedBy / decidedAt).
 */
export const AccountHistoryEvent = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('account.created'), at: IsoTime, by: Actor }),
  z.strictObject({ kind: z.literal('account.approved'), at: IsoTime, by: Actor }),
  z.strictObject({ kind: z.literal('account.registered'), at: IsoTime, by: Actor }),
  /** serial is null for a certificate stored before serials were recorded */
  z.strictObject({ kind: z.literal('certificate.issued'), at: IsoTime, by: Actor, serial: z.string().nullable() }),
  z.strictObject({ kind: z.literal('certificate.revoked'), at: IsoTime, by: Actor, serial: z.string().nullable(), reason: z.string() }),
  z.strictObject({ kind: z.literal('role.request'), at: IsoTime, by: Actor, role: RoleSchema, op: z.enum(['add', 'remove']), ...RequestOutcome }),
  /** legalName / employeeNumber: requested (null: unchanged); previous*: what an approval replaced (null until approved) */
  z.strictObject({
    kind: z.literal('profile.request'),
    at: IsoTime,
    by: Actor,
    legalName: z.string().nullable(),
    employeeNumber: z.string().nullable(),
    previousLegalName: z.string().nullable(),
    previousEmployeeNumber: z.string().nullable(),
    ...RequestOutcome,
  }),
  z.strictObject({ kind: z.literal('disable.request'), at: IsoTime, by: Actor, reason: z.string(), ...RequestOutcome }),
]);
export type AccountHistoryEntry = z.infer<typeof AccountHistoryEvent>;
/** GET /accounts/:id/history: newest first. */
export const AccountHistoryResponse = z.strictObject({ account: Id, events: z.array(AccountHistoryEvent) });

// --- Enterprise and security policy -----------------------------------------------------

/** GET /enterprise: what the sign-in page and the security administrator need before anything else. */
export const EnterpriseResponse = z.strictObject({
  /** null before setup */
  name: z.string().nullable(),
  setupDone: z.boolean(),
  /** the enterprise root CA (PEM), null until the security administrator stores it */
  caCertificate: CertificatePem.nullable(),
});

/**
 * GET /revocations: every employee certificate the enterprise revoked (serial in lower-case hex,
 * as the certificate states it). A PDF verifier marks signatures made with these as invalid.
 */
export const RevocationsResponse = z.strictObject({
  revocations: z.array(z.strictObject({ serial: z.string().regex(/^[0-9a-f]{1,40}$/), revokedAt: z.number().int().nonnegative(), reason: z.string().max(64) })),
});

/**
 * GET /certificates (auditor, security-admin): every employee certificate ever issued, oldest
 * first, replaced and revoked ones included. serial is lower-case hex, null only for a
 * certificate stored before serials were kept (the PEM states it anyway).
 */
export const IssuedCertificatesResponse = z.strictObject({
  certificates: z.array(
    z.strictObject({ account: Id, serial: z.string().regex(/^[0-9a-f]{1,40}$/).nullable(), certificate: CertificatePem, issuedAt: z.number().int().nonnegative() }),
  ),
});

export const POLICY_BOUNDS = { passwordMinLength: { min: 10, max: 128 }, idleTimeoutMinutes: { min: 1, max: 480 } } as const;
/** Security policy the browser enforces (the relay never sees a password or a screen). */
export const PolicySchema = z.strictObject({
  passwordMinLength: z.number().int().min(POLICY_BOUNDS.passwordMinLength.min).max(POLICY_BOUNDS.passwordMinLength.max),
  idleTimeoutMinutes: z.number().int().min(POLICY_BOUNDS.idleTimeoutMinutes.min).max(POLICY_BOUNDS.idleTimeoutMinutes.max),
});
export type Policy = z.infer<typeof PolicySchema>;
export const DEFAULT_POLICY: Readonly<Policy> = Object.freeze({ passwordMinLength: 12, idleTimeoutMinutes: 15 });

// --- Registration -----------------------------------------------------------------------

export const RegisterStartRequest = z.strictObject({
  invitationCode: Secret32,
  registrationRequest: B64u({ bytes: OPAQUE_LENGTHS.registrationRequest }),
});
export const RegisterStartResponse = z.strictObject({
  account: Id,
  username: Username,
  registrationResponse: B64u({ bytes: OPAQUE_LENGTHS.registrationResponse }),
});

export const RegisterFinishRequest = z.strictObject({
  invitationCode: Secret32,
  registrationRecord: B64u({ bytes: OPAQUE_LENGTHS.registrationRecord }),
  kdf: z.strictObject({ salt: KdfSalt, m: z.number().int(), t: z.number().int(), p: z.number().int() }),
  envelopeKey: EnvelopeKeySpki,
  signingKey: SigningKeySpki,
});

// --- Password change (needs a session from a sign-in at most 5 minutes old) -------------

export const PasswordStartRequest = z.strictObject({ registrationRequest: B64u({ bytes: OPAQUE_LENGTHS.registrationRequest }) });
export const PasswordStartResponse = z.strictObject({ registrationResponse: B64u({ bytes: OPAQUE_LENGTHS.registrationResponse }) });
/** Answered with a SessionResponse: every other session of the account has ended. */
export const PasswordFinishRequest = z.strictObject({
  registrationRecord: B64u({ bytes: OPAQUE_LENGTHS.registrationRecord }),
  kdf: z.strictObject({ salt: KdfSalt, m: z.number().int(), t: z.number().int(), p: z.number().int() }),
});

// --- Recovery with a recovery code (shared/formats/recovery-challenge.ts) ----------------

/** Raw Ed25519 public key of the account's recovery-auth key. */
export const RecoveryPublicKey = B64u({ bytes: RECOVERY_PUBLIC_KEY_LENGTH });
export const RecoveryKeyRequest = z.strictObject({ publicKey: RecoveryPublicKey });
export const RecoveryStartRequest = z.strictObject({ username: Username });
export const RecoveryStartResponse = z.strictObject({
  challengeId: Id,
  challenge: B64u({ bytes: RECOVERY_CHALLENGE_LENGTH }),
  /** seconds since the epoch; the challenge is refused after this */
  expiresAt: EpochSeconds,
});
/** Answered with a SessionResponse (a fresh one: it may change the password). */
export const RecoveryFinishRequest = z.strictObject({ username: Username, challengeId: Id, signature: B64u({ bytes: RECOVERY_SIGNATURE_LENGTH }) });

// --- Prelogin and login -----------------------------------------------------------------

export const PreloginRequest = z.strictObject({ username: Username });
export const PreloginResponse = z.strictObject({ salt: KdfSalt, kdf: KdfParamsSchema });

export const LoginStartRequest = z.strictObject({
  username: Username,
  startLoginRequest: B64u({ bytes: OPAQUE_LENGTHS.startLoginRequest }),
});
export const LoginStartResponse = z.strictObject({
  loginId: Id,
  loginResponse: B64u({ bytes: OPAQUE_LENGTHS.loginResponse }),
});
export const LoginFinishRequest = z.strictObject({
  loginId: Id,
  finishLoginRequest: B64u({ bytes: OPAQUE_LENGTHS.finishLoginRequest }),
});

/** Answer of register/finish, login/finish, session/refresh, password/finish and recovery/finish. */
export const SessionResponse = z.strictObject({
  session: z.string().max(4096),
  account: Id,
  roles: z.array(RoleSchema),
  expiresAt: EpochSeconds,
});
export type SessionAnswer = z.infer<typeof SessionResponse>;

export const MeResponse = z.strictObject({
  account: AccountProfileSchema,
  session: z.strictObject({ id: Id, expiresAt: EpochSeconds }),
});

export const EscrowTicketResponse = z.strictObject({ ticket: z.string().max(4096), expiresAt: EpochSeconds });
export const OkResponse = z.strictObject({ ok: z.literal(true) });
export const KeyResponse = z.strictObject({ service: z.literal('directory'), publicKey: B64u({ bytes: 32 }) });
