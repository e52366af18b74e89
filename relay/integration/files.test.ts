/**
 * Contract files with the browser's protocol code against the real relay over HTTPS: upload in
 * blocks with a signed manifest, download by a colleague, resume after an interruption, and a
 * malicious relay refused: a block from another file, blocks swapped, a truncated block, a
 * manifest signed by someone without write access, a file changed on disk before a resume.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDek } from '../../shared/crypto/contract-keys';
import { buildManifest, signManifest } from '../../shared/crypto/manifest';
import type { RegisteredAccount } from '../../shared/protocol/account';
import { collectingSink, downloadFile, fetchManifest, uploadFile, UPLOADS_IN_FLIGHT, type FileTransport } from '../../shared/protocol/files';
import { RelayApiError } from '../../shared/protocol/relay-transport';
import { createSpace, grantAccess, verifiedWriters } from '../../shared/protocol/spaces';
import { codeOf } from '../../shared/test-support/outcome';
import { startEnterprise, type Enterprise } from './enterprise-fixture';

const MiB = 1024 * 1024;
let e: Enterprise;
let manager: RegisteredAccount;
let editor: RegisteredAccount;
let viewer: RegisteredAccount;
let space: string;
let dek: CryptoKey;
let transport: FileTransport;

function pseudoRandom(size: number, seed: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** The relay's answers, rewritten: a malicious relay between the browser and the vault. */
function rewriting(change: { bytes?: (path: string, bytes: Uint8Array) => Uint8Array | Promise<Uint8Array>; json?: (path: string, answer: any) => unknown }): FileTransport {
  return {
    request: async (method, path, body, session) => {
      const answer = await e.transport.request(method, path, body, session);
      return change.json ? change.json(path, answer) : answer;
    },
    putBytes: (path, bytes, session) => (e.transport as FileTransport).putBytes(path, bytes, session),
    getBytes: async (path, session) => {
      const bytes = await (e.transport as FileTransport).getBytes(path, session);
      return change.bytes ? change.bytes(path, bytes) : bytes;
    },
  };
}

beforeAll(async () => {
  e = await startEnterprise();
  transport = e.transport as FileTransport;
  manager = await e.employee('li', '李四', { spaceManager: true });
  editor = await e.employee('chen', '陈五');
  viewer = await e.employee('zhang', '张三');
  ({ space } = await createSpace(transport, manager, e.caPem, 'Sales'));
  await grantAccess(transport, manager, e.caPem, space, editor.account, 'editor');
  await grantAccess(transport, manager, e.caPem, space, viewer.account, 'viewer');
  await transport.request('POST', '/api/vault/contracts', { contract: 'c-files', space }, editor.session);
  dek = await generateDek({ extractable: false });
}, 180_000);
afterAll(async () => e?.close());

