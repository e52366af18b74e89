/**
 * Structured logs (pino) and Prometheus metrics (prom-client). Log lines carry method, path
 * without query, status and timing: never bodies, tokens or headers, so no secret can leak into
 * them by accident; the redact list is a second wall for fields a handler might add.
 */
import type { MiddlewareHandler } from 'hono';
import { pino, type Logger } from 'pino';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export function createLogger(options: { level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  return pino(
    {
      level: options.level ?? process.env.SEALVAULT_LOG_LEVEL ?? 'info',
      base: { app: 'sealvault' },
      redact: {
        paths: ['authorization', 'token', 'ticket', 'password', '*.authorization', '*.token', '*.ticket', '*.password', 'req.headers', 'body'],
        censor: '[redacted]',
      },
    },
    options.destination ?? process.stdout,
  );
}

export interface Metrics {
  registry: Registry;
  bytesStored: Gauge;
  middleware(): MiddlewareHandler;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const requests = new Counter({ name: 'sealvault_http_requests_total', help: 'HTTP requests by service, method and status', labelNames: ['service', 'method', 'status'], registers: [registry] });
  const latency = new Histogram({
    name: 'sealvault_http_request_duration_seconds',
    help: 'HTTP request latency by service and method',
    labelNames: ['service', 'method'],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
    registers: [registry],
  });
  const bytesStored = new Gauge({ name: 'sealvault_block_bytes_stored', help: 'Bytes of ciphertext blocks held, per block store', labelNames: ['store'], registers: [registry] });
  return {
    registry,
    bytesStored,
    middleware() {
      return async (c, next) => {
        const started = performance.now();
        await next();
        const service = /^\/api\/([a-z]+)/.exec(c.req.path)?.[1] ?? 'app';
        requests.inc({ service, method: c.req.method, status: String(c.res.status) });
        latency.observe({ service, method: c.req.method }, (performance.now() - started) / 1000);
      };
    },
  };
}

export function requestLog(log: Logger): MiddlewareHandler {
  return async (c, next) => {
    const started = performance.now();
    await next();
    log.info({ reqId: c.get('requestId' as never), method: c.req.method, path: c.req.path, status: c.res.status, ms: Math.round(performance.now() - started) }, 'request');
  };
}
