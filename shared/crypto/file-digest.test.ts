import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { fileDigest } from '../protocol/signing';
import { generateDek } from './contract-keys';
import { toBase64url } from './encoding';

describe('keyed file digest of signing steps', () => {
  it('is HMAC-SHA-256 under HKDF-Expand(DEK, "sealvault/v1/file-digest", 32), checked with node:crypto', async () => {
    const dek = await generateDek({ extractable: true });
    const raw = Buffer.from(await crypto.subtle.exportKey('raw', dek));
    const pdf = new TextEncoder().encode('%PDF-1.7 a contract, 合同\n%%EOF\n');
    // One block of HKDF-Expand: T(1) = HMAC(PRK, info || 0x01), PRK being the DEK itself.
    const subkey = createHmac('sha256', raw).update(Buffer.concat([Buffer.from('sealvault/v1/file-digest'), Buffer.from([1])])).digest();
    const expected = toBase64url(createHmac('sha256', subkey).update(pdf).digest());
    expect(await fileDigest(dek, pdf)).toBe(expected);
  });

  it('differs from the bare SHA-256 and between contracts, so the relay cannot test a guessed file', async () => {
    const pdf = new TextEncoder().encode('%PDF-1.7 a well-known template\n');
    const bare = toBase64url(new Uint8Array(await crypto.subtle.digest('SHA-256', pdf)));
    const a = await fileDigest(await generateDek({ extractable: false }), pdf);
    const b = await fileDigest(await generateDek({ extractable: false }), pdf);
    expect(a).not.toBe(bare);
    expect(a).not.toBe(b);
  });
});
