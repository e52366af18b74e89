import { Hono } from 'hono';
import type { RelayService, ServiceContext } from './service';

/**
 * PLACEHOLDER until the real service exists: answers only `GET /api/<name>/health`.
 * Replace its entry in catalog.ts with the real factory; nothing else refers to it.
 */
export function createPlaceholderService(context: ServiceContext): RelayService {
  const app = new Hono();
  app.get('/health', (c) => c.json({ service: context.name, version: context.version, ok: true, placeholder: true }));
  return { name: context.name, app, placeholder: true };
}
