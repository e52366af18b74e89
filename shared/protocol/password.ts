/**
 * Password change in the browser (DESIGN.md section 4): the old password is proven by a fresh
 * login (the relay only accepts a password change on a session younger than a few minutes),
 * then a new salt and P, the private keys re-wrapped under the new KEK, a new escrow-auth key
 * registered with escrow (with a proof by the old one; E itself is kept, so the recovery copy
 * stays valid), and a new OPAQUE record, which ends every other session. Contracts are not touched.
 *
 * The steps go to three services and cannot be one transaction. They run in the order that
 * keeps a way back at each point: a new wrapping alone changes nothing for the old password
 * (unlock looks for the wrapping of the escrow version it is given); after escrow has the new
 * auth key and before the directory has the new record, neither password unlocks, and the
 * recovery code does (docs/FORMATS.md section 12). That last step is retried.
 */
import { client, ready } from '@serenity-kit/opaque';
import { deriveEscrowAuthKey, deriveKek, deriveLocalIndexKey, deriveOpaqueInput, deriveWitnessKey } from '../crypto/account-keys';
import { checkArgon2Params, DEFAULT_ARGON2_PARAMS, type Argon2Params } from '../crypto/argon2';
import { toBase64url } from '../crypto/encoding';
import { wrapPrivateKey, type WrapContext } from '../crypto/private-keys';
import { PasswordStartResponse, SessionResponse } from '../schemas/directory';
import { PrivateKeysSchema } from '../schemas/keys';
import { escrowProof, lockDown, parseAnswer, unlockAccount, withRetry, type DeriveP, type UnlockedAccount, type UnlockMaterial } from './account';
import { newSalt, OPAQUE_KEY_STRETCHING } from './directory-client';
import type { RelayTransport } from './relay-transport';

export type PasswordStep = 'confirm-old' | 'argon2id' | 'new-keys' | 'new-escrow' | 'new-password' | 'done';

export interface NewPasswordMaterial {
  transport: RelayTransport;
  /** a fresh session of the account (a login or recovery a moment ago) */
  session: string;
  account: string;
  /** extractable private keys, to be wrapped under the new KEK */
  envelopePrivate: CryptoKey;
  signingPrivate: CryptoKey;
  envelopeKeyId: string;
  signingKeyId: string;
  escrowShare: Uint8Array;
  escrowVersion: number;
  /** a proof for escrow's next version, given the new version and the new auth public key */
  proveToEscrow: (version: number, newAuthKey: Uint8Array) => Promise<unknown>;
  newPassword: string;
  deriveP: DeriveP;
  params?: Argon2Params;
  onStep: (step: PasswordStep) => void;
}

/** What a password change or recovery leaves: the new session and what the new P derives. */
export interface NewPasswordResult {
  session: string;
  expiresAt: number;
  escrowVersion: number;
  /** from the new P: the old search index no longer opens and is rebuilt (a cache) */
  localIndexKey: CryptoKey;
  /** from the new P: a new witness key, which an auditor registers again */
  witness: { privateKey: CryptoKey; publicKey: Uint8Array };
}

