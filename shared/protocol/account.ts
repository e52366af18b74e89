/**
 * Registration and unlocking of an account (DESIGN.md section 4), as the browser runs them.
 * Argon2id is passed in (a Web Worker with progress in the app, a direct call in tests), so this
 * module never sees the password except to hand it to that function.
 *
 * The relay is not trusted: prelogin's parameters are bounded before hashing, every answer is
 * parsed with its wire schema, wrapped private keys are bound by their AAD to the account, key
 * ids and KDF parameters, and each unwrapped key is proven to match the account's public key
 * before use. Private keys end up as non-extractable CryptoKeys held in memory only.
 */
import { z } from 'zod';
import { deriveEscrowAuthKey, deriveKek, deriveLocalIndexKey, deriveWitnessKey, randomEscrowShare } from '../crypto/account-keys';
import { checkArgon2Params, DEFAULT_ARGON2_PARAMS, type Argon2Params } from '../crypto/argon2';
import { fromBase64url, toBase64url } from '../crypto/encoding';
import { fail } from '../crypto/errors';
import { generateEnvelopeKeyPair, importEnvelopePublicKey } from '../crypto/envelopes';
import { unwrapPrivateKey, wrapPrivateKey, type WrapContext } from '../crypto/private-keys';
import { deriveRecoveryAuthKey, formatRecoveryCode, newRecoveryCode, sealRecoveryBlob } from '../crypto/recovery-code';
import { generateSigningKeyPair, importSigningPublicKey, publicKeyId } from '../crypto/statements';
import { signEscrowChallenge } from '../formats/escrow-challenge';
import { PublicKeysResponse, type Role } from '../schemas/directory';
import { ChallengeResponseSchema, ReleaseResponseSchema } from '../schemas/escrow';
import { PrivateKeysSchema } from '../schemas/keys';
import { directoryOf, escrowTicket, login, newSalt, prelogin, register } from './directory-client';
import { isTransient, type RelayTransport } from './relay-transport';
import type { VersionMemory } from './version-memory';

/** Argon2id(password, salt, params) -> P, 32 bytes. */
export type DeriveP = (password: string, salt: Uint8Array, params: Argon2Params) => Promise<Uint8Array>;

export type UnlockStep = 'prelogin' | 'argon2id' | 'login' | 'escrow' | 'keys' | 'done';
export type RegisterStep = 'argon2id' | 'generate-keys' | 'register' | 'escrow' | 'wrap-keys' | 'recovery' | 'done';

export interface UnlockedAccount {
  account: string;
  username: string;
  roles: Role[];
  session: string;
  /** seconds since the epoch */
  sessionExpiresAt: number;
  escrowVersion: number;
  envelope: { publicKey: CryptoKey; privateKey: CryptoKey; spki: Uint8Array; keyId: string };
  signing: { publicKey: CryptoKey; privateKey: CryptoKey; spki: Uint8Array; keyId: string };
  /**
   * Non-extractable AES-GCM key of this browser's encrypted search index, from P and E like the
   * KEK (shared/crypto/account-keys.ts deriveLocalIndexKey). Made at unlock because P and E are
   * held only for a moment; dropped with the rest of the account at sign-out.
   */
  localIndexKey: CryptoKey;
  /**
   * The Ed25519 key this browser cosigns audit checkpoints with when the account is an auditor
   * (docs/AUDIT.md section 3), from P and E like localIndexKey and for the same reason: made at
   * unlock, the private half non-extractable, a new one after a password change.
   */
  witness: { privateKey: CryptoKey; publicKey: Uint8Array };
  /**
   * What this browser has seen, for refusing rollbacks (set by the app for the tab; absent, no
   * memory is kept): a space's key version here, so a relay cannot serve the member list and key
   * from before a revocation and have new contracts wrapped to a key the revoked member holds.
   */
  seen?: VersionMemory;
}

export function parseAnswer<S extends z.ZodType>(schema: S, value: unknown, what: string): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) return fail('E_FORMAT', `the relay's ${what} answer is malformed`);
  return parsed.data;
}