describe('contract files in the browser protocol', () => {
  const plain = pseudoRandom(5 * MiB + 12345, 7);
  const target = { contract: 'c-files', file: 'f-main', version: 1 };

  it('uploads in signed blocks and a colleague downloads the same bytes, checked against the writers of the space', async () => {
    const phases = new Set<string>();
    const manifest = await uploadFile(transport, editor, dek, new Blob([plain]), target, { blockSize: MiB, onProgress: (p) => phases.add(p.phase) });
    expect(manifest.blocks.length).toBe(6);
    expect([...phases]).toEqual(['hashing', 'uploading']);
    const writers = await verifiedWriters(transport, viewer, e.caPem, space);
    expect([...writers.keys()].sort()).toEqual([editor.account, manager.account].sort());
    const verified = await fetchManifest(transport, viewer, target, writers);
    const out = collectingSink();
    await downloadFile(transport, viewer, dek, verified, target, out.sink);
    expect(Buffer.from(out.bytes()).equals(Buffer.from(plain))).toBe(true);
  });

  it('cuts small files into three smaller blocks with the default block size', async () => {
    for (const size of [0, 1, 100_000]) {
      const small = { ...target, file: `f-small-${size}` };
      const data = pseudoRandom(size, size + 3);
      const manifest = await uploadFile(transport, editor, dek, new Blob([data]), small);
      expect(manifest.blocks.length, `${size} bytes`).toBe(3);
      const out = collectingSink();
      await downloadFile(transport, viewer, dek, await fetchManifest(transport, viewer, small, await verifiedWriters(transport, viewer, e.caPem, space)), small, out.sink);
      expect(Buffer.from(out.bytes()).equals(Buffer.from(data)), `${size} bytes`).toBe(true);
    }
  });

  it('resumes an interrupted upload, sending only the missing blocks', async () => {
    const again = { ...target, file: 'f-resume' };
    const data = pseudoRandom(4 * MiB + 1, 11);
    let puts = 0;
    const flaky: FileTransport = {
      ...rewriting({}),
      putBytes: async (path, bytes, session) => {
        if (++puts > 2) throw new RelayApiError(400, 'E_TEST_CUT', 'connection lost (test)');
        return (e.transport as FileTransport).putBytes(path, bytes, session);
      },
    };
    await expect(uploadFile(flaky, editor, dek, new Blob([data]), again, { blockSize: MiB })).rejects.toThrow('connection lost');
    let resumedPuts = 0;
    const counting: FileTransport = {
      ...rewriting({}),
      putBytes: async (path, bytes, session) => {
        resumedPuts++;
        return (e.transport as FileTransport).putBytes(path, bytes, session);
      },
    };
    const manifest = await uploadFile(counting, editor, dek, new Blob([data]), again, { blockSize: MiB });
    expect(resumedPuts).toBe(manifest.blocks.length - 2);
    const out = collectingSink();
    await downloadFile(transport, viewer, dek, await fetchManifest(transport, viewer, again, await verifiedWriters(transport, viewer, e.caPem, space)), again, out.sink);
    expect(Buffer.from(out.bytes()).equals(Buffer.from(data))).toBe(true);
  });

  it('keeps several block uploads going at once, and leaves none running after a failure', async () => {
    const data = pseudoRandom(9 * MiB, 31);
    let active = 0;
    let most = 0;
    const slow = (failAt?: number): FileTransport => {
      let puts = 0;
      return {
        ...rewriting({}),
        putBytes: async (path, bytes, session) => {
          const n = ++puts;
          most = Math.max(most, ++active);
          try {
            await new Promise((r) => setTimeout(r, 200));
            if (n === failAt) throw new RelayApiError(400, 'E_TEST_CUT', 'connection lost (test)');
            return await (e.transport as FileTransport).putBytes(path, bytes, session);
          } finally {
            active--;
          }
        },
      };
    };
    await expect(uploadFile(slow(3), editor, dek, new Blob([data]), { ...target, file: 'f-parallel-cut' }, { blockSize: MiB })).rejects.toThrow('connection lost');
    expect(active).toBe(0);
    most = 0;
    const parallel = { ...target, file: 'f-parallel' };
    const manifest = await uploadFile(slow(), editor, dek, new Blob([data]), parallel, { blockSize: MiB });
    expect(manifest.blocks.length).toBe(10);
    expect(most).toBeGreaterThan(1);
    expect(most).toBeLessThanOrEqual(UPLOADS_IN_FLIGHT);
    const out = collectingSink();
    await downloadFile(transport, viewer, dek, await fetchManifest(transport, viewer, parallel, await verifiedWriters(transport, viewer, e.caPem, space)), parallel, out.sink);
    expect(Buffer.from(out.bytes()).equals(Buffer.from(data))).toBe(true);
  });

  it('refuses to resume with a file that changed on disk, before any of its bytes leave', async () => {
    const changed = { ...target, file: 'f-changed' };
    const original = pseudoRandom(3 * MiB, 21);
    let puts = 0;
    const cut: FileTransport = {
      ...rewriting({}),
      putBytes: async (path, bytes, session) => {
        if (++puts > 1) throw new RelayApiError(400, 'E_TEST_CUT', 'connection lost (test)');
        return (e.transport as FileTransport).putBytes(path, bytes, session);
      },
    };
    await uploadFile(cut, editor, dek, new Blob([original]), changed, { blockSize: MiB }).catch(() => {});
    const edited = new Uint8Array(original);
    edited[10] = edited[10]! ^ 1;
    let leaked = 0;
    const watch: FileTransport = { ...rewriting({}), putBytes: async () => void leaked++ };
    expect(await codeOf(uploadFile(watch, editor, dek, new Blob([edited]), changed, { blockSize: MiB }))).toBe('E_CONTEXT');
    expect(leaked).toBe(0);
  });

  it('refuses a block from another file, swapped blocks and a truncated block, and aborts the output', async () => {
    const writers = await verifiedWriters(transport, viewer, e.caPem, space);
    const manifest = await fetchManifest(transport, viewer, target, writers);
    const otherBlock = await (e.transport as FileTransport).getBytes('/api/vault/files/f-resume/versions/1/blocks/1', viewer.session);
    const block0 = await (e.transport as FileTransport).getBytes('/api/vault/files/f-main/versions/1/blocks/0', viewer.session);
    const block1 = await (e.transport as FileTransport).getBytes('/api/vault/files/f-main/versions/1/blocks/1', viewer.session);
    const cases: Record<string, (path: string, bytes: Uint8Array) => Uint8Array> = {
      'a block of another file': (path, bytes) => (path.endsWith('/blocks/1') ? otherBlock : bytes),
      'blocks 0 and 1 swapped': (path, bytes) => (path.endsWith('/blocks/0') ? block1 : path.endsWith('/blocks/1') ? block0 : bytes),
      'a truncated block': (path, bytes) => (path.endsWith('/blocks/2') ? bytes.subarray(0, bytes.length - 100) : bytes),
    };
    for (const [what, swap] of Object.entries(cases)) {
      let aborted = false;
      const parts: number[] = [];
      const sink = new WritableStream<Uint8Array>({ write: (p) => void parts.push(p.length), abort: () => void (aborted = true) });
      expect(await codeOf(downloadFile(rewriting({ bytes: swap }), viewer, dek, manifest, target, sink)), what).toBe('E_HASH');
      expect(aborted, what).toBe(true);
    }
  });

  it('refuses a manifest signed by an account without write access, and one for another file', async () => {
    const writers = await verifiedWriters(transport, viewer, e.caPem, space);
    const real = await fetchManifest(transport, viewer, target, writers);
    // The viewer signs a manifest of its own making; the relay serves it as the file's.
    const forged = await signManifest(viewer.signing.privateKey, buildManifest({
      ...target,
      uploader: viewer.account,
      salt: Buffer.from(real.salt, 'base64url'),
      commitment: Buffer.from(real.commitment, 'base64url'),
      plaintextLength: real.plaintextLength,
      blockSize: real.blockSize,
      blockHashes: real.blocks.map((b) => Buffer.from(b, 'base64url')),
    }));
    const serveForged = rewriting({ json: (path, answer) => (path.endsWith('/f-main/versions/1/manifest') ? forged : answer) });
    expect(await codeOf(fetchManifest(serveForged, viewer, target, writers))).toBe('E_SIGNATURE');
    // The editor's genuine manifest of another file, served for this one.
    const otherFile = await e.transport.request('GET', '/api/vault/files/f-resume/versions/1/manifest', undefined, viewer.session);
    const serveOther = rewriting({ json: (path, answer) => (path.endsWith('/f-main/versions/1/manifest') ? otherFile : answer) });
    expect(await codeOf(fetchManifest(serveOther, viewer, target, writers))).toBe('E_CONTEXT');
  });
});
