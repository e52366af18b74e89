import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fromHex, toBase64, toHex } from '../crypto/encoding';
import { isCryptoError, type ErrorCode } from '../crypto/errors';
import { formatCheckpoint, openCheckpoint, parseCheckpoint, signCheckpoint, verifyCheckpointConsistency, type Checkpoint } from './checkpoint';
import { cosignCheckpoint, cosignatureVerifier, verifyCosignature } from './cosignature';
import { consistencyProof, leafHash, treeHash } from './merkle';
import { ed25519Verifier } from './note';

interface CheckpointVector {
  description: string;
  origin: string;
  size: number;
  root_hex: string;
  key_name: string;
  public_key_hex: string;
  note: string;
  expect: 'ok' | ErrorCode;
  witness_name?: string;
  witness_public_key_hex?: string;
  cosignature_timestamp?: number;
  cosignature_expect?: 'ok' | ErrorCode;
}
const VECTORS: CheckpointVector[] = JSON.parse(readFileSync(new URL('../vectors/checkpoint.json', import.meta.url), 'utf8'));
const MERKLE: { leaves_hex: string[]; trees: { size: number; root_hex: string }[] } = JSON.parse(
  readFileSync(new URL('../vectors/merkle.json', import.meta.url), 'utf8'),
);

async function rejects(p: Promise<unknown>, code: ErrorCode, message?: RegExp): Promise<void> {
  const e = await p.then(
    () => expect.fail(`expected ${code}, but it resolved`),
    (err: unknown) => err,
  );
  expect(isCryptoError(e, code), `expected ${code}, got ${String(e)}`).toBe(true);
  if (message) expect((e as Error).message).toMatch(message);
}
function throws(f: () => unknown, code: ErrorCode): void {
  let e: unknown;
  try {
    f();
  } catch (err) {
    e = err;
  }
  expect(isCryptoError(e, code), `expected ${code}, got ${String(e)}`).toBe(true);
}

/** The generator's documented key derivation: Ed25519 seed = SHA-256(label). */
async function keyFromLabel(label: string): Promise<{ privateKey: CryptoKey; publicKey: CryptoKey; raw: Uint8Array }> {
  const seed = createHash('sha256').update(label, 'utf8').digest();
  const pkcs8 = new Uint8Array([...Buffer.from('302e020100300506032b657004220420', 'hex'), ...seed]);
  const privateKey = await crypto.subtle.importKey('pkcs8', pkcs8, { name: 'Ed25519' }, true, ['sign']);
  const jwk = await crypto.subtle.exportKey('jwk', privateKey);
  const publicKey = await crypto.subtle.importKey('jwk', { kty: 'OKP', crv: 'Ed25519', x: jwk.x! }, { name: 'Ed25519' }, true, ['verify']);
  return { privateKey, publicKey, raw: new Uint8Array(await crypto.subtle.exportKey('raw', publicKey)) };
}

const ORIGIN = 'sealvault.local/audit';
const logKey = await keyFromLabel('sealvault/vectors/tlog: log key');
const witnessKey = await keyFromLabel('sealvault/vectors/tlog: witness key');
const logVerifier = await ed25519Verifier(ORIGIN, logKey.raw);
const open = (note: string) => openCheckpoint(note, { origin: ORIGIN, verifiers: [logVerifier] });
const LEAF_HASHES = await Promise.all(MERKLE.leaves_hex.map((h) => leafHash(fromHex(h))));

