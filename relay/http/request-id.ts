import type { MiddlewareHandler } from 'hono';

export type RelayVariables = { requestId: string };
export type RelayEnv = { Variables: RelayVariables };

// Always minted here, never taken from the client: the id ties a 500 seen by a user to
// one stderr line, and a client-chosen id could collide with or impersonate another.
export function requestId(): MiddlewareHandler<RelayEnv> {
  return async (c, next) => {
    const id = crypto.randomUUID();
    c.set('requestId', id);
    await next();
    c.res.headers.set('X-Request-Id', id);
  };
}
