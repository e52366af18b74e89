// shared/formats/escrow-challenge.ts, checked against node:crypto (an independent Ed25519).
import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { deriveEscrowAuthKey } from '../../shared/crypto/account-keys';
import { toBase64url } from '../../shared/crypto/encoding';
import { isCryptoError } from '../../shared/crypto/errors';
import { escrowChallengeBytes, signEscrowChallenge, verifyEscrowChallenge } from '../../shared/formats/escrow-challenge';
import { importEd25519PublicKey } from '../../shared/formats/token';

const challenge = Uint8Array.from({ length: 32 }, (_, i) => i);

describe('escrow challenge bytes', () => {
  it('are domain || 0x00 || challenge || account || 0x00 || ticket id', () => {
    const bytes = escrowChallengeBytes(challenge, 'acct-1', 'tk_9');
    const expected = Buffer.concat([Buffer.from('sealvault/v1/escrow-challenge'), Buffer.of(0), Buffer.from(challenge), Buffer.from('acct-1'), Buffer.of(0), Buffer.from('tk_9')]);
    expect(Buffer.from(bytes).toString('hex')).toBe(expected.toString('hex'));
  });

  it('refuse malformed inputs', () => {
    expect(() => escrowChallengeBytes(challenge.subarray(0, 31), 'a', 't')).toThrow(RangeError);
    const refuses = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return isCryptoError(e, 'E_FORMAT');
      }
      return false;
    };
    expect(refuses(() => escrowChallengeBytes(challenge, 'a\u0000b', 't'))).toBe(true);
    expect(refuses(() => escrowChallengeBytes(challenge, 'a b', 't'))).toBe(true);
    expect(refuses(() => escrowChallengeBytes(challenge, 'a', 't\u0000u'))).toBe(true);
    expect(refuses(() => escrowChallengeBytes(challenge, 'a', 'x'.repeat(129)))).toBe(true);
    expect(() => escrowChallengeBytes(challenge, 'a', '')).toThrow();
  });

  it('signed with the escrow-auth key verify with node:crypto and with verifyEscrowChallenge, and nothing else does', async () => {
    const auth = await deriveEscrowAuthKey(crypto.getRandomValues(new Uint8Array(32)));
    const sig = await signEscrowChallenge(auth.privateKey, challenge, 'acct-1', 'tk-1');
    expect(sig.length).toBe(64);
    const nodeKey = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: toBase64url(auth.publicKey) }, format: 'jwk' });
    expect(nodeVerify(null, Buffer.from(escrowChallengeBytes(challenge, 'acct-1', 'tk-1')), nodeKey, Buffer.from(sig))).toBe(true);

    const pub = await importEd25519PublicKey(auth.publicKey);
    expect(await verifyEscrowChallenge(pub, sig, challenge, 'acct-1', 'tk-1')).toBe(true);
    expect(await verifyEscrowChallenge(pub, sig, challenge, 'acct-2', 'tk-1')).toBe(false);
    expect(await verifyEscrowChallenge(pub, sig, challenge, 'acct-1', 'tk-2')).toBe(false);
    // moving the boundary between account and ticket id changes the bytes
    expect(await verifyEscrowChallenge(pub, sig, challenge, 'acct-1t', 'k-1')).toBe(false);
    const other = Uint8Array.from(challenge);
    other[0] = 99;
    expect(await verifyEscrowChallenge(pub, sig, other, 'acct-1', 'tk-1')).toBe(false);
    expect(await verifyEscrowChallenge(pub, sig.subarray(0, 63), challenge, 'acct-1', 'tk-1')).toBe(false);
  });

  it('refuse a key that is not an Ed25519 signing key', async () => {
    const ecdsa = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify'])) as CryptoKeyPair;
    await expect(signEscrowChallenge(ecdsa.privateKey, challenge, 'a', 't')).rejects.toMatchObject({ code: 'E_KEY_WEAK' });
  });
});
