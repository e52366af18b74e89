import { argon2id as nobleArgon2id } from '@noble/hashes/argon2.js';
import { createCipheriv, hkdfSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import vectors from '../vectors/kek.json';
import { dangerouslyDeriveKekBytes, deriveEscrowAuthKey, deriveKek, deriveLocalIndexKey, deriveOpaqueInput, deriveWitnessKey } from './account-keys';
import { derivePasswordHalf, DEFAULT_ARGON2_PARAMS } from './argon2';
import { fromHex, toHex } from './encoding';

describe('KEK vectors: Argon2id password half, HKDF with the escrow share', () => {
  for (const v of vectors) {
    it(v.name, async () => {
      const salt = fromHex(v.salt_hex);
      const p = await derivePasswordHalf(v.password, salt, { m: v.m_kib, t: v.t, p: v.p });
      expect(toHex(p)).toBe(v.password_half_hex);
      const e = fromHex(v.escrow_share_hex);
      // independent HKDF in the test itself
      const nodeKek = Buffer.from(hkdfSync('sha256', Buffer.concat([p, e]), 'sealvault/v1/kek', v.account_id, 32));
      expect(nodeKek.toString('hex')).toBe(v.kek_hex);
      expect(toHex(await dangerouslyDeriveKekBytes(p, e, v.account_id))).toBe(v.kek_hex);
      // The non-extractable KEK is the same key: its AES-GCM output equals node:crypto's under kek_hex.
      const kek = await deriveKek(p, e, v.account_id);
      expect(kek.extractable).toBe(false);
      const iv = new Uint8Array(12);
      const probe = new TextEncoder().encode('kek probe');
      const ours = Buffer.from(await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, kek, probe));
      const c = createCipheriv('aes-256-gcm', Buffer.from(v.kek_hex, 'hex'), iv);
      expect(ours.equals(Buffer.concat([c.update(probe), c.final(), c.getAuthTag()]))).toBe(true);
    });
  }

  it('the first vector also matches an independent Argon2id (@noble/hashes) computed here', () => {
    const v = vectors[0]!;
    const p = nobleArgon2id(new TextEncoder().encode(v.password.normalize('NFKC')), fromHex(v.salt_hex), { m: v.m_kib, t: v.t, p: v.p, dkLen: 32 });
    expect(toHex(p)).toBe(v.password_half_hex);
  });

  it('normalises with NFKC: a password typed with full-width digits gives the same P', async () => {
    const salt = new Uint8Array(16).fill(7);
    const a = await derivePasswordHalf('pass１２３', salt, DEFAULT_ARGON2_PARAMS);
    const b = await derivePasswordHalf('pass123', salt, DEFAULT_ARGON2_PARAMS);
    expect(toHex(a)).toBe(toHex(b));
  });
});

describe('keys derived from the password half', () => {
  const p = fromHex(vectors[0]!.password_half_hex);
  it('OPAQUE input is HKDF(P, "sealvault/v1/opaque") as base64url', async () => {
    const expected = Buffer.from(hkdfSync('sha256', p, Buffer.alloc(0), 'sealvault/v1/opaque', 32)).toString('base64url');
    expect(await deriveOpaqueInput(p)).toBe(expected);
  });
  it('escrow-auth key is the Ed25519 key with seed HKDF(P, "sealvault/v1/escrow-auth") and signs verifiably', async () => {
    const { createPrivateKey, createPublicKey } = await import('node:crypto');
    const seed = Buffer.from(hkdfSync('sha256', p, Buffer.alloc(0), 'sealvault/v1/escrow-auth', 32));
    const nodeKey = createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]), format: 'der', type: 'pkcs8' });
    const nodePub = createPublicKey(nodeKey).export({ format: 'der', type: 'spki' }).subarray(12);
    const { privateKey, publicKey } = await deriveEscrowAuthKey(p);
    expect(privateKey.extractable).toBe(false);
    expect(Buffer.from(publicKey).equals(nodePub)).toBe(true);
    const msg = new TextEncoder().encode('escrow challenge');
    const sig = new Uint8Array(await crypto.subtle.sign('Ed25519', privateKey, msg));
    const { verify } = await import('node:crypto');
    expect(verify(null, msg, createPublicKey(nodeKey), sig)).toBe(true);
  });
  it('the local index key is HKDF(P || E, salt "sealvault/v1/local-index", info account), non-extractable, apart from the KEK', async () => {
    const v = vectors[0]!;
    const e = fromHex(v.escrow_share_hex);
    const expected = Buffer.from(hkdfSync('sha256', Buffer.concat([p, e]), 'sealvault/v1/local-index', v.account_id, 32));
    expect(expected.toString('hex')).not.toBe(v.kek_hex);
    const key = await deriveLocalIndexKey(p, e, v.account_id);
    expect(key.extractable).toBe(false);
    expect(key.usages.toSorted()).toEqual(['decrypt', 'encrypt']);
    const iv = new Uint8Array(12).fill(3);
    const probe = new TextEncoder().encode('index probe');
    const ours = Buffer.from(await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, probe));
    const c = createCipheriv('aes-256-gcm', expected, iv);
    expect(ours.equals(Buffer.concat([c.update(probe), c.final(), c.getAuthTag()]))).toBe(true);
    await expect(deriveLocalIndexKey(p, new Uint8Array(32), v.account_id)).rejects.toThrow(/E_KEY_WEAK/);
  });
  it('the witness key is the Ed25519 key with seed HKDF(P || E, salt "sealvault/v1/witness", info account), non-extractable', async () => {
    const { createPrivateKey, createPublicKey, verify } = await import('node:crypto');
    const v = vectors[0]!;
    const e = fromHex(v.escrow_share_hex);
    const seed = Buffer.from(hkdfSync('sha256', Buffer.concat([p, e]), 'sealvault/v1/witness', v.account_id, 32));
    const nodeKey = createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]), format: 'der', type: 'pkcs8' });
    const nodePub = createPublicKey(nodeKey).export({ format: 'der', type: 'spki' }).subarray(12);
    const { privateKey, publicKey } = await deriveWitnessKey(p, e, v.account_id);
    expect(privateKey.extractable).toBe(false);
    expect(privateKey.algorithm.name).toBe('Ed25519');
    expect(Buffer.from(publicKey).equals(nodePub)).toBe(true);
    const msg = new TextEncoder().encode('cosignature/v1\ntime 1\n');
    const sig = new Uint8Array(await crypto.subtle.sign('Ed25519', privateKey, msg));
    expect(verify(null, msg, createPublicKey(nodeKey), sig)).toBe(true);
    // Another account, or another escrow share, gives another key: the label and info separate them.
    const other = await deriveWitnessKey(p, e, `${v.account_id}x`);
    expect(Buffer.from(other.publicKey).equals(nodePub)).toBe(false);
    await expect(deriveWitnessKey(p, new Uint8Array(32), v.account_id)).rejects.toThrow(/E_KEY_WEAK/);
  });
  it('refuses an all-zero escrow share and wrong-size halves', async () => {
    await expect(deriveKek(p, new Uint8Array(32), 'acct')).rejects.toThrow(/E_KEY_WEAK/);
    await expect(deriveKek(p.subarray(0, 16), new Uint8Array(32).fill(1), 'acct')).rejects.toThrow(RangeError);
    await expect(deriveKek(p, new Uint8Array(32).fill(1), 'bad id with spaces')).rejects.toThrow(/E_FORMAT/);
  });
});
