import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createRelayApp } from '../server';
import { FIXTURE_INDEX_HTML, SECRET_OUTSIDE_BUILD, WASM_BYTES, writeSpaFixture } from '../test-support/spa-fixture';
import { integrityOf, withIntegrity } from './subresource-integrity';
import { safeSegments } from './spa';

const fixture = writeSpaFixture();
// What the relay serves: the build's page plus the import map of module digests.
const servedIndexHtml = withIntegrity(FIXTURE_INDEX_HTML, integrityOf(fixture.buildDir));
afterAll(() => rmSync(fixture.root, { recursive: true, force: true }));
const app = createRelayApp({ spaDir: fixture.buildDir });

describe('static files', () => {
  it.each([
    ['/_app/immutable/entry/start.test.js', 'text/javascript; charset=utf-8'],
    ['/vendor/module.mjs', 'text/javascript; charset=utf-8'],
    ['/_app/immutable/assets/app.test.css', 'text/css; charset=utf-8'],
    ['/_app/immutable/workers/hash.test.wasm', 'application/wasm'],
    ['/_app/version.json', 'application/json; charset=utf-8'],
    ['/favicon.svg', 'image/svg+xml'],
    ['/service-worker.js', 'text/javascript; charset=utf-8'],
  ])('%s is served as %s', async (path, type) => {
    const response = await app.request(path);
    expect(response.status).toBe(200);
    expect(response.headers.get('Content-Type')).toBe(type);
  });

  it('serves the file bytes unchanged', async () => {
    const response = await app.request('/_app/immutable/workers/hash.test.wasm');
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(WASM_BYTES);
  });

  it('caches hashed assets forever and revalidates everything else', async () => {
    expect((await app.request('/_app/immutable/entry/app.test.js')).headers.get('Cache-Control')).toBe('public, max-age=31536000, immutable');
    expect((await app.request('/_app/version.json')).headers.get('Cache-Control')).toBe('no-cache');
    expect((await app.request('/favicon.svg')).headers.get('Cache-Control')).toBe('no-cache');
    expect((await app.request('/')).headers.get('Cache-Control')).toBe('no-cache');
    expect((await app.request('/index.html')).headers.get('Cache-Control')).toBe('no-cache');
  });

  it('answers HEAD like GET without a body', async () => {
    const response = await app.request('/favicon.svg', { method: 'HEAD' });
    expect(response.status).toBe(200);
    expect(response.headers.get('Content-Type')).toBe('image/svg+xml');
    expect(await response.text()).toBe('');
  });
});

describe('SPA fallback', () => {
  it.each(['/', '/index.html', '/contracts', '/contracts/42/edit?tab=seals', '/no-such-file.txt', '/_apparently'])('%s gets index.html', async (path) => {
    const response = await app.request(path);
    expect(response.status).toBe(200);
    expect(response.headers.get('Content-Type')).toBe('text/html; charset=utf-8');
    expect(response.headers.get('Cache-Control')).toBe('no-cache');
    expect(await response.text()).toBe(servedIndexHtml);
  });

  it('keeps the download worker\'s paths a 404, never the page saved as a file', async () => {
    for (const path of ['/download-stream/0123456789abcdef0123456789abcdef', '/download-stream/', '/download-stream']) {
      const response = await app.request(path);
      expect(response.status).toBe(404);
      expect(await response.json()).toEqual({ error: { code: 'E_NOT_FOUND', message: 'no such download' } });
    }
  });

  it('serves the download worker revalidated and outside the import map (workers are no part of the page\'s module graph)', async () => {
    const response = await app.request('/service-worker.js');
    expect(response.headers.get('Cache-Control')).toBe('no-cache');
    expect(response.headers.get('Service-Worker-Allowed')).toBeNull();
    expect(servedIndexHtml).not.toContain('service-worker');
  });

  it('keeps a missing build asset a 404, not HTML', async () => {
    const response = await app.request('/_app/immutable/entry/gone.js');
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ error: { code: 'E_NOT_FOUND', message: 'no such file' } });
  });

  it('does not serve dot-files', async () => {
    const response = await app.request('/.env');
    expect(await response.text()).toBe(servedIndexHtml);
  });

  it('does not follow a symlink out of the build folder', async () => {
    const response = await app.request('/escape.txt');
    const body = await response.text();
    expect(body).not.toContain(SECRET_OUTSIDE_BUILD);
    expect(body).toBe(servedIndexHtml);
  });

  it('answers other methods with 404 JSON, not the page', async () => {
    const response = await app.request('/contracts', { method: 'POST' });
    expect(response.status).toBe(404);
    expect((await response.json()).error.code).toBe('E_NOT_FOUND');
  });
});

describe('directory traversal', () => {
  it.each([
    '/..%2fsecret.txt',
    '/..%2Fsecret.txt',
    '/%2e%2e%2fsecret.txt',
    '/_app/..%2f..%2fsecret.txt',
    '/..%5csecret.txt',
    '/%2e%2e%5csecret.txt',
    '/favicon.svg%00.js',
    '/%',
  ])('%s is refused', async (path) => {
    const response = await app.request(path);
    const body = await response.text();
    expect(body).not.toContain(SECRET_OUTSIDE_BUILD);
    expect(response.status).toBe(400);
    expect(JSON.parse(body).error.code).toBe('E_BAD_PATH');
  });

  // The WHATWG URL parser (in Request, and in @hono/node-server) treats %2e%2e as ".." and
  // folds it away before routing, clamped at the root: what reaches the handler is inside.
  it.each(['/../secret.txt', '/%2e%2e/secret.txt', '/.%2e/secret.txt', '/_app/%2e%2e/%2e%2e/secret.txt', '/%2E%2E/%2e%2e/secret.txt'])(
    '%s is folded to /secret.txt and gets the page, not the file',
    async (path) => {
      const request = new Request(`http://localhost${path}`);
      expect(new URL(request.url).pathname).toBe('/secret.txt');
      const response = await app.request(request);
      expect(response.status).toBe(200);
      expect(await response.text()).toBe(servedIndexHtml);
    },
  );

  it('decodes each segment once, after splitting', () => {
    expect(safeSegments('/a/b%20c/%252e%252e')).toEqual(['a', 'b c', '%2e%2e']);
    expect(() => safeSegments('/a/..%2fb')).toThrow(/slashes/);
  });
});

describe('API paths never fall back to the page', () => {
  it.each(['/api/nope', '/api/', '/api', '/api/health/extra', '/api/vault/anything'])('%s is 404 JSON', async (path) => {
    const response = await app.request(path);
    expect(response.status).toBe(404);
    expect(response.headers.get('Content-Type')).toMatch(/^application\/json/);
    expect(await response.json()).toEqual({ error: { code: 'E_NOT_FOUND', message: 'no such endpoint' } });
  });
});

describe('missing build', () => {
  const missing = createRelayApp({ spaDir: join(fixture.root, 'not-built'), errorLog: () => {} });

  it('answers 503 JSON saying how to build', async () => {
    const response = await missing.request('/');
    expect(response.status).toBe(503);
    const body = await response.json();
    expect(body.error.code).toBe('E_CLIENT_NOT_BUILT');
    expect(body.error.message).toContain('npm run build');
  });

  it('still serves the API', async () => {
    expect((await missing.request('/api/health')).status).toBe(200);
  });
});
