import { createDecipheriv, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { codeOf } from '../test-support/outcome';
import { generateDek, unwrapDek, wrapDek } from './contract-keys';
import { fromBase64url } from './encoding';

async function spaceKey(raw = crypto.getRandomValues(new Uint8Array(32))) {
  return { raw, key: await crypto.subtle.importKey('raw', raw, 'AES-GCM', false, ['encrypt', 'decrypt', 'wrapKey', 'unwrapKey']) };
}

describe('the DEK wrapped under the space key', () => {
  it('is AES-256-GCM of the raw DEK with the record AAD (node:crypto opens it) and unwraps to the same, non-extractable key', async () => {
    const sk = await spaceKey();
    const dek = await generateDek({ extractable: true });
    const raw = new Uint8Array(await crypto.subtle.exportKey('raw', dek));
    const sealed = await wrapDek(sk.key, dek, { contract: 'c-1', version: 3 });
    expect(sealed).toMatchObject({ v: 1, kind: 'dek', contract: 'c-1', version: 3 });
    const ct = fromBase64url(sealed.ct);
    const d = createDecipheriv('aes-256-gcm', sk.raw, fromBase64url(sealed.nonce));
    d.setAAD(Buffer.concat([Buffer.from('sealvault/v1/record\0'), Buffer.from('{"contract":"c-1","kind":"dek","v":1,"version":3}')]));
    d.setAuthTag(ct.subarray(ct.length - 16));
    expect(Buffer.concat([d.update(ct.subarray(0, ct.length - 16)), d.final()]).equals(Buffer.from(raw))).toBe(true);

    const back = await unwrapDek(sk.key, sealed, { contract: 'c-1', version: 3 });
    expect(back.extractable).toBe(false);
    const msg = new Uint8Array([1, 2, 3]);
    expect(Buffer.from(await crypto.subtle.sign('HMAC', back, msg)).equals(createHmac('sha256', raw).update(msg).digest())).toBe(true);
    // Extractable only when asked (to wrap it to one grantee at once), and then the same bytes.
    const forSharing = await unwrapDek(sk.key, sealed, { contract: 'c-1', version: 3 }, { extractable: true });
    expect(forSharing.extractable).toBe(true);
    expect(new Uint8Array(await crypto.subtle.exportKey('raw', forSharing))).toEqual(raw);
  });

  it('refuses another contract, another space key version, another space key and a changed byte', async () => {
    const sk = await spaceKey();
    const sealed = await wrapDek(sk.key, await generateDek({ extractable: true }), { contract: 'c-1', version: 1 });
    expect(await codeOf(unwrapDek(sk.key, sealed, { contract: 'c-2', version: 1 }))).toBe('E_CONTEXT');
    expect(await codeOf(unwrapDek(sk.key, sealed, { contract: 'c-1', version: 2 }))).toBe('E_CONTEXT');
    expect(await codeOf(unwrapDek(sk.key, { ...sealed, contract: 'c-2' }, { contract: 'c-2', version: 1 }))).toBe('E_AUTH');
    expect(await codeOf(unwrapDek((await spaceKey()).key, sealed, { contract: 'c-1', version: 1 }))).toBe('E_AUTH');
    const ct = fromBase64url(sealed.ct);
    ct[0] = ct[0]! ^ 1;
    expect(await codeOf(unwrapDek(sk.key, { ...sealed, ct: Buffer.from(ct).toString('base64url') }, { contract: 'c-1', version: 1 }))).toBe('E_AUTH');
  });
});
