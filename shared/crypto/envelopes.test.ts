import { constants, generateKeyPairSync, privateDecrypt } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateDek } from './contract-keys';
import { fromBase64url } from './encoding';
import { checkEnvelopePublicKey, envelopeLabel, generateEnvelopeKeyPair, importEnvelopePublicKey, openEnvelope, sealEnvelope, type EnvelopeContext } from './envelopes';

const AES = { algorithm: { name: 'AES-GCM', length: 256 } as AesKeyAlgorithm, usages: ['encrypt', 'decrypt'] as KeyUsage[] };
const ctx: EnvelopeContext = { purpose: 'space-key', recipient: 'acct-bob', space: 'space-1', keyVersion: 3 };

let alice: CryptoKeyPair;
let bob: CryptoKeyPair;
let spaceKey: CryptoKey;
beforeAll(async () => {
  [alice, bob] = await Promise.all([generateEnvelopeKeyPair(), generateEnvelopeKeyPair()]);
  spaceKey = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, true, ['encrypt', 'decrypt']);
});

async function sameAesKey(a: CryptoKey, b: CryptoKey): Promise<boolean> {
  const iv = new Uint8Array(12);
  const ct = await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, a, new Uint8Array(8));
  const pt = await crypto.subtle.decrypt({ name: 'AES-GCM', iv }, b, ct).catch(() => null);
  return pt !== null;
}

