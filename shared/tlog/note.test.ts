import { beforeAll, describe, expect, it } from 'vitest';
import { utf8 } from '../crypto/bytes';
import { fromBase64, toHex } from '../crypto/encoding';
import { isCryptoError, type ErrorCode } from '../crypto/errors';
import {
  MAX_SIGNATURES,
  addSignatures,
  computeKeyId,
  ed25519Signer,
  ed25519Verifier,
  openNote,
  parseVerifierKey,
  signNote,
  splitNote,
  verifierKeyString,
  type NoteVerifier,
} from './note';
import { verifierFromKey } from './cosignature';

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

/** Ed25519 key from a raw 32-byte seed, via PKCS#8 (RFC 8410 fixed prefix). */
async function keyFromSeed(seed: Uint8Array): Promise<{ privateKey: CryptoKey; publicKey: CryptoKey }> {
  const pkcs8 = new Uint8Array([...[0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20], ...seed]);
  const privateKey = await crypto.subtle.importKey('pkcs8', pkcs8, { name: 'Ed25519' }, true, ['sign']);
  const jwk = await crypto.subtle.exportKey('jwk', privateKey);
  const publicKey = await crypto.subtle.importKey('jwk', { kty: 'OKP', crv: 'Ed25519', x: jwk.x! }, { name: 'Ed25519' }, true, ['verify']);
  return { privateKey, publicKey };
}
async function newKey(): Promise<{ privateKey: CryptoKey; publicKey: CryptoKey; raw: Uint8Array }> {
  const k = (await crypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify'])) as CryptoKeyPair;
  return { ...k, raw: new Uint8Array(await crypto.subtle.exportKey('raw', k.publicKey)) };
}

// The example of golang.org/x/mod/sumdb/note (package documentation and note_test.go): a
// signed note, its verifier key and its signer key, from an independent implementation.
const GO_VKEY = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
const GO_SKEY_DATA = 'AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz'; // base64(0x01 || seed) from "PRIVATE+KEY+PeterNeumann+c74f20a3+..."
const GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const GO_NOTE = `${GO_TEXT}\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n`;
// Verifier keys from transparency-dev/formats note/note_cosigv1_test.go: type 0x01 with a '+'
// inside the base64, and a native type 0x04 cosigner key.
const PLUS_VKEY = 'TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6';
const COSIG_VKEY = 'remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2';

describe('interoperability with published examples', () => {
  it('opens the Go sumdb/note example with its vkey', async () => {
    const opened = await openNote(GO_NOTE, [await verifierFromKey(GO_VKEY)]);
    expect(opened.text).toBe(GO_TEXT);
    expect(opened.verified[0]!.keyId).toBe(0xc74f20a3);
  });

  it('signs the Go example byte for byte (Ed25519 is deterministic)', async () => {
    const seed = fromBase64(GO_SKEY_DATA).slice(1);
    const key = await keyFromSeed(seed);
    expect(await signNote(GO_TEXT, [await ed25519Signer('PeterNeumann', key)])).toBe(GO_NOTE);
    const pub = new Uint8Array(await crypto.subtle.exportKey('raw', key.publicKey));
    expect(await verifierKeyString('PeterNeumann', pub)).toBe(GO_VKEY);
  });

  it('parses published vkeys of both types and recomputes their key IDs', async () => {
    const plus = await parseVerifierKey(PLUS_VKEY);
    expect([plus.name, plus.type, plus.keyId]).toEqual(['TEST', 0x01, 0x7997405c]);
    const cosig = await parseVerifierKey(COSIG_VKEY);
    expect([cosig.name, cosig.type, cosig.keyId]).toEqual(['remora.n621.de', 0x04, 0xda77ade7]);
    expect(await verifierKeyString(cosig.name, cosig.publicKey, 0x04)).toBe(COSIG_VKEY);
    expect((await verifierFromKey(COSIG_VKEY)).type).toBe(0x04);
  });

  it('splits the tlog-cosignature spec example into its two signature lines', () => {
    const note =
      'example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n' +
      '\u2014 example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n' +
      '\u2014 witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n';
    const { text, signatures } = splitNote(note);
    expect(text.split('\n')).toHaveLength(4);
    expect(signatures.map((s) => s.signature.length)).toEqual([64, 72]);
    // The cosignature's timestamp is the one the spec's signed-message example shows.
    expect(new DataView(signatures[1]!.signature.buffer, signatures[1]!.signature.byteOffset).getBigUint64(0)).toBe(1679315147n);
  });
});

describe('signed note', () => {
  it('round trip, with empty lines and non-ASCII text', async () => {
    const k = await newKey();
    const text = 'Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n';
    const note = await signNote(text, [await ed25519Signer('quasimodo.example/salvatore', k)]);
    const opened = await openNote(note, [await ed25519Verifier('quasimodo.example/salvatore', k.raw)]);
    expect(opened.text).toBe(text);
    expect(opened.verified).toHaveLength(1);
    expect(opened.unverified).toHaveLength(0);
    // The same note given as bytes.
    expect((await openNote(utf8(note), [await ed25519Verifier('quasimodo.example/salvatore', k.raw)])).text).toBe(text);
  });

  it('key ID is SHA-256(name || 0x0A || 0x01 || key)[:4]', async () => {
    const k = await newKey();
    const d = new Uint8Array(await crypto.subtle.digest('SHA-256', new Uint8Array([...utf8('a.example/k'), 0x0a, 0x01, ...k.raw])));
    expect(await computeKeyId('a.example/k', 0x01, k.raw)).toBe(new DataView(d.buffer).getUint32(0));
  });

  it('a note signed by an unknown key only is refused', async () => {
    const [known, unknown] = [await newKey(), await newKey()];
    const note = await signNote('hello\n', [await ed25519Signer('log.example', unknown)]);
    await rejects(openNote(note, [await ed25519Verifier('log.example', known.raw)]), 'E_SIGNATURE', /no signature from a known key/);
    // Same key, other name: also unknown.
    const renamed = await signNote('hello\n', [await ed25519Signer('other.example', known)]);
    await rejects(openNote(renamed, [await ed25519Verifier('log.example', known.raw)]), 'E_SIGNATURE');
  });

  it('tampered text is refused', async () => {
    const k = await newKey();
    const v = await ed25519Verifier('log.example', k.raw);
    const note = await signNote('size 10\n', [await ed25519Signer('log.example', k)]);
    await rejects(openNote(note.replace('10', '11'), [v]), 'E_SIGNATURE', /does not verify/);
  });

  it('a valid extra signature from an unknown key is ignored', async () => {
    const [log, other] = [await newKey(), await newKey()];
    const note = await signNote('entry\n', [await ed25519Signer('other.example', other), await ed25519Signer('log.example', log)]);
    const opened = await openNote(note, [await ed25519Verifier('log.example', log.raw)]);
    expect(opened.verified.map((s) => s.name)).toEqual(['log.example']);
    expect(opened.unverified.map((s) => s.name)).toEqual(['other.example']);
  });

  it('an invalid signature from a known key fails even when another known key verifies', async () => {
    const [a, b] = [await newKey(), await newKey()];
    const va = await ed25519Verifier('a.example', a.raw);
    const vb = await ed25519Verifier('b.example', b.raw);
    const note = await signNote('entry\n', [await ed25519Signer('a.example', a)]);
    // A line that claims to be b's but is a's signature bytes under b's key ID.
    const forged = await addSignatures(note, [{ name: 'b.example', keyId: vb.keyId, type: 1, sign: async () => new Uint8Array(64) }]);
    await rejects(openNote(forged, [va, vb]), 'E_SIGNATURE', /b\.example/);
    expect((await openNote(forged, [va])).verified).toHaveLength(1);
  });

  it('addSignatures appends over the unchanged text', async () => {
    const [a, b] = [await newKey(), await newKey()];
    const note = await signNote('x\n', [await ed25519Signer('a.example', a)]);
    const both = await addSignatures(note, [await ed25519Signer('b.example', b)]);
    expect(both.startsWith(note)).toBe(true);
    const opened = await openNote(both, [await ed25519Verifier('a.example', a.raw), await ed25519Verifier('b.example', b.raw)]);
    expect(opened.verified).toHaveLength(2);
  });
});

describe('signed note syntax (every MUST of the spec)', () => {
  let note = '';
  let v: NoteVerifier;
  beforeAll(async () => {
    const k = await newKey();
    note = await signNote('a\nb\n', [await ed25519Signer('log.example', k)]);
    v = await ed25519Verifier('log.example', k.raw);
  });
  it('the untouched note opens', async () => {
    expect((await openNote(note, [v])).text).toBe('a\nb\n');
  });
  it('missing final newline', () => throws(() => splitNote(note.slice(0, -1)), 'E_FORMAT'));
  it('no blank line', () => throws(() => splitNote(note.replace('\n\n', '\n')), 'E_FORMAT'));
  it('no signature lines', () => throws(() => splitNote('a\nb\n\n'), 'E_FORMAT'));
  it('a blank line after the signatures', () => throws(() => splitNote(`${note}\n`), 'E_FORMAT'));
  it('control characters', () => {
    throws(() => splitNote(note.replace('a', 'a\r')), 'E_FORMAT');
    throws(() => splitNote(note.replace('a', '\u0000')), 'E_FORMAT');
    throws(() => splitNote(note.replace('a', '\t')), 'E_FORMAT');
  });
  it('invalid UTF-8 bytes and lone surrogates', () => {
    const bytes = utf8(note);
    bytes[0] = 0xff;
    throws(() => splitNote(bytes), 'E_FORMAT');
    throws(() => splitNote(note.replace('a', '\ud800')), 'E_FORMAT');
  });
  it('signature line without the em dash and space', () => {
    throws(() => splitNote(note.replace('\u2014 ', '- ')), 'E_FORMAT');
    throws(() => splitNote(note.replace('\u2014 ', '\u2014')), 'E_FORMAT');
    throws(() => splitNote(note.replace('\u2014 ', '\u2013 ')), 'E_FORMAT');
  });
  it('key names with spaces or plus signs', () => {
    throws(() => splitNote(note.replace('log.example', 'log+example')), 'E_FORMAT');
    throws(() => splitNote(note.replace('log.example', 'log\u00a0example')), 'E_FORMAT');
    throws(() => splitNote(note.replace('\u2014 log.example', '\u2014  log.example')), 'E_FORMAT');
  });
  it('base64 that is not standard and padded', () => {
    throws(() => splitNote(note.replace(/=\n$/, '\n')), 'E_FORMAT');
    throws(() => splitNote('a\n\n\u2014 k AAAAAA-_\n'), 'E_FORMAT'); // base64url alphabet
    throws(() => splitNote(note.replace(/.\n$/, ' \n')), 'E_FORMAT');
  });
  it('a signature shorter than a key ID plus one byte', () => throws(() => splitNote('a\n\n\u2014 k AAAAAA==\n'), 'E_FORMAT'));
  it('more than 100 signature lines', async () => {
    const line = note.slice(note.indexOf('\u2014'));
    throws(() => splitNote(`a\nb\n\n${line.repeat(MAX_SIGNATURES + 1)}`), 'E_LIMIT');
    expect(splitNote(`a\nb\n\n${line.repeat(MAX_SIGNATURES)}`).signatures).toHaveLength(MAX_SIGNATURES);
  });
  it('notes over 1 MiB', () => {
    throws(() => splitNote(`${'x'.repeat(1 << 20)}\n${note}`), 'E_LIMIT');
    throws(() => splitNote(utf8(`${'x'.repeat(1 << 20)}\n${note}`)), 'E_LIMIT');
    // Multi-byte characters count as bytes, not as UTF-16 units.
    throws(() => splitNote(`${'\u00e9'.repeat(600_000)}\n${note}`), 'E_LIMIT');
  });
  it('signNote refuses text that would not survive parsing', async () => {
    const k = await newKey();
    const s = await ed25519Signer('log.example', k);
    await rejects(signNote('no newline', [s]), 'E_FORMAT');
    await rejects(signNote('tab\there\n', [s]), 'E_FORMAT');
    await expect(signNote('x\n', [])).rejects.toThrow(TypeError);
    await expect(ed25519Signer('bad name', k)).rejects.toSatisfy((e) => isCryptoError(e, 'E_FORMAT'));
  });
});

describe('verifier keys', () => {
  it('round trip for both types', async () => {
    const k = await newKey();
    for (const type of [0x01, 0x04]) {
      const vkey = await verifierKeyString('sealvault.local/audit', k.raw, type);
      const parsed = await parseVerifierKey(vkey);
      expect(parsed.type).toBe(type);
      expect(toHex(parsed.publicKey)).toBe(toHex(k.raw));
      expect(parsed.keyId).toBe(await computeKeyId('sealvault.local/audit', type, k.raw));
    }
  });

  it('refuses malformed vkeys', async () => {
    const vkey = GO_VKEY;
    await rejects(parseVerifierKey('PeterNeumann+c74f20a3'), 'E_FORMAT');
    await rejects(parseVerifierKey(vkey.replace('c74f20a3', 'c74f20a4')), 'E_FORMAT', /does not match/);
    await rejects(parseVerifierKey(vkey.replace('c74f20a3', 'C74F20A3')), 'E_FORMAT');
    await rejects(parseVerifierKey(vkey.replace('c74f20a3', 'c74f20a')), 'E_FORMAT');
    await rejects(parseVerifierKey(vkey.replace('PeterNeumann', 'Peter Neumann')), 'E_FORMAT');
    await rejects(parseVerifierKey(`${vkey}AAAA`), 'E_FORMAT');
    await rejects(parseVerifierKey('rekor.sigstore.dev+12345678+AwEB'), 'E_FORMAT');
    await rejects(parseVerifierKey(vkey.replace('+ARpc', '+Ahpc')), 'E_FORMAT', /type/);
  });
});
