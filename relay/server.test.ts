import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { createRelayApp } from './server';
import { SERVICE_FACTORIES } from './services/catalog';
import { SERVICE_NAMES } from './services/names';
import { createPlaceholderService } from './services/placeholder';
import { RELAY_VERSION } from './version';
import { testServiceContext } from './test-support/service-context';

describe('createRelayApp', () => {
  it('reports health with version and mounted services', async () => {
    const services = await Promise.all(SERVICE_NAMES.map(async (name) => createPlaceholderService({ ...(await testServiceContext(name)), version: RELAY_VERSION })));
    const app = createRelayApp({ services });
    const response = await app.request('/api/health');
    expect(response.status).toBe(200);
    expect(response.headers.get('Cache-Control')).toBe('no-store');
    expect(await response.json()).toEqual({ ok: true, version: RELAY_VERSION, services: [...SERVICE_NAMES] });
  });

  it.each(SERVICE_NAMES)('mounts the %s placeholder under /api/%s', async (name) => {
    const app = createRelayApp({ services: [createPlaceholderService({ ...(await testServiceContext(name)), version: '9.9.9' })] });
    const response = await app.request(`/api/${name}/health`);
    expect(await response.json()).toEqual({ service: name, version: '9.9.9', ok: true, placeholder: true });
  });

  it('serves only the services it was given', async () => {
    const escrow = new Hono().get('/shares', (c) => c.json({ shares: [] }));
    const app = createRelayApp({ services: [{ name: 'escrow', app: escrow }] });
    expect(await (await app.request('/api/health')).json()).toMatchObject({ services: ['escrow'] });
    expect((await app.request('/api/escrow/shares')).status).toBe(200);
    expect((await app.request('/api/vault/health')).status).toBe(404);
    expect((await app.request('/api/shares')).status).toBe(404);
  });

  it('lets a service choose its own Cache-Control', async () => {
    const vault = new Hono().get('/public', (c) => c.json({}, 200, { 'Cache-Control': 'public, max-age=60' }));
    const app = createRelayApp({ services: [{ name: 'vault', app: vault }] });
    expect((await app.request('/api/vault/public')).headers.get('Cache-Control')).toBe('public, max-age=60');
  });

  it('refuses the same service twice', () => {
    const app = new Hono();
    expect(() => createRelayApp({ services: [{ name: 'keys', app }, { name: 'keys', app }] })).toThrow(/"keys" given twice/);
  });

  it('has a factory for every service name', () => {
    expect(Object.keys(SERVICE_FACTORIES).sort()).toEqual([...SERVICE_NAMES].sort());
  });
});

describe('cross-origin writes', () => {
  it('refuses a state-changing request from another origin, and allows same-origin and non-browser ones', async () => {
    const app = createRelayApp({ services: [] });
    const post = (headers: Record<string, string>) => app.request('https://localhost:8443/api/nothing', { method: 'POST', headers });
    const cross = await post({ origin: 'https://attacker.example' });
    expect(cross.status).toBe(403);
    expect((await cross.json()).error.code).toBe('E_CROSS_ORIGIN');
    expect((await post({ 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect((await post({ origin: 'https://localhost:8443' })).status).toBe(404);
    expect((await post({})).status).toBe(404);
  });
});
