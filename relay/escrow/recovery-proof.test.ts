// shared/formats/recovery-proof.ts, checked against node:crypto (an independent Ed25519).
import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { deriveEscrowAuthKey } from '../../shared/crypto/account-keys';
import { toBase64url } from '../../shared/crypto/encoding';
import { isCryptoError } from '../../shared/crypto/errors';
import { escrowChallengeBytes, signEscrowChallenge, verifyEscrowChallenge } from '../../shared/formats/escrow-challenge';
import { recoveryChallengeBytes, signRecoveryChallenge, verifyRecoveryChallenge } from '../../shared/formats/recovery-proof';
import { importEd25519PublicKey } from '../../shared/formats/token';

const challenge = Uint8Array.from({ length: 32 }, (_, i) => i);
const newAuthKey = Uint8Array.from({ length: 32 }, (_, i) => 200 - i);

describe('escrow recovery bytes', () => {
  it('are domain || 0x00 || challenge || account || 0x00 || ticket id || 0x00 || new auth key || version (u64 BE)', () => {
    const bytes = recoveryChallengeBytes(challenge, 'acct-1', 'tk_9', newAuthKey, 2);
    const expected = Buffer.concat([
      Buffer.from('sealvault/v1/escrow-recovery'),
      Buffer.of(0),
      Buffer.from(challenge),
      Buffer.from('acct-1'),
      Buffer.of(0),
      Buffer.from('tk_9'),
      Buffer.of(0),
      Buffer.from(newAuthKey),
      Buffer.of(0, 0, 0, 0, 0, 0, 0, 2),
    ]);
    expect(Buffer.from(bytes).toString('hex')).toBe(expected.toString('hex'));
    // never the bytes an escrow-auth signature covers
    expect(Buffer.from(bytes).includes(Buffer.from('sealvault/v1/escrow-challenge'))).toBe(false);
    expect(Buffer.from(recoveryChallengeBytes(challenge, 'a', 't', newAuthKey, 2 ** 40)).subarray(-8).toString('hex')).toBe('0000010000000000');
  });

  it('refuse malformed inputs', () => {
    const refuses = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return isCryptoError(e, 'E_FORMAT');
      }
      return false;
    };
    expect(() => recoveryChallengeBytes(challenge.subarray(0, 31), 'a', 't', newAuthKey, 2)).toThrow(RangeError);
    expect(() => recoveryChallengeBytes(challenge, 'a', 't', newAuthKey.subarray(0, 31), 2)).toThrow(RangeError);
    expect(refuses(() => recoveryChallengeBytes(challenge, 'a b', 't', newAuthKey, 2))).toBe(true);
    expect(refuses(() => recoveryChallengeBytes(challenge, 'a', 't\u0000u', newAuthKey, 2))).toBe(true);
    for (const v of [0, -1, 1.5, 2 ** 53]) expect(refuses(() => recoveryChallengeBytes(challenge, 'a', 't', newAuthKey, v)), String(v)).toBe(true);
  });

  it('signed with the recovery key verify with node:crypto and verifyRecoveryChallenge only for the same values, and never as an escrow-auth signature', async () => {
    const rk = await deriveEscrowAuthKey(crypto.getRandomValues(new Uint8Array(32)));
    const sig = await signRecoveryChallenge(rk.privateKey, challenge, 'acct-1', 'tk-1', newAuthKey, 2);
    expect(sig.length).toBe(64);
    const nodeKey = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: toBase64url(rk.publicKey) }, format: 'jwk' });
    expect(nodeVerify(null, Buffer.from(recoveryChallengeBytes(challenge, 'acct-1', 'tk-1', newAuthKey, 2)), nodeKey, Buffer.from(sig))).toBe(true);

    const pub = await importEd25519PublicKey(rk.publicKey);
    expect(await verifyRecoveryChallenge(pub, sig, challenge, 'acct-1', 'tk-1', newAuthKey, 2)).toBe(true);
    expect(await verifyRecoveryChallenge(pub, sig, challenge, 'acct-2', 'tk-1', newAuthKey, 2)).toBe(false);
    expect(await verifyRecoveryChallenge(pub, sig, challenge, 'acct-1', 'tk-2', newAuthKey, 2)).toBe(false);
    expect(await verifyRecoveryChallenge(pub, sig, challenge, 'acct-1', 'tk-1', Uint8Array.from(newAuthKey).fill(1, 0, 1), 2)).toBe(false);
    expect(await verifyRecoveryChallenge(pub, sig, challenge, 'acct-1', 'tk-1', newAuthKey, 3)).toBe(false);
    expect(await verifyRecoveryChallenge(pub, sig.subarray(0, 63), challenge, 'acct-1', 'tk-1', newAuthKey, 2)).toBe(false);
    // the two formats are apart: neither signature answers the other's check
    expect(await verifyEscrowChallenge(pub, sig, challenge, 'acct-1', 'tk-1')).toBe(false);
    const authSig = await signEscrowChallenge(rk.privateKey, challenge, 'acct-1', 'tk-1');
    expect(await verifyRecoveryChallenge(pub, authSig, challenge, 'acct-1', 'tk-1', newAuthKey, 2)).toBe(false);
    expect(Buffer.from(escrowChallengeBytes(challenge, 'acct-1', 'tk-1')).equals(Buffer.from(recoveryChallengeBytes(challenge, 'acct-1', 'tk-1', newAuthKey, 2)))).toBe(false);
  });

  it('refuse a key that is not an Ed25519 signing key', async () => {
    const ecdsa = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify'])) as CryptoKeyPair;
    await expect(signRecoveryChallenge(ecdsa.privateKey, challenge, 'a', 't', newAuthKey, 2)).rejects.toMatchObject({ code: 'E_KEY_WEAK' });
  });
});
