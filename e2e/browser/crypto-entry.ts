/**
 * Runs the crypto core's published vectors inside Chromium: the same modules the SPA ships,
 * checked against the same JSON the Node tests use, so "runs in browsers" is tested, not assumed.
 */
import chunkedVectors from '../../shared/vectors/chunked-encryption.json';
import kekVectors from '../../shared/vectors/kek.json';
import { dangerouslyDeriveKekBytes, deriveEscrowAuthKey } from '../../shared/crypto/account-keys';
import { derivePasswordHalf } from '../../shared/crypto/argon2';
import { createDecryptStream, createEncryptStream, decryptMessage, encryptMessage } from '../../shared/crypto/chunked';
import { fromHex, toHex } from '../../shared/crypto/encoding';
import { isCryptoError } from '../../shared/crypto/errors';

async function sha256hex(b: Uint8Array): Promise<string> {
  return toHex(new Uint8Array(await crypto.subtle.digest('SHA-256', b as BufferSource)));
}
const message = (n: number) => Uint8Array.from({ length: n }, (_, i) => i % 251);

/** Reads a stream by hand: Response(stream) would replace the stream's own error with a TypeError. */
async function collect(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
  }
  return new Uint8Array(await new Blob(parts as BlobPart[]).arrayBuffer());
}

async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return isCryptoError(e) ? e.code : `unexpected: ${String(e)}`;
  }
}

export async function runChunkedVectors(): Promise<{ name: string; expect: string; got: string }[]> {
  const results = [];
  for (const v of chunkedVectors) {
    const key = fromHex(v.key_hex);
    const context = fromHex(v.context_hex);
    let got: string;
    if (v.expect === 'ok') {
      const pt = message(v.plaintext_length);
      const ct = await encryptMessage(key, pt, { context, testOnlySalt: fromHex(v.salt_hex) });
      const enc = await createEncryptStream(key, { context, testOnlySalt: fromHex(v.salt_hex) });
      const streamed = await collect(new Blob([pt as BlobPart]).stream().pipeThrough(enc.stream));
      const back = await collect(new Blob([ct as BlobPart]).stream().pipeThrough(createDecryptStream(key, { context })));
      const whole = await decryptMessage(key, ct, { context });
      const ok =
        (await sha256hex(ct)) === v.ciphertext_sha256_hex &&
        (await sha256hex(streamed)) === v.ciphertext_sha256_hex &&
        (await sha256hex(back)) === (await sha256hex(pt)) &&
        (await sha256hex(whole)) === (await sha256hex(pt));
      got = ok ? 'ok' : 'mismatch';
    } else {
      const ct = fromHex(v.ciphertext_hex!);
      const a = await outcome(decryptMessage(key, ct, { context }));
      const b = await outcome(collect(new Blob([ct as BlobPart]).stream().pipeThrough(createDecryptStream(key, { context }))));
      got = a === b ? a : `${a} (whole) vs ${b} (stream)`;
    }
    results.push({ name: v.name, expect: v.expect, got });
  }
  return results;
}

export async function runKekVectors(): Promise<{ name: string; ok: boolean }[]> {
  const results = [];
  for (const v of kekVectors) {
    const p = await derivePasswordHalf(v.password, fromHex(v.salt_hex), { m: v.m_kib, t: v.t, p: v.p });
    const kek = await dangerouslyDeriveKekBytes(p, fromHex(v.escrow_share_hex), v.account_id);
    results.push({ name: v.name, ok: toHex(p) === v.password_half_hex && toHex(kek) === v.kek_hex });
  }
  // Ed25519 from a PKCS#8 seed must work in this browser too.
  const auth = await deriveEscrowAuthKey(fromHex(kekVectors[0]!.password_half_hex));
  results.push({ name: 'escrow-auth Ed25519 import', ok: auth.publicKey.length === 32 && !auth.privateKey.extractable });
  return results;
}

(globalThis as unknown as { sealvaultVectors: unknown }).sealvaultVectors = { runChunkedVectors, runKekVectors };
