/**
 * Writes shared/vectors/merkle.json and shared/vectors/checkpoint.json.
 *
 *     npx tsx shared/vectors/generate-tlog.ts
 *
 * This is an independent implementation: it uses node:crypto only and imports nothing from
 * shared/tlog, so the vectors check that code rather than echo it. The Merkle functions below
 * are RFC 9162 section 2.1's recursive definitions (MTH, PATH, SUBPROOF) over the entry list,
 * written as directly as possible, without any of the bit arithmetic the verifiers use.
 *
 * Everything is deterministic (fixed leaves, keys from fixed seeds, Ed25519 signatures are
 * deterministic, a fixed cosignature time), so running it twice writes identical files.
 *
 * Leaves: leaf i for i < 8 is the RFC 6962 test leaf (hex "", "00", "10", "2021", "3031",
 * "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"); leaf i for i >= 8 is
 * the UTF-8 text `sealvault tlog leaf <i>` (decimal i). There are 1000 leaves.
 *
 * Keys: Ed25519 private key seed = SHA-256(UTF-8 label), with labels
 *   log key      "sealvault/vectors/tlog: log key"      key name "sealvault.local/audit"
 *   unknown key  "sealvault/vectors/tlog: unknown key"  (a key no verifier is configured with)
 *   witness key  "sealvault/vectors/tlog: witness key"  cosigner name "witness.sealvault.local/auditor"
 * Cosignature time: 1767225600 (2026-01-01T00:00:00Z).
 *
 * checkpoint.json entries: {description, origin, size, root_hex, key_name, public_key_hex,
 * note, expect} where origin is the origin the reader expects, key_name and public_key_hex
 * are the log's verifier (signature type 0x01), size and root_hex are the checkpoint the log
 * signed (before any tampering), and expect is "ok" or the error code of opening the note as
 * a checkpoint. Cosigned entries add witness_name, witness_public_key_hex (type 0x04 key),
 * cosignature_timestamp and cosignature_expect (result of verifying that witness's cosignature).
 */
import { createHash, createPrivateKey, createPublicKey, sign, type KeyObject } from 'node:crypto';
import { writeFileSync } from 'node:fs';

type Bytes = Buffer;

const sha256 = (...parts: Bytes[]): Bytes => createHash('sha256').update(Buffer.concat(parts)).digest();
const hex = (b: Bytes): string => b.toString('hex');

// ---- RFC 9162 section 2.1 over the entry list D ----

/** k: the largest power of two smaller than n. */
function largestPowerOfTwoBelow(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

const mthCache = new Map<string, Bytes>();
function MTH(D: Bytes[], lo: number, hi: number): Bytes {
  const key = `${lo}:${hi}`;
  const hit = mthCache.get(key);
  if (hit) return hit;
  let out: Bytes;
  const n = hi - lo;
  if (n === 0) out = sha256();
  else if (n === 1) out = sha256(Buffer.from([0x00]), D[lo]!);
  else {
    const k = largestPowerOfTwoBelow(n);
    out = sha256(Buffer.from([0x01]), MTH(D, lo, lo + k), MTH(D, lo + k, hi));
  }
  mthCache.set(key, out);
  return out;
}

/** PATH(m, D[lo:hi]) */
function PATH(D: Bytes[], m: number, lo: number, hi: number): Bytes[] {
  const n = hi - lo;
  if (n === 1) return [];
  const k = largestPowerOfTwoBelow(n);
  if (m < k) return [...PATH(D, m, lo, lo + k), MTH(D, lo + k, hi)];
  return [...PATH(D, m - k, lo + k, hi), MTH(D, lo, lo + k)];
}

/** SUBPROOF(m, D[lo:hi], b) */
function SUBPROOF(D: Bytes[], m: number, lo: number, hi: number, b: boolean): Bytes[] {
  const n = hi - lo;
  if (m === n) return b ? [] : [MTH(D, lo, hi)];
  const k = largestPowerOfTwoBelow(n);
  if (m <= k) return [...SUBPROOF(D, m, lo, lo + k, b), MTH(D, lo + k, hi)];
  return [...SUBPROOF(D, m - k, lo + k, hi, false), MTH(D, lo, lo + k)];
}

/** PROOF(m, D_n); for m == n the proof is empty (nothing to prove beyond equal roots). */
function PROOF(D: Bytes[], m: number, n: number): Bytes[] {
  return m === n ? [] : SUBPROOF(D, m, 0, n, true);
}

const RFC6962_LEAVES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'];
const LEAVES: Bytes[] = Array.from({ length: 1000 }, (_, i) =>
  i < RFC6962_LEAVES.length ? Buffer.from(RFC6962_LEAVES[i]!, 'hex') : Buffer.from(`sealvault tlog leaf ${i}`, 'utf8'),
);

const BIG = 1000;
const treeSizes = [...Array.from({ length: 18 }, (_, i) => i), 500, 512, 999, BIG];
const inclusion: { index: number; size: number }[] = [];
const consistency: { first: number; second: number }[] = [];
for (let n = 1; n <= 17; n++) for (let i = 0; i < n; i++) inclusion.push({ index: i, size: n });
for (const i of [0, 1, 7, 8, 499, 511, 512, 767, 998, 999]) inclusion.push({ index: i, size: BIG });
for (let n = 1; n <= 17; n++) for (let m = 1; m <= n; m++) consistency.push({ first: m, second: n });
for (const [m, n] of [[1, BIG], [7, BIG], [8, BIG], [17, BIG], [500, BIG], [512, BIG], [999, BIG], [BIG, BIG], [500, 999]] as const) {
  consistency.push({ first: m, second: n });
}

const merkle = {
  leaves_hex: LEAVES.map(hex),
  trees: treeSizes.map((size) => ({ size, root_hex: hex(MTH(LEAVES, 0, size)) })),
  inclusion: inclusion.map(({ index, size }) => ({ index, size, path_hex: PATH(LEAVES, index, 0, size).map(hex) })),
  consistency: consistency.map(({ first, second }) => ({ first, second, path_hex: PROOF(LEAVES, first, second).map(hex) })),
};

// ---- Signed notes, checkpoints, cosignatures (c2sp.org/signed-note, tlog-checkpoint, tlog-cosignature) ----

interface Key {
  priv: KeyObject;
  pub: Bytes;
}

function keyFromLabel(label: string): Key {
  const seed = sha256(Buffer.from(label, 'utf8'));
  // PKCS#8 wrapping of a raw Ed25519 seed (RFC 8410): fixed 16-byte prefix, then the 32 bytes.
  const priv = createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]), format: 'der', type: 'pkcs8' });
  const jwk = createPublicKey(priv).export({ format: 'jwk' });
  return { priv, pub: Buffer.from(jwk.x!, 'base64url') };
}

