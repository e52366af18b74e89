import { createDecipheriv, createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import vectors from '../vectors/chunked-encryption.json';
import { jitteredSizes, pipeThrough } from '../test-support/streams';
import {
  CHUNK_SIZE,
  HEADER_SIZE,
  ciphertextLength,
  createDecryptStream,
  createEncryptStream,
  decryptMessage,
  encryptMessage,
  fileContext,
  openRandomAccess,
  parseCiphertextLength,
} from './chunked';
import { fromHex } from './encoding';
import { codeOf } from '../test-support/outcome';

const message = (n: number) => Uint8Array.from({ length: n }, (_, i) => i % 251);
const sha256hex = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** An independent reader written from the spec with node:crypto only (no project code). */
function nodeDecrypt(key: Uint8Array, context: Uint8Array, ct: Uint8Array): Buffer {
  if (ct.length < 56) throw new Error('short');
  const salt = ct.subarray(0, 24);
  const info = Buffer.concat([Buffer.from('c2sp.org/chunked-encryption@v1+AEAD_AES_256_GCM\0'), salt, context]);
  const t1 = createHmac('sha256', key).update(Buffer.concat([info, Buffer.of(1)])).digest();
  const t2 = createHmac('sha256', key).update(Buffer.concat([t1, info, Buffer.of(2)])).digest();
  const t3 = createHmac('sha256', key).update(Buffer.concat([t2, info, Buffer.of(3)])).digest();
  const okm = Buffer.concat([t1, t2, t3]);
  if (!okm.subarray(44, 76).equals(ct.subarray(24, 56))) throw new Error('commitment');
  const out: Buffer[] = [];
  const body = ct.subarray(56);
  for (let i = 0, off = 0; ; i++, off += 16400) {
    const piece = body.subarray(off, off + 16400);
    const nonce = Buffer.from(okm.subarray(32, 44));
    nonce.writeUInt32BE((nonce.readUInt32BE(8) ^ i) >>> 0, 8);
    if (piece.length < 16) throw new Error('truncated');
    const d = createDecipheriv('aes-256-gcm', okm.subarray(0, 32), nonce);
    d.setAuthTag(piece.subarray(piece.length - 16));
    out.push(d.update(piece.subarray(0, piece.length - 16)), d.final());
    if (piece.length < 16400) {
      if (off + piece.length !== body.length) throw new Error('trailing');
      return Buffer.concat(out);
    }
  }
}

describe('chunked encryption vectors (c2sp.org/chunked-encryption v1, AES-256-GCM)', () => {
  for (const v of vectors) {
    const key = fromHex(v.key_hex);
    const context = fromHex(v.context_hex);
    if (v.expect === 'ok') {
      it(`encrypts and decrypts: ${v.name}`, async () => {
        const pt = message(v.plaintext_length);
        const ct = await encryptMessage(key, pt, { context, testOnlySalt: fromHex(v.salt_hex) });
        expect(sha256hex(ct)).toBe(v.ciphertext_sha256_hex);
        if (v.ciphertext_hex) expect(Buffer.from(ct).toString('hex')).toBe(v.ciphertext_hex);
        expect(ct.length).toBe(ciphertextLength(v.plaintext_length));
        // the independent implementation agrees on the plaintext
        expect(nodeDecrypt(key, context, ct).equals(Buffer.from(pt))).toBe(true);
        expect(Buffer.from(await decryptMessage(key, ct, { context })).equals(Buffer.from(pt))).toBe(true);
        // streaming, with ragged piece sizes on both sides, gives the same bytes
        const enc = await createEncryptStream(key, { context, testOnlySalt: fromHex(v.salt_hex) });
        const streamed = await pipeThrough(enc.stream, pt, jitteredSizes(v.plaintext_length + 1, 40000));
        expect(sha256hex(streamed)).toBe(v.ciphertext_sha256_hex);
        const back = await pipeThrough(createDecryptStream(key, { context }), ct, jitteredSizes(7, 50000));
        expect(Buffer.from(back).equals(Buffer.from(pt))).toBe(true);
      });
    } else {
      it(`refuses with ${v.expect}: ${v.name}`, async () => {
        const ct = fromHex(v.ciphertext_hex!);
        expect(sha256hex(ct)).toBe(v.ciphertext_sha256_hex);
        expect(() => nodeDecrypt(key, context, ct)).toThrow();
        expect(await codeOf(decryptMessage(key, ct, { context }))).toBe(v.expect);
        expect(await codeOf(pipeThrough(createDecryptStream(key, { context }), ct, jitteredSizes(3, 30000)))).toBe(v.expect);
        expect(await codeOf(pipeThrough(createDecryptStream(key, { context }), ct, () => 1 << 20))).toBe(v.expect);
      });
    }
  }
});

describe('chunked encryption behaviour', () => {
  const key = crypto.getRandomValues(new Uint8Array(32));
  const context = fileContext('contract-1', 'file-1');

  it('never repeats a salt (and so a key and nonce) for the same key and file', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const ct = await encryptMessage(key, message(10), { context });
      const header = Buffer.from(ct.subarray(0, HEADER_SIZE)).toString('hex');
      expect(seen.has(header)).toBe(false);
      seen.add(header);
    }
  });

  it('accepts the input key as an HMAC CryptoKey with the same result as raw bytes', async () => {
    const hmac = await crypto.subtle.importKey('raw', key, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    const salt = crypto.getRandomValues(new Uint8Array(24));
    const a = await encryptMessage(key, message(40000), { context, testOnlySalt: salt });
    const b = await encryptMessage(hmac, message(40000), { context, testOnlySalt: salt });
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    expect(Buffer.from(await decryptMessage(hmac, a, { context })).equals(Buffer.from(message(40000)))).toBe(true);
  });

  it('refuses an HMAC key with the wrong hash or usage, and wrong-size raw keys', async () => {
    const sha1 = await crypto.subtle.importKey('raw', key, { name: 'HMAC', hash: 'SHA-1' }, false, ['sign']);
    await expect(encryptMessage(sha1, message(1), { context })).rejects.toThrow(TypeError);
    await expect(encryptMessage(key.subarray(0, 16), message(1), { context })).rejects.toThrow(RangeError);
  });

  it('opens single chunks by index and refuses a chunk given at the wrong index', async () => {
    const pt = message(5 * CHUNK_SIZE + 123);
    const ct = await encryptMessage(key, pt, { context });
    const reader = await openRandomAccess(key, ct.subarray(0, HEADER_SIZE), { context, ciphertextLength: ct.length });
    expect(reader.chunkCount).toBe(6);
    expect(reader.plaintextLength).toBe(pt.length);
    for (const i of [5, 0, 3]) {
      const { offset, length } = reader.chunkRange(i);
      const chunk = await reader.decryptChunk(i, ct.subarray(offset, offset + length));
      expect(Buffer.from(chunk).equals(Buffer.from(pt.subarray(i * CHUNK_SIZE, (i + 1) * CHUNK_SIZE)))).toBe(true);
    }
    const r2 = reader.chunkRange(2);
    expect(await codeOf(reader.decryptChunk(1, ct.subarray(r2.offset, r2.offset + r2.length)))).toBe('E_AUTH');
    expect(await codeOf(reader.decryptChunk(5, ct.subarray(r2.offset, r2.offset + r2.length)))).toBe('E_TRUNCATED');
    expect(() => reader.chunkRange(6)).toThrow(RangeError);
  });

  it('checks the commitment before any chunk in random access', async () => {
    const ct = await encryptMessage(key, message(100), { context });
    const other = fileContext('contract-1', 'file-2');
    expect(await codeOf(openRandomAccess(key, ct.subarray(0, HEADER_SIZE), { context: other, ciphertextLength: ct.length }))).toBe('E_COMMITMENT');
  });

  it('maps lengths both ways and refuses impossible ciphertext lengths', () => {
    for (const n of [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 10 * CHUNK_SIZE + 5]) {
      expect(parseCiphertextLength(ciphertextLength(n)).plaintextLength).toBe(n);
    }
    expect(() => parseCiphertextLength(55)).toThrow(/E_TRUNCATED/);
    expect(() => parseCiphertextLength(56 + 15)).toThrow(/E_TRUNCATED/);
    expect(() => parseCiphertextLength(56 + 16400)).toThrow(/E_TRUNCATED/);
  });

  it('errors the decrypt stream on a flipped bit instead of finishing normally', async () => {
    const ct = await encryptMessage(key, message(3 * CHUNK_SIZE), { context });
    ct[ct.length - 1]! ^= 0x80;
    const out = createDecryptStream(key, { context });
    await expect(pipeThrough(out, ct)).rejects.toThrow(/E_AUTH/);
  });

  it('builds file contexts that parse one way only', () => {
    expect(Buffer.from(fileContext('c', 'f')).toString()).toBe('sealvault/v1/file\0c\0f');
    expect(() => fileContext('c\0x', 'f')).toThrow(TypeError);
    expect(() => fileContext('', 'f')).toThrow(TypeError);
  });
});