describe('RSA-OAEP-3072 envelopes', () => {
  it('wraps a space key to a member and opens it as a non-extractable key', async () => {
    const env = await sealEnvelope(bob.publicKey, spaceKey, ctx);
    expect(fromBase64url(env.wrapped).length).toBe(384);
    const opened = await openEnvelope(bob.privateKey, env, ctx, AES);
    expect(opened.extractable).toBe(false);
    expect(await sameAesKey(spaceKey, opened)).toBe(true);
  });

  it('uses standard RSA-OAEP with SHA-256 and the documented label (checked with node:crypto)', async () => {
    const pair = generateKeyPairSync('rsa', { modulusLength: 3072, publicExponent: 65537 });
    const pub = await importEnvelopePublicKey(pair.publicKey.export({ type: 'spki', format: 'der' }));
    const raw = crypto.getRandomValues(new Uint8Array(32));
    const key = await crypto.subtle.importKey('raw', raw, 'AES-GCM', true, ['encrypt']);
    const env = await sealEnvelope(pub, key, ctx);
    const label = Buffer.concat([Buffer.from('sealvault/v1/envelope\0'), Buffer.from('{"keyVersion":3,"purpose":"space-key","recipient":"acct-bob","space":"space-1"}')]);
    expect(Buffer.from(envelopeLabel(ctx)).equals(label)).toBe(true);
    const out = privateDecrypt({ key: pair.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256', oaepLabel: label }, fromBase64url(env.wrapped));
    expect(out.equals(Buffer.from(raw))).toBe(true);
  });

  it('wraps an HMAC DEK too', async () => {
    const dek = await generateDek({ extractable: true });
    const dctx = { purpose: 'dek', recipient: 'acct-bob', contract: 'c-1' };
    const env = await sealEnvelope(bob.publicKey, dek, dctx);
    const opened = await openEnvelope(bob.privateKey, env, dctx, { algorithm: { name: 'HMAC', hash: 'SHA-256' }, usages: ['sign'] });
    const msg = new Uint8Array(4);
    expect(Buffer.from(await crypto.subtle.sign('HMAC', dek, msg)).equals(Buffer.from(await crypto.subtle.sign('HMAC', opened, msg)))).toBe(true);
  });

  it('wraps a P-256 private key as PKCS#8 (the enterprise CA key) and node:crypto reads the same key out of it', async () => {
    const pair = generateKeyPairSync('rsa', { modulusLength: 3072, publicExponent: 65537 });
    const pub = await importEnvelopePublicKey(pair.publicKey.export({ type: 'spki', format: 'der' }));
    const ca = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as CryptoKeyPair;
    const cctx = { purpose: 'ca-key', recipient: 'acct-bob', ca: 'fp' };
    const env = await sealEnvelope(pub, ca.privateKey, cctx, 'pkcs8');
    const out = privateDecrypt({ key: pair.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256', oaepLabel: Buffer.from(envelopeLabel(cctx)) }, fromBase64url(env.wrapped));
    expect(out.equals(Buffer.from(await crypto.subtle.exportKey('pkcs8', ca.privateKey)))).toBe(true);

    const env2 = await sealEnvelope(bob.publicKey, ca.privateKey, cctx, 'pkcs8');
    const opened = await openEnvelope(bob.privateKey, env2, cctx, { algorithm: { name: 'ECDSA', namedCurve: 'P-256' }, usages: ['sign'], format: 'pkcs8' });
    expect(opened.extractable).toBe(false);
    const msg = new Uint8Array(8);
    const sig = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, opened, msg);
    expect(await crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, ca.publicKey, sig, msg)).toBe(true);
    await expect(openEnvelope(bob.privateKey, env2, { ...cctx, ca: 'other' }, { algorithm: { name: 'ECDSA', namedCurve: 'P-256' }, usages: ['sign'], format: 'pkcs8' })).rejects.toThrow(/E_CONTEXT/);
  });

  it('refuses an envelope moved to another context before decrypting (E_CONTEXT)', async () => {
    const env = await sealEnvelope(bob.publicKey, spaceKey, ctx);
    await expect(openEnvelope(bob.privateKey, env, { ...ctx, keyVersion: 4 }, AES)).rejects.toThrow(/E_CONTEXT/);
    await expect(openEnvelope(bob.privateKey, env, { ...ctx, space: 'space-2' }, AES)).rejects.toThrow(/E_CONTEXT/);
  });

  it('refuses an envelope whose stated context was rewritten to match (the label no longer fits: E_AUTH)', async () => {
    const env = await sealEnvelope(bob.publicKey, spaceKey, ctx);
    const moved = { ...env, context: { ...ctx, space: 'space-2' } };
    await expect(openEnvelope(bob.privateKey, moved, { ...ctx, space: 'space-2' }, AES)).rejects.toThrow(/E_AUTH/);
  });

  it('refuses a flipped bit, the wrong recipient key, and a truncated wrap', async () => {
    const env = await sealEnvelope(bob.publicKey, spaceKey, ctx);
    const bytes = fromBase64url(env.wrapped);
    bytes[100]! ^= 1;
    const { toBase64url } = await import('./encoding');
    await expect(openEnvelope(bob.privateKey, { ...env, wrapped: toBase64url(bytes) }, ctx, AES)).rejects.toThrow(/E_AUTH/);
    await expect(openEnvelope(alice.privateKey, env, ctx, AES)).rejects.toThrow(/E_AUTH/);
    await expect(openEnvelope(bob.privateKey, { ...env, wrapped: toBase64url(bytes.subarray(1)) }, ctx, AES)).rejects.toThrow(/E_FORMAT/);
  });

  it('refuses other versions and algorithms instead of falling back', async () => {
    const env = await sealEnvelope(bob.publicKey, spaceKey, ctx);
    await expect(openEnvelope(bob.privateKey, { ...env, v: 0 }, ctx, AES)).rejects.toThrow(/E_FORMAT/);
    await expect(openEnvelope(bob.privateKey, { ...env, alg: 'RSA-PKCS1-1024' }, ctx, AES)).rejects.toThrow(/E_FORMAT/);
  });
});

describe('envelope public key checks', () => {
  it('refuses RSA under 3072 bits', async () => {
    const weak = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'der' });
    await expect(importEnvelopePublicKey(weak)).rejects.toThrow(/E_KEY_WEAK.*2048/);
  });
  it('refuses an exponent other than 65537', async () => {
    const e3 = generateKeyPairSync('rsa', { modulusLength: 3072, publicExponent: 3 }).publicKey.export({ type: 'spki', format: 'der' });
    await expect(importEnvelopePublicKey(e3)).rejects.toThrow(/E_KEY_WEAK.*exponent 3/);
  });
  it('refuses an EC key, garbage, and a key made for another hash', async () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' });
    await expect(importEnvelopePublicKey(ec)).rejects.toThrow(/E_KEY_WEAK/);
    await expect(importEnvelopePublicKey(new Uint8Array(300).fill(0x30))).rejects.toThrow(/E_KEY_WEAK/);
    const sha1 = await crypto.subtle.importKey('spki', await crypto.subtle.exportKey('spki', bob.publicKey), { name: 'RSA-OAEP', hash: 'SHA-1' }, true, ['wrapKey']);
    expect(() => checkEnvelopePublicKey(sha1)).toThrow(/E_KEY_WEAK/);
    await expect(sealEnvelope(sha1, spaceKey, ctx)).rejects.toThrow(/E_KEY_WEAK/);
  });
});
