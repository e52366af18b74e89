import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { canonicalJson, fromBase64url, toBase64url } from '../../shared/crypto/encoding';
import { isCryptoError } from '../../shared/crypto/errors';
import { leafBytes, verifyServiceEntry, type AuditEntry, type SignedAuditEntry } from '../../shared/formats/audit-entry';
import {
  cosignCheckpoint,
  emptyTreeHash,
  leafHash,
  openCheckpoint,
  parseVerifierKey,
  signCheckpoint,
  splitNote,
  treeHash,
  verifierFromKey,
  verifyCheckpointConsistency,
  verifyConsistency,
  verifyCosignature,
  verifyInclusion,
  type Checkpoint,
} from '../../shared/tlog';
import { AUDIT_DB_FILE, createAuditService } from './index';
import { auditHarness, expectJson, type AuditHarness, type EntryBody } from './test-fixtures';
import { testServiceContext } from '../test-support/service-context';

interface ErrorAnswer {
  error: { code: string; message: string };
}
interface LogKey {
  origin: string;
  keyName: string;
  publicKey: string;
  vkey: string;
}

let h: AuditHarness;
afterEach(async () => {
  await h?.close();
});

async function refused(res: Response, status: number, code: string): Promise<string> {
  const body = await expectJson<ErrorAnswer>(res, status);
  expect(body.error.code).toBe(code);
  return body.error.message;
}

function signedOf(body: EntryBody): SignedAuditEntry {
  const { detailsJson: _d, ...signed } = body;
  return signed;
}

/** Appends `n` escrow entries and returns the leaf hashes the client computes itself. */
async function append(n: number): Promise<Uint8Array[]> {
  const hashes: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const body = await h.serviceEntry();
    await expectJson(await h.post('/entries', body), 200);
    hashes.push(await leafHash(leafBytes(signedOf(body))));
  }
  return hashes;
}

/** Opens a checkpoint the way a client does: with the log key and origin from /log-key. */
async function openWithLogKey(note: string, logKey: LogKey): Promise<Checkpoint> {
  return openCheckpoint(note, { origin: logKey.origin, verifiers: [await verifierFromKey(logKey.vkey)] });
}

async function newWitness(name: string) {
  const pair = (await crypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify'])) as CryptoKeyPair;
  const publicKey = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey));
  return { name, privateKey: pair.privateKey, publicKey };
}