describe('checkpoint.json vectors', () => {
  it('has valid, tampered and cosigned entries', () => {
    expect(VECTORS.filter((v) => v.expect === 'ok').length).toBeGreaterThanOrEqual(5);
    expect(new Set(VECTORS.map((v) => v.expect))).toEqual(new Set(['ok', 'E_SIGNATURE', 'E_FORMAT', 'E_CONTEXT', 'E_LIMIT', 'E_PROOF']));
    expect(VECTORS.some((v) => v.cosignature_expect === 'ok')).toBe(true);
  });

  for (const v of VECTORS) {
    it(`${v.description}: ${v.expect}`, async () => {
      const verifier = await ed25519Verifier(v.key_name, fromHex(v.public_key_hex));
      const opening = openCheckpoint(v.note, { origin: v.origin, verifiers: [verifier] });
      if (v.expect === 'ok') {
        const cp = await opening;
        expect(cp.origin).toBe(v.origin);
        expect(cp.size).toBe(v.size);
        expect(toHex(cp.root)).toBe(v.root_hex);
      } else {
        await rejects(opening, v.expect);
      }
      if (v.witness_name !== undefined) {
        const verifying = verifyCosignature(v.note, { name: v.witness_name, publicKey: fromHex(v.witness_public_key_hex!) });
        if (v.cosignature_expect === 'ok') {
          const { checkpoint, timestamp } = await verifying;
          expect(timestamp).toBe(v.cosignature_timestamp);
          expect(toHex(checkpoint.root)).toBe(v.root_hex);
        } else {
          await rejects(verifying, v.cosignature_expect!);
        }
      }
    });
  }

  it('the documented seeds give the vector keys, and our signer reproduces the notes byte for byte', async () => {
    expect(toHex(logKey.raw)).toBe(VECTORS[0]!.public_key_hex);
    const cosigned = VECTORS.find((v) => v.cosignature_expect === 'ok')!;
    expect(toHex(witnessKey.raw)).toBe(cosigned.witness_public_key_hex);
    for (const size of [0, 8, 17, 1000]) {
      const v = VECTORS.find((x) => x.expect === 'ok' && x.size === size && x.witness_name === undefined)!;
      expect(v.root_hex).toBe(MERKLE.trees.find((t) => t.size === size)!.root_hex);
      const ours = await signCheckpoint(logKey, ORIGIN, { origin: ORIGIN, size, root: fromHex(v.root_hex) });
      expect(ours).toBe(v.note);
    }
    const logSigned = await signCheckpoint(logKey, ORIGIN, { origin: ORIGIN, size: 8, root: fromHex(cosigned.root_hex) });
    expect(await cosignCheckpoint(witnessKey, cosigned.witness_name!, logSigned, cosigned.cosignature_timestamp!)).toBe(cosigned.note);
  });
});

describe('checkpoint text', () => {
  const root = fromHex(MERKLE.trees.find((t) => t.size === 8)!.root_hex);
  const text = `${ORIGIN}\n8\n${toBase64(root)}\n`;

  it('format and parse round trip', () => {
    expect(formatCheckpoint({ origin: ORIGIN, size: 8, root })).toBe(text);
    const cp = parseCheckpoint(text);
    expect([cp.origin, cp.size, toHex(cp.root), cp.extensions]).toEqual([ORIGIN, 8, toHex(root), []]);
    const ext = parseCheckpoint(`${text}ext one\n`);
    expect(ext.extensions).toEqual(['ext one']);
    expect(formatCheckpoint(ext)).toBe(`${text}ext one\n`);
  });

  it('the largest safe size parses; 2^53 is refused with E_LIMIT', () => {
    expect(parseCheckpoint(text.replace('\n8\n', '\n9007199254740991\n')).size).toBe(Number.MAX_SAFE_INTEGER);
    throws(() => parseCheckpoint(text.replace('\n8\n', '\n9007199254740992\n')), 'E_LIMIT');
    throws(() => parseCheckpoint(text.replace('\n8\n', `\n${'9'.repeat(400)}\n`)), 'E_LIMIT');
    throws(() => formatCheckpoint({ origin: ORIGIN, size: 2 ** 53, root }), 'E_LIMIT');
  });

  it('refuses everything the spec forbids', () => {
    for (const bad of [
      text.slice(0, -1), // no final newline
      text.replace('\n8\n', '\n08\n'), // leading zero
      text.replace('\n8\n', '\n+8\n'),
      text.replace('\n8\n', '\n-8\n'),
      text.replace('\n8\n', '\n 8\n'),
      text.replace('\n8\n', '\n8 \n'),
      text.replace('\n8\n', '\n0x8\n'),
      text.replace('\n8\n', '\n\n'), // empty size line
      `\n8\n${toBase64(root)}\n`, // empty origin
      `${ORIGIN}\n8\n`, // two lines
      `${text}\n`, // empty extension line
      text.replace(toBase64(root), toBase64(root).slice(0, -1)), // unpadded
      text.replace(toBase64(root), toBase64(root.subarray(0, 31))), // 31 bytes
      text.replace(toBase64(root), toBase64(new Uint8Array(33))), // 33 bytes
      text.replace(toBase64(root), toHex(root)), // hex, not base64
      text.replace('\n8\n', '\r\n8\r\n'), // CR
    ]) {
      throws(() => parseCheckpoint(bad), 'E_FORMAT');
    }
  });

  it('a size-0 checkpoint must carry the empty-tree root', () => {
    throws(() => parseCheckpoint(`${ORIGIN}\n0\n${toBase64(root)}\n`), 'E_PROOF');
    throws(() => formatCheckpoint({ origin: ORIGIN, size: 0, root }), 'E_PROOF');
  });
});

