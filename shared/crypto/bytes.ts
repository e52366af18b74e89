/** Named input checks and small byte helpers used at every public boundary of the core. */
import { fail } from './errors';

/** Checks that `value` is a Uint8Array, optionally of one of the given lengths. */
export function abytes(name: string, value: unknown, ...lengths: number[]): Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new TypeError(`${name} must be a Uint8Array, got ${value === null ? 'null' : typeof value}`);
  }
  if (lengths.length > 0 && !lengths.includes(value.length)) {
    throw new RangeError(`${name} must be ${lengths.join(' or ')} bytes, got ${value.length}`);
  }
  return value;
}

/** Checks a non-negative safe integer, optionally bounded. */
export function anumber(name: string, value: unknown, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw new TypeError(`${name} must be a safe integer, got ${String(value)}`);
  }
  if (value < min || value > max) throw new RangeError(`${name} must be in [${min}, ${max}], got ${value}`);
  return value;
}

export function astring(name: string, value: unknown, maxLength = 4096): string {
  if (typeof value !== 'string') throw new TypeError(`${name} must be a string, got ${typeof value}`);
  if (value.length === 0 || value.length > maxLength) {
    throw new RangeError(`${name} must be 1 to ${maxLength} characters, got ${value.length}`);
  }
  return value;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** Constant-time comparison of two byte arrays (length leaks, contents do not). */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function utf8(text: string): Uint8Array<ArrayBuffer> {
  return encoder.encode(text);
}

/** Decodes UTF-8, refusing invalid sequences instead of substituting U+FFFD. */
export function fromUtf8(bytes: Uint8Array): string {
  try {
    return strictDecoder.decode(bytes);
  } catch (e) {
    return fail('E_FORMAT', 'invalid UTF-8', e);
  }
}

/** A copy that owns a fresh ArrayBuffer, as WebCrypto's BufferSource typing wants. */
export function own(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(bytes);
}

export function randomBytes(length: number): Uint8Array<ArrayBuffer> {
  anumber('length', length, 1, 65536);
  return crypto.getRandomValues(new Uint8Array(length));
}

/** 64-bit big-endian unsigned integer; refuses values JavaScript numbers cannot hold exactly. */
export function uint64be(value: number | bigint): Uint8Array<ArrayBuffer> {
  const v = BigInt(value);
  if (v < 0n || v >= 1n << 64n) throw new RangeError(`uint64 out of range: ${v}`);
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, v);
  return out;
}