/** Steps 2 to 4 of a password change or a recovery: new P, new wrapping, new escrow version, new OPAQUE record. */
export async function setNewPassword(m: NewPasswordMaterial): Promise<NewPasswordResult> {
  const { transport, account } = m;
  const params = checkArgon2Params(m.params ?? DEFAULT_ARGON2_PARAMS);
  const salt = newSalt();
  m.onStep('argon2id');
  const p = await m.deriveP(m.newPassword, salt, params);
  try {
    m.onStep('new-keys');
    const escrowVersion = m.escrowVersion + 1;
    const kek = await deriveKek(p, m.escrowShare, account);
    const kdf = { ...params, salt: toBase64url(salt) };
    const envCtx: WrapContext = { account, purpose: 'envelope', keyId: m.envelopeKeyId, kdf };
    const sigCtx: WrapContext = { account, purpose: 'signing', keyId: m.signingKeyId, kdf };
    const latest = parseAnswer(PrivateKeysSchema, await transport.request('GET', '/api/keys/private-keys/latest', undefined, m.session), 'private keys');
    const wrapped = { envelopeKey: await wrapPrivateKey(kek, m.envelopePrivate, envCtx), signingKey: await wrapPrivateKey(kek, m.signingPrivate, sigCtx), kek: { ...kdf, escrowVersion } };
    await withRetry(() => transport.request('PUT', `/api/keys/private-keys/${latest.version + 1}`, wrapped, m.session));

    m.onStep('new-escrow');
    const auth = await deriveEscrowAuthKey(p);
    const proof = await m.proveToEscrow(escrowVersion, auth.publicKey);
    await transport.request('POST', '/api/escrow/shares', { version: escrowVersion, share: toBase64url(m.escrowShare), authKey: toBase64url(auth.publicKey), proof }, m.session);

    m.onStep('new-password');
    await ready;
    const password = await deriveOpaqueInput(p);
    const answer = await withRetry(async () => {
      const { clientRegistrationState, registrationRequest } = client.startRegistration({ password });
      const started = parseAnswer(PasswordStartResponse, await transport.request('POST', '/api/directory/password/start', { registrationRequest }, m.session), 'password/start');
      const { registrationRecord } = client.finishRegistration({ password, registrationResponse: started.registrationResponse, clientRegistrationState, keyStretching: OPAQUE_KEY_STRETCHING });
      return parseAnswer(SessionResponse, await transport.request('POST', '/api/directory/password/finish', { registrationRecord, kdf }, m.session), 'password/finish');
    });
    const localIndexKey = await deriveLocalIndexKey(p, m.escrowShare, account);
    const witness = await deriveWitnessKey(p, m.escrowShare, account);
    return { session: answer.session, expiresAt: answer.expiresAt, escrowVersion, localIndexKey, witness };
  } finally {
    p.fill(0);
  }
}

/** The unlocked account after a change: the same key pairs, held non-extractable again, and the new session. */
export async function relockedAccount(base: Omit<UnlockedAccount, 'localIndexKey' | 'witness'>, envelopePrivate: CryptoKey, signingPrivate: CryptoKey, next: NewPasswordResult): Promise<UnlockedAccount> {
  return {
    ...base,
    session: next.session,
    sessionExpiresAt: next.expiresAt,
    escrowVersion: next.escrowVersion,
    localIndexKey: next.localIndexKey,
    witness: next.witness,
    envelope: { ...base.envelope, privateKey: await lockDown(envelopePrivate, { name: 'RSA-OAEP', hash: 'SHA-256' }, ['unwrapKey', 'decrypt']) },
    signing: { ...base.signing, privateKey: await lockDown(signingPrivate, { name: 'ECDSA', namedCurve: 'P-256' }, ['sign']) },
  };
}

export interface ChangePasswordInput {
  transport: RelayTransport;
  username: string;
  oldPassword: string;
  newPassword: string;
  deriveP: DeriveP;
  onStep?: (step: PasswordStep) => void;
}

export async function changePassword(input: ChangePasswordInput): Promise<UnlockedAccount> {
  const onStep = input.onStep ?? (() => {});
  onStep('confirm-old');
  let material: UnlockMaterial | null = null;
  const old = await unlockAccount({ transport: input.transport, username: input.username, password: input.oldPassword, deriveP: input.deriveP, extractable: true }, (m) => (material = m));
  const kept = material as UnlockMaterial | null;
  if (!kept) throw new Error('unlock kept no material');
  try {
    const oldAuth = await deriveEscrowAuthKey(kept.passwordHalf);
    const next = await setNewPassword({
      transport: input.transport,
      session: old.session,
      account: old.account,
      envelopePrivate: old.envelope.privateKey,
      signingPrivate: old.signing.privateKey,
      envelopeKeyId: old.envelope.keyId,
      signingKeyId: old.signing.keyId,
      escrowShare: kept.escrowShare,
      escrowVersion: old.escrowVersion,
      proveToEscrow: () => escrowProof(input.transport, old.session, old.account, oldAuth.privateKey),
      newPassword: input.newPassword,
      deriveP: input.deriveP,
      onStep,
    });
    const result = await relockedAccount(old, old.envelope.privateKey, old.signing.privateKey, next);
    onStep('done');
    return result;
  } finally {
    kept.passwordHalf.fill(0);
    kept.escrowShare.fill(0);
  }
}
