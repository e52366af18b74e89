/** Small request helpers for the vault tests (app.request with a bearer token and a JSON or binary body). */
import type { Hono } from 'hono';

/** Request bodies the tests send: text, bytes or a stream. */
export type Body = string | Uint8Array | ReadableStream<Uint8Array>;

export interface Call {
  token?: string;
  json?: unknown;
  body?: Body;
  headers?: Record<string, string>;
}

export async function call(app: Hono, method: string, path: string, options: Call = {}): Promise<Response> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let body: Body | undefined = options.body;
  if (options.json !== undefined && method !== 'GET' && method !== 'HEAD') {
    headers['content-type'] ??= 'application/json';
    body = JSON.stringify(options.json);
  }
  const init: RequestInit & { duplex?: 'half' } = { method, headers };
  if (body !== undefined) {
    init.body = body as BodyInit;
    if (body instanceof ReadableStream) init.duplex = 'half';
  }
  return app.request(`/api/vault${path}`, init);
}

export async function errorCode(res: Response): Promise<string> {
  const body = (await res.json()) as { error?: { code?: string } };
  return body.error?.code ?? `(no error code, HTTP ${res.status})`;
}

export function putBlock(app: Hono, token: string, file: string, version: number, index: number, bytes: Body, headers: Record<string, string> = {}): Promise<Response> {
  return call(app, 'PUT', `/files/${file}/versions/${version}/blocks/${index}`, { token, body: bytes, headers: { 'content-type': 'application/octet-stream', ...headers } });
}

/** A base64url string with one property changed so it is no longer the canonical spelling. */
export function nonCanonical(b64u: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  if (b64u.length % 4 === 0) return `${b64u}==`;
  // The last character carries unused low bits: setting one keeps the bytes but not the spelling.
  const last = alphabet.indexOf(b64u[b64u.length - 1]!);
  return b64u.slice(0, -1) + alphabet[last | 1];
}
