import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fromBase64url, toBase64url } from '../../shared/crypto/encoding';
import { leafBytes, signServiceEntry, verifyServiceEntry, type AuditEntry } from '../../shared/formats/audit-entry';
import { leafHash } from '../../shared/tlog';
import { createAuditSink } from '../common/audit-sink';
import { createPeers } from '../common/peers';
import { loadOrCreateServiceKey } from '../common/service-key';
import { auditHarness, expectJson, type AuditHarness, type EntryBody } from './test-fixtures';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

interface ErrorAnswer {
  error: { code: string; message: string };
}
interface Page {
  entries: { index: number; leaf: string; entry: AuditEntry; signature: string; detailsJson: unknown; leafHash: string; receivedAt: number }[];
  nextStart: number | null;
}

let h: AuditHarness;
beforeEach(async () => {
  h = await auditHarness();
});
afterEach(async () => {
  await h.close();
});

async function refused(res: Response, status: number, code: string): Promise<string> {
  const body = await expectJson<ErrorAnswer>(res, status);
  expect(body.error.code).toBe(code);
  return body.error.message;
}

describe('POST /entries: service-signed entries', () => {
  it('appends an entry signed with the key the service publishes, answering index and RFC 9162 leaf hash', async () => {
    const first = await h.serviceEntry();
    const second = await h.serviceEntry({ action: 'escrow.refuse', outcome: 'refused' });
    const a = await expectJson<{ index: number; leafHash: string }>(await h.post('/entries', first), 200);
    const b = await expectJson<{ index: number; leafHash: string }>(await h.post('/entries', second), 200);
    expect(a.index).toBe(0);
    expect(b.index).toBe(1);
    const { detailsJson: _d, ...signed } = first;
    expect(a.leafHash).toBe(toBase64url(await leafHash(leafBytes(signed))));
    expect(h.service.store.size()).toBe(2);
  });

  it('accepts what the relay sink (createAuditSink) of another service sends', async () => {
    // The escrow service's sink reaches /api/audit through the relay app; the audit service
    // checks the entry against the key the (fake) escrow peer publishes.
    const peers = createPeers({ local: () => (url, init) => Promise.resolve(h.relay.request(url, init)) });
    const sink = createAuditSink('escrow', h.escrowKey, peers);
    await sink.record({ actor: 'acct-9', action: 'escrow.release', target: 'account:acct-9', outcome: 'ok', details: { ticket: 't-1' } });
    await sink.record({ action: 'escrow.start', target: 'service:escrow', outcome: 'ok' });
    expect(h.service.store.size()).toBe(2);
    const rows = h.service.store.entries(0, 10);
    expect(rows.map((r) => r.actor)).toEqual(['acct-9', 'service:escrow']);
    expect(rows[0]!.details_json).toBe('{"ticket":"t-1"}');
  });

  it('accepts its own signed entries, verified with its own key', async () => {
    const own = { privateKey: h.ctx.key.privateKey, publicKey: h.ctx.key.publicKey, publicRaw: h.ctx.key.publicRaw, publicB64u: h.ctx.key.publicB64u };
    const body = await h.serviceEntry({ actor: 'service:audit', action: 'audit.start', target: 'service:audit' }, { ok: true }, own, 'audit');
    await expectJson(await h.post('/entries', body), 200);
  });

  it('refuses an entry signed by a key other than the one the service publishes (signer.key left as the real key)', async () => {
    const attacker = await loadOrCreateServiceKey(mkdtempSync(join(tmpdir(), 'attacker-')));
    const good = await h.serviceEntry();
    const forged = await signServiceEntry(attacker.privateKey, good.entry);
    expect(forged.entry.signer).toMatchObject({ key: h.escrowKey.publicB64u });
    const message = await refused(await h.post('/entries', { ...forged, detailsJson: good.detailsJson }), 400, 'E_SIGNATURE');
    expect(message).toMatch(/does not verify with the escrow service key/);
    expect(h.service.store.size()).toBe(0);
  });

  it("refuses an entry whose signer.key is swapped to the attacker's key (and signed by it)", async () => {
    const attacker = await loadOrCreateServiceKey(mkdtempSync(join(tmpdir(), 'attacker-')));
    const body = await h.serviceEntry({}, { n: 1 }, attacker, 'escrow');
    // Valid under the key it names, which is not the escrow service's key.
    await verifyServiceEntry(attacker.publicKey, body);
    const message = await refused(await h.post('/entries', body), 400, 'E_SIGNATURE');
    expect(message).toMatch(/not the key the escrow service publishes/);
  });

  it("refuses an entry signed by one service's real key but naming another service", async () => {
    const body = await h.serviceEntry({}, { n: 1 }, h.vaultKey, 'escrow');
    await refused(await h.post('/entries', body), 400, 'E_SIGNATURE');
  });

  it('refuses a bad signature: a flipped bit, or the entry changed after signing', async () => {
    const body = await h.serviceEntry();
    const sig = fromBase64url(body.signature);
    sig[10]! ^= 1;
    await refused(await h.post('/entries', { ...body, signature: toBase64url(sig) }), 400, 'E_SIGNATURE');
    await refused(await h.post('/entries', { ...body, entry: { ...body.entry, outcome: 'refused' } }), 400, 'E_SIGNATURE');
    await refused(await h.post('/entries', { ...body, entry: { ...body.entry, time: body.entry.time + 1 } }), 400, 'E_SIGNATURE');
    expect(h.service.store.size()).toBe(0);
  });

  it('refuses a service naming another service as the actor', async () => {
    const body = await h.serviceEntry({ actor: 'service:vault' });
    await refused(await h.post('/entries', body), 400, 'E_CONTEXT');
  });

  it('stores one copy of a replayed entry and answers with its first index', async () => {
    const body = await h.serviceEntry();
    const a = await expectJson<{ index: number }>(await h.post('/entries', body), 200);
    await h.post('/entries', await h.serviceEntry());
    const b = await expectJson<{ index: number }>(await h.post('/entries', body), 200);
    expect(b.index).toBe(a.index);
    expect(h.service.store.size()).toBe(2);
  });

  it('serializes concurrent appends: 40 at once get distinct consecutive indexes', async () => {
    const bodies = await Promise.all(Array.from({ length: 40 }, () => h.serviceEntry()));
    const answers = await Promise.all(bodies.map(async (b) => expectJson<{ index: number }>(await h.post('/entries', b), 200)));
    expect(answers.map((a) => a.index).sort((x, y) => x - y)).toEqual(Array.from({ length: 40 }, (_, i) => i));
  });
});

