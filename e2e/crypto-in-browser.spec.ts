import { expect, test } from '@playwright/test';
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

let bundle = '';
test.beforeAll(async () => {
  const out = await build({
    entryPoints: [fileURLToPath(new URL('./browser/crypto-entry.ts', import.meta.url))],
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2022',
    write: false,
  });
  bundle = out.outputFiles[0]!.text;
});

// The vectors bundle is injected as a script, which the app's CSP rightly forbids: this context
// bypasses CSP for that reason only. The CSP itself is tested in security.spec.ts.
test.use({ bypassCSP: true });

test('chunked-encryption vectors pass in Chromium, whole-message and streaming', async ({ page }) => {
  await page.goto('/');
  await page.addScriptTag({ content: bundle });
  const results = await page.evaluate(() => (globalThis as any).sealvaultVectors.runChunkedVectors());
  expect(results.length).toBeGreaterThanOrEqual(20);
  for (const r of results) expect(r.got, r.name).toBe(r.expect);
});

test('Argon2id and KEK vectors pass in Chromium (hash-wasm, WebCrypto HKDF, Ed25519)', async ({ page }) => {
  await page.goto('/');
  await page.addScriptTag({ content: bundle });
  const results = await page.evaluate(() => (globalThis as any).sealvaultVectors.runKekVectors());
  expect(results.length).toBe(4);
  for (const r of results) expect(r.ok, r.name).toBe(true);
});
