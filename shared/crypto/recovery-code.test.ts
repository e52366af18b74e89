import { createDecipheriv, createPublicKey, hkdfSync, sign, createPrivateKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { codeOf } from '../test-support/outcome';
import { fromBase64url } from './encoding';
import { deriveRecoveryAuthKey, formatRecoveryCode, newRecoveryCode, openRecoveryBlob, parseRecoveryCode, sealRecoveryBlob } from './recovery-code';

const code = Uint8Array.from({ length: 16 }, (_, i) => i * 17);
const contents = { escrowShare: new Uint8Array(32).fill(7), envelopeKey: new Uint8Array([1, 2, 3]), signingKey: new Uint8Array([4, 5]) };

describe('recovery code', () => {
  it('is shown as 8 groups of 4 hex digits and read back in any case, with or without dashes', () => {
    expect(formatRecoveryCode(code)).toBe('0011-2233-4455-6677-8899-AABB-CCDD-EEFF');
    expect(parseRecoveryCode('0011 2233 4455 6677 8899 aabb ccdd eeff')).toEqual(code);
    expect(parseRecoveryCode(formatRecoveryCode(code))).toEqual(code);
    expect(() => parseRecoveryCode('0011-2233')).toThrow(/E_FORMAT/);
    expect(() => parseRecoveryCode('G011-2233-4455-6677-8899-AABB-CCDD-EEFF')).toThrow(/E_FORMAT/);
    expect(newRecoveryCode()).toHaveLength(16);
  });

  it('derives the auth key as documented (HKDF-SHA-256 seed, checked with node:crypto)', async () => {
    const seed = Buffer.from(hkdfSync('sha256', code, 'sealvault/v1/recovery', 'auth', 32));
    const nodeKey = createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]), format: 'der', type: 'pkcs8' });
    const expectedPublic = createPublicKey(nodeKey).export({ format: 'der', type: 'spki' }).subarray(-32);
    const { privateKey, publicKey } = await deriveRecoveryAuthKey(code);
    expect(Buffer.from(publicKey).equals(expectedPublic)).toBe(true);
    const msg = new Uint8Array([9, 9]);
    expect(Buffer.from(await crypto.subtle.sign('Ed25519', privateKey, msg)).equals(sign(null, msg, nodeKey))).toBe(true);
    const other = new Uint8Array(code);
    other[15] = other[15]! ^ 1;
    expect((await deriveRecoveryAuthKey(other)).publicKey).not.toEqual(publicKey);
  });

  it('seals the blob as documented (node:crypto decrypts it) and opens it back', async () => {
    const blob = await sealRecoveryBlob(code, 'acct-1', contents);
    const bytes = fromBase64url(blob);
    const key = Buffer.from(hkdfSync('sha256', code, 'sealvault/v1/recovery', 'wrap\0acct-1', 32));
    const d = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, 12));
    d.setAAD(Buffer.from('sealvault/v1/recovery-blob\0acct-1'));
    d.setAuthTag(bytes.subarray(bytes.length - 16));
    const plain = JSON.parse(Buffer.concat([d.update(bytes.subarray(12, bytes.length - 16)), d.final()]).toString('utf8'));
    expect(plain).toEqual({ v: 1, account: 'acct-1', escrowShare: Buffer.from(contents.escrowShare).toString('base64url'), envelopeKey: 'AQID', signingKey: 'BAU' });
    const opened = await openRecoveryBlob(code, 'acct-1', blob);
    expect(opened.escrowShare).toEqual(contents.escrowShare);
    expect(opened.envelopeKey).toEqual(contents.envelopeKey);
  });

  it('refuses a wrong code, another account, a changed byte and a truncated blob', async () => {
    const blob = await sealRecoveryBlob(code, 'acct-1', contents);
    const wrong = new Uint8Array(code);
    wrong[0] = wrong[0]! ^ 1;
    expect(await codeOf(openRecoveryBlob(wrong, 'acct-1', blob))).toBe('E_AUTH');
    expect(await codeOf(openRecoveryBlob(code, 'acct-2', blob))).toBe('E_AUTH');
    const bytes = fromBase64url(blob);
    bytes[20] = bytes[20]! ^ 1;
    expect(await codeOf(openRecoveryBlob(code, 'acct-1', Buffer.from(bytes).toString('base64url')))).toBe('E_AUTH');
    expect(await codeOf(openRecoveryBlob(code, 'acct-1', blob.slice(0, 30)))).toBe('E_FORMAT');
  });
});