describe('checkpoints', () => {
  it('publishes the log key and an empty-tree checkpoint from the start', async () => {
    h = await auditHarness();
    const logKey = await expectJson<LogKey>(await h.get('/log-key'), 200);
    expect(logKey.origin).toMatch(/^localhost\/sealvault\/audit\/[0-9a-f]{32}$/);
    expect(logKey.keyName).toBe(logKey.origin);
    const serviceKey = await expectJson<{ publicKey: string }>(await h.get('/key'), 200);
    expect(logKey.publicKey).toBe(serviceKey.publicKey);
    const vkey = await parseVerifierKey(logKey.vkey);
    expect(vkey).toMatchObject({ name: logKey.origin, type: 0x01 });
    expect(vkey.publicKey).toEqual(fromBase64url(serviceKey.publicKey));

    const cp = await expectJson<{ size: number; note: string }>(await h.get('/checkpoint', await h.session('alice')), 200);
    expect(cp.size).toBe(0);
    const opened = await openWithLogKey(cp.note, logKey);
    expect(opened).toMatchObject({ origin: logKey.origin, size: 0 });
    expect(opened.root).toEqual(await emptyTreeHash());
    await refused(await h.get('/checkpoint'), 401, 'E_UNAUTHORIZED');
  });

  it('takes the origin host from the option or SEALVAULT_AUDIT_ORIGIN_HOST, and keeps the origin across restarts', async () => {
    const previous = process.env.SEALVAULT_AUDIT_ORIGIN_HOST;
    process.env.SEALVAULT_AUDIT_ORIGIN_HOST = 'audit.example.com:8443';
    try {
      h = await auditHarness();
      expect(h.service.origin).toMatch(/^audit\.example\.com:8443\/sealvault\/audit\/[0-9a-f]{32}$/);
      const origin = h.service.origin;
      process.env.SEALVAULT_AUDIT_ORIGIN_HOST = 'elsewhere.example.com';
      await h.restart();
      expect(h.service.origin).toBe(origin);
    } finally {
      if (previous === undefined) delete process.env.SEALVAULT_AUDIT_ORIGIN_HOST;
      else process.env.SEALVAULT_AUDIT_ORIGIN_HOST = previous;
    }
    const ctx = await testServiceContext('audit');
    await expect(createAuditService(ctx, { originHost: 'bad host/x', checkpointIntervalMs: 0 })).rejects.toThrow(/host name/);
    const other = await createAuditService(await testServiceContext('audit'), { originHost: 'sealvault.local', checkpointIntervalMs: 0 });
    expect(other.origin).toMatch(/^sealvault\.local\/sealvault\/audit\/[0-9a-f]{32}$/);
    expect(other.origin).not.toBe(h.service.origin);
    await other.close();
  });

  it('signs a new checkpoint only when the log grew; its root is the treeHash of all leaves', async () => {
    h = await auditHarness();
    const hashes = await append(7);
    expect((await expectJson<{ size: number }>(await h.get('/checkpoint', await h.session('alice')), 200)).size).toBe(0);
    const issued = await h.service.issueCheckpoint();
    expect(issued).toMatchObject({ size: 7, issued: true });
    expect((await h.service.issueCheckpoint()).issued).toBe(false);

    const logKey = await expectJson<LogKey>(await h.get('/log-key'), 200);
    const cp = await expectJson<{ size: number; note: string }>(await h.get('/checkpoint', await h.session('alice')), 200);
    expect(cp.size).toBe(7);
    const opened = await openWithLogKey(cp.note, logKey);
    expect(opened.size).toBe(7);
    expect(opened.root).toEqual(await treeHash(hashes));
    // Opened with the service key directly, too (not only with what /log-key says).
    const direct = await openCheckpoint(cp.note, { origin: h.service.origin, verifiers: [await verifierFromKey(logKey.vkey)] });
    expect(direct.root).toEqual(opened.root);
    expect(h.service.store.tree.root(7)).toEqual(Buffer.from(await treeHash(hashes)));
  });

  it('lists every checkpoint in pages, smallest first, to the auditor only (GET /checkpoints)', async () => {
    h = await auditHarness();
    for (const n of [2, 3, 1]) {
      await append(n);
      await h.service.issueCheckpoint();
    }
    const auditor = await h.session('aud-1', ['auditor']);
    type List = { checkpoints: { size: number; note: string }[]; nextStart: number | null };
    const first = await expectJson<List>(await h.get('/checkpoints?limit=2', auditor), 200);
    expect(first.checkpoints.map((c) => c.size)).toEqual([0, 2]);
    expect(first.nextStart).toBe(3);
    const rest = await expectJson<List>(await h.get(`/checkpoints?start=${first.nextStart}&limit=2`, auditor), 200);
    expect(rest).toMatchObject({ checkpoints: [{ size: 5 }, { size: 6 }], nextStart: 7 });
    expect(await expectJson<List>(await h.get('/checkpoints?start=7', auditor), 200)).toEqual({ checkpoints: [], nextStart: null });
    // The same notes as GET /checkpoints/:size serves.
    expect(rest.checkpoints[0]!.note).toBe((await expectJson<{ note: string }>(await h.get('/checkpoints/5', auditor), 200)).note);
    expect((await h.get('/checkpoints', await h.session('alice'))).status).toBe(403);
    expect((await h.get('/checkpoints', await h.session('two', ['auditor', 'security-admin']))).status).toBe(403);
    expect((await h.get('/checkpoints')).status).toBe(401);
  });

  it('issues checkpoints on its own timer (unref) and stops it on close', async () => {
    h = await auditHarness({ checkpointIntervalMs: 30 });
    await append(3);
    const token = await h.session('alice');
    let size = 0;
    for (let i = 0; i < 100 && size < 3; i++) {
      await new Promise((r) => setTimeout(r, 20));
      size = (await expectJson<{ size: number }>(await h.get('/checkpoint', token), 200)).size;
    }
    expect(size).toBe(3);
    await h.close();
    let calls = 0;
    h.service.checkpoints.issue = async () => {
      calls++;
      throw new Error('timer still running');
    };
    await new Promise((r) => setTimeout(r, 150));
    expect(calls).toBe(0);
  });
});

