import { describe, expect, it } from 'vitest';
import { canonicalJson, fromBase64, fromBase64url, fromHex, toBase64, toBase64url, toHex } from './encoding';

describe('base64url without padding', () => {
  it('matches RFC 4648 section 10 vectors (url alphabet, padding removed)', () => {
    const cases: [string, string][] = [['', ''], ['f', 'Zg'], ['fo', 'Zm8'], ['foo', 'Zm9v'], ['foob', 'Zm9vYg'], ['fooba', 'Zm9vYmE'], ['foobar', 'Zm9vYmFy']];
    for (const [plain, enc] of cases) {
      expect(toBase64url(new TextEncoder().encode(plain))).toBe(enc);
      expect(new TextDecoder().decode(fromBase64url(enc))).toBe(plain);
    }
  });
  it('agrees with node Buffer on random bytes, both directions', () => {
    for (let n = 0; n < 70; n++) {
      const b = crypto.getRandomValues(new Uint8Array(n));
      const s = Buffer.from(b).toString('base64url');
      expect(toBase64url(b)).toBe(s);
      expect(Buffer.from(fromBase64url(s)).equals(Buffer.from(b))).toBe(true);
    }
  });
  it('refuses padding, the standard alphabet, whitespace, impossible lengths and non-zero trailing bits', () => {
    for (const bad of ['Zg==', 'Zm8=', 'a+b/', 'Zm 9v', 'Z', 'Zh', 'Zm9=', 'Zm9w', '\u00e9abc']) {
      if (bad === 'Zm9w') continue; // valid: 3 bytes
      expect(() => fromBase64url(bad), bad).toThrow(/E_FORMAT/);
    }
    // "Zh" decodes to 0x66 with non-zero leftover bits: a second spelling of "Zg"
    expect(() => fromBase64url('Zh')).toThrow(/non-canonical/);
  });
});

describe('standard base64 (signed notes)', () => {
  it('round-trips and refuses missing or extra padding', () => {
    expect(toBase64(Uint8Array.of(0xfb, 0xff))).toBe('+/8=');
    expect(Array.from(fromBase64('+/8='))).toEqual([0xfb, 0xff]);
    for (const bad of ['+/8', '+/8==', '+/9=', '-_8=', 'Zg=']) expect(() => fromBase64(bad), bad).toThrow(/E_FORMAT/);
  });
});

describe('hex', () => {
  it('round-trips lower-case and refuses upper-case, odd length and junk', () => {
    expect(toHex(Uint8Array.of(0, 1, 0xab, 0xff))).toBe('0001abff');
    expect(Array.from(fromHex('0001abff'))).toEqual([0, 1, 0xab, 0xff]);
    for (const bad of ['ABCD', 'abc', '0x00', 'zz', ' 00']) expect(() => fromHex(bad), bad).toThrow(/E_FORMAT/);
  });
});

describe('canonical JSON (RFC 8785)', () => {
  it('sorts keys by UTF-16 code units and writes numbers the ECMAScript way', () => {
    // RFC 8785 section 3.2.3 sorting example, and number serialisation from appendix B
    expect(canonicalJson({ '\u20ac': 'Euro Sign', '\r': 'Carriage Return', '\ufb33': 'Hebrew Letter Dalet With Dagesh', '1': 'One', '\ud83d\ude00': 'Emoji: Grinning Face', '\u0080': 'Control', '\u00f6': 'Latin Small Letter O With Diaeresis' })).toBe(
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    );
    expect(canonicalJson({ b: [1e21, 1e-7, -0, 0.1, 333333333.3333333], a: null })).toBe('{"a":null,"b":[1e+21,1e-7,0,0.1,333333333.3333333]}');
  });
  it('refuses what it cannot represent instead of dropping it', () => {
    expect(() => canonicalJson({ a: undefined })).toThrow(/E_FORMAT/);
    expect(() => canonicalJson({ a: NaN })).toThrow(/E_FORMAT/);
    expect(() => canonicalJson({ a: Infinity })).toThrow(/E_FORMAT/);
    expect(() => canonicalJson({ a: '\ud800' })).toThrow(/lone surrogate/);
    expect(() => canonicalJson({ a: new Date() })).toThrow(/E_FORMAT/);
    expect(() => canonicalJson({ a: 1n })).toThrow(/E_FORMAT/);
    let deep: unknown = 1;
    for (let i = 0; i < 40; i++) deep = [deep];
    expect(() => canonicalJson(deep)).toThrow(/E_LIMIT/);
  });
});
