import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { toBase64url } from '../../shared/crypto/encoding';
import { cosignCheckpoint } from '../../shared/tlog';
import type { RelayServiceFactory } from '../services/service';
import { createAuditService } from './index';
import { auditHarness, expectJson, type AuditHarness } from './test-fixtures';

let h: AuditHarness;
beforeEach(async () => {
  h = await auditHarness();
});
afterEach(async () => {
  await h.close();
});

interface OpenApi {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Record<string, { requestBody?: unknown; security?: unknown }>>;
}

describe('the audit service has no way to change or remove anything', () => {
  it('registers only GET and POST routes, and POST only to append', () => {
    const routes = h.service.app.routes;
    expect(routes.length).toBeGreaterThan(10);
    expect(new Set(routes.map((r) => r.method))).toEqual(new Set(['GET', 'POST']));
    expect([...new Set(routes.filter((r) => r.method === 'POST').map((r) => r.path))].sort()).toEqual(['/checkpoints/:size/cosignatures', '/entries', '/witnesses']);
  });

  it('documents exactly the routes it serves, none of them PUT, PATCH or DELETE', async () => {
    const served = new Set(h.service.app.routes.map((r) => `${r.method} /api/audit${r.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`));
    const doc = await expectJson<OpenApi>(await h.get('/openapi.json'), 200);
    const documented = new Set(Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`)));
    expect(documented).toEqual(served);
    for (const ops of Object.values(doc.paths)) for (const m of Object.keys(ops)) expect(['get', 'post']).toContain(m);
  });

  it('answers PUT, PATCH and DELETE on every path with 404 and changes nothing', async () => {
    await expectJson(await h.post('/entries', await h.serviceEntry()), 200);
    await h.service.issueCheckpoint();
    const before = h.service.store.size();
    const auditor = await h.session('aud-1', ['auditor']);
    const paths = [...new Set(h.service.app.routes.map((r) => r.path.replace(':size', '1')))];
    for (const path of paths) {
      for (const method of ['PUT', 'PATCH', 'DELETE']) {
        const res = await h.relay.request(`/api/audit${path}`, { method, headers: { authorization: `Bearer ${auditor}`, 'content-type': 'application/json' }, body: '{}' });
        expect(res.status, `${method} ${path}`).toBe(404);
      }
    }
    expect(h.service.store.size()).toBe(before);
    expect(h.service.store.checkpoint(1)).toBeDefined();
  });

  it('refuses UPDATE and DELETE in every table of its database', async () => {
    // A row in every table: an entry (and its nodes), a witness, a checkpoint and a cosignature.
    await expectJson(await h.post('/entries', await h.serviceEntry()), 200);
    const auditor = await h.session('aud-1', ['auditor']);
    const pair = (await crypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify'])) as CryptoKeyPair;
    const publicKey = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey));
    await expectJson(await h.post('/witnesses', { name: 'w.example/aud-1', publicKey: toBase64url(publicKey) }, auditor), 200);
    const cp = await h.service.issueCheckpoint();
    const note = await cosignCheckpoint({ privateKey: pair.privateKey, publicKey }, 'w.example/aud-1', cp.note, Math.floor(Date.now() / 1000));
    await expectJson(await h.post(`/checkpoints/${cp.size}/cosignatures`, { note }, auditor), 200);

    const db = h.service.store.db;
    for (const table of ['meta', 'entries', 'nodes', 'checkpoints', 'witnesses', 'cosignatures']) {
      expect(() => db.exec(`DELETE FROM ${table}`), table).toThrow(/append-only/);
    }
    expect(() => db.exec("UPDATE meta SET value = 'x'")).toThrow(/append-only/);
    expect(() => db.exec('UPDATE checkpoints SET note = note')).toThrow(/append-only/);
    expect(() => db.exec('UPDATE entries SET actor = actor')).toThrow(/append-only/);
    expect(() => db.exec('UPDATE cosignatures SET line = line')).toThrow(/append-only/);
    // The service entry, the witness registration and the cosignature (both audited by the audit service itself).
    expect(h.service.store.size()).toBe(3);
  });
});

describe('every service route', () => {
  it('is a RelayServiceFactory, ready for relay/services/catalog.ts', () => {
    const factory: RelayServiceFactory = createAuditService;
    expect(h.service.name).toBe('audit');
    expect(typeof factory).toBe('function');
  });

  it('GET /health', async () => {
    expect(await expectJson(await h.get('/health'), 200)).toEqual({ service: 'audit', version: 'test', ok: true });
  });

  it('GET /key publishes the service key', async () => {
    expect(await expectJson(await h.get('/key'), 200)).toEqual({ service: 'audit', publicKey: h.ctx.key.publicB64u });
  });

  it('GET /openapi.json describes the routes with their schemas', async () => {
    const doc = await expectJson<OpenApi>(await h.get('/openapi.json'), 200);
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info).toEqual({ title: 'Sealvault audit service', version: 'test' });
    expect(doc.paths['/api/audit/entries']!.post!.requestBody).toBeDefined();
    expect(doc.paths['/api/audit/entries']!.get!.security).toEqual([{ bearer: [] }]);
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/api/audit/checkpoint',
        '/api/audit/checkpoints',
        '/api/audit/checkpoints/{size}',
        '/api/audit/checkpoints/{size}/cosignatures',
        '/api/audit/proofs/inclusion',
        '/api/audit/proofs/consistency',
        '/api/audit/entries/mine',
        '/api/audit/log-key',
        '/api/audit/witnesses',
      ]),
    );
  });

  it('exports the log size and the latest checkpoint as metrics, also after a restart', async () => {
    await expectJson(await h.post('/entries', await h.serviceEntry()), 200);
    await expectJson(await h.post('/entries', await h.serviceEntry()), 200);
    let text = await h.ctx.metrics.registry.metrics();
    expect(text).toMatch(/^sealvault_audit_entries 2$/m);
    expect(text).toMatch(/^sealvault_audit_checkpoint_size 0$/m);
    await h.restart();
    text = await h.ctx.metrics.registry.metrics();
    expect(text).toMatch(/^sealvault_audit_checkpoint_size 2$/m); // close() signed what was appended
    expect(text).toMatch(/^sealvault_audit_checkpoint_age_seconds [0-9.e-]+$/m);
  });

  it('answers unknown paths with the relay JSON 404', async () => {
    const body = await expectJson<{ error: { code: string } }>(await h.get('/nothing'), 404);
    expect(body.error.code).toBe('E_NOT_FOUND');
  });
});
