/**
 * Authorisation: a session on every route, a grant in the contract's space from keys on every
 * request (nothing cached, so revocation is immediate), writers only for writes, the manifest's
 * uploader only for blocks and commits.
 */
import { Hono } from 'hono';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDek } from '../../shared/crypto/contract-keys';
import { createVaultService } from './index';
import { createFakePeers, encryptFile, startVault, type EncryptedFile, type FakePeers, type VaultHarness } from './test-fixture';
import { call, errorCode, putBlock } from './test-http';
import { testServiceContext } from '../test-support/service-context';
import { createRelayApp } from '../server';

let fake: FakePeers;
let h: VaultHarness;
let file: EncryptedFile;
const C = 'contract-a';
const F = 'file-a';

beforeAll(async () => {
  fake = await createFakePeers();
  fake.grant('space-a', 'alice', 'editor');
  fake.grant('space-a', 'bob', 'viewer');
  fake.grant('space-a', 'sam', 'signer');
  fake.grant('space-b', 'carol', 'manager');
  h = await startVault(fake);
  const alice = await fake.session('alice');
  expect((await call(h.app, 'POST', '/contracts', { token: alice, json: { contract: C, space: 'space-a' } })).status).toBe(201);
  file = await encryptFile({
    dek: await generateDek({ extractable: false }),
    signer: (await fake.signer('alice')).privateKey,
    contract: C,
    file: F,
    version: 1,
    uploader: 'alice',
    plaintext: new Uint8Array(50_000).fill(42),
    maxBlockSize: 16 * 1024,
  });
  expect((await call(h.app, 'POST', `/contracts/${C}/files`, { token: alice, json: { file: F, version: 1, manifest: file.signed } })).status).toBe(201);
  for (const b of file.blocks) expect((await putBlock(h.app, alice, F, 1, b.index, b.bytes)).status).toBe(201);
  expect((await call(h.app, 'POST', `/files/${F}/versions/1/commit`, { token: alice })).status).toBe(200);
});
afterAll(async () => {
  await h.close();
  rmSync(h.dataDir, { recursive: true, force: true });
});

const ROUTES: [method: string, path: string][] = [
  ['POST', '/contracts'],
  ['GET', '/contracts?space=space-a'],
  ['GET', `/contracts/${C}/files`],
  ['POST', `/contracts/${C}/files`],
  ['PUT', `/contracts/${C}/records/contract-fields/1`],
  ['GET', `/contracts/${C}/records/contract-fields/latest`],
  ['GET', `/contracts/${C}/records/contract-fields/1`],
  ['GET', `/files/${F}/versions/1/manifest`],
  ['GET', `/files/${F}/versions/1/blocks`],
  ['PUT', `/files/${F}/versions/1/blocks/0`],
  ['GET', `/files/${F}/versions/1/blocks/0`],
  ['POST', `/files/${F}/versions/1/commit`],
];

describe('sessions', () => {
  it.each(ROUTES)('%s %s needs a valid session (401)', async (method, path) => {
    for (const token of [undefined, 'not-a-token', `${(await fake.session('alice')).slice(0, -4)}AAAA`]) {
      const res = await call(h.app, method, path, { ...(token ? { token } : {}), json: {} });
      expect(res.status).toBe(401);
      expect(await errorCode(res)).toBe('E_UNAUTHORIZED');
    }
  });

  it('refuses an expired session and one signed by another key', async () => {
    const old = await fake.session('alice', { iat: Math.floor(Date.now() / 1000) - 3600, lifetime: 600 });
    expect((await call(h.app, 'GET', `/contracts/${C}/files`, { token: old })).status).toBe(401);
    const other = await createFakePeers();
    expect((await call(h.app, 'GET', `/contracts/${C}/files`, { token: await other.session('alice') })).status).toBe(401);
  });

  it('serves health, key and OpenAPI without a session', async () => {
    expect(await (await call(h.app, 'GET', '/health')).json()).toEqual({ service: 'vault', version: 'test', ok: true });
    expect(await (await call(h.app, 'GET', '/key')).json()).toEqual({ service: 'vault', publicKey: h.ctx.key.publicB64u });
    const doc = (await (await call(h.app, 'GET', '/openapi.json')).json()) as { paths: Record<string, Record<string, unknown>> };
    expect(Object.keys(doc.paths)).toContain('/api/vault/files/{file}/versions/{version}/blocks/{index}');
    expect(Object.keys(doc.paths['/api/vault/files/{file}/versions/{version}/blocks/{index}']!).sort()).toEqual(['get', 'put']);
  });
});

