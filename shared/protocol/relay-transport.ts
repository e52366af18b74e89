/**
 * How browser-side protocol code talks to the relay: one small transport, so the same flows run
 * in the app (fetch), in relay unit tests (app.request) and in Node integration tests (HTTPS
 * with the local CA). Non-2xx answers become RelayApiError with the relay's error code; answers
 * are never trusted to be in shape (callers parse them with the wire schemas).
 */

/** A 4xx/5xx answer of the relay, with its error code (`E_LOGIN_FAILED`, `E_RATE_LIMITED`, ...). */
export class RelayApiError extends Error {
  override readonly name = 'RelayApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * A failure that a later try may not meet: the network (fetch throws TypeError), or a relay that
 * is briefly unavailable (5xx, a restart). Never a refusal (4xx): retrying one changes nothing.
 */
export function isTransient(e: unknown): boolean {
  return (e instanceof RelayApiError && e.status >= 500) || e instanceof TypeError;
}

export interface RelayTransport {
  /** `path` is absolute from the origin, such as `/api/keys/private-keys/1`. */
  request(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown, session?: string): Promise<unknown>;
}

/** Raw bytes to and from the relay: the vault's storage blocks. */
export interface BlockTransport {
  putBytes(path: string, bytes: Uint8Array, session: string): Promise<unknown>;
  getBytes(path: string, session: string): Promise<Uint8Array>;
}

export type FetchFn = (url: string, init: RequestInit) => Promise<Response> | Response;

export async function answerOrThrow(res: Response): Promise<unknown> {
  const answer: unknown = await res.json().catch(() => null);
  if (!res.ok) {
    const error = (answer as { error?: { code?: unknown; message?: unknown } } | null)?.error;
    throw new RelayApiError(res.status, typeof error?.code === 'string' ? error.code : 'E_HTTP', typeof error?.message === 'string' ? error.message : `HTTP ${res.status}`);
  }
  return answer;
}

/** A transport over fetch; `origin` is '' in the app (same origin). */
export function fetchTransport(origin = '', fetchFn: FetchFn = (url, init) => fetch(url, init)): RelayTransport & BlockTransport {
  return {
    async putBytes(path, bytes, session) {
      const res = await fetchFn(`${origin}${path}`, { method: 'PUT', headers: { authorization: `Bearer ${session}`, 'content-type': 'application/octet-stream' }, body: bytes as BodyInit });
      return answerOrThrow(res);
    },
    async getBytes(path, session) {
      const res = await fetchFn(`${origin}${path}`, { method: 'GET', headers: { authorization: `Bearer ${session}` } });
      if (!res.ok) await answerOrThrow(res);
      return new Uint8Array(await res.arrayBuffer());
    },
    async request(method, path, body, session) {
      const headers: Record<string, string> = {};
      if (session) headers.authorization = `Bearer ${session}`;
      if (body !== undefined) headers['content-type'] = 'application/json';
      const res = await fetchFn(`${origin}${path}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
      return answerOrThrow(res);
    },
  };
}