describe('POST /entries: account-signed entries', () => {
  it('appends an entry signed by the registered P-256 key, sent with that account session', async () => {
    const alice = await h.addAccount('alice');
    const body = await h.accountEntry(alice);
    const res = await expectJson<{ index: number; leafHash: string }>(await h.post('/entries', body, await h.session('alice')), 200);
    expect(res.index).toBe(0);
    const { detailsJson: _d, ...signed } = body;
    expect(res.leafHash).toBe(toBase64url(await leafHash(leafBytes(signed))));
  });

  it('refuses it without a session (401) and with a forged or expired session', async () => {
    const alice = await h.addAccount('alice');
    const body = await h.accountEntry(alice);
    await refused(await h.post('/entries', body), 401, 'E_UNAUTHORIZED');
    await refused(await h.post('/entries', body, 'sv1.bm90.YQ'), 401, 'E_UNAUTHORIZED');
    expect(h.service.store.size()).toBe(0);
  });

  it("refuses it with another account's session (403), even when that one is an auditor", async () => {
    const alice = await h.addAccount('alice');
    await h.addAccount('mallory');
    const body = await h.accountEntry(alice);
    await refused(await h.post('/entries', body, await h.session('mallory')), 403, 'E_FORBIDDEN');
    await refused(await h.post('/entries', body, await h.session('mallory', ['auditor'])), 403, 'E_FORBIDDEN');
    expect(h.service.store.size()).toBe(0);
  });

  it('refuses an account entry naming another actor than its signer', async () => {
    const alice = await h.addAccount('alice');
    await h.addAccount('bob');
    const body = await h.accountEntry(alice, { actor: 'bob' });
    await refused(await h.post('/entries', body, await h.session('alice')), 403, 'E_FORBIDDEN');
  });

  it("refuses a signature by a key other than the account's registered one", async () => {
    const alice = await h.addAccount('alice');
    const mallory = await h.addAccount('mallory');
    // Signed by mallory's key but claiming alice's key id.
    const body = await h.accountEntry({ ...mallory, id: 'alice', keyId: alice.keyId });
    await refused(await h.post('/entries', body, await h.session('alice')), 400, 'E_SIGNATURE');
    // Signed by mallory's key and naming it: not alice's registered key.
    const named = await h.accountEntry({ ...mallory, id: 'alice' });
    const message = await refused(await h.post('/entries', named, await h.session('alice')), 400, 'E_SIGNATURE');
    expect(message).toMatch(/registered signing key/);
  });

  it('refuses a tampered account signature', async () => {
    const alice = await h.addAccount('alice');
    const body = await h.accountEntry(alice);
    await refused(await h.post('/entries', { ...body, entry: { ...body.entry, target: 'contract:c-2' } }, await h.session('alice')), 400, 'E_SIGNATURE');
  });

  it('refuses entries of a disabled account and of an account the directory does not know', async () => {
    const alice = await h.addAccount('alice', ['employee'], 'disabled');
    await refused(await h.post('/entries', await h.accountEntry(alice), await h.session('alice')), 403, 'E_FORBIDDEN');
    const ghost = await h.addAccount('ghost');
    h.accounts.delete('ghost');
    await refused(await h.post('/entries', await h.accountEntry(ghost), await h.session('ghost')), 403, 'E_FORBIDDEN');
  });
});

