import type { Context, ErrorHandler, MiddlewareHandler, NotFoundHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ClientErrorStatusCode, ServerErrorStatusCode } from 'hono/utils/http-status';
import type { RelayEnv } from './request-id';

export type ErrorCode = `E_${string}`;

export interface ErrorBody {
  error: { code: ErrorCode; message: string };
}

export function errorBody(code: ErrorCode, message: string): ErrorBody {
  return { error: { code, message } };
}

/**
 * An error whose status, code and message are meant for the client. The message is sent
 * as written, so it must never carry secrets, paths or stack details.
 */
export class HttpError extends Error {
  override readonly name = 'HttpError';

  constructor(
    readonly status: ClientErrorStatusCode | ServerErrorStatusCode,
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const CODE_FOR_STATUS: Partial<Record<number, ErrorCode>> = {
  400: 'E_BAD_REQUEST',
  401: 'E_UNAUTHORIZED',
  403: 'E_FORBIDDEN',
  404: 'E_NOT_FOUND',
  405: 'E_METHOD_NOT_ALLOWED',
  409: 'E_CONFLICT',
  413: 'E_TOO_LARGE',
  415: 'E_UNSUPPORTED_MEDIA_TYPE',
  429: 'E_RATE_LIMITED',
};

export type ErrorLog = (line: string) => void;

const logToStderr: ErrorLog = (line) => process.stderr.write(`${line}\n`);

function requestIdOf(c: Context<RelayEnv>): string {
  return c.get('requestId') ?? 'no-request-id';
}

export function relayErrorHandler(log: ErrorLog = logToStderr): ErrorHandler<RelayEnv> {
  return (err, c) => {
    if (err instanceof HttpError) {
      if (err.status >= 500) log(`[relay] ${requestIdOf(c)} ${c.req.method} ${c.req.path} ${err.status} ${err.code}: ${err.message}`);
      return c.json(errorBody(err.code, err.message), err.status);
    }
    // Hono's own middleware (validators, body limits) throws HTTPException for bad input;
    // those are the client's fault and their messages are written for clients.
    if (err instanceof HTTPException && err.status >= 400 && err.status < 500) {
      const code = CODE_FOR_STATUS[err.status] ?? 'E_BAD_REQUEST';
      return c.json(errorBody(code, err.message || 'bad request'), err.status);
    }
    // Query strings are left out of the log line: they may carry tokens.
    const detail = err instanceof Error ? (err.stack ?? `${err.name}: ${err.message}`) : String(err);
    log(`[relay] ${requestIdOf(c)} ${c.req.method} ${c.req.path} unhandled error: ${detail}`);
    return c.json(errorBody('E_INTERNAL', 'internal error'), 500);
  };
}

/**
 * Hono hands only `Error` instances to onError; anything else thrown (a string, a plain
 * object from some library) would escape app.fetch and skip the JSON answer and headers.
 * Registered after the header middleware so the converted error still gets them.
 */
export function wrapNonErrorThrows(): MiddlewareHandler {
  return async (_c, next) => {
    try {
      await next();
    } catch (thrown) {
      throw thrown instanceof Error ? thrown : new Error(`non-Error thrown: ${String(thrown)}`);
    }
  };
}

export const relayNotFound: NotFoundHandler<RelayEnv> = (c) => c.json(errorBody('E_NOT_FOUND', 'no such endpoint'), 404);