const ORIGIN = 'sealvault.local/audit';
const WITNESS = 'witness.sealvault.local/auditor';
const TIME = 1767225600;
const logKey = keyFromLabel('sealvault/vectors/tlog: log key');
const unknownKey = keyFromLabel('sealvault/vectors/tlog: unknown key');
const witnessKey = keyFromLabel('sealvault/vectors/tlog: witness key');

const keyId = (name: string, type: number, pub: Bytes): Bytes => sha256(Buffer.from(name, 'utf8'), Buffer.from([0x0a, type]), pub).subarray(0, 4);
const line = (name: string, sigBytes: Bytes): string => `\u2014 ${name} ${sigBytes.toString('base64')}\n`;

function logSignature(text: string, name = ORIGIN, key = logKey): string {
  const sig = sign(null, Buffer.from(text, 'utf8'), key.priv);
  return line(name, Buffer.concat([keyId(name, 0x01, key.pub), sig]));
}

function cosignatureBytes(text: string, time: number): Bytes {
  const msg = Buffer.from(`cosignature/v1\ntime ${time}\n${text}`, 'utf8');
  const ts = Buffer.alloc(8);
  ts.writeBigUInt64BE(BigInt(time));
  return Buffer.concat([keyId(WITNESS, 0x04, witnessKey.pub), ts, sign(null, msg, witnessKey.priv)]);
}

const body = (origin: string, size: number | string, root: string, ...ext: string[]): string =>
  [origin, String(size), root, ...ext].map((l) => `${l}\n`).join('');
const rootB64 = (size: number): string => MTH(LEAVES, 0, size).toString('base64');
const rootHex = (size: number): string => hex(MTH(LEAVES, 0, size));
const signed = (text: string): string => `${text}\n${logSignature(text)}`;

interface Entry {
  description: string;
  origin: string;
  size: number;
  root_hex: string;
  key_name: string;
  public_key_hex: string;
  note: string;
  expect: string;
  witness_name?: string;
  witness_public_key_hex?: string;
  cosignature_timestamp?: number;
  cosignature_expect?: string;
}

const entries: Entry[] = [];
function add(description: string, size: number, note: string, expect: string, extra: Partial<Entry> = {}): void {
  entries.push({ description, origin: ORIGIN, size, root_hex: rootHex(size), key_name: ORIGIN, public_key_hex: hex(logKey.pub), note, expect, ...extra });
}
const witnessFields = (cosignature_expect: string): Partial<Entry> => ({
  witness_name: WITNESS,
  witness_public_key_hex: hex(witnessKey.pub),
  cosignature_timestamp: TIME,
  cosignature_expect,
});

const text8 = body(ORIGIN, 8, rootB64(8));
const note8 = signed(text8);
const text17 = body(ORIGIN, 17, rootB64(17));

// Valid checkpoints.
add('size 8 (the RFC 6962 test tree)', 8, note8, 'ok');
add('size 17', 17, signed(text17), 'ok');
add('size 1000', BIG, signed(body(ORIGIN, BIG, rootB64(BIG))), 'ok');
add('size 0, the empty tree', 0, signed(body(ORIGIN, 0, rootB64(0))), 'ok');
add('an unknown key signature before the log signature is ignored', 8,
  `${text8}\n${logSignature(text8, 'sealvault.local/other-key', unknownKey)}${logSignature(text8)}`, 'ok');

