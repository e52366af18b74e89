/**
 * Bare WebCrypto AES-256-GCM baselines and the small helpers they share. Web-platform globals
 * only: imported by the suite (Node and page) and by the Web Worker, which must not pull in the
 * project code or hash-wasm.
 */
export const MiB = 1024 * 1024;
/** Plaintext is fed to the encrypt stream in pieces of this size. */
export const PIECE_SIZE = MiB;
/** The chunk size of the format, and the unit of the raw baselines. */
export const UNIT_SIZE = 16 * 1024;
/** getRandomValues refuses more than 64 KiB per call. */
const RANDOM_STEP = 65536;

/** One timed run: wall-clock milliseconds and plaintext bytes processed. */
export interface Timing {
  ms: number;
  bytes: number;
}

export const mbps = (t: Timing): number => t.bytes / 1e6 / (t.ms / 1000);

/** `total` bytes of random plaintext as separate 1 MiB pieces (each owns its ArrayBuffer, so it can be transferred). */
export function makePlaintext(total: number): Uint8Array<ArrayBuffer>[] {
  const pieces: Uint8Array<ArrayBuffer>[] = [];
  for (let off = 0; off < total; off += PIECE_SIZE) {
    const piece = new Uint8Array(Math.min(PIECE_SIZE, total - off));
    for (let o = 0; o < piece.length; o += RANDOM_STEP) crypto.getRandomValues(piece.subarray(o, o + RANDOM_STEP));
    pieces.push(piece);
  }
  return pieces;
}

/** 16 KiB views over the plaintext pieces: the units the raw baselines encrypt. */
export function chunkViews(pieces: readonly Uint8Array[], size = UNIT_SIZE): Uint8Array[] {
  const views: Uint8Array[] = [];
  for (const p of pieces) for (let o = 0; o < p.length; o += size) views.push(p.subarray(o, Math.min(o + size, p.length)));
  return views;
}

function nonce(counter: number): Uint8Array<ArrayBuffer> {
  const iv = new Uint8Array(12);
  new DataView(iv.buffer).setUint32(8, counter); // unique per call under one key, as GCM needs
  return iv;
}

/** The baseline: bare AES-256-GCM encrypt calls, one awaited after another. */
export async function rawSequential(key: CryptoKey, units: readonly Uint8Array[], nonceBase = 0): Promise<Timing> {
  let bytes = 0;
  const t0 = performance.now();
  for (let i = 0; i < units.length; i++) {
    const u = units[i]!;
    await crypto.subtle.encrypt({ name: 'AES-GCM', iv: nonce(nonceBase + i) }, key, u as BufferSource);
    bytes += u.length;
  }
  return { ms: performance.now() - t0, bytes };
}

/** The same calls with `width` of them in flight at once (no ordering, results dropped). */
export async function rawConcurrent(key: CryptoKey, units: readonly Uint8Array[], width: number): Promise<Timing> {
  let next = 0;
  let bytes = 0;
  const lane = async () => {
    while (next < units.length) {
      const i = next++;
      const u = units[i]!;
      await crypto.subtle.encrypt({ name: 'AES-GCM', iv: nonce(i) }, key, u as BufferSource);
      bytes += u.length;
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: width }, lane));
  return { ms: performance.now() - t0, bytes };
}

export function importRawAesKey(raw: Uint8Array): Promise<CryptoKey> {
  return crypto.subtle.importKey('raw', new Uint8Array(raw), 'AES-GCM', false, ['encrypt', 'decrypt']);
}
