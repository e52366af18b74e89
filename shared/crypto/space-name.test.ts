import { createDecipheriv } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { openSpaceName, sealSpaceName } from './space-name';
import { fromBase64url, toBase64url } from './encoding';
import { codeOf } from '../test-support/outcome';

const raw = Uint8Array.from({ length: 32 }, (_, i) => i * 7 + 1);
const key = () => crypto.subtle.importKey('raw', raw, 'AES-GCM', false, ['encrypt', 'decrypt']);

describe('sealed space names', () => {
  it('opens with node:crypto under the documented AAD', async () => {
    const sealed = await sealSpaceName(await key(), 'sp-1', 3, '采购 Purchasing');
    const ct = fromBase64url(sealed.ct);
    const decipher = createDecipheriv('aes-256-gcm', raw, fromBase64url(sealed.nonce));
    decipher.setAAD(Buffer.from('sealvault/v1/space-name\u0000{"keyVersion":3,"space":"sp-1"}', 'utf8'));
    decipher.setAuthTag(ct.subarray(ct.length - 16));
    const plain = Buffer.concat([decipher.update(ct.subarray(0, ct.length - 16)), decipher.final()]).toString('utf8');
    expect(plain).toBe('采购 Purchasing');
    expect(await openSpaceName(await key(), 'sp-1', sealed)).toBe('采购 Purchasing');
  });

  it('refuses a name moved to another space, another key version, or changed', async () => {
    const sealed = await sealSpaceName(await key(), 'sp-1', 1, 'Legal');
    expect(await codeOf(openSpaceName(await key(), 'sp-2', sealed))).toBe('E_AUTH');
    expect(await codeOf(openSpaceName(await key(), 'sp-1', { ...sealed, keyVersion: 2 }))).toBe('E_AUTH');
    const ct = fromBase64url(sealed.ct);
    ct[0]! ^= 1;
    expect(await codeOf(openSpaceName(await key(), 'sp-1', { ...sealed, ct: toBase64url(ct) }))).toBe('E_AUTH');
    expect(await codeOf(openSpaceName(await key(), 'sp-1', { ...sealed, ct: toBase64url(ct.subarray(0, 10)) }))).toBe('E_TRUNCATED');
  });

  it('never repeats a nonce, and refuses empty or overlong names', async () => {
    const a = await sealSpaceName(await key(), 'sp-1', 1, 'Same');
    const b = await sealSpaceName(await key(), 'sp-1', 1, 'Same');
    expect(a.nonce).not.toBe(b.nonce);
    expect(await codeOf(sealSpaceName(await key(), 'sp-1', 1, '   '))).toBe('E_FORMAT');
    expect(await codeOf(sealSpaceName(await key(), 'sp-1', 1, '名'.repeat(201)))).toBe('E_FORMAT');
    expect(await codeOf(sealSpaceName(await key(), 'sp-1', 1, '名'.repeat(200)))).toBe('ok');
  });
});
