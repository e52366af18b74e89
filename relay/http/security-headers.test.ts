import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { createRelayApp } from '../server';
import { FIXTURE_INLINE_SCRIPT, writeSpaFixture } from '../test-support/spa-fixture';
import { cspHash, inlineHashesOf } from './inline-hashes';
import { FIXED_SECURITY_HEADERS, contentSecurityPolicy } from './security-headers';
import { integrityOf, withIntegrity } from './subresource-integrity';

const fixture = writeSpaFixture();
afterAll(() => rmSync(fixture.root, { recursive: true, force: true }));
const app = createRelayApp({ spaDir: fixture.buildDir });

// Computed here with node:crypto over the known script text, independently of the regex
// extraction in inline-hashes.ts.
const expectedScriptHash = `'sha256-${createHash('sha256').update(FIXTURE_INLINE_SCRIPT).digest('base64')}'`;
// The relay adds one more inline script, the import map of module digests (subresource-integrity.ts).
const importMapText = /<script type="importmap">([^<]*)<\/script>/.exec(withIntegrity('<head></head>', integrityOf(fixture.buildDir)))![1]!;
const expectedImportMapHash = `'sha256-${createHash('sha256').update(importMapText).digest('base64')}'`;

function directives(csp: string): Map<string, string[]> {
  return new Map(
    csp.split(';').map((part) => {
      const [name = '', ...sources] = part.trim().split(/\s+/);
      return [name, sources];
    }),
  );
}

describe('Content-Security-Policy', () => {
  it('is exactly the strict policy with the fixture script hash', () => {
    expect(contentSecurityPolicy({ scriptHashes: [expectedScriptHash], styleHashes: [] })).toBe(
      "default-src 'none'; " +
        `script-src 'self' 'wasm-unsafe-eval' ${expectedScriptHash}; ` +
        "style-src 'self'; style-src-attr 'unsafe-inline'; " +
        "img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; worker-src 'self' blob:; frame-src 'self'; " +
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'",
    );
  });

  it('never lets scripts or style elements run inline or eval', async () => {
    const csp = (await app.request('/')).headers.get('Content-Security-Policy') ?? '';
    const parsed = directives(csp);
    expect(parsed.get('script-src')).toEqual(["'self'", "'wasm-unsafe-eval'", expectedImportMapHash, expectedScriptHash]);
    expect(parsed.get('style-src')).toEqual(["'self'"]);
    expect(csp).not.toContain("'unsafe-eval'");
    // 'unsafe-inline' appears once, for style attributes only.
    expect([...parsed].filter(([, sources]) => sources.includes("'unsafe-inline'")).map(([name]) => name)).toEqual(['style-src-attr']);
  });

  it('hashes inline scripts only, and hashes what the browser hashes', () => {
    const html = `<script src="/a.js"></script><script type="module">a()</script><script>\r\nb()\r</script><style>p{}</style>`;
    const hashes = inlineHashesOf(html);
    expect(hashes.scripts).toEqual([cspHash('a()'), cspHash('\nb()\n')]);
    expect(hashes.styles).toEqual([cspHash('p{}')]);
    expect(inlineHashesOf(`<script>x()</script><script>x()</script>`).scripts).toHaveLength(1);
  });

  it('lists no hash when there is no client build', async () => {
    const bare = createRelayApp({ spaDir: `${fixture.root}/missing` });
    const csp = directives((await bare.request('/api/health')).headers.get('Content-Security-Policy') ?? '');
    expect(csp.get('script-src')).toEqual(["'self'", "'wasm-unsafe-eval'"]);
  });
});

describe('security headers on every response', () => {
  const cases: Array<[string, string, number]> = [
    ['SPA page', '/', 200],
    ['SPA fallback', '/contracts/42', 200],
    ['static asset', '/_app/immutable/entry/start.test.js', 200],
    ['API', '/api/health', 200],
    ['API 404', '/api/nope', 404],
    ['bad path', '/..%2fsecret.txt', 400],
  ];
  it.each(cases)('%s (%s)', async (_label, path, status) => {
    const response = await app.request(path);
    expect(response.status).toBe(status);
    for (const [name, value] of Object.entries(FIXED_SECURITY_HEADERS)) expect(response.headers.get(name)).toBe(value);
    expect(response.headers.get('Strict-Transport-Security')).toBe('max-age=63072000; includeSubDomains');
    expect(response.headers.get('Permissions-Policy')).toBe('camera=(), microphone=(), geolocation=()');
    expect(response.headers.get('Content-Security-Policy')).toContain(expectedScriptHash);
    expect(response.headers.get('X-Request-Id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});