/** The `jti` of an sv1 token, which escrow binds into the challenge signature (not verified here: escrow verifies). */
export function tokenId(token: string): string {
  const payload = token.split('.')[1];
  try {
    const jti = (JSON.parse(new TextDecoder().decode(fromBase64url(payload ?? ''))) as { jti?: unknown }).jti;
    if (typeof jti === 'string') return jti;
  } catch {
    // fall through
  }
  return fail('E_FORMAT', 'the escrow ticket is malformed');
}

/**
 * Shows escrow a fresh directory ticket and a signature by `signer` over escrow's challenge:
 * what both a release and a proof for a new share version consist of.
 */
export async function escrowProof(transport: RelayTransport, session: string, account: string, signer: CryptoKey): Promise<{ ticket: string; challengeId: string; signature: string }> {
  const { ticket } = await escrowTicket(directoryOf(transport), session);
  const challenge = parseAnswer(ChallengeResponseSchema, await transport.request('POST', '/api/escrow/challenge', { ticket }), 'escrow challenge');
  const signature = await signEscrowChallenge(signer, fromBase64url(challenge.challenge), account, tokenId(ticket));
  return { ticket, challengeId: challenge.challengeId, signature: toBase64url(signature) };
}

async function spkiOf(key: CryptoKey): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.exportKey('spki', key));
}

/** Re-imports a freshly generated private key as non-extractable, so nothing in memory can export it. */
export async function lockDown(privateKey: CryptoKey, algorithm: RsaHashedImportParams | EcKeyImportParams, usages: KeyUsage[]): Promise<CryptoKey> {
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey('pkcs8', privateKey));
  try {
    return await crypto.subtle.importKey('pkcs8', pkcs8, algorithm, false, usages);
  } finally {
    pkcs8.fill(0);
  }
}

/** Retries a step that only stores something (idempotent at the relay) across a network blip. */
export async function withRetry<T>(step: () => Promise<T>, attempts = 3): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await step();
    } catch (e) {
      if (!isTransient(e) || i >= attempts) throw e;
      await new Promise((r) => setTimeout(r, 300 * i));
    }
  }
}

export interface RegisterInput {
  transport: RelayTransport;
  invitationCode: string;
  password: string;
  deriveP: DeriveP;
  params?: Argon2Params;
  onStep?: (step: RegisterStep) => void;
}

export interface RegisteredAccount extends UnlockedAccount {
  /** shown to the user once, never stored anywhere in clear */
  recoveryCode: string;
}

/**
 * Registration from an invitation: P, key pairs, OPAQUE, escrow share and auth key, private keys
 * wrapped under the KEK, the recovery copy and the recovery-auth key. Ends unlocked.
 */
