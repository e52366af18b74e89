import { argon2id } from 'hash-wasm';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { checkArgon2Params, derivePasswordHalf, DEFAULT_ARGON2_PARAMS } from './argon2';

// Watch the real hash function, so a test can tell that a refusal came before any hashing.
vi.mock('hash-wasm', async (importOriginal) => {
  const real = await importOriginal<typeof import('hash-wasm')>();
  return { ...real, argon2id: vi.fn(real.argon2id) };
});
beforeEach(() => {
  vi.mocked(argon2id).mockClear();
});

describe('Argon2id parameter bounds (relay input)', () => {
  const salt = new Uint8Array(16);
  const cases: [string, unknown][] = [
    ['memory below 64 MiB', { m: 65535, t: 3, p: 1 }],
    ['passes below 3', { m: 65536, t: 2, p: 1 }],
    ['no lanes', { m: 65536, t: 3, p: 0 }],
    ['memory above 1 GiB', { m: 1024 * 1024 + 1, t: 3, p: 1 }],
    ['passes above 10', { m: 65536, t: 11, p: 1 }],
    ['absurd memory', { m: 2 ** 40, t: 3, p: 1 }],
    ['fractional', { m: 65536.5, t: 3, p: 1 }],
    ['string numbers', { m: '65536', t: 3, p: 1 }],
    ['missing', null],
  ];
  for (const [name, params] of cases) {
    it(`refuses ${name} before hashing`, async () => {
      await expect(derivePasswordHalf('pw', salt, params)).rejects.toThrow(/E_KDF_PARAMS/);
      expect(argon2id).not.toHaveBeenCalled();
    });
  }
  it('refuses salts outside 16..64 bytes', async () => {
    await expect(derivePasswordHalf('pw', new Uint8Array(8), DEFAULT_ARGON2_PARAMS)).rejects.toThrow(/E_KDF_PARAMS/);
    await expect(derivePasswordHalf('pw', new Uint8Array(65), DEFAULT_ARGON2_PARAMS)).rejects.toThrow(/E_KDF_PARAMS/);
    expect(argon2id).not.toHaveBeenCalled();
  });
  it('hashes once the parameters are within bounds', async () => {
    await derivePasswordHalf('pw', salt, DEFAULT_ARGON2_PARAMS);
    expect(argon2id).toHaveBeenCalledTimes(1);
  });
  it('accepts the bounds themselves and strips unknown fields', () => {
    expect(checkArgon2Params({ m: 65536, t: 3, p: 1, evil: true })).toEqual({ m: 65536, t: 3, p: 1 });
    expect(checkArgon2Params({ m: 1024 * 1024, t: 10, p: 16 })).toEqual({ m: 1024 * 1024, t: 10, p: 16 });
  });
});

