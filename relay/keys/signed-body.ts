/**
 * Bodies that carry a granter's signed statement (grants, DEK envelopes): a body whose
 * statement is absent or unsigned is refused as E_SIGNATURE, which says more than a generic
 * validation error; then the schema applies as everywhere else.
 */
import type { Context } from 'hono';
import { z } from 'zod';
import { readJson, validate } from '../common/validate';
import { HttpError } from '../http/errors';

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export async function readSignedBody<S extends z.ZodType>(c: Context, schema: S, limit: number, field: string): Promise<z.infer<S>> {
  const raw = await readJson(c, z.unknown(), limit);
  if (isObject(raw) && (!isObject(raw[field]) || !('signature' in raw[field]))) {
    throw new HttpError(400, 'E_SIGNATURE', `${field} must be a statement signed by its granter`);
  }
  return validate(schema, raw);
}