// Cosigned checkpoints.
const cosig8 = cosignatureBytes(text8, TIME);
add('cosigned by the witness', 8, note8 + line(WITNESS, cosig8), 'ok', witnessFields('ok'));
const bumped = Buffer.from(cosig8);
bumped.writeBigUInt64BE(BigInt(TIME + 1), 4);
add('cosignature timestamp changed', 8, note8 + line(WITNESS, bumped), 'ok', witnessFields('E_SIGNATURE'));
add('cosignature made over another checkpoint (size 17)', 8, note8 + line(WITNESS, cosignatureBytes(text17, TIME)), 'ok', witnessFields('E_SIGNATURE'));
add('no cosignature from the witness', 8, note8, 'ok', witnessFields('E_SIGNATURE'));

// Tampered or malformed notes.
const sig8 = note8.slice(text8.length + 1);
const sig8Bytes = Buffer.from(sig8.slice(sig8.lastIndexOf(' ') + 1, -1), 'base64');
const withSigBytes = (b: Bytes): string => `${text8}\n${line(ORIGIN, b)}`;
add('size line changed after signing', 8, `${body(ORIGIN, 9, rootB64(8))}\n${sig8}`, 'E_SIGNATURE');
add('root line changed after signing', 8, `${body(ORIGIN, 8, rootB64(7))}\n${sig8}`, 'E_SIGNATURE');
add('origin line changed after signing', 8, `${body('sealvault.local/audi7', 8, rootB64(8))}\n${sig8}`, 'E_SIGNATURE');
add('validly signed by the log key, for another origin', 8, signed(body('sealvault.local/other', 8, rootB64(8))), 'E_CONTEXT');
add('signed only by an unknown key under the log name', 8, `${text8}\n${logSignature(text8, ORIGIN, unknownKey)}`, 'E_SIGNATURE');
add('signature base64 without its padding', 8, note8.replace(/=\n$/, '\n'), 'E_FORMAT');
add('signature base64 with a character outside the alphabet', 8, note8.replace(/.\n$/, '!\n'), 'E_FORMAT');
add('missing final newline', 8, note8.slice(0, -1), 'E_FORMAT');
add('extra blank line between text and signatures', 8, `${text8}\n\n${sig8}`, 'E_SIGNATURE');
add('extra blank line after the signatures', 8, `${note8}\n`, 'E_FORMAT');
add('truncated signature (60 of 64 bytes)', 8, withSigBytes(sig8Bytes.subarray(0, 4 + 60)), 'E_SIGNATURE');
const flipped = Buffer.from(sig8Bytes);
flipped[10]! ^= 0x01;
add('one bit of the signature flipped', 8, withSigBytes(flipped), 'E_SIGNATURE');
add('signature line shorter than a key ID', 8, withSigBytes(sig8Bytes.subarray(0, 4)), 'E_FORMAT');
add('"--" instead of an em dash', 8, note8.replace('\u2014 ', '-- '), 'E_FORMAT');
add('key name with a plus sign', 8, `${text8}\n${logSignature(text8, 'sealvault.local/audit+1')}`, 'E_FORMAT');
add('tab character in the origin line', 8, `${body(`${ORIGIN}\t`, 8, rootB64(8))}\n${sig8}`, 'E_FORMAT');
add('CRLF line endings', 8, note8.replace(/\n/g, '\r\n'), 'E_FORMAT');
add('101 signature lines', 8, note8 + logSignature(text8, 'sealvault.local/other-key', unknownKey).repeat(100), 'E_LIMIT');
add('validly signed, size with a leading zero', 8, signed(body(ORIGIN, '08', rootB64(8))), 'E_FORMAT');
add('validly signed, size 2^53', 8, signed(body(ORIGIN, '9007199254740992', rootB64(8))), 'E_LIMIT');
add('validly signed, 31-byte root', 8, signed(body(ORIGIN, 8, MTH(LEAVES, 0, 8).subarray(0, 31).toString('base64'))), 'E_FORMAT');
add('validly signed, root in unpadded base64', 8, signed(body(ORIGIN, 8, rootB64(8).replace(/=$/, ''))), 'E_FORMAT');
add('validly signed, an extension line', 8, signed(body(ORIGIN, 8, rootB64(8), 'extension')), 'E_FORMAT');
add('validly signed, no root line', 8, signed(`${ORIGIN}\n8\n`), 'E_FORMAT');
add('validly signed, size 0 with a non-empty-tree root', 0, signed(body(ORIGIN, 0, rootB64(1))), 'E_PROOF');

const dir = new URL('./', import.meta.url);
writeFileSync(new URL('merkle.json', dir), `${JSON.stringify(merkle, null, 2)}\n`);
writeFileSync(new URL('checkpoint.json', dir), `${JSON.stringify(entries, null, 2)}\n`);
console.log(`wrote ${merkle.inclusion.length} inclusion and ${merkle.consistency.length} consistency proofs, ${entries.length} checkpoint notes`);
