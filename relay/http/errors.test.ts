import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { describe, expect, it } from 'vitest';
import { createRelayApp } from '../server';
import { HttpError } from './errors';

const SECRET = 'db password hunter2 at /srv/sealvault/vault.sqlite';

function appWithTestRoutes() {
  const logged: string[] = [];
  const routes = new Hono();
  routes.get('/boom', () => {
    throw new Error(SECRET);
  });
  routes.get('/boom-string', () => {
    // eslint-disable-next-line @typescript-eslint/only-throw-error
    throw SECRET;
  });
  routes.get('/conflict', () => {
    throw new HttpError(409, 'E_ALREADY_EXISTS', 'that account already exists');
  });
  routes.get('/hono-400', () => {
    throw new HTTPException(400, { message: 'Malformed JSON in request body' });
  });
  routes.get('/hono-500', () => {
    throw new HTTPException(500, { message: SECRET });
  });
  const app = createRelayApp({ services: [{ name: 'vault', app: routes }], errorLog: (line) => logged.push(line) });
  return { app, logged };
}

describe('error handler', () => {
  it('hides internals behind a generic 500 and logs them with the request id', async () => {
    const { app, logged } = appWithTestRoutes();
    const response = await app.request('/api/vault/boom?token=abc');
    expect(response.status).toBe(500);
    const body = await response.text();
    expect(JSON.parse(body)).toEqual({ error: { code: 'E_INTERNAL', message: 'internal error' } });
    expect(body).not.toContain('hunter2');
    expect(response.headers.get('Content-Security-Policy')).toContain("default-src 'none'");

    const id = response.headers.get('X-Request-Id');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(logged).toHaveLength(1);
    expect(logged[0]).toContain(id);
    expect(logged[0]).toContain('GET /api/vault/boom');
    expect(logged[0]).toContain(SECRET);
    expect(logged[0]).not.toContain('token=abc');
  });

  it('treats a thrown non-Error the same way', async () => {
    const { app, logged } = appWithTestRoutes();
    const response = await app.request('/api/vault/boom-string');
    expect(response.status).toBe(500);
    expect(await response.text()).not.toContain('hunter2');
    expect(logged[0]).toContain(SECRET);
  });

  it('passes a known client error through with its status, code and message', async () => {
    const { app, logged } = appWithTestRoutes();
    const response = await app.request('/api/vault/conflict');
    expect(response.status).toBe(409);
    expect(await response.json()).toEqual({ error: { code: 'E_ALREADY_EXISTS', message: 'that account already exists' } });
    expect(logged).toEqual([]);
  });

  it("maps Hono's own 4xx exceptions to the same shape", async () => {
    const { app } = appWithTestRoutes();
    const response = await app.request('/api/vault/hono-400');
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ error: { code: 'E_BAD_REQUEST', message: 'Malformed JSON in request body' } });
  });

  it("hides the message of Hono's 5xx exceptions", async () => {
    const { app } = appWithTestRoutes();
    const response = await app.request('/api/vault/hono-500');
    expect(response.status).toBe(500);
    expect(await response.json()).toEqual({ error: { code: 'E_INTERNAL', message: 'internal error' } });
  });

  it('answers unknown routes with 404 JSON', async () => {
    const { app } = appWithTestRoutes();
    const response = await app.request('/api/vault/unknown', { method: 'DELETE' });
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ error: { code: 'E_NOT_FOUND', message: 'no such endpoint' } });
    // Without an SPA, paths outside /api are 404 JSON too.
    expect((await app.request('/somewhere')).status).toBe(404);
  });
});
