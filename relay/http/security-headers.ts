import type { MiddlewareHandler } from 'hono';

export interface CspSources {
  /** `'sha256-…'` expressions of the SPA's inline scripts (from index.html at startup). */
  scriptHashes: readonly string[];
  /** `'sha256-…'` expressions of inline `<style>` elements, if the build ever emits any. */
  styleHashes: readonly string[];
}

/**
 * script-src never gets 'unsafe-inline' or 'unsafe-eval': inline scripts run only if their
 * hash is listed, and 'wasm-unsafe-eval' admits WebAssembly compilation (hash-wasm) without
 * admitting eval().
 *
 * style-src-attr 'unsafe-inline' is the one relaxation, and it covers style attributes only,
 * not <style> elements: SvelteKit's route announcer (`<div id="svelte-announcer" style=…>`,
 * parsed from a template string) and app.html's `<div style="display: contents">` are
 * static style attributes, which CSP would otherwise drop. Svelte's own dynamic styles go
 * through CSSOM and need nothing. An attribute cannot hold selectors, and url() loads stay
 * bound by img-src/font-src, so this relaxation cannot read or exfiltrate page content.
 *
 * frame-src 'self' is for the download worker (client/src/service-worker.ts): a hidden frame
 * navigated to /download-stream/<id> is the one way to hand the worker's streamed response to
 * the browser's downloads (Chromium does not let a service worker answer an <a download>, and
 * navigating the tab itself would lose it if the worker were gone). What the frame receives is an
 * attachment, never rendered; every page of this origin refuses to be framed anyway
 * (frame-ancestors 'none', X-Frame-Options: DENY), and other origins stay refused.
 */
export function contentSecurityPolicy({ scriptHashes, styleHashes }: CspSources): string {
  const directives: Array<[string, ...string[]]> = [
    ['default-src', "'none'"],
    ['script-src', "'self'", "'wasm-unsafe-eval'", ...scriptHashes],
    ['style-src', "'self'", ...styleHashes],
    ['style-src-attr', "'unsafe-inline'"],
    ['img-src', "'self'", 'data:', 'blob:'],
    ['font-src', "'self'"],
    ['connect-src', "'self'"],
    ['worker-src', "'self'", 'blob:'],
    ['frame-src', "'self'"],
    ['frame-ancestors', "'none'"],
    ['base-uri', "'none'"],
    ['form-action', "'self'"],
    ['object-src', "'none'"],
  ];
  return directives.map((parts) => parts.join(' ')).join('; ');
}

export const FIXED_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Strict-Transport-Security': 'max-age=63072000; includeSubDomains',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'X-Frame-Options': 'DENY',
  'Permissions-Policy': 'camera=(), microphone=(), geolocation=()',
};

// Set after the handler ran so error, 404 and 503 answers carry the same headers as pages.
export function securityHeaders(sources: CspSources): MiddlewareHandler {
  const headers: Array<[string, string]> = [
    ...Object.entries(FIXED_SECURITY_HEADERS),
    ['Content-Security-Policy', contentSecurityPolicy(sources)],
  ];
  return async (c, next) => {
    await next();
    for (const [name, value] of headers) c.res.headers.set(name, value);
  };
}
