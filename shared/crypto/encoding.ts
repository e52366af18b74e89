/**
 * Strict encodings. Every decoder accepts exactly one spelling of each value, so two parties
 * who agree on bytes also agree on text (and signatures over text cannot be re-spelled).
 */
import canonicalize from 'canonicalize';
import { fail } from './errors';

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const B64STD = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

function lookup(alphabet: string): Int16Array {
  const t = new Int16Array(128).fill(-1);
  for (let i = 0; i < alphabet.length; i++) t[alphabet.charCodeAt(i)] = i;
  return t;
}
const B64URL_LOOKUP = lookup(B64URL);
const B64STD_LOOKUP = lookup(B64STD);

function encode64(bytes: Uint8Array, alphabet: string, pad: boolean): string {
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += alphabet[n >> 18]! + alphabet[(n >> 12) & 63]! + alphabet[(n >> 6) & 63]! + alphabet[n & 63]!;
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i]! << 16;
    out += alphabet[n >> 18]! + alphabet[(n >> 12) & 63]! + (pad ? '==' : '');
  } else if (rest === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    out += alphabet[n >> 18]! + alphabet[(n >> 12) & 63]! + alphabet[(n >> 6) & 63]! + (pad ? '=' : '');
  }
  return out;
}

function decode64(text: string, table: Int16Array, what: string): Uint8Array<ArrayBuffer> {
  if (typeof text !== 'string') return fail('E_FORMAT', `${what}: expected a string`);
  const rem = text.length % 4;
  if (rem === 1) return fail('E_FORMAT', `${what}: impossible length ${text.length}`);
  const outLen = Math.floor((text.length * 3) / 4);
  const out = new Uint8Array(outLen);
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const v = c < 128 ? table[c]! : -1;
    if (v < 0) return fail('E_FORMAT', `${what}: invalid character at ${i}`);
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  // Leftover bits must be zero, or two strings would decode to the same bytes.
  if ((acc & ((1 << bits) - 1)) !== 0) return fail('E_FORMAT', `${what}: non-canonical trailing bits`);
  return out;
}

/** base64url without padding (RFC 4648 section 5). */
export function toBase64url(bytes: Uint8Array): string {
  return encode64(bytes, B64URL, false);
}

/** Decodes base64url without padding; refuses padding, other alphabets and non-zero trailing bits. */
export function fromBase64url(text: string): Uint8Array<ArrayBuffer> {
  return decode64(text, B64URL_LOOKUP, 'base64url');
}

/** Standard padded base64 (RFC 4648 section 4), as used by signed notes. */
export function toBase64(bytes: Uint8Array): string {
  return encode64(bytes, B64STD, true);
}

/** Decodes standard padded base64, refusing missing or extra padding and non-canonical bits. */
export function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  if (typeof text !== 'string' || text.length % 4 !== 0) return fail('E_FORMAT', 'base64: length is not a multiple of 4');
  let body = text;
  let padding = 0;
  while (padding < 2 && body.endsWith('=')) {
    body = body.slice(0, -1);
    padding++;
  }
  const expected = (4 - (body.length % 4)) % 4;
  if (expected !== padding) return fail('E_FORMAT', 'base64: wrong padding');
  return decode64(body, B64STD_LOOKUP, 'base64');
}

export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += b.toString(16).padStart(2, '0');
  return out;
}

/** Lower-case hex only, even length: one spelling per byte string. */
export function fromHex(text: string): Uint8Array<ArrayBuffer> {
  if (typeof text !== 'string' || text.length % 2 !== 0 || !/^[0-9a-f]*$/.test(text)) {
    return fail('E_FORMAT', 'hex: expected an even number of lower-case hex digits');
  }
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function assertJson(value: unknown, path: string, depth: number): void {
  if (depth > 32) fail('E_LIMIT', `canonical JSON: nesting deeper than 32 at ${path}`);
  if (value === null || typeof value === 'boolean' || typeof value === 'string') {
    if (typeof value === 'string' && !value.isWellFormed()) fail('E_FORMAT', `canonical JSON: lone surrogate at ${path}`);
    return;
  }
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) fail('E_FORMAT', `canonical JSON: non-finite number at ${path}`);
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((v, i) => assertJson(v, `${path}[${i}]`, depth + 1));
    return;
  }
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    for (const [k, v] of Object.entries(value)) {
      if (!k.isWellFormed()) fail('E_FORMAT', `canonical JSON: lone surrogate in key at ${path}`);
      if (v === undefined) fail('E_FORMAT', `canonical JSON: undefined at ${path}.${k}`);
      assertJson(v, `${path}.${k}`, depth + 1);
    }
    return;
  }
  fail('E_FORMAT', `canonical JSON: ${typeof value} is not JSON at ${path}`);
}

/**
 * RFC 8785 (JCS) canonical JSON. Refuses what JCS cannot represent instead of silently dropping
 * it (undefined, NaN, functions, class instances, lone surrogates), since a signer and a
 * verifier must never disagree about which bytes were signed.
 */
export function canonicalJson(value: unknown): string {
  assertJson(value, '$', 0);
  const text = canonicalize(value);
  if (text === undefined) return fail('E_FORMAT', 'canonical JSON: value is not serialisable');
  return text;
}
