import { createPublicKey, verify } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { fromBase64url, toBase64url } from './encoding';
import { generateSigningKeyPair, importSigningPublicKey, publicKeyId, signStatement, statementBytes, verifyStatement } from './statements';

let signer: CryptoKeyPair;
let other: CryptoKeyPair;
beforeAll(async () => {
  [signer, other] = await Promise.all([generateSigningKeyPair(), generateSigningKeyPair()]);
});
const grant = { type: 'sealvault/v1/grant', space: 's-1', member: 'acct-bob', role: 'viewer', keyVersion: 1 };

describe('ECDSA P-256 statements', () => {
  it('signs canonical JSON with a 64-byte P1363 signature that node:crypto verifies', async () => {
    const signed = await signStatement(signer.privateKey, grant);
    const sig = fromBase64url(signed.signature);
    expect(sig.length).toBe(64);
    const spki = Buffer.from(await crypto.subtle.exportKey('spki', signer.publicKey));
    const ok = verify('sha256', Buffer.from('{"keyVersion":1,"member":"acct-bob","role":"viewer","space":"s-1","type":"sealvault/v1/grant"}'), { key: createPublicKey({ key: spki, format: 'der', type: 'spki' }), dsaEncoding: 'ieee-p1363' }, sig);
    expect(ok).toBe(true);
    expect(await verifyStatement(signer.publicKey, signed, 'sealvault/v1/grant')).toEqual(grant);
  });

  it('verifies regardless of key order in the received JSON (canonical form)', async () => {
    const signed = await signStatement(signer.privateKey, grant);
    const reordered = JSON.parse(JSON.stringify({ signature: signed.signature, statement: { role: 'viewer', type: grant.type, keyVersion: 1, member: 'acct-bob', space: 's-1' } }));
    expect(await verifyStatement(signer.publicKey, reordered, 'sealvault/v1/grant')).toEqual(grant);
  });

  it('refuses a changed field, another signer, a truncated signature (E_SIGNATURE)', async () => {
    const signed = await signStatement(signer.privateKey, grant);
    await expect(verifyStatement(signer.publicKey, { ...signed, statement: { ...grant, role: 'signer' } }, 'sealvault/v1/grant')).rejects.toThrow(/E_SIGNATURE/);
    await expect(verifyStatement(other.publicKey, signed, 'sealvault/v1/grant')).rejects.toThrow(/E_SIGNATURE/);
    await expect(verifyStatement(signer.publicKey, { ...signed, signature: toBase64url(fromBase64url(signed.signature).subarray(1)) }, 'sealvault/v1/grant')).rejects.toThrow(/E_SIGNATURE/);
  });

  it('refuses a valid signature on a statement of another type (E_CONTEXT)', async () => {
    const signed = await signStatement(signer.privateKey, { ...grant, type: 'sealvault/v1/revocation' });
    await expect(verifyStatement(signer.publicKey, signed, 'sealvault/v1/grant')).rejects.toThrow(/E_CONTEXT/);
  });

  it('refuses statements without a sealvault type and unsignable values', async () => {
    expect(() => statementBytes({ type: 'grant' })).toThrow(/E_FORMAT/);
    await expect(signStatement(signer.privateKey, { type: 'sealvault/v1/x', n: NaN })).rejects.toThrow(/E_FORMAT/);
  });

  it('imports only P-256 public keys and gives stable key ids', async () => {
    const spki = new Uint8Array(await crypto.subtle.exportKey('spki', signer.publicKey));
    const imported = await importSigningPublicKey(spki);
    expect(await publicKeyId(imported)).toBe(await publicKeyId(signer.publicKey));
    expect(await publicKeyId(other.publicKey)).not.toBe(await publicKeyId(signer.publicKey));
    const p384 = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-384' }, true, ['sign', 'verify']);
    await expect(importSigningPublicKey(new Uint8Array(await crypto.subtle.exportKey('spki', p384.publicKey)))).rejects.toThrow(/E_KEY_WEAK/);
    const signed = await signStatement(signer.privateKey, grant);
    await expect(verifyStatement(p384.publicKey, signed, 'sealvault/v1/grant')).rejects.toThrow(/E_KEY_WEAK/);
  });
});