export async function registerAccount(input: RegisterInput): Promise<RegisteredAccount> {
  const step = input.onStep ?? (() => {});
  const { transport } = input;
  const params = checkArgon2Params(input.params ?? DEFAULT_ARGON2_PARAMS);
  const salt = newSalt();
  step('argon2id');
  const p = await input.deriveP(input.password, salt, params);
  try {
    step('generate-keys');
    const [envelope, signing] = await Promise.all([generateEnvelopeKeyPair(), generateSigningKeyPair()]);
    const envelopeSpki = await spkiOf(envelope.publicKey);
    const signingSpki = await spkiOf(signing.publicKey);

    step('register');
    const reg = await register(directoryOf(transport), { invitationCode: input.invitationCode, passwordHalf: p, salt, params, envelopeKey: envelopeSpki, signingKey: signingSpki });
    const account = reg.account;

    step('escrow');
    const share = randomEscrowShare();
    const recovery = newRecoveryCode();
    const [auth, recoveryAuth] = await Promise.all([deriveEscrowAuthKey(p), deriveRecoveryAuthKey(recovery)]);
    await withRetry(() =>
      transport.request('POST', '/api/escrow/shares', { version: 1, share: toBase64url(share), authKey: toBase64url(auth.publicKey), recoveryKey: toBase64url(recoveryAuth.publicKey) }, reg.session),
    );

    step('wrap-keys');
    const kek = await deriveKek(p, share, account);
    const localIndexKey = await deriveLocalIndexKey(p, share, account);
    const witness = await deriveWitnessKey(p, share, account);
    const kdf = { ...params, salt: toBase64url(salt) };
    const signingKeyId = await publicKeyId(signing.publicKey);
    const envelopeKeyId = await publicKeyId(envelope.publicKey);
    const envCtx: WrapContext = { account, purpose: 'envelope', keyId: envelopeKeyId, kdf };
    const sigCtx: WrapContext = { account, purpose: 'signing', keyId: signingKeyId, kdf };
    const wrapped = { envelopeKey: await wrapPrivateKey(kek, envelope.privateKey, envCtx), signingKey: await wrapPrivateKey(kek, signing.privateKey, sigCtx), kek: { ...kdf, escrowVersion: 1 } };
    await withRetry(() => transport.request('PUT', '/api/keys/private-keys/1', wrapped, reg.session));

    step('recovery');
    const envelopePkcs8 = new Uint8Array(await crypto.subtle.exportKey('pkcs8', envelope.privateKey));
    const signingPkcs8 = new Uint8Array(await crypto.subtle.exportKey('pkcs8', signing.privateKey));
    const blob = await sealRecoveryBlob(recovery, account, { escrowShare: share, envelopeKey: envelopePkcs8, signingKey: signingPkcs8 });
    envelopePkcs8.fill(0);
    signingPkcs8.fill(0);
    share.fill(0);
    await withRetry(() => transport.request('PUT', '/api/keys/recovery/1', { blob }, reg.session));
    await withRetry(() => transport.request('PUT', '/api/directory/recovery-key', { publicKey: toBase64url(recoveryAuth.publicKey) }, reg.session));
    const recoveryCode = formatRecoveryCode(recovery);
    recovery.fill(0);

    const result: RegisteredAccount = {
      account,
      username: reg.username,
      roles: reg.roles,
      session: reg.session,
      sessionExpiresAt: reg.expiresAt,
      escrowVersion: 1,
      envelope: { publicKey: envelope.publicKey, privateKey: await lockDown(envelope.privateKey, { name: 'RSA-OAEP', hash: 'SHA-256' }, ['unwrapKey', 'decrypt']), spki: envelopeSpki, keyId: envelopeKeyId },
      signing: { publicKey: signing.publicKey, privateKey: await lockDown(signing.privateKey, { name: 'ECDSA', namedCurve: 'P-256' }, ['sign']), spki: signingSpki, keyId: signingKeyId },
      localIndexKey,
      witness,
      recoveryCode,
    };
    step('done');
    return result;
  } finally {
    p.fill(0);
  }
}

/** How far back to look for the wrapping of an escrow version (a password change that stopped halfway leaves one newer). */
const MAX_KEY_VERSIONS_BACK = 4;

/**
 * The newest stored wrapping made with escrow share version `escrowVersion`. Usually the latest;
 * a password change interrupted after storing its new wrapping but before escrow took the new
 * version leaves a newer one that this login cannot open, so older versions are tried.
 */
export async function wrappedKeysFor(transport: RelayTransport, session: string, escrowVersion: number): Promise<z.infer<typeof PrivateKeysSchema>> {
  const get = async (which: string) => parseAnswer(PrivateKeysSchema, await transport.request('GET', `/api/keys/private-keys/${which}`, undefined, session), 'private keys');
  let stored = await get('latest');
  for (let back = 0; stored.kek.escrowVersion !== escrowVersion; back++) {
    if (back >= MAX_KEY_VERSIONS_BACK || stored.version <= 1) fail('E_CONTEXT', 'no stored keys were wrapped with the escrow share version that escrow released');
    stored = await get(String(stored.version - 1));
  }
  return stored;
}

export interface UnlockInput {
  transport: RelayTransport;
  username: string;
  password: string;
  deriveP: DeriveP;
  onStep?: (step: UnlockStep) => void;
  /** for a password change: unwrap the private keys extractable, to re-wrap them once */
  extractable?: boolean;
}

export interface UnlockMaterial {
  /** P, for a password change's escrow proof; zeroed by unlockAccount unless asked to keep it */
  passwordHalf: Uint8Array;
  escrowShare: Uint8Array;
}

/**
 * Prelogin, Argon2id, OPAQUE login, escrow ticket and challenge, KEK, private keys. Throws
 * E_KDF_PARAMS (weak parameters, before hashing), RelayApiError E_LOGIN_FAILED (wrong
 * password), the escrow's refusal, or E_AUTH / E_CONTEXT (wrapped keys changed or swapped).
 */