describe('proofs', () => {
  it('every inclusion proof of sizes 1..20 and every consistency proof between checkpoints verifies with shared/tlog', async () => {
    h = await auditHarness();
    const token = await h.session('alice');
    const logKey = await expectJson<LogKey>(await h.get('/log-key'), 200);
    const hashes: Uint8Array[] = [];
    const checkpoints: Checkpoint[] = [];
    checkpoints.push(await openWithLogKey((await expectJson<{ note: string }>(await h.get('/checkpoints/0', token), 200)).note, logKey));
    for (let size = 1; size <= 20; size++) {
      hashes.push(...(await append(1)));
      await h.service.issueCheckpoint();
      const cp = await expectJson<{ size: number; note: string }>(await h.get(`/checkpoints/${size}`, token), 200);
      expect(cp.size).toBe(size);
      const opened = await openWithLogKey(cp.note, logKey);
      expect(opened.size).toBe(size);
      expect(opened.root).toEqual(await treeHash(hashes));
      checkpoints.push(opened);
    }

    for (const cp of checkpoints.slice(1)) {
      for (let index = 0; index < cp.size; index++) {
        const res = await expectJson<{ index: number; size: number; leafHash: string; proof: string[] }>(await h.get(`/proofs/inclusion?index=${index}&size=${cp.size}`, token), 200);
        expect(res).toMatchObject({ index, size: cp.size, leafHash: toBase64url(hashes[index]!) });
        // The leaf hash is the client's own, the root the signed checkpoint's.
        await verifyInclusion({ leafHash: hashes[index]!, index, size: cp.size, proof: res.proof.map(fromBase64url), root: cp.root });
      }
    }

    for (const a of checkpoints) {
      for (const b of checkpoints.filter((x) => x.size >= a.size)) {
        const res = await expectJson<{ first: number; second: number; proof: string[] }>(await h.get(`/proofs/consistency?first=${a.size}&second=${b.size}`, token), 200);
        const proof = res.proof.map(fromBase64url);
        await verifyConsistency({ first: a.size, second: b.size, firstRoot: a.root, secondRoot: b.root, proof });
        await verifyCheckpointConsistency(a, b, proof);
      }
    }
  });

  it('serves proofs only up to the latest checkpoint and checks its parameters', async () => {
    h = await auditHarness();
    const token = await h.session('alice');
    await append(5);
    await h.service.issueCheckpoint();
    await append(3); // in the log, but no checkpoint covers them yet
    await refused(await h.get('/proofs/inclusion?index=6&size=8', token), 404, 'E_NOT_FOUND');
    await refused(await h.get('/proofs/consistency?first=5&second=8', token), 404, 'E_NOT_FOUND');
    await refused(await h.get('/proofs/inclusion?index=5&size=5', token), 400, 'E_VALIDATION');
    await refused(await h.get('/proofs/consistency?first=4&second=3', token), 400, 'E_VALIDATION');
    await refused(await h.get('/proofs/inclusion?size=5', token), 400, 'E_VALIDATION');
    await refused(await h.get('/proofs/inclusion?index=x&size=5', token), 400, 'E_VALIDATION');
    await refused(await h.get('/proofs/inclusion?index=1&size=5&extra=1', token), 400, 'E_VALIDATION');
    await refused(await h.get('/proofs/inclusion?index=1&size=5'), 401, 'E_UNAUTHORIZED');
    await refused(await h.get('/checkpoints/8', token), 404, 'E_NOT_FOUND');
    await refused(await h.get('/checkpoints/x', token), 400, 'E_VALIDATION');
    // Without a size, the latest checkpoint's.
    const latest = await expectJson<{ size: number }>(await h.get('/proofs/inclusion?index=2', token), 200);
    expect(latest.size).toBe(5);
    expect((await expectJson<{ proof: string[] }>(await h.get('/proofs/consistency?first=0&second=5', token), 200)).proof).toEqual([]);
    expect((await expectJson<{ proof: string[] }>(await h.get('/proofs/consistency?first=5&second=5', token), 200)).proof).toEqual([]);
  });

  it('keeps roots and proofs identical across a restart and continues appending', async () => {
    h = await auditHarness();
    const token = await h.session('alice');
    const hashes = await append(11);
    await h.service.issueCheckpoint();
    const logKey = await expectJson<LogKey>(await h.get('/log-key'), 200);
    const before = await expectJson<{ size: number; note: string }>(await h.get('/checkpoint', token), 200);
    const proofsBefore = await Promise.all(Array.from({ length: 11 }, async (_, i) => (await h.get(`/proofs/inclusion?index=${i}&size=11`, token)).text()));
    const consistencyBefore = await (await h.get('/proofs/consistency?first=3&second=11', token)).text();

    await h.restart();
    expect(await expectJson<LogKey>(await h.get('/log-key'), 200)).toEqual(logKey);
    expect(await expectJson(await h.get('/checkpoint', token), 200)).toEqual(before);
    for (let i = 0; i < 11; i++) expect(await (await h.get(`/proofs/inclusion?index=${i}&size=11`, token)).text()).toBe(proofsBefore[i]);
    expect(await (await h.get('/proofs/consistency?first=3&second=11', token)).text()).toBe(consistencyBefore);

    hashes.push(...(await append(6)));
    const next = await h.service.issueCheckpoint();
    expect(next.size).toBe(17);
    const older = await openWithLogKey(before.note, logKey);
    const newer = await openWithLogKey((await expectJson<{ note: string }>(await h.get('/checkpoint', token), 200)).note, logKey);
    expect(newer.root).toEqual(await treeHash(hashes));
    const proof = (await expectJson<{ proof: string[] }>(await h.get('/proofs/consistency?first=11&second=17', token), 200)).proof.map(fromBase64url);
    await verifyCheckpointConsistency(older, newer, proof);
  });
});

