import { defineConfig } from '@playwright/test';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const port = Number(process.env.SEALVAULT_E2E_PORT ?? 18443);
const httpPort = port + 1;
// A fresh data folder per run: a new local CA, empty databases and block stores.
const dataDir = process.env.SEALVAULT_E2E_DATA ?? mkdtempSync(join(tmpdir(), 'sealvault-e2e-'));
process.env.SEALVAULT_E2E_DATA = dataDir;
// Request logs of the relays under test would drown the test report; warnings still show.
process.env.SEALVAULT_LOG_LEVEL ??= 'warn';

export default defineConfig({
  testDir: 'e2e',
  timeout: 120_000,
  workers: 1,
  reporter: [['list']],
  use: {
    baseURL: `https://localhost:${port}`,
    // The relay's certificate comes from a local CA made on first start; Chromium is not told to
    // trust it, so TLS errors are ignored here (tests check the chain separately with node:tls).
    ignoreHTTPSErrors: true,
    // A step that cannot happen fails in seconds with its locator named, not at the test timeout.
    actionTimeout: 20_000,
    launchOptions: {
      executablePath: process.env.PLAYWRIGHT_CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    },
  },
  webServer: {
    command: `npx tsx relay/cli.ts start --port ${port} --data ${dataDir}`,
    // The account tests sign the same person in several times a minute; a person would not.
    env: { SEALVAULT_HTTP_PORT: String(httpPort), SEALVAULT_LOG_LEVEL: process.env.SEALVAULT_LOG_LEVEL, SEALVAULT_ESCROW_CALLS_PER_MINUTE: '100' },
    url: `https://localhost:${port}/api/health`,
    ignoreHTTPSErrors: true,
    timeout: 60_000,
    reuseExistingServer: false,
    stdout: 'pipe',
  },
});
