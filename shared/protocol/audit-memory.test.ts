import { describe, expect, it } from 'vitest';
import { toBase64url } from '../crypto/encoding';
import { isCryptoError } from '../crypto/errors';
import { consistencyProof, leafHash, signCheckpoint, treeHash, verifierKeyString } from '../tlog';
import { AuditForkError, checkLatestCheckpoint, memoryCheckpointStore, type CheckpointStore, type RememberedCheckpoint } from './audit-memory';
import { RelayApiError, type RelayTransport } from './relay-transport';

const ORIGIN = 'sealvault.test/audit';

async function newLogKey() {
  const pair = (await crypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify'])) as CryptoKeyPair;
  return { privateKey: pair.privateKey, publicKey: new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey)) };
}

/**
 * A relay's audit routes over an in-memory log, with switches that make it lie the ways a
 * hostile relay could: serve another history (fork), an older checkpoint (truncation), or sign
 * with another key.
 */
async function fakeLog(leafCount: number) {
  const key = await newLogKey();
  const leaves = await Promise.all(Array.from({ length: 64 }, (_, i) => leafHash(new TextEncoder().encode(`entry ${i}`))));
  const forked = await Promise.all(Array.from({ length: 64 }, (_, i) => leafHash(new TextEncoder().encode(`forked entry ${i}`))));
  const state = {
    size: leafCount,
    /** history served from this index on is another one */
    forkFrom: null as number | null,
    /** serve this size as the latest whatever the log holds */
    serveSize: null as number | null,
    key,
    logKeyRequests: 0,
  };
  const leavesFor = () => (state.forkFrom === null ? leaves : [...leaves.slice(0, state.forkFrom), ...forked.slice(state.forkFrom)]);
  const identity = async () => ({ origin: ORIGIN, keyName: ORIGIN, publicKey: toBase64url(state.key.publicKey), vkey: await verifierKeyString(ORIGIN, state.key.publicKey) });
  const transport: RelayTransport = {
    async request(method, path) {
      const url = new URL(path, 'https://relay.test');
      if (method === 'GET' && url.pathname === '/api/audit/log-key') {
        state.logKeyRequests++;
        return identity();
      }
      if (method === 'GET' && url.pathname === '/api/audit/checkpoint') {
        const size = state.serveSize ?? state.size;
        return { size, note: await signCheckpoint(state.key, ORIGIN, { origin: ORIGIN, size, root: await treeHash(leavesFor(), size) }) };
      }
      if (method === 'GET' && url.pathname === '/api/audit/proofs/consistency') {
        const first = Number(url.searchParams.get('first'));
        const second = Number(url.searchParams.get('second'));
        if (second > state.size) throw new RelayApiError(404, 'E_NOT_FOUND', 'beyond the latest checkpoint');
        return { first, second, proof: (await consistencyProof(leavesFor(), first, second)).map(toBase64url) };
      }
      throw new RelayApiError(404, 'E_NOT_FOUND', `${method} ${path}`);
    },
  };
  return { state, transport };
}

/** A store that counts saves, so a test can tell that a refused checkpoint was not remembered. */
function countingStore(initial: RememberedCheckpoint | null = null): CheckpointStore & { value: RememberedCheckpoint | null; saves: number } {
  const inner = memoryCheckpointStore(initial);
  return {
    saves: 0,
    get value() {
      return inner.value;
    },
    load: () => inner.load(),
    async save(v) {
      this.saves++;
      await inner.save(v);
    },
  };
}

async function forkError(p: Promise<unknown>): Promise<AuditForkError> {
  const e = await p.then(
    () => expect.fail('expected an AuditForkError, but it resolved'),
    (err: unknown) => err,
  );
  expect(e, String(e)).toBeInstanceOf(AuditForkError);
  expect(isCryptoError(e, 'E_PROOF')).toBe(true);
  return e as AuditForkError;
}

