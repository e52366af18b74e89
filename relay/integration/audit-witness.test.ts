/**
 * The auditor's browser as a witness (docs/AUDIT.md section 3), with the browser's protocol code
 * against the real relay over HTTPS: the witness key is registered once, the latest checkpoint
 * is cosigned after a consistency check with the last one cosigned, and a relay that serves a
 * forked, truncated or re-keyed checkpoint is refused with E_PROOF before anything is posted.
 * Every client's checkpoint memory and the console's checks of one entry run against the same relay.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromBase64url, toBase64url } from '../../shared/crypto/encoding';
import { isCryptoError } from '../../shared/crypto/errors';
import { recordAsAccount } from '../../shared/protocol/audit-client';
import { AuditForkError, checkLatestCheckpoint, memoryCheckpointStore, type RememberedCheckpoint } from '../../shared/protocol/audit-memory';
import { cosignLatestCheckpoint, ensureWitnessRegistered, witnessName } from '../../shared/protocol/audit-witness';
import type { RelayTransport } from '../../shared/protocol/relay-transport';
import { CheckpointResponseSchema, EntriesPageSchema, WitnessListSchema } from '../../shared/schemas/audit';
import { checkDetails, checkInclusion, checkSignature, type StoredEntry } from '../../shared/protocol/audit-inspect';
import { openCheckpoint, signCheckpoint, splitNote, verifierFromKey, verifierKeyString, verifyCosignature } from '../../shared/tlog';
import type { ServiceKey } from '../common/service-key';
import { createAuditService, type AuditService } from '../audit/index';
import { startEnterprise, type Enterprise } from './enterprise-fixture';

let ent: Enterprise;
let audit: AuditService;
let logKey: ServiceKey;
const HOST = 'localhost';

beforeAll(async () => {
  ent = await startEnterprise('审计 Audit Witness Test', {
    serviceFactories: {
      // No timer: the test decides when a checkpoint is signed, and holds the log key to forge one.
      audit: async (ctx) => {
        logKey = ctx.key;
        audit = await createAuditService(ctx, { checkpointIntervalMs: 0 });
        return audit;
      },
    },
  });
  await audit.issueCheckpoint();
});
afterAll(async () => {
  await ent?.close();
});

/** Appends `n` entries signed by the auditor and signs a checkpoint over them. */
async function grow(n: number): Promise<number> {
  for (let i = 0; i < n; i++) await recordAsAccount(ent.transport, ent.auditor, { action: 'test.witness', target: `account:${ent.auditor.account}`, details: { i } });
  const cp = await audit.issueCheckpoint();
  return cp.size;
}

/** The real relay, with answers replaced where `lie` says, and every POST counted. */
function lyingTransport(lie: (method: string, path: string) => Promise<unknown> | undefined): RelayTransport & { posts: string[] } {
  const posts: string[] = [];
  return {
    posts,
    async request(method, path, body, session) {
      if (method === 'POST') posts.push(path);
      const replaced = lie(method, path);
      if (replaced !== undefined) return replaced;
      return ent.transport.request(method, path, body, session);
    },
  };
}

async function stored(size: number): Promise<string> {
  return CheckpointResponseSchema.parse(await ent.transport.request('GET', `/api/audit/checkpoints/${size}`, undefined, ent.auditor.session)).note;
}

async function refusedAsFork(p: Promise<unknown>): Promise<AuditForkError> {
  const e = await p.then(
    () => expect.fail('expected the checkpoint to be refused'),
    (err: unknown) => err,
  );
  expect(isCryptoError(e, 'E_PROOF'), String(e)).toBe(true);
  expect(e).toBeInstanceOf(AuditForkError);
  return e as AuditForkError;
}

