/**
 * Bench-only service factories for bench/relay.ts: minimal stand-ins for the services the vault
 * talks to, and the real vault with a plain upload/download route beside it.
 *
 * - directory: serves GET /key with its own service key (whose PKCS#8 file the bench reads from
 *   the data folder to sign sessions);
 * - keys: GET /grants/mine answers "editor" to anyone (the vault has verified the session);
 * - audit: POST /entries accepts every entry (the vault still signs each one);
 * - vault: the real createVaultService, plus /bench-plain/:name, a plain streamed PUT/GET of
 *   one blob through the same LocalFolderStore code (one copy, no hash, no grant lookup, no
 *   database), mounted in the same Hono app so it shares the relay's TLS listener, process,
 *   middleware and session check. It is the baseline the block path is compared with.
 */
import { Hono } from 'hono';
import { join } from 'node:path';
import { requireSession, type SessionEnv } from '../relay/common/auth';
import { HttpError } from '../relay/http/errors';
import type { RelayService, RelayServiceFactory } from '../relay/services/service';
import { LocalFolderStore } from '../relay/vault/block-store';
import { createVaultService } from '../relay/vault/index';

export const fakeDirectory: RelayServiceFactory = (ctx) => {
  const app = new Hono();
  app.get('/health', (c) => c.json({ service: ctx.name, version: ctx.version, ok: true }));
  app.get('/key', (c) => c.json({ service: ctx.name, publicKey: ctx.key.publicB64u }));
  // The vault checks each manifest's signature with the uploader's certified key: the bench
  // account's key comes from the bench client (BENCH_SIGNER_SPKI, base64url SPKI).
  const signer = process.env.BENCH_SIGNER_SPKI ?? null;
  app.get('/accounts/bench/public-keys', (c) =>
    c.json({ account: 'bench', status: 'active', roles: ['employee'], envelopeKey: null, signingKey: signer, signingKeyId: null, certified: signer !== null, revoked: false, certificate: null }),
  );
  return { name: ctx.name, app };
};

export const fakeKeys: RelayServiceFactory = (ctx) => {
  const app = new Hono();
  // Minimal on purpose: the real keys service verifies the session too, on its own host when
  // the services run apart; this bench measures the vault.
  app.get('/grants/mine', (c) => c.json({ space: c.req.query('space') ?? '', role: 'editor' }));
  return { name: ctx.name, app };
};

export const fakeAudit: RelayServiceFactory = (ctx) => {
  const app = new Hono();
  let index = 0;
  app.post('/entries', async (c) => {
    await c.req.json();
    return c.json({ index: index++, leafHash: '' });
  });
  return { name: ctx.name, app };
};

/** The blob id a plain-route name is stored under (LocalFolderStore wants 32 hex digits). */
function plainId(name: string): string {
  if (!/^[a-z0-9-]{1,32}$/.test(name)) throw new HttpError(400, 'E_VALIDATION', 'bad name');
  return Buffer.from(name).toString('hex').padEnd(32, '0').slice(0, 32);
}

export const benchVault: RelayServiceFactory = async (ctx): Promise<RelayService> => {
  const vault = await createVaultService(ctx);
  const store = new LocalFolderStore(join(ctx.dataDir, 'bench-plain'), 'bench-plain', { createRoot: true });
  await store.open();
  const plain = new Hono<SessionEnv>();
  const session = requireSession(ctx.peers);
  // Diagnostics for the bench's stderr: where the relay's memory is.
  plain.get('/_memory', (c) => c.json(process.memoryUsage()));
  plain.put('/:name', session, async (c) => {
    const id = plainId(c.req.param('name'));
    await store.delete(id);
    const bytes = await store.put(id, c.req.raw.body ?? new ReadableStream());
    return c.json({ bytes }, 201);
  });
  plain.get('/:name', session, async (c) => {
    const blob = await store.get(plainId(c.req.param('name')));
    if (!blob) throw new HttpError(404, 'E_NOT_FOUND', 'no such blob');
    return new Response(blob.stream, { headers: { 'content-type': 'application/octet-stream', 'content-length': String(blob.size) } });
  });
  const app = new Hono();
  app.route('/bench-plain', plain);
  app.route('/', vault.app);
  return { ...vault, app };
};