describe('POST /entries: input checks', () => {
  it('refuses a details object whose digest is not entry.details', async () => {
    const body = await h.serviceEntry({}, { amount: 1 });
    const message = await refused(await h.post('/entries', { ...body, detailsJson: { amount: 2 } }), 400, 'E_HASH');
    expect(message).toMatch(/digest/);
    // Without detailsJson the entry is accepted; the digest stays in the signed entry.
    const { detailsJson: _d, ...bare } = body;
    await expectJson(await h.post('/entries', bare), 200);
    expect(h.service.store.entries(0, 1)[0]!.details_json).toBeNull();
  });

  it('refuses a stale entry and one from the future (more than 5 minutes off)', async () => {
    const old = await h.serviceEntry({ time: Date.now() - 6 * 60 * 1000 });
    await refused(await h.post('/entries', old), 400, 'E_STALE');
    const future = await h.serviceEntry({ time: Date.now() + 6 * 60 * 1000 });
    await refused(await h.post('/entries', future), 400, 'E_STALE');
    const slightlyOld = await h.serviceEntry({ time: Date.now() - 4 * 60 * 1000 });
    await expectJson(await h.post('/entries', slightlyOld), 200);
  });

  it('refuses unknown fields at every level (a field the signature does not cover never enters the log)', async () => {
    const body = await h.serviceEntry();
    await refused(await h.post('/entries', { ...body, extra: 1 }), 400, 'E_VALIDATION');
    // Signed with the extra field, so only the schema can refuse it.
    const inEntry = await h.serviceEntry({ note: 'x' } as unknown as Partial<AuditEntry>);
    await refused(await h.post('/entries', inEntry), 400, 'E_VALIDATION');
    const inSigner = await h.serviceEntry({ signer: { kind: 'service', service: 'escrow', key: h.escrowKey.publicB64u, extra: 1 } as unknown as AuditEntry['signer'] });
    await refused(await h.post('/entries', inSigner), 400, 'E_VALIDATION');
    await refused(await h.post('/entries', { ...body, entry: { ...body.entry, type: 'sealvault/v1/other' } }), 400, 'E_VALIDATION');
    await refused(await h.post('/entries', { ...body, signature: `${body.signature}=` }), 400, 'E_VALIDATION');
    await refused(await h.post('/entries', { ...body, entry: { ...body.entry, signer: { ...body.entry.signer, service: 'mailer' } } }), 400, 'E_VALIDATION');
    expect(h.service.store.size()).toBe(0);
  });

  it('refuses a body over 64 KiB (413), a non-JSON type (415) and broken JSON (400)', async () => {
    const body = await h.serviceEntry({}, { blob: 'x'.repeat(70 * 1024) });
    await refused(await h.post('/entries', body), 413, 'E_TOO_LARGE');
    const res = await h.relay.request('/api/audit/entries', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{}' });
    await refused(res, 415, 'E_UNSUPPORTED_MEDIA_TYPE');
    await refused(await h.post('/entries', '{"entry":'), 400, 'E_BAD_JSON');
  });

  it('refuses details nested deeper than canonical JSON allows', async () => {
    let deep: Record<string, unknown> = {};
    for (let i = 0; i < 40; i++) deep = { d: deep };
    const body = await h.serviceEntry();
    await refused(await h.post('/entries', { ...body, detailsJson: deep }), 400, 'E_VALIDATION');
  });
});

describe('reading entries', () => {
  async function fill(): Promise<EntryBody[]> {
    await h.addAccount('alice');
    await h.addAccount('bob');
    const alice = h.accounts.get('alice')!;
    const bodies: EntryBody[] = [];
    for (let i = 0; i < 6; i++) {
      const body = i % 3 === 0 ? await h.accountEntry(alice) : await h.serviceEntry({ actor: i % 2 ? 'bob' : 'alice' });
      bodies.push(body);
      await expectJson(await h.post('/entries', body, await h.session('alice')), 200);
    }
    return bodies;
  }

  it('serves the whole log to the auditor, in pages of at most 1000', async () => {
    const bodies = await fill();
    const auditor = await h.session('aud-1', ['auditor']);
    const all = await expectJson<Page>(await h.get('/entries', auditor), 200);
    expect(all.entries.map((e) => e.index)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(all.nextStart).toBeNull();
    for (const [i, e] of all.entries.entries()) {
      const { detailsJson, ...signed } = bodies[i]!;
      expect({ entry: e.entry, signature: e.signature }).toEqual(signed);
      expect(e.detailsJson).toEqual(detailsJson);
      expect(fromBase64url(e.leaf)).toEqual(new Uint8Array(leafBytes(signed)));
      expect(e.leafHash).toBe(toBase64url(await leafHash(leafBytes(signed))));
    }
    const p1 = await expectJson<Page>(await h.get('/entries?start=1&limit=2', auditor), 200);
    expect(p1.entries.map((e) => e.index)).toEqual([1, 2]);
    expect(p1.nextStart).toBe(3);
    expect((await expectJson<Page>(await h.get('/entries?limit=1000', auditor), 200)).entries).toHaveLength(6);
    await refused(await h.get('/entries?limit=1001', auditor), 400, 'E_VALIDATION');
    await refused(await h.get('/entries?limit=0', auditor), 400, 'E_VALIDATION');
    await refused(await h.get('/entries?start=-1', auditor), 400, 'E_VALIDATION');
    await refused(await h.get('/entries?start=01', auditor), 400, 'E_VALIDATION');
    await refused(await h.get('/entries?sort=desc', auditor), 400, 'E_VALIDATION');
  });

  it('refuses the whole log to everyone but the auditor: system-admin, security-admin, space-manager, employee', async () => {
    await fill();
    for (const role of ['system-admin', 'security-admin', 'space-manager', 'employee']) {
      await refused(await h.get('/entries', await h.session('alice', [role])), 403, 'E_FORBIDDEN');
    }
    await refused(await h.get('/entries'), 401, 'E_UNAUTHORIZED');
    // A session claiming the auditor role together with another administrator role is refused too.
    await refused(await h.get('/entries', await h.session('x', ['auditor', 'system-admin'])), 403, 'E_FORBIDDEN');
  });

  it("serves each account its own entries (actor = session account) with their log indexes", async () => {
    await fill();
    const mine = await expectJson<Page>(await h.get('/entries/mine', await h.session('alice')), 200);
    expect(mine.entries.map((e) => e.index)).toEqual([0, 2, 3, 4]);
    expect(mine.entries.every((e) => e.entry.actor === 'alice')).toBe(true);
    const bobs = await expectJson<Page>(await h.get('/entries/mine', await h.session('bob', ['system-admin'])), 200);
    expect(bobs.entries.map((e) => e.index)).toEqual([1, 5]);
    const paged = await expectJson<Page>(await h.get('/entries/mine?start=1&limit=2', await h.session('alice')), 200);
    expect(paged.entries.map((e) => e.index)).toEqual([2, 3]);
    expect(paged.nextStart).toBe(4);
    const none = await expectJson<Page>(await h.get('/entries/mine', await h.session('carol')), 200);
    expect(none).toEqual({ entries: [], nextStart: null });
    await refused(await h.get('/entries/mine'), 401, 'E_UNAUTHORIZED');
  });
});
