/**
 * Recovery with the recovery code after a forgotten password (DESIGN.md section 4): the code's
 * Ed25519 key signs the directory's challenge (a fresh session), opens the recovery copy of the
 * private keys and of E that keys holds, and signs escrow's challenge to register a new
 * escrow-auth key for the same E. Then the same steps as a password change: new P, new wrapping,
 * new OPAQUE record. The private keys are proven to match the account's registered public keys
 * before anything new is stored under them.
 */
import { toBase64url, fromBase64url } from '../crypto/encoding';
import { fail } from '../crypto/errors';
import { importEnvelopePublicKey } from '../crypto/envelopes';
import { unwrapPrivateKey, wrapPrivateKey } from '../crypto/private-keys';
import { deriveRecoveryAuthKey, openRecoveryBlob, parseRecoveryCode } from '../crypto/recovery-code';
import { importSigningPublicKey, publicKeyId } from '../crypto/statements';
import { signRecoveryChallenge as signLoginChallenge } from '../formats/recovery-challenge';
import { signRecoveryChallenge as signEscrowRecovery } from '../formats/recovery-proof';
import { PublicKeysResponse, RecoveryStartResponse, SessionResponse } from '../schemas/directory';
import { ChallengeResponseSchema, ShareStatusSchema } from '../schemas/escrow';
import { RecoverySchema } from '../schemas/keys';
import { parseAnswer, tokenId, type DeriveP, type UnlockedAccount } from './account';
import { directoryOf, escrowTicket } from './directory-client';
import { relockedAccount, setNewPassword, type PasswordStep } from './password';
import type { RelayTransport } from './relay-transport';

export type RecoveryStep = 'recovery-login' | 'recovery-open' | Exclude<PasswordStep, 'confirm-old'>;

export interface RecoverInput {
  transport: RelayTransport;
  username: string;
  recoveryCode: string;
  newPassword: string;
  deriveP: DeriveP;
  onStep?: (step: RecoveryStep) => void;
}

const RSA = { name: 'RSA-OAEP', hash: 'SHA-256' } as const;
const P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;