describe('checkpoint memory', () => {
  it('remembers the first checkpoint it sees, with the log key pinned', async () => {
    const { transport } = await fakeLog(5);
    const store = countingStore();
    const seen = await checkLatestCheckpoint(transport, 'session', store, () => 1000);
    expect(seen.previous).toBeNull();
    expect(seen.remembered).toMatchObject({ origin: ORIGIN, size: 5, seenAt: 1000 });
    expect(seen.remembered.logVkey).toMatch(new RegExp(`^${ORIGIN.replace(/\./g, '\\.')}\\+[0-9a-f]{8}\\+`));
    expect(store.value).toEqual(seen.remembered);
  });

  it('accepts a log that grew, with a consistency proof, and remembers the new size', async () => {
    const log = await fakeLog(5);
    const store = countingStore();
    await checkLatestCheckpoint(log.transport, 's', store);
    log.state.size = 13;
    const seen = await checkLatestCheckpoint(log.transport, 's', store);
    expect(seen.previous?.size).toBe(5);
    expect(store.value?.size).toBe(13);
    expect(store.saves).toBe(2);
  });

  it('accepts the same checkpoint again without writing the memory', async () => {
    const log = await fakeLog(7);
    const store = countingStore();
    await checkLatestCheckpoint(log.transport, 's', store);
    const seen = await checkLatestCheckpoint(log.transport, 's', store);
    expect(seen.remembered.size).toBe(7);
    expect(store.saves).toBe(1);
  });

  it('accepts growth from the empty log', async () => {
    const log = await fakeLog(0);
    const store = countingStore();
    await checkLatestCheckpoint(log.transport, 's', store);
    log.state.size = 3;
    expect((await checkLatestCheckpoint(log.transport, 's', store)).remembered.size).toBe(3);
  });

  it('refuses a forked history (same prefix, another entry from index 4) and keeps the old memory', async () => {
    const log = await fakeLog(6);
    const store = countingStore();
    await checkLatestCheckpoint(log.transport, 's', store);
    log.state.size = 10;
    log.state.forkFrom = 4;
    const e = await forkError(checkLatestCheckpoint(log.transport, 's', store));
    expect(e.reason).toBe('inconsistent');
    expect(e.seenSize).toBe(6);
    expect(e.servedSize).toBe(10);
    expect(store.value?.size).toBe(6);
    expect(store.saves).toBe(1);
  });

  it('refuses another root at the same size (a fork without growth)', async () => {
    const log = await fakeLog(6);
    const store = countingStore();
    await checkLatestCheckpoint(log.transport, 's', store);
    log.state.forkFrom = 5;
    const e = await forkError(checkLatestCheckpoint(log.transport, 's', store));
    expect(e.reason).toBe('inconsistent');
    expect([e.seenSize, e.servedSize]).toEqual([6, 6]);
  });

  it('refuses a truncated log (a smaller checkpoint than the one seen)', async () => {
    const log = await fakeLog(9);
    const store = countingStore();
    await checkLatestCheckpoint(log.transport, 's', store);
    log.state.serveSize = 4;
    const e = await forkError(checkLatestCheckpoint(log.transport, 's', store));
    expect(e.reason).toBe('rollback');
    expect([e.seenSize, e.servedSize]).toEqual([9, 4]);
    expect(store.value?.size).toBe(9);
  });

  it('refuses a log signed with another key than the one pinned, even when the relay states the new key', async () => {
    const log = await fakeLog(3);
    const store = countingStore();
    await checkLatestCheckpoint(log.transport, 's', store);
    log.state.key = await newLogKey();
    log.state.size = 8;
    const e = await forkError(checkLatestCheckpoint(log.transport, 's', store));
    expect(e.reason).toBe('log-key');
    expect(e.seenSize).toBe(3);
    expect(store.saves).toBe(1);
  });

  it('passes a network failure through unchanged: it says nothing about the log', async () => {
    const log = await fakeLog(3);
    const store = countingStore();
    await checkLatestCheckpoint(log.transport, 's', store);
    const down: RelayTransport = {
      request: () => Promise.reject(new TypeError('fetch failed')),
    };
    await expect(checkLatestCheckpoint(down, 's', store)).rejects.toThrow(TypeError);
    expect(store.value?.size).toBe(3);
  });
});
