/**
 * Properties every service must have, checked on the real composed relay: health, a published
 * service key, an OpenAPI 3.1 document that lists every route the service serves, its own SQLite
 * file in its own folder and no other, and Prometheus metrics.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../common/observability';
import { startRelay, type RunningRelay } from '../server';
import { SERVICE_NAMES } from '../services/names';

const dataDir = mkdtempSync(join(tmpdir(), 'sealvault-services-'));
const logLines: string[] = [];
let relay: RunningRelay;
let base: string;

beforeAll(async () => {
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logLines.push(String(chunk));
      cb();
    },
  });
  relay = await startRelay({ dataDir, port: 0, httpPort: false, handleSignals: false, log: () => {}, logger: createLogger({ level: 'debug', destination: sink }), spaDir: join(dataDir, 'no-client') });
  base = relay.url;
});
afterAll(async () => {
  agent?.destroy();
  await relay.close();
  rmSync(dataDir, { recursive: true, force: true });
});

// Over the relay's real HTTPS listener, trusting only its local CA.
let agent: Agent | undefined;
async function get(path: string): Promise<Response> {
  agent ??= new Agent({ ca: readFileSync(join(dataDir, 'tls', 'ca.pem')) });
  return new Promise((resolve, reject) => {
    request(new URL(path, base), { agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(new Response(Buffer.concat(chunks), { status: res.statusCode ?? 500, headers: { 'content-type': String(res.headers['content-type'] ?? '') } })));
    })
      .on('error', reject)
      .end();
  });
}

describe('every relay service', () => {
  it.each(SERVICE_NAMES)('%s answers health and publishes its Ed25519 service key', async (name) => {
    expect(await (await get(`/api/${name}/health`)).json()).toEqual({ service: name, version: expect.any(String), ok: true });
    const key = await (await get(`/api/${name}/key`)).json();
    expect(key.publicKey).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('has five different service keys', async () => {
    const keys = await Promise.all(SERVICE_NAMES.map(async (n) => (await (await get(`/api/${n}/key`)).json()).publicKey));
    expect(new Set(keys).size).toBe(5);
  });

  it.each(SERVICE_NAMES)('%s publishes an OpenAPI 3.1 document with its routes', async (name) => {
    const doc = await (await get(`/api/${name}/openapi.json`)).json();
    expect(doc.openapi).toBe('3.1.0');
    const paths = Object.keys(doc.paths);
    expect(paths.length).toBeGreaterThan(2);
    for (const p of paths) expect(p.startsWith(`/api/${name}/`)).toBe(true);
    expect(paths).toContain(`/api/${name}/health`);
  });

  it('keeps each service in its own folder with its own SQLite file only', () => {
    for (const name of SERVICE_NAMES) {
      const files = readdirSync(join(dataDir, name));
      const databases = files.filter((f) => f.endsWith('.sqlite'));
      expect(databases).toEqual([`${name}.sqlite`]);
      expect(files).toContain('service-key.pkcs8');
    }
  });

  it('exposes Prometheus metrics with request counts per service', async () => {
    await get('/api/vault/health');
    const text = await (await get('/metrics')).text();
    expect(text).toContain('sealvault_http_requests_total{service="vault",method="GET",status="200"}');
    expect(text).toContain('sealvault_http_request_duration_seconds_bucket');
    expect(text).toContain('sealvault_block_bytes_stored');
  });

  it('logs requests as JSON lines without query strings or headers', async () => {
    await get('/api/audit/health?token=sv1.secret-looking-value');
    const lines = logLines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'request');
    expect(lines.length).toBeGreaterThan(0);
    expect(logLines.join('')).not.toContain('secret-looking-value');
  });
});