describe('witness cosignatures', () => {
  async function setup() {
    h = await auditHarness();
    const auditor = await h.session('aud-1', ['auditor']);
    const witness = await newWitness('witness.sealvault.local/aud-1');
    const reg = await expectJson<{ name: string; vkey: string; account: string }>(
      await h.post('/witnesses', { name: witness.name, publicKey: toBase64url(witness.publicKey) }, auditor),
      200,
    );
    expect(reg).toMatchObject({ account: 'aud-1', name: witness.name });
    expect(await parseVerifierKey(reg.vkey)).toMatchObject({ name: witness.name, type: 0x04 });
    return { auditor, witness };
  }

  it('stores a cosignature beside its checkpoint and serves it with the note', async () => {
    const { auditor, witness } = await setup();
    await append(4);
    await h.service.issueCheckpoint();
    const cp = await expectJson<{ size: number; note: string }>(await h.get('/checkpoint', auditor), 200);
    const now = Math.floor(Date.now() / 1000);
    const cosigned = await cosignCheckpoint(witness, witness.name, cp.note, now);
    const res = await expectJson(await h.post(`/checkpoints/${cp.size}/cosignatures`, { note: cosigned }, auditor), 200);
    expect(res).toEqual({ size: cp.size, witness: witness.name, timestamp: now });

    const served = await expectJson<{ note: string }>(await h.get(`/checkpoints/${cp.size}`, await h.session('alice')), 200);
    expect(served.note).toBe(cosigned);
    const { checkpoint, timestamp } = await verifyCosignature(served.note, { name: witness.name, publicKey: witness.publicKey });
    expect(timestamp).toBe(now);
    expect(checkpoint.size).toBe(cp.size);
    const logKey = await expectJson<LogKey>(await h.get('/log-key'), 200);
    await openWithLogKey(served.note, logKey);
    expect((await expectJson<{ note: string }>(await h.get('/checkpoint', auditor), 200)).note).toBe(cosigned);

    // Sending it again stores nothing new.
    await expectJson(await h.post(`/checkpoints/${cp.size}/cosignatures`, { note: cosigned }, auditor), 200);
    expect(splitNote((await expectJson<{ note: string }>(await h.get(`/checkpoints/${cp.size}`, auditor), 200)).note).signatures).toHaveLength(2);

    const list = await expectJson<{ witnesses: { account: string; name: string }[] }>(await h.get('/witnesses', await h.session('alice')), 200);
    expect(list.witnesses).toMatchObject([{ account: 'aud-1', name: witness.name }]);
  });

  it('records the witness registration in the log, signed by the audit service', async () => {
    await setup();
    const row = h.service.store.entries(0, 10)[0]!;
    const signed = JSON.parse(row.leaf.toString('utf8')) as SignedAuditEntry;
    expect(signed.entry).toMatchObject({ actor: 'aud-1', action: 'audit.witness.register', signer: { kind: 'service', service: 'audit' } });
    await verifyServiceEntry(h.ctx.key.publicKey, signed);
  });

  it('refuses a cosignature over another size or another root (E_PROOF)', async () => {
    const { auditor, witness } = await setup();
    await append(3);
    const three = await h.service.issueCheckpoint();
    await append(2);
    const five = await h.service.issueCheckpoint();
    const now = Math.floor(Date.now() / 1000);
    const cosignedThree = await cosignCheckpoint(witness, witness.name, three.note, now);
    const message = await refused(await h.post(`/checkpoints/${five.size}/cosignatures`, { note: cosignedThree }, auditor), 400, 'E_PROOF');
    expect(message).toMatch(/size 6/); // five entries plus the registration entry

    // A checkpoint of the right size with another root, signed by a key claiming the log's name.
    const fake = await newWitness(h.service.origin);
    const forged = await signCheckpoint(fake, h.service.origin, { origin: h.service.origin, size: five.size, root: new Uint8Array(32).fill(7) });
    const cosignedForged = await cosignCheckpoint(witness, witness.name, forged, now);
    await refused(await h.post(`/checkpoints/${five.size}/cosignatures`, { note: cosignedForged }, auditor), 400, 'E_PROOF');
    expect(h.service.store.cosignatures(five.size)).toHaveLength(0);
  });

  it('refuses a note whose log signature is not valid, and cosignatures by unregistered keys or from the future', async () => {
    const { auditor, witness } = await setup();
    const cp = await h.service.issueCheckpoint();
    const now = Math.floor(Date.now() / 1000);
    // The log's signature line swapped for one by another key under the log's name.
    const fake = await newWitness(h.service.origin);
    const text = splitNote(cp.note).text;
    const resigned = await signCheckpoint(fake, h.service.origin, { origin: h.service.origin, size: cp.size, root: cp.root });
    expect(splitNote(resigned).text).toBe(text);
    await refused(await h.post(`/checkpoints/${cp.size}/cosignatures`, { note: await cosignCheckpoint(witness, witness.name, resigned, now) }, auditor), 400, 'E_SIGNATURE');

    const stranger = await newWitness(witness.name);
    await refused(await h.post(`/checkpoints/${cp.size}/cosignatures`, { note: await cosignCheckpoint(stranger, witness.name, cp.note, now) }, auditor), 400, 'E_SIGNATURE');
    await refused(await h.post(`/checkpoints/${cp.size}/cosignatures`, { note: cp.note }, auditor), 400, 'E_SIGNATURE');
    await refused(await h.post(`/checkpoints/${cp.size}/cosignatures`, { note: await cosignCheckpoint(witness, witness.name, cp.note, now + 3600) }, auditor), 400, 'E_STALE');
    await refused(await h.post(`/checkpoints/${cp.size}/cosignatures`, { note: 'not a note' }, auditor), 400, 'E_FORMAT');
    await refused(await h.post(`/checkpoints/99/cosignatures`, { note: cp.note }, auditor), 404, 'E_NOT_FOUND');
    expect(h.service.store.cosignatures(cp.size)).toHaveLength(0);
  });

  it('lets only an auditor with a registered witness key cosign, and registers one key per auditor', async () => {
    const { auditor, witness } = await setup();
    const cp = await h.service.issueCheckpoint();
    const note = await cosignCheckpoint(witness, witness.name, cp.note, Math.floor(Date.now() / 1000));
    for (const role of ['employee', 'system-admin', 'security-admin', 'space-manager']) {
      await refused(await h.post(`/checkpoints/${cp.size}/cosignatures`, { note }, await h.session('aud-1', [role])), 403, 'E_FORBIDDEN');
      await refused(await h.post('/witnesses', { name: 'w.example/x', publicKey: toBase64url((await newWitness('x')).publicKey) }, await h.session('x', [role])), 403, 'E_FORBIDDEN');
    }
    await refused(await h.post(`/checkpoints/${cp.size}/cosignatures`, { note }), 401, 'E_UNAUTHORIZED');
    await refused(await h.post(`/checkpoints/${cp.size}/cosignatures`, { note }, await h.session('aud-2', ['auditor'])), 409, 'E_NO_WITNESS');

    const other = await newWitness('witness.sealvault.local/aud-1b');
    await refused(await h.post('/witnesses', { name: other.name, publicKey: toBase64url(other.publicKey) }, auditor), 409, 'E_CONFLICT');
    const aud2 = await h.session('aud-2', ['auditor']);
    await refused(await h.post('/witnesses', { name: 'witness.sealvault.local/aud-2', publicKey: toBase64url(witness.publicKey) }, aud2), 409, 'E_CONFLICT');
    await refused(await h.post('/witnesses', { name: witness.name, publicKey: toBase64url(other.publicKey) }, aud2), 409, 'E_CONFLICT');
    await refused(await h.post('/witnesses', { name: 'has space', publicKey: toBase64url(other.publicKey) }, aud2), 400, 'E_VALIDATION');
    await refused(await h.post('/witnesses', { name: 'w/aud-2', publicKey: h.ctx.key.publicB64u }, aud2), 400, 'E_VALIDATION');
    await refused(await h.post('/witnesses', { name: h.service.origin, publicKey: toBase64url(other.publicKey) }, aud2), 400, 'E_VALIDATION');
    await refused(await h.post('/witnesses', { name: 'w/aud-2', publicKey: toBase64url(other.publicKey), extra: 1 }, aud2), 400, 'E_VALIDATION');
    await expectJson(await h.post('/witnesses', { name: 'witness.sealvault.local/aud-2', publicKey: toBase64url(other.publicKey) }, aud2), 200);
    await expectJson(await h.post(`/checkpoints/${cp.size}/cosignatures`, { note: await cosignCheckpoint(other, 'witness.sealvault.local/aud-2', cp.note, Math.floor(Date.now() / 1000)) }, aud2), 200);
  });
});