describe('grants', () => {
  it('refuses every contract route to an account with no grant in the space (403), and audits refused downloads', async () => {
    const carol = await fake.session('carol');
    for (const [method, path] of ROUTES.filter(([m, p]) => !(m === 'POST' && p === '/contracts'))) {
      const res = await call(h.app, method, path, { token: carol, json: {} });
      expect(res.status, `${method} ${path}`).toBe(403);
    }
    expect(h.audit.events.filter((e) => e.outcome === 'refused')).toEqual([
      { actor: 'carol', action: 'block.download', target: `file:${F}/v1/block:0`, outcome: 'refused', details: { contract: C, reason: 'no grant' } },
    ]);
  });

  it('lets a viewer read files but not upload, register or commit', async () => {
    const bob = await fake.session('bob');
    expect((await call(h.app, 'GET', `/files/${F}/versions/1/blocks/1`, { token: bob })).status).toBe(200);
    expect((await call(h.app, 'GET', `/files/${F}/versions/1/blocks`, { token: bob })).status).toBe(200);
    expect((await putBlock(h.app, bob, F, 1, 0, file.blocks[0]!.bytes)).status).toBe(403);
    expect((await call(h.app, 'POST', `/files/${F}/versions/1/commit`, { token: bob })).status).toBe(403);
    const own = await encryptFile({ dek: await generateDek({ extractable: false }), signer: (await fake.signer('bob')).privateKey, contract: C, file: 'file-bob', version: 1, uploader: 'bob', plaintext: new Uint8Array(10), maxBlockSize: 4 << 20 });
    expect((await call(h.app, 'POST', `/contracts/${C}/files`, { token: bob, json: { file: 'file-bob', version: 1, manifest: own.signed } })).status).toBe(403);
  });

  it('lets only the uploader named in the manifest upload blocks or commit', async () => {
    const sam = await fake.session('sam');
    const res = await putBlock(h.app, sam, F, 1, 0, file.blocks[0]!.bytes);
    expect(res.status).toBe(403);
    expect((await call(h.app, 'POST', `/files/${F}/versions/1/commit`, { token: sam })).status).toBe(403);
    // A signer may read and register a file of their own.
    expect((await call(h.app, 'GET', `/files/${F}/versions/1/blocks/2`, { token: sam })).status).toBe(200);
  });

  it('applies a revocation on the very next request, with no cached answer', async () => {
    fake.grant('space-a', 'dora', 'viewer');
    const dora = await fake.session('dora');
    const before = fake.keysCalls;
    expect((await call(h.app, 'GET', `/files/${F}/versions/1/blocks/0`, { token: dora })).status).toBe(200);
    expect((await call(h.app, 'GET', `/files/${F}/versions/1/blocks/0`, { token: dora })).status).toBe(200);
    expect(fake.keysCalls - before).toBe(2);
    fake.grant('space-a', 'dora', null);
    for (const path of [`/files/${F}/versions/1/blocks/0`, `/files/${F}/versions/1/manifest`, `/contracts/${C}/files`, '/contracts?space=space-a']) {
      expect((await call(h.app, 'GET', path, { token: dora })).status).toBe(403);
    }
  });

  it('lets the holder of a single share read that contract only, never write, list or read another, until the share is removed', async () => {
    const alice = await fake.session('alice');
    expect((await call(h.app, 'POST', '/contracts', { token: alice, json: { contract: 'contract-other', space: 'space-a' } })).status).toBe(201);
    fake.share('space-a', C, 'erin', true);
    const erin = await fake.session('erin');
    for (const path of [`/contracts/${C}/files`, `/files/${F}/versions/1/manifest`, `/files/${F}/versions/1/blocks`, `/files/${F}/versions/1/blocks/0`]) {
      expect((await call(h.app, 'GET', path, { token: erin })).status, path).toBe(200);
    }
    expect((await call(h.app, 'GET', `/contracts/${C}/records/dek/latest`, { token: erin })).status).toBe(404); // let through; there is no such record
    for (const path of ['/contracts?space=space-a', '/contracts/contract-other/files', '/contracts/contract-other/records/dek/latest']) {
      expect((await call(h.app, 'GET', path, { token: erin })).status, path).toBe(403);
    }
    expect((await putBlock(h.app, erin, F, 1, 0, file.blocks[0]!.bytes)).status).toBe(403);
    expect((await call(h.app, 'PUT', `/contracts/${C}/records/fields/9`, { token: erin, json: {} })).status).toBe(403);
    expect((await call(h.app, 'POST', `/contracts/${C}/files`, { token: erin, json: {} })).status).toBe(403);
    fake.share('space-a', C, 'erin', false);
    for (const path of [`/contracts/${C}/files`, `/files/${F}/versions/1/manifest`, `/files/${F}/versions/1/blocks/0`]) {
      expect((await call(h.app, 'GET', path, { token: erin })).status, path).toBe(403);
    }
  });

  it('answers 503 when keys is down or talks nonsense, never letting the caller through', async () => {
    for (const answer of [() => new Response('boom', { status: 500 }), () => Response.json({ space: 'space-a', role: 'owner' }), () => Response.json({ space: 'other', role: 'manager' }), () => new Response('not json'), () => Response.json({ space: 'space-a', contract: 'another', role: 'viewer' })]) {
      const peers = new Hono();
      peers.get('/api/directory/key', (c) => fake.app.request(c.req.raw));
      peers.get('/api/keys/grants/mine', () => answer());
      const ctx = await testServiceContext('vault', { dataDir: h.dataDir, local: () => (url, init) => Promise.resolve(peers.request(url, init)) });
      // A second service over the same data folder only for this check; it is closed at once.
      const service = await createVaultService(ctx, { env: {} });
      const app = createRelayApp({ services: [service], errorLog: () => undefined }) as unknown as Hono;
      const res = await call(app, 'GET', `/files/${F}/versions/1/blocks/0`, { token: await fake.session('alice') });
      expect(res.status).toBe(503);
      await service.close?.();
    }
  });
});