export async function recoverAccount(input: RecoverInput): Promise<UnlockedAccount> {
  const step = input.onStep ?? (() => {});
  const { transport } = input;
  const username = input.username.trim().toLowerCase();
  const code = parseRecoveryCode(input.recoveryCode);
  try {
    step('recovery-login');
    const auth = await deriveRecoveryAuthKey(code);
    const started = parseAnswer(RecoveryStartResponse, await transport.request('POST', '/api/directory/recovery/start', { username }), 'recovery/start');
    const signature = await signLoginChallenge(auth.privateKey, fromBase64url(started.challenge), username);
    const session = parseAnswer(
      SessionResponse,
      await transport.request('POST', '/api/directory/recovery/finish', { username, challengeId: started.challengeId, signature: toBase64url(signature) }),
      'recovery/finish',
    );
    const account = session.account;

    step('recovery-open');
    const [stored, publicKeys, status] = await Promise.all([
      transport.request('GET', '/api/keys/recovery/latest', undefined, session.session).then((v) => parseAnswer(RecoverySchema, v, 'recovery copy')),
      transport.request('GET', `/api/directory/accounts/${encodeURIComponent(account)}/public-keys`).then((v) => parseAnswer(PublicKeysResponse, v, 'public keys')),
      transport.request('GET', '/api/escrow/shares/status', undefined, session.session).then((v) => parseAnswer(ShareStatusSchema, v, 'escrow status')),
    ]);
    if (stored.account !== account || publicKeys.account !== account || status.account !== account) fail('E_CONTEXT', 'the relay answered with data of another account');
    if (status.version === null) fail('E_CONTEXT', 'escrow holds no share for this account');
    if (!publicKeys.envelopeKey || !publicKeys.signingKey) fail('E_CONTEXT', 'this account has no registered public keys');
    const contents = await openRecoveryBlob(code, account, stored.blob);
    const envelopeSpki = fromBase64url(publicKeys.envelopeKey);
    const signingSpki = fromBase64url(publicKeys.signingKey);
    const envelopePublic = await importEnvelopePublicKey(envelopeSpki);
    const signingPublic = await importSigningPublicKey(signingSpki);
    // Extractable for one re-wrap under the new KEK; held non-extractable once that is done.
    const envelopePrivate = await importPrivate(contents.envelopeKey, RSA, ['unwrapKey', 'decrypt'], 'envelope');
    const signingPrivate = await importPrivate(contents.signingKey, P256, ['sign'], 'signing');
    contents.envelopeKey.fill(0);
    contents.signingKey.fill(0);
    await proveRecoveredPair(envelopePrivate, envelopePublic, 'envelope', account);
    await proveRecoveredPair(signingPrivate, signingPublic, 'signing', account);
    const envelopeKeyId = await publicKeyId(envelopePublic);
    const signingKeyId = await publicKeyId(signingPublic);
    const escrowVersion = status.version;

    const next = await setNewPassword({
      transport,
      session: session.session,
      account,
      envelopePrivate,
      signingPrivate,
      envelopeKeyId,
      signingKeyId,
      escrowShare: contents.escrowShare,
      escrowVersion,
      proveToEscrow: async (version, newAuthKey) => {
        const { ticket } = await escrowTicket(directoryOf(transport), session.session);
        const challenge = parseAnswer(ChallengeResponseSchema, await transport.request('POST', '/api/escrow/challenge', { ticket }), 'escrow challenge');
        const sig = await signEscrowRecovery(auth.privateKey, fromBase64url(challenge.challenge), account, tokenId(ticket), newAuthKey, version);
        return { kind: 'recovery', ticket, challengeId: challenge.challengeId, signature: toBase64url(sig) };
      },
      newPassword: input.newPassword,
      deriveP: input.deriveP,
      onStep: (s) => step(s as RecoveryStep),
    });
    contents.escrowShare.fill(0);
    const base: Omit<UnlockedAccount, 'localIndexKey' | 'witness'> = {
      account,
      username,
      roles: session.roles,
      session: next.session,
      sessionExpiresAt: next.expiresAt,
      escrowVersion: next.escrowVersion,
      envelope: { publicKey: envelopePublic, privateKey: envelopePrivate, spki: envelopeSpki, keyId: envelopeKeyId },
      signing: { publicKey: signingPublic, privateKey: signingPrivate, spki: signingSpki, keyId: signingKeyId },
    };
    const result = await relockedAccount(base, envelopePrivate, signingPrivate, next);
    step('done');
    return result;
  } finally {
    code.fill(0);
  }
}

/** Imports a private key from the recovery copy, extractable for its one re-wrap. */
async function importPrivate(pkcs8: Uint8Array<ArrayBuffer>, algorithm: RsaHashedImportParams | EcKeyImportParams, usages: KeyUsage[], purpose: 'envelope' | 'signing'): Promise<CryptoKey> {
  try {
    return await crypto.subtle.importKey('pkcs8', pkcs8, algorithm, true, usages);
  } catch (e) {
    return fail('E_FORMAT', `the recovery copy's ${purpose} key does not import`, e);
  }
}

/**
 * Refuses keys from a recovery copy that are not the pair of the registered public keys: the same
 * key-pair proof a normal unlock makes, through a throwaway wrap and unwrap.
 */
async function proveRecoveredPair(privateKey: CryptoKey, publicKey: CryptoKey, purpose: 'envelope' | 'signing', account: string): Promise<void> {
  const probeKek = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['wrapKey', 'unwrapKey', 'encrypt', 'decrypt']);
  const ctx = { account, purpose, keyId: await publicKeyId(publicKey), kdf: { m: 65536, t: 3, p: 1, salt: 'AAAAAAAAAAAAAAAAAAAAAA' } };
  await unwrapPrivateKey(probeKek, await wrapPrivateKey(probeKek, privateKey, ctx), ctx, publicKey);
}