describe('tampering with the database', () => {
  it('an entry edited in SQLite no longer hashes to the signed checkpoint root; the auditor names the entry', async () => {
    h = await auditHarness();
    const bodies: EntryBody[] = [];
    for (let i = 0; i < 8; i++) {
      bodies.push(await h.serviceEntry());
      await expectJson(await h.post('/entries', bodies[i]), 200);
    }
    await h.service.issueCheckpoint();
    const auditor = await h.session('aud-1', ['auditor']);
    const logKey = await expectJson<LogKey>(await h.get('/log-key'), 200);
    const checkpoint = await openWithLogKey((await expectJson<{ note: string }>(await h.get('/checkpoint', auditor), 200)).note, logKey);

    // The attacker edits entry 3 (a release becomes a refusal), dropping the append-only trigger first.
    const db = new Database(join(h.dataDir, AUDIT_DB_FILE));
    expect(() => db.prepare('UPDATE entries SET actor = ? WHERE idx = 3').run('x')).toThrow(/append-only/);
    db.exec('DROP TRIGGER entries_no_update');
    const tampered: SignedAuditEntry = { ...signedOf(bodies[3]!), entry: { ...bodies[3]!.entry, outcome: 'refused' } as AuditEntry };
    db.prepare('UPDATE entries SET leaf = ? WHERE idx = 3').run(Buffer.from(canonicalJson(tampered)));
    db.close();

    // The auditor re-derives every leaf hash from the served leaves.
    const page = await expectJson<{ entries: { index: number; leaf: string; leafHash: string; entry: AuditEntry; signature: string }[] }>(await h.get('/entries', auditor), 200);
    expect(page.entries[3]!.entry.outcome).toBe('refused');
    const derived = await Promise.all(page.entries.map((e) => leafHash(fromBase64url(e.leaf))));
    expect(await treeHash(derived)).not.toEqual(checkpoint.root);
    // The service still answers with the old stored hashes and proofs: only recomputation shows it.
    expect(page.entries[3]!.leafHash).toBe(toBase64url(await leafHash(leafBytes(signedOf(bodies[3]!)))));

    const bad: number[] = [];
    for (const [i, hash] of derived.entries()) {
      const proof = (await expectJson<{ proof: string[] }>(await h.get(`/proofs/inclusion?index=${i}&size=${checkpoint.size}`, auditor), 200)).proof.map(fromBase64url);
      try {
        await verifyInclusion({ leafHash: hash, index: i, size: checkpoint.size, proof, root: checkpoint.root });
      } catch (e) {
        expect(isCryptoError(e, 'E_PROOF')).toBe(true);
        bad.push(i);
      }
    }
    expect(bad).toEqual([3]);
    // And the edited entry's signature no longer verifies with the escrow key.
    await expect(verifyServiceEntry(h.escrowKey.publicKey, { entry: page.entries[3]!.entry, signature: page.entries[3]!.signature })).rejects.toMatchObject({ code: 'E_SIGNATURE' });
  });

  it('refuses to sign a checkpoint once the stored tree no longer extends the last signed one', async () => {
    h = await auditHarness();
    await append(4);
    await h.service.issueCheckpoint();
    const db = new Database(join(h.dataDir, AUDIT_DB_FILE));
    db.exec('DROP TRIGGER nodes_no_update');
    // The stored root of leaves 0..3 (the checkpoint's root) is rewritten, as in a forked history.
    db.prepare('UPDATE nodes SET hash = ? WHERE level = 2 AND idx = 0').run(Buffer.alloc(32, 1));
    db.close();
    await append(1);
    await expect(h.service.issueCheckpoint()).rejects.toThrow(/refusing to sign/);
    expect(h.service.store.latestCheckpoint()!.size).toBe(4);
  });
});
