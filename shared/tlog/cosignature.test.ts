import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { fromBase64, toHex } from '../crypto/encoding';
import { isCryptoError, type ErrorCode } from '../crypto/errors';
import { openCheckpoint, signCheckpoint } from './checkpoint';
import { cosignCheckpoint, cosignatureSigner, cosignedMessage, verifyCosignature } from './cosignature';
import { treeHash, leafHash } from './merkle';
import { addSignatures, ed25519Signer, ed25519Verifier, signNote, splitNote } from './note';

async function rejects(p: Promise<unknown>, code: ErrorCode, message?: RegExp): Promise<void> {
  const e = await p.then(
    () => expect.fail(`expected ${code}, but it resolved`),
    (err: unknown) => err,
  );
  expect(isCryptoError(e, code), `expected ${code}, got ${String(e)}`).toBe(true);
  if (message) expect((e as Error).message).toMatch(message);
}
async function newKey(): Promise<{ privateKey: CryptoKey; publicKey: CryptoKey; raw: Uint8Array }> {
  const k = (await crypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify'])) as CryptoKeyPair;
  return { ...k, raw: new Uint8Array(await crypto.subtle.exportKey('raw', k.publicKey)) };
}

const ORIGIN = 'sealvault.local/audit';
const WITNESS = 'witness.sealvault.local/auditor';
const T = 1767225600;
const log = await newKey();
const witness = await newKey();
const leaves = await Promise.all(Array.from({ length: 20 }, (_, i) => leafHash(new TextEncoder().encode(`entry ${i}`))));
const checkpointNote = async (size: number) => signCheckpoint(log, ORIGIN, { origin: ORIGIN, size, root: await treeHash(leaves, size) });
const cosigner = { name: WITNESS, publicKey: witness.raw };

describe('cosignature (type 0x04)', () => {
  it('round trip: the cosigned note still opens with the log key, and the cosignature verifies', async () => {
    const note = await checkpointNote(12);
    const cosigned = await cosignCheckpoint(witness, WITNESS, note, T);
    expect(cosigned.startsWith(note)).toBe(true);
    expect((await openCheckpoint(cosigned, { origin: ORIGIN, verifiers: [await ed25519Verifier(ORIGIN, log.raw)] })).size).toBe(12);
    const { checkpoint, timestamp } = await verifyCosignature(cosigned, cosigner);
    expect(timestamp).toBe(T);
    expect(checkpoint.size).toBe(12);
  });

  it('the line is key ID || big-endian timestamp || signature over the spec message (checked with node:crypto)', async () => {
    const note = await checkpointNote(5);
    const cosigned = await cosignCheckpoint(witness, WITNESS, note, T);
    const { text, signatures } = splitNote(cosigned);
    const line = cosigned.trimEnd().split('\n').at(-1)!;
    const bytes = fromBase64(line.slice(line.lastIndexOf(' ') + 1));
    expect(bytes.length).toBe(4 + 8 + 64);
    expect(new DataView(bytes.buffer).getBigUint64(4)).toBe(BigInt(T));
    expect(toHex(cosignedMessage(text, T))).toBe(toHex(new TextEncoder().encode(`cosignature/v1\ntime ${T}\n${text}`)));
    const pub = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(witness.raw).toString('base64url') }, format: 'jwk' });
    const message = Buffer.from(`cosignature/v1\ntime ${T}\n${text}`, 'utf8');
    expect(nodeVerify(null, message, pub, bytes.subarray(12))).toBe(true);
    expect(signatures.at(-1)!.name).toBe(WITNESS);
  });

  it('a cosignature over a different checkpoint is refused', async () => {
    const a = await cosignCheckpoint(witness, WITNESS, await checkpointNote(12), T);
    const b = await checkpointNote(13);
    const cosigLine = a.slice(a.lastIndexOf('\u2014'));
    await rejects(verifyCosignature(b + cosigLine, cosigner), 'E_SIGNATURE', /does not verify/);
  });

  it('a changed timestamp is refused', async () => {
    const cosigned = await cosignCheckpoint(witness, WITNESS, await checkpointNote(12), T);
    const at = cosigned.lastIndexOf(' ') + 1;
    const bytes = fromBase64(cosigned.slice(at, -1));
    new DataView(bytes.buffer).setBigUint64(4, BigInt(T - 1));
    const tampered = cosigned.slice(0, at) + Buffer.from(bytes).toString('base64') + '\n';
    await rejects(verifyCosignature(tampered, cosigner), 'E_SIGNATURE');
  });

  it('a missing cosignature, or another witness, is refused', async () => {
    await rejects(verifyCosignature(await checkpointNote(12), cosigner), 'E_SIGNATURE', /no signature from a known key/);
    const other = await newKey();
    const cosigned = await cosignCheckpoint(other, WITNESS, await checkpointNote(12), T);
    await rejects(verifyCosignature(cosigned, cosigner), 'E_SIGNATURE');
  });

  it('a plain Ed25519 signature by the witness key is not a cosignature (different key ID)', async () => {
    const note = await addSignatures(await checkpointNote(12), [await ed25519Signer(WITNESS, witness)]);
    await rejects(verifyCosignature(note, cosigner), 'E_SIGNATURE');
  });

  it('a cosignature alone does not open a checkpoint', async () => {
    const s = await cosignatureSigner(WITNESS, witness, T);
    const onlyCosigned = await signNote(`${ORIGIN}\n1\n${Buffer.from(leaves[0]!).toString('base64')}\n`, [s]);
    await verifyCosignature(onlyCosigned, cosigner);
    await rejects(openCheckpoint(onlyCosigned, { origin: ORIGIN, verifiers: [await ed25519Verifier(ORIGIN, log.raw)] }), 'E_SIGNATURE');
  });

  it('refuses to cosign text that is not a checkpoint, and out-of-range timestamps', async () => {
    const s = await cosignatureSigner(WITNESS, witness, T);
    await rejects(signNote('just a note\n', [s]), 'E_FORMAT');
    await rejects(cosignatureSigner(WITNESS, witness, 1n << 63n), 'E_LIMIT');
    await rejects(cosignatureSigner(WITNESS, witness, -1), 'E_LIMIT');
    // 2^63 - 1 is the largest timestamp the spec allows; it signs, and verifies, but does not fit a number.
    const far = await cosignCheckpoint(witness, WITNESS, await checkpointNote(3), (1n << 63n) - 1n);
    await rejects(verifyCosignature(far, cosigner), 'E_LIMIT');
  });
});