describe('signed checkpoints', () => {
  it('sign and open round trip; another expected origin is E_CONTEXT', async () => {
    const cp: Checkpoint = { origin: ORIGIN, size: 17, root: await treeHash(LEAF_HASHES, 17) };
    const note = await signCheckpoint(logKey, ORIGIN, cp);
    const opened = await open(note);
    expect([opened.origin, opened.size, toHex(opened.root)]).toEqual([cp.origin, cp.size, toHex(cp.root)]);
    await rejects(openCheckpoint(note, { origin: 'sealvault.local/other', verifiers: [logVerifier] }), 'E_CONTEXT');
  });

  it('Sealvault v1 neither signs nor opens extension lines', async () => {
    const root = await treeHash(LEAF_HASHES, 3);
    await rejects(signCheckpoint(logKey, ORIGIN, { origin: ORIGIN, size: 3, root, extensions: ['x'] }), 'E_FORMAT');
  });

  it('a cosigner key cannot stand in for the log key', async () => {
    const witness = await cosignatureVerifier('witness.sealvault.local/auditor', witnessKey.raw);
    await expect(openCheckpoint(VECTORS[0]!.note, { origin: ORIGIN, verifiers: [witness] })).rejects.toThrow(TypeError);
  });
});

describe('consistency between checkpoints', () => {
  const at = async (size: number, leaves = LEAF_HASHES): Promise<Checkpoint> => ({ origin: ORIGIN, size, root: await treeHash(leaves, size) });

  it('an extension verifies', async () => {
    await verifyCheckpointConsistency(await at(8), await at(17), await consistencyProof(LEAF_HASHES, 8, 17));
    await verifyCheckpointConsistency(await at(17), await at(17), []);
  });

  it('a fork at the same size is E_PROOF', async () => {
    const forked = LEAF_HASHES.slice(0, 17);
    forked[16] = await leafHash(new TextEncoder().encode('another last entry'));
    await rejects(verifyCheckpointConsistency(await at(17), await at(17, forked), []), 'E_PROOF', /fork/);
  });

  it('a consistency proof to a tree that rewrote history is E_PROOF', async () => {
    const rewritten = LEAF_HASHES.slice(0, 17);
    rewritten[3] = await leafHash(new TextEncoder().encode('rewritten'));
    const honestProof = await consistencyProof(LEAF_HASHES, 8, 17);
    const forkProof = await consistencyProof(rewritten, 8, 17);
    await rejects(verifyCheckpointConsistency(await at(8), await at(17, rewritten), honestProof), 'E_PROOF');
    await rejects(verifyCheckpointConsistency(await at(8), await at(17, rewritten), forkProof), 'E_PROOF');
  });

  it('a smaller newer checkpoint is E_ROLLBACK; another log is E_CONTEXT', async () => {
    await rejects(verifyCheckpointConsistency(await at(17), await at(8), []), 'E_ROLLBACK');
    await rejects(verifyCheckpointConsistency(await at(8), { ...(await at(17)), origin: 'other.example/log' }, []), 'E_CONTEXT');
  });
});
