import { beforeAll, describe, expect, it } from 'vitest';
import { deriveKek } from './account-keys';
import { fromBase64url, toBase64url } from './encoding';
import { generateEnvelopeKeyPair } from './envelopes';
import { privateKeyAad, unwrapPrivateKey, wrapPrivateKey, type WrapContext } from './private-keys';
import { generateSigningKeyPair, publicKeyId } from './statements';

const kdf = { m: 65536, t: 3, p: 1, salt: 'AAAAAAAAAAAAAAAAAAAAAA' };
let kek: CryptoKey;
let otherKek: CryptoKey;
let signing: CryptoKeyPair;
let otherSigning: CryptoKeyPair;
let envelope: CryptoKeyPair;
let sigCtx: WrapContext;
let envCtx: WrapContext;

beforeAll(async () => {
  const p = crypto.getRandomValues(new Uint8Array(32));
  kek = await deriveKek(p, crypto.getRandomValues(new Uint8Array(32)), 'acct-alice');
  otherKek = await deriveKek(p, crypto.getRandomValues(new Uint8Array(32)), 'acct-alice');
  [signing, otherSigning, envelope] = await Promise.all([generateSigningKeyPair(), generateSigningKeyPair(), generateEnvelopeKeyPair()]);
  sigCtx = { account: 'acct-alice', purpose: 'signing', keyId: await publicKeyId(signing.publicKey), kdf };
  envCtx = { account: 'acct-alice', purpose: 'envelope', keyId: 'env-1', kdf };
});

describe('private keys wrapped under the KEK', () => {
  it('round-trips both key pairs as non-extractable keys that work', async () => {
    const s = await unwrapPrivateKey(kek, await wrapPrivateKey(kek, signing.privateKey, sigCtx), sigCtx, signing.publicKey);
    expect(s.extractable).toBe(false);
    const msg = new Uint8Array(4);
    expect(await crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, signing.publicKey, await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, s, msg), msg)).toBe(true);
    const e = await unwrapPrivateKey(kek, await wrapPrivateKey(kek, envelope.privateKey, envCtx), envCtx, envelope.publicKey);
    expect(e.usages).toContain('unwrapKey');
  });

  it('refuses a bit-flipped blob, another KEK, and a blob moved to another account or purpose (E_AUTH)', async () => {
    const blob = await wrapPrivateKey(kek, signing.privateKey, sigCtx);
    const flipped = fromBase64url(blob.wrapped);
    flipped[10]! ^= 1;
    await expect(unwrapPrivateKey(kek, { ...blob, wrapped: toBase64url(flipped) }, sigCtx, signing.publicKey)).rejects.toThrow(/E_AUTH/);
    await expect(unwrapPrivateKey(otherKek, blob, sigCtx, signing.publicKey)).rejects.toThrow(/E_AUTH/);
    await expect(unwrapPrivateKey(kek, blob, { ...sigCtx, account: 'acct-bob' }, signing.publicKey)).rejects.toThrow(/E_AUTH/);
    await expect(unwrapPrivateKey(kek, blob, { ...sigCtx, kdf: { ...kdf, m: 65537 } }, signing.publicKey)).rejects.toThrow(/E_AUTH/);
  });

  it('refuses a key that unwraps but does not match the certified public key (E_CONTEXT)', async () => {
    const ctx = { ...sigCtx, keyId: await publicKeyId(otherSigning.publicKey) };
    const blob = await wrapPrivateKey(kek, otherSigning.privateKey, ctx);
    await expect(unwrapPrivateKey(kek, blob, ctx, signing.publicKey)).rejects.toThrow(/E_CONTEXT/);
  });

  it('binds account, purpose, key id and KDF parameters in the AAD', () => {
    expect(new TextDecoder().decode(privateKeyAad(sigCtx))).toBe(
      `sealvault/v1/private-key\0{"account":"acct-alice","kdf":{"m":65536,"p":1,"salt":"AAAAAAAAAAAAAAAAAAAAAA","t":3},"keyId":"${sigCtx.keyId}","purpose":"signing","v":1}`,
    );
  });
});