describe('the auditor cosigns the latest checkpoint', () => {
  let memory: ReturnType<typeof memoryCheckpointStore>;
  let cosignedSize = 0;
  let firstCosigned = 0;

  it('registers the witness key once and cosigns; the relay then serves the checkpoint with a valid cosignature', async () => {
    memory = memoryCheckpointStore();
    const size = await grow(2);
    const result = await cosignLatestCheckpoint(ent.transport, ent.auditor, memory, { host: HOST });
    expect(result).toMatchObject({ size, witness: witnessName(HOST, ent.auditor.account), previous: null, already: false });
    cosignedSize = size;
    firstCosigned = size;

    const witnesses = WitnessListSchema.parse(await ent.transport.request('GET', '/api/audit/witnesses', undefined, ent.auditor.session)).witnesses;
    expect(witnesses.map((w) => w.account)).toEqual([ent.auditor.account]);
    expect(fromBase64url(witnesses[0]!.publicKey)).toEqual(ent.auditor.witness.publicKey);

    const note = await stored(size);
    const log = await verifierFromKey(await audit.checkpoints.vkey());
    expect((await openCheckpoint(note, { origin: audit.origin, verifiers: [log] })).size).toBe(size);
    const { timestamp } = await verifyCosignature(note, { name: result.witness, publicKey: ent.auditor.witness.publicKey });
    expect(timestamp).toBe(result.timestamp);
    expect(memory.value?.size).toBe(size);
  });

  it('does not register twice, and a second cosigning of the same checkpoint posts nothing', async () => {
    const t = lyingTransport(() => undefined);
    expect((await ensureWitnessRegistered(t, ent.auditor, HOST)).registeredNow).toBe(false);
    const again = await cosignLatestCheckpoint(t, ent.auditor, memory, { host: HOST });
    expect(again).toMatchObject({ size: cosignedSize, already: true });
    expect(t.posts).toEqual([]);
  });

  it('cosigns a grown log after checking consistency with the last cosigned checkpoint', async () => {
    const size = await grow(3);
    const result = await cosignLatestCheckpoint(ent.transport, ent.auditor, memory, { host: HOST });
    expect(result.previous?.size).toBe(cosignedSize);
    expect(result.size).toBe(size);
    expect(splitNote(await stored(size)).signatures.map((s) => s.name)).toContain(result.witness);
    cosignedSize = size;
  });

  it('refuses a forked checkpoint (validly signed by the log key, another root) with E_PROOF and posts nothing', async () => {
    const size = await grow(2);
    const before: RememberedCheckpoint | null = memory.value;
    const forged = await signCheckpoint({ privateKey: logKey.privateKey, publicKey: logKey.publicRaw }, audit.checkpoints.keyName, {
      origin: audit.origin,
      size,
      root: crypto.getRandomValues(new Uint8Array(32)),
    });
    const t = lyingTransport((method, path) => (method === 'GET' && path === '/api/audit/checkpoint' ? Promise.resolve({ size, note: forged }) : undefined));
    const e = await refusedAsFork(cosignLatestCheckpoint(t, ent.auditor, memory, { host: HOST }));
    expect(e.reason).toBe('inconsistent');
    expect([e.seenSize, e.servedSize]).toEqual([cosignedSize, size]);
    expect(t.posts).toEqual([]);
    expect(memory.value).toBe(before);
    // The relay's own checkpoint of that size stays without this witness's line.
    expect(splitNote(await stored(size)).signatures.map((s) => s.name)).not.toContain(witnessName(HOST, ent.auditor.account));
  });

  it('refuses a truncated log (an older checkpoint served as the latest) with E_PROOF and posts nothing', async () => {
    const seen = memory.value!.size;
    expect(firstCosigned).toBeLessThan(seen);
    // A genuine, log-signed checkpoint: only older than the last one cosigned.
    const oldNote = await stored(firstCosigned);
    const t = lyingTransport((method, path) => (method === 'GET' && path === '/api/audit/checkpoint' ? Promise.resolve({ size: firstCosigned, note: oldNote }) : undefined));
    const e = await refusedAsFork(cosignLatestCheckpoint(t, ent.auditor, memory, { host: HOST }));
    expect(e.reason).toBe('rollback');
    expect([e.seenSize, e.servedSize]).toEqual([seen, firstCosigned]);
    expect(t.posts).toEqual([]);
    expect(memory.value?.size).toBe(seen);
  });

  it('refuses a log key swapped by the relay, however well the new key signs', async () => {
    const other = (await crypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify'])) as CryptoKeyPair;
    const raw = new Uint8Array(await crypto.subtle.exportKey('raw', other.publicKey));
    const size = audit.store.size();
    const note = await signCheckpoint({ privateKey: other.privateKey, publicKey: raw }, audit.checkpoints.keyName, { origin: audit.origin, size, root: crypto.getRandomValues(new Uint8Array(32)) });
    const t = lyingTransport((method, path) => {
      if (method === 'GET' && path === '/api/audit/log-key') {
        return verifierKeyString(audit.checkpoints.keyName, raw).then((vkey) => ({ origin: audit.origin, keyName: audit.checkpoints.keyName, publicKey: toBase64url(raw), vkey }));
      }
      if (method === 'GET' && path === '/api/audit/checkpoint') return Promise.resolve({ size, note });
      return undefined;
    });
    const e = await refusedAsFork(cosignLatestCheckpoint(t, ent.auditor, memory, { host: HOST }));
    expect(e.reason).toBe('log-key');
    expect(t.posts).toEqual([]);
  });
});

describe("every client's checkpoint memory against the real relay", () => {
  it('remembers at sign-in, accepts the grown log later, and warns of a fork served afterwards', async () => {
    const employee = await ent.employee('mem', 'Mem Ory', { certify: false });
    const memory = memoryCheckpointStore();
    const first = await checkLatestCheckpoint(ent.transport, employee.session, memory);
    const size = await grow(1);
    expect(size).toBeGreaterThan(first.remembered.size);
    const second = await checkLatestCheckpoint(ent.transport, employee.session, memory);
    expect(second.previous?.size).toBe(first.remembered.size);
    expect(second.remembered.size).toBe(size);

    const forged = await signCheckpoint({ privateKey: logKey.privateKey, publicKey: logKey.publicRaw }, audit.checkpoints.keyName, {
      origin: audit.origin,
      size,
      root: crypto.getRandomValues(new Uint8Array(32)),
    });
    const t = lyingTransport((method, path) => (method === 'GET' && path === '/api/audit/checkpoint' ? Promise.resolve({ size, note: forged }) : undefined));
    const e = await refusedAsFork(checkLatestCheckpoint(t, employee.session, memory));
    expect([e.seenSize, e.servedSize]).toEqual([size, size]);
    expect(memory.value?.size).toBe(size);
  });
});

describe("one entry's checks in the console", () => {
  it('verifies details, signature and inclusion of a service entry and of a certified account entry; refuses changed details and a changed leaf', async () => {
    const person = await ent.employee('insp', 'In Spect');
    await recordAsAccount(ent.transport, person, { action: 'test.inspect', target: `account:${person.account}`, details: { note: '检查' } });
    await audit.issueCheckpoint();
    const log = { origin: audit.origin, vkey: await audit.checkpoints.vkey() };
    const all: StoredEntry[] = [];
    for (let start: number | null = 0; start !== null; ) {
      const page = EntriesPageSchema.parse(await ent.transport.request('GET', `/api/audit/entries?start=${start}&limit=100`, undefined, ent.auditor.session));
      all.push(...page.entries);
      start = page.nextStart;
    }
    const mine = all.find((e) => e.entry?.action === 'test.inspect')!;
    const service = all.find((e) => e.entry?.signer.kind === 'service' && e.detailsJson !== null)!;
    for (const stored of [mine, service]) {
      expect(await checkDetails(stored)).toEqual({ ok: true });
      expect((await checkSignature(ent.transport, stored, ent.caPem)).ok, `signature of entry ${stored.index}`).toBe(true);
      expect((await checkInclusion(ent.transport, ent.auditor.session, stored, log)).outcome).toEqual({ ok: true });
    }
    expect(await checkDetails({ ...mine, detailsJson: { note: 'changed' } })).toMatchObject({ ok: false, code: 'E_HASH' });
    // A leaf the relay shows differently from what the tree holds does not prove inclusion.
    const otherLeaf = { ...mine, leaf: service.leaf, leafHash: service.leafHash };
    expect((await checkInclusion(ent.transport, ent.auditor.session, otherLeaf, log)).outcome).toMatchObject({ ok: false, code: 'E_PROOF' });
    // A signature moved onto another entry does not verify.
    expect(await checkSignature(ent.transport, { ...mine, signature: service.signature }, ent.caPem)).toMatchObject({ ok: false, code: 'E_SIGNATURE' });
  });
});