export async function unlockAccount(input: UnlockInput): Promise<UnlockedAccount>;
export async function unlockAccount(input: UnlockInput, keep: (m: UnlockMaterial) => void): Promise<UnlockedAccount>;
export async function unlockAccount(input: UnlockInput, keep?: (m: UnlockMaterial) => void): Promise<UnlockedAccount> {
  const step = input.onStep ?? (() => {});
  const { transport } = input;
  const dir = directoryOf(transport);
  step('prelogin');
  const pre = await prelogin(dir, input.username);
  step('argon2id');
  const p = await input.deriveP(input.password, pre.salt, pre.params);
  let share: Uint8Array | null = null;
  try {
    step('login');
    const session = await login(dir, input.username, p);
    const account = session.account;

    step('escrow');
    const auth = await deriveEscrowAuthKey(p);
    const proof = await escrowProof(transport, session.session, account, auth.privateKey);
    const released = parseAnswer(ReleaseResponseSchema, await transport.request('POST', '/api/escrow/release', proof), 'escrow release');
    share = fromBase64url(released.share);
    const kek = await deriveKek(p, share, account);
    const localIndexKey = await deriveLocalIndexKey(p, share, account);
    const witness = await deriveWitnessKey(p, share, account);

    step('keys');
    const [stored, publicKeys] = await Promise.all([
      wrappedKeysFor(transport, session.session, released.version),
      transport.request('GET', `/api/directory/accounts/${encodeURIComponent(account)}/public-keys`).then((v) => parseAnswer(PublicKeysResponse, v, 'public keys')),
    ]);
    if (stored.account !== account || publicKeys.account !== account) fail('E_CONTEXT', 'the relay answered with keys of another account');
    // The wrapping's KDF parameters must be the ones this login hashed with: the AAD binds them,
    // and refusing here gives a clear message instead of an unwrap failure.
    const kdf = { m: stored.kek.m, t: stored.kek.t, p: stored.kek.p, salt: stored.kek.salt };
    if (kdf.m !== pre.params.m || kdf.t !== pre.params.t || kdf.p !== pre.params.p || kdf.salt !== toBase64url(pre.salt)) {
      fail('E_CONTEXT', 'the relay gave key-derivation parameters that do not match the stored keys');
    }
    if (!publicKeys.envelopeKey || !publicKeys.signingKey) fail('E_CONTEXT', 'this account has no registered public keys');
    const envelopeSpki = fromBase64url(publicKeys.envelopeKey);
    const signingSpki = fromBase64url(publicKeys.signingKey);
    const envelopePublic = await importEnvelopePublicKey(envelopeSpki);
    const signingPublic = await importSigningPublicKey(signingSpki);
    const signingKeyId = await publicKeyId(signingPublic);
    const envelopeKeyId = await publicKeyId(envelopePublic);
    const envCtx: WrapContext = { account, purpose: 'envelope', keyId: envelopeKeyId, kdf };
    const sigCtx: WrapContext = { account, purpose: 'signing', keyId: signingKeyId, kdf };
    const extractable = input.extractable ?? false;
    const [envelopePrivate, signingPrivate] = await Promise.all([
      unwrapPrivateKey(kek, stored.envelopeKey, envCtx, envelopePublic, extractable),
      unwrapPrivateKey(kek, stored.signingKey, sigCtx, signingPublic, extractable),
    ]);
    keep?.({ passwordHalf: new Uint8Array(p), escrowShare: new Uint8Array(share) });
    step('done');
    return {
      account,
      username: input.username.toLowerCase(),
      roles: session.roles,
      session: session.session,
      sessionExpiresAt: session.expiresAt,
      escrowVersion: released.version,
      envelope: { publicKey: envelopePublic, privateKey: envelopePrivate, spki: envelopeSpki, keyId: envelopeKeyId },
      signing: { publicKey: signingPublic, privateKey: signingPrivate, spki: signingSpki, keyId: signingKeyId },
      localIndexKey,
      witness,
    };
  } finally {
    p.fill(0);
    share?.fill(0);
  }
}
