/**
 * Each service describes its routes once, with the same zod schemas it validates with, and
 * publishes the OpenAPI 3.1 document at GET /api/<service>/openapi.json.
 */
import { z } from 'zod';
import { ErrorBodySchema } from '../../shared/schemas/common';

type Method = 'get' | 'post' | 'put' | 'delete' | 'patch' | 'head';

export interface RouteDoc {
  method: Method;
  /** Hono-style path relative to /api/<service>, e.g. "/accounts/:id" */
  path: string;
  summary: string;
  /** "session" when a bearer session is required */
  auth?: 'session' | 'none';
  body?: z.ZodType;
  /** for binary bodies (blocks): the media type */
  rawBody?: string;
  query?: z.ZodType;
  response?: z.ZodType;
  /** other documented statuses and what they mean */
  errors?: Record<number, string>;
}

function schemaOf(s: z.ZodType): unknown {
  return z.toJSONSchema(s, { target: 'draft-2020-12', unrepresentable: 'any', io: 'input' });
}

export class ApiDescription {
  private readonly routes: RouteDoc[] = [];
  constructor(
    readonly service: string,
    readonly version: string,
  ) {}

  add(route: RouteDoc): RouteDoc {
    this.routes.push(route);
    return route;
  }

  document(): Record<string, unknown> {
    const paths: Record<string, Record<string, unknown>> = {};
    for (const r of this.routes) {
      const path = `/api/${this.service}${r.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`;
      const params = [...r.path.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
      const op: Record<string, unknown> = {
        summary: r.summary,
        operationId: `${this.service}_${r.method}_${r.path.replace(/[^A-Za-z0-9]+/g, '_').replace(/^_|_$/g, '')}`,
        parameters: params,
        responses: {
          '200': { description: 'success', ...(r.response ? { content: { 'application/json': { schema: schemaOf(r.response) } } } : {}) },
          ...Object.fromEntries(
            Object.entries({ 400: 'invalid input', ...(r.auth === 'session' ? { 401: 'no valid session', 403: 'not allowed' } : {}), ...r.errors }).map(([status, description]) => [
              status,
              { description, content: { 'application/json': { schema: schemaOf(ErrorBodySchema) } } },
            ]),
          ),
        },
      };
      if (r.query) op.parameters = [...params, { name: 'query', in: 'query', style: 'form', explode: true, schema: schemaOf(r.query) }];
      if (r.body) op.requestBody = { required: true, content: { 'application/json': { schema: schemaOf(r.body) } } };
      if (r.rawBody) op.requestBody = { required: true, content: { [r.rawBody]: { schema: { type: 'string', format: 'binary' } } } };
      if (r.auth === 'session') op.security = [{ bearer: [] }];
      (paths[path] ??= {})[r.method] = op;
    }
    return {
      openapi: '3.1.0',
      info: { title: `Sealvault ${this.service} service`, version: this.version },
      paths,
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'sv1 (Ed25519-signed, see docs/FORMATS.md)' } } },
    };
  }
}
