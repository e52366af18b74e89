/**
 * Request input: a bounded, JSON-only body checked against a zod schema from shared/. The body
 * is read incrementally and abandoned as soon as it passes the limit, so an oversize request
 * costs at most the limit in memory.
 */
import type { Context } from 'hono';
import type { z } from 'zod';
import { concatBytes } from '../../shared/crypto/bytes';
import { HttpError } from '../http/errors';

export const DEFAULT_JSON_LIMIT = 64 * 1024;

export async function readBodyLimited(c: Context, maxBytes: number): Promise<Uint8Array> {
  const declared = Number(c.req.header('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) throw new HttpError(413, 'E_TOO_LARGE', `body larger than ${maxBytes} bytes`);
  const body = c.req.raw.body;
  if (!body) return new Uint8Array(0);
  const parts: Uint8Array[] = [];
  let total = 0;
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw new HttpError(413, 'E_TOO_LARGE', `body larger than ${maxBytes} bytes`);
    }
    parts.push(value);
  }
  return concatBytes(...parts);
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? i.path.join('.') : '(body)'}: ${i.message}`)
    .join('; ');
}

/** Parses and validates a JSON body; 415 for another content type, 400 for bad JSON or schema, 413 past the limit. */
export async function readJson<S extends z.ZodType>(c: Context, schema: S, maxBytes = DEFAULT_JSON_LIMIT): Promise<z.infer<S>> {
  const type = c.req.header('content-type') ?? '';
  if (!/^application\/json(\s*;\s*charset=utf-8)?$/i.test(type.trim())) throw new HttpError(415, 'E_UNSUPPORTED_MEDIA_TYPE', 'send application/json');
  const bytes = await readBodyLimited(c, maxBytes);
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw new HttpError(400, 'E_BAD_JSON', 'body is not valid UTF-8 JSON');
  }
  return validate(schema, value);
}

export function validate<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw new HttpError(400, 'E_VALIDATION', describeIssues(result.error));
  return result.data;
}

/** Path and query parameters, validated the same way. */
export function readParams<S extends z.ZodType>(c: Context, schema: S): z.infer<S> {
  return validate(schema, c.req.param());
}

export function readQuery<S extends z.ZodType>(c: Context, schema: S): z.infer<S> {
  return validate(schema, c.req.query());
}
