/**
 * Writes shared/vectors/chunked-encryption.json and kek.json.
 *
 * Independent of the project's crypto core on purpose: it uses only node:crypto (HMAC, HKDF,
 * AES-256-GCM) and @noble/hashes' Argon2id, so the vectors check shared/crypto against a second
 * implementation written from the specs. Deterministic: keys and salts come from SHA-256 of a
 * label, so running it twice gives identical files.
 *
 *   npx tsx shared/vectors/generate-crypto.ts
 */
import { argon2id } from '@noble/hashes/argon2.js';
import { createCipheriv, createHash, createHmac, hkdfSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const here = (name: string) => fileURLToPath(new URL(name, import.meta.url));
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest();
const fixed = (label: string, n: number) => sha256(Buffer.from(`sealvault vectors: ${label}`)).subarray(0, n);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

// ---- c2sp.org/chunked-encryption v1, HKDF-Expand-SHA-256, AEAD_AES_256_GCM ----
const CHUNK = 16384;

function hkdfExpand(prk: Buffer, info: Buffer, length: number): Buffer {
  const blocks: Buffer[] = [];
  let t = Buffer.alloc(0);
  for (let i = 1; Buffer.concat(blocks).length < length; i++) {
    t = createHmac('sha256', prk).update(Buffer.concat([t, info, Buffer.of(i)])).digest();
    blocks.push(t);
  }
  return Buffer.concat(blocks).subarray(0, length);
}

function chunkedEncrypt(key: Buffer, salt: Buffer, context: Buffer, plaintext: Buffer): Buffer {
  const info = Buffer.concat([Buffer.from('c2sp.org/chunked-encryption@v1+AEAD_AES_256_GCM'), Buffer.of(0), salt, context]);
  const okm = hkdfExpand(key, info, 76);
  const aesKey = okm.subarray(0, 32);
  const baseNonce = okm.subarray(32, 44);
  const commitment = okm.subarray(44, 76);
  const parts = [salt, commitment];
  const count = Math.floor(plaintext.length / CHUNK) + 1;
  for (let i = 0; i < count; i++) {
    const nonce = Buffer.from(baseNonce);
    const counter = Buffer.alloc(12);
    counter.writeBigUInt64BE(BigInt(i), 4);
    for (let j = 0; j < 12; j++) nonce[j]! ^= counter[j]!;
    const c = createCipheriv('aes-256-gcm', aesKey, nonce);
    const body = Buffer.concat([c.update(plaintext.subarray(i * CHUNK, Math.min((i + 1) * CHUNK, plaintext.length))), c.final()]);
    parts.push(body, c.getAuthTag());
  }
  return Buffer.concat(parts);
}

function message(length: number): Buffer {
  const b = Buffer.alloc(length);
  for (let i = 0; i < length; i++) b[i] = i % 251;
  return b;
}

const key = fixed('chunked input key', 32);
const salt = fixed('chunked salt', 24);
const context = Buffer.from('sealvault/v1/file\u0000contract-1\u0000file-1');
const HEADER = 56;
const CT_CHUNK = CHUNK + 16;

interface ChunkedVector {
  name: string;
  key_hex: string;
  salt_hex: string;
  context_hex: string;
  plaintext_length: number;
  ciphertext_hex?: string;
  ciphertext_sha256_hex: string;
  expect: string;
}
const chunked: ChunkedVector[] = [];
function add(name: string, plaintextLength: number, ciphertext: Buffer, expect: string, ctx = context, k = key) {
  chunked.push({
    name,
    key_hex: hex(k),
    salt_hex: hex(salt),
    context_hex: hex(ctx),
    plaintext_length: plaintextLength,
    ...(ciphertext.length <= 64 * 1024 ? { ciphertext_hex: hex(ciphertext) } : {}),
    ciphertext_sha256_hex: hex(sha256(ciphertext)),
    expect,
  });
}

for (const [name, n] of [
  ['empty message', 0],
  ['one byte', 1],
  ['one byte short of a chunk', CHUNK - 1],
  ['exactly one chunk (empty final chunk)', CHUNK],
  ['one byte over a chunk', CHUNK + 1],
  ['three chunks and seven bytes', 3 * CHUNK + 7],
  ['one MiB', 1024 * 1024],
] as const) {
  add(name, n, chunkedEncrypt(key, salt, context, message(n)), 'ok');
}
add('empty context', 100, chunkedEncrypt(key, salt, Buffer.alloc(0), message(100)), 'ok', Buffer.alloc(0));

// Failure cases start from a three-chunk message small enough to publish whole (<= 64 KiB).
const n = 2 * CHUNK + 7;
const good = chunkedEncrypt(key, salt, context, message(n));
const chunkAt = (i: number) => good.subarray(HEADER + i * CT_CHUNK, Math.min(HEADER + (i + 1) * CT_CHUNK, good.length));
const flip = (b: Buffer, at: number) => {
  const c = Buffer.from(b);
  c[at]! ^= 0x01;
  return c;
};
add('truncated at a chunk boundary (final chunk dropped)', n, good.subarray(0, HEADER + 2 * CT_CHUNK), 'E_TRUNCATED');
add('truncated inside the header', n, good.subarray(0, 40), 'E_TRUNCATED');
add('final chunk shorter than a tag', n, good.subarray(0, HEADER + 2 * CT_CHUNK + 15), 'E_TRUNCATED');
add('middle chunk dropped', n, Buffer.concat([good.subarray(0, HEADER), chunkAt(0), chunkAt(2)]), 'E_AUTH');
add('two chunks swapped', n, Buffer.concat([good.subarray(0, HEADER), chunkAt(1), chunkAt(0), chunkAt(2)]), 'E_AUTH');
add('chunk duplicated', n, Buffer.concat([good.subarray(0, HEADER), chunkAt(0), chunkAt(0), chunkAt(1), chunkAt(2)]), 'E_AUTH');
add('flipped bit in the commitment', n, flip(good, 24 + 5), 'E_COMMITMENT');
add('flipped bit in the salt', n, flip(good, 3), 'E_COMMITMENT');
add('flipped bit in a tag', n, flip(good, HEADER + CT_CHUNK - 1), 'E_AUTH');
add('flipped bit in the final chunk', n, flip(good, good.length - 20), 'E_AUTH');
add('trailing garbage', n, Buffer.concat([good, Buffer.from('garbage')]), 'E_AUTH');
add('wrong context', n, good, 'E_COMMITMENT', Buffer.from('sealvault/v1/file\u0000contract-2\u0000file-1'));
add('wrong key', n, good, 'E_COMMITMENT', context, fixed('another key', 32));
// A full final chunk followed by nothing: a message that ends on a chunk boundary without its empty final chunk.
const aligned = chunkedEncrypt(key, salt, context, message(CHUNK));
add('one chunk with its empty final chunk dropped', CHUNK, aligned.subarray(0, HEADER + CT_CHUNK), 'E_TRUNCATED');

writeFileSync(here('chunked-encryption.json'), JSON.stringify(chunked, null, 1) + '\n');

// ---- KEK: P = Argon2id(NFKC(password), salt); KEK = HKDF-SHA-256(P || E, "sealvault/v1/kek", account id) ----
const kek = [
  { name: 'ascii password, default parameters', password: 'correct horse battery staple', m_kib: 65536, t: 3, p: 1, account_id: 'acct-alice' },
  { name: 'NFKC: full-width digits and a ligature', password: 'ﬁle１２３-パスワード', m_kib: 65536, t: 3, p: 1, account_id: 'acct-bob' },
  { name: 'two lanes, four passes', password: '合同保险柜 password', m_kib: 65536, t: 4, p: 2, account_id: 'acct-carol' },
].map((v) => {
  const s = fixed(`kek salt ${v.name}`, 16);
  const e = fixed(`escrow share ${v.name}`, 32);
  const p = argon2id(Buffer.from(v.password.normalize('NFKC'), 'utf8'), s, { m: v.m_kib, t: v.t, p: v.p, dkLen: 32 });
  const k = Buffer.from(hkdfSync('sha256', Buffer.concat([p, e]), Buffer.from('sealvault/v1/kek'), Buffer.from(v.account_id), 32));
  return {
    name: v.name,
    password: v.password,
    salt_hex: hex(s),
    m_kib: v.m_kib,
    t: v.t,
    p: v.p,
    password_half_hex: hex(p),
    escrow_share_hex: hex(e),
    account_id: v.account_id,
    kek_hex: hex(k),
  };
});
writeFileSync(here('kek.json'), JSON.stringify(kek, null, 1) + '\n');
console.log(`wrote ${chunked.length} chunked-encryption vectors and ${kek.length} KEK vectors`);
