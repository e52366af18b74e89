/**
 * A fetch over node:https that trusts exactly one CA (the relay's local CA) and nothing else,
 * so the integration test speaks to the relay the way a browser that trusts that CA would.
 */
import { Agent, request } from 'node:https';

export type CaFetch = (url: string, init?: { method?: string; headers?: Record<string, string>; body?: string | Uint8Array }) => Promise<Response>;

export function caFetch(ca: Buffer): CaFetch & { close(): void } {
  const agent = new Agent({ ca, keepAlive: true, maxSockets: 8 });
  const once = (url: string, init: { method?: string; headers?: Record<string, string>; body?: string | Uint8Array }) =>
    new Promise<Response>((resolve, reject) => {
      const u = new URL(url);
      const body = init.body === undefined ? undefined : typeof init.body === 'string' ? Buffer.from(init.body) : Buffer.from(init.body.buffer, init.body.byteOffset, init.body.byteLength);
      const req = request(
        { hostname: u.hostname, port: u.port, path: `${u.pathname}${u.search}`, method: init.method ?? 'GET', agent, headers: { ...init.headers, ...(body ? { 'content-length': String(body.length) } : {}) } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const headers = new Headers();
            for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') headers.set(k, v);
            const status = res.statusCode ?? 500;
            resolve(new Response(status === 204 || status === 304 ? null : Buffer.concat(chunks), { status, headers }));
          });
          res.on('error', reject);
        },
      );
      // A kept-alive socket the relay closed just as it was reused: the request never arrived,
      // so sending it once more on a fresh socket is safe (what Node's http docs advise).
      req.on('error', (e: NodeJS.ErrnoException) => reject(Object.assign(e, { stale: req.reusedSocket && e.code === 'ECONNRESET' })));
      req.end(body);
    });
  const f = (url: string, init: { method?: string; headers?: Record<string, string>; body?: string | Uint8Array } = {}) =>
    once(url, init).catch((e: { stale?: boolean }) => (e.stale ? once(url, init) : Promise.reject(e)));
  return Object.assign(f, { close: () => agent.destroy() });
}
