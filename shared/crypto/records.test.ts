import { createDecipheriv } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { deriveRecordKey, generateDek } from './contract-keys';
import { canonicalJson, fromBase64url, toBase64url } from './encoding';
import { openRecord, recordAad, sealRecord, type RecordContext } from './records';

const ctx: RecordContext = { kind: 'contract-fields', contract: 'c-1', version: 2 };
const fields = { title: '采购合同 Purchase agreement', amount: { value: '125000.00', currency: 'CNY' }, parties: ['Acme', '华为'] };

describe('encrypted records', () => {
  it('round-trips and matches an independent AES-GCM decryption with the documented AAD', async () => {
    const raw = crypto.getRandomValues(new Uint8Array(32));
    const key = await crypto.subtle.importKey('raw', raw, 'AES-GCM', false, ['encrypt', 'decrypt']);
    const sealed = await sealRecord(key, ctx, fields);
    expect(await openRecord(key, sealed, ctx)).toEqual(fields);
    const ct = fromBase64url(sealed.ct);
    const d = createDecipheriv('aes-256-gcm', raw, fromBase64url(sealed.nonce));
    d.setAAD(Buffer.from('sealvault/v1/record\0{"contract":"c-1","kind":"contract-fields","v":1,"version":2}'));
    d.setAuthTag(ct.subarray(ct.length - 16));
    const pt = Buffer.concat([d.update(ct.subarray(0, ct.length - 16)), d.final()]).toString();
    expect(pt).toBe(canonicalJson(fields));
    expect(Buffer.from(recordAad(ctx)).toString()).toBe('sealvault/v1/record\0{"contract":"c-1","kind":"contract-fields","v":1,"version":2}');
  });

  it('uses a fresh nonce each time', async () => {
    const key = await deriveRecordKey(await generateDek({ extractable: false }));
    const nonces = new Set<string>();
    for (let i = 0; i < 100; i++) nonces.add((await sealRecord(key, ctx, fields)).nonce);
    expect(nonces.size).toBe(100);
  });

  it('refuses a record served for another contract, version or kind (E_CONTEXT)', async () => {
    const key = await deriveRecordKey(await generateDek({ extractable: false }));
    const sealed = await sealRecord(key, ctx, fields);
    await expect(openRecord(key, sealed, { ...ctx, contract: 'c-2' })).rejects.toThrow(/E_CONTEXT/);
    await expect(openRecord(key, sealed, { ...ctx, version: 3 })).rejects.toThrow(/E_CONTEXT/);
    await expect(openRecord(key, sealed, { ...ctx, kind: 'signing-flow' })).rejects.toThrow(/E_CONTEXT/);
  });

  it('refuses a relabelled record, a flipped bit, a truncated tag and the wrong key (E_AUTH, E_TRUNCATED)', async () => {
    const dek = await generateDek({ extractable: false });
    const key = await deriveRecordKey(dek);
    const sealed = await sealRecord(key, ctx, fields);
    await expect(openRecord(key, { ...sealed, version: 3 }, { ...ctx, version: 3 })).rejects.toThrow(/E_AUTH/);
    const ct = fromBase64url(sealed.ct);
    ct[0]! ^= 1;
    await expect(openRecord(key, { ...sealed, ct: toBase64url(ct) }, ctx)).rejects.toThrow(/E_AUTH/);
    await expect(openRecord(key, { ...sealed, ct: toBase64url(ct.subarray(0, 10)) }, ctx)).rejects.toThrow(/E_TRUNCATED/);
    const other = await deriveRecordKey(await generateDek({ extractable: false }));
    await expect(openRecord(other, sealed, ctx)).rejects.toThrow(/E_AUTH/);
  });

  it('refuses unknown record versions and malformed nonces (E_FORMAT)', async () => {
    const key = await deriveRecordKey(await generateDek({ extractable: false }));
    const sealed = await sealRecord(key, ctx, fields);
    await expect(openRecord(key, { ...sealed, v: 2 }, ctx)).rejects.toThrow(/E_FORMAT/);
    await expect(openRecord(key, { ...sealed, nonce: 'AAAA' }, ctx)).rejects.toThrow(/E_FORMAT/);
    await expect(openRecord(key, null, ctx)).rejects.toThrow(/E_FORMAT/);
  });

  it('derives the record key from the DEK deterministically and separately from the DEK itself', async () => {
    const raw = crypto.getRandomValues(new Uint8Array(32));
    const dek = await crypto.subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    const a = await deriveRecordKey(dek);
    const sealed = await sealRecord(a, ctx, fields);
    const b = await deriveRecordKey(await crypto.subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']));
    expect(await openRecord(b, sealed, ctx)).toEqual(fields);
    const asAes = await crypto.subtle.importKey('raw', raw, 'AES-GCM', false, ['decrypt']);
    await expect(openRecord(asAes, sealed, ctx)).rejects.toThrow(/E_AUTH/);
  });
});
