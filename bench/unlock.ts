/**
 * npm run bench:unlock: how long a person waits between pressing "Sign in" and an unlocked
 * vault, in headless Chromium against the real relay over HTTPS (all five services, SQLite, the
 * built app), and where that time goes. The login page sets User Timing marks at each step
 * (client/src/routes/login/+page.svelte); this reads them after each sign-in.
 *
 * Prints JSON lines {"metric", "value", "unit"} on stdout, nothing else:
 *   unlock_median_ms       submit -> private keys unwrapped (the vault is unlocked)
 *   ready_median_ms        submit -> profile loaded and the home page shown
 *   argon2id_median_ms     the Argon2id step alone (Web Worker, hash-wasm, 64 MiB, t=3)
 *   argon2id_share         argon2id / unlock, per sign-in, median (the baseline measured in the same run)
 *   unlock_overhead_ms     unlock - argon2id, median: everything that is not the password hash
 *   prelogin_ms, opaque_login_ms, escrow_ms, keys_ms   the other steps, medians
 * Environment: BENCH_ROUNDS (default 15), BENCH_TYPING_MS (pause between page load and submit,
 * default 1000, as a person typing), PLAYWRIGHT_CHROMIUM_PATH (default /usr/bin/chromium).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { derivePasswordHalf } from '../shared/crypto/argon2';
import { registerAccount } from '../shared/protocol/account';
import { fetchTransport } from '../shared/protocol/relay-transport';
import { createLogger } from '../relay/common/observability';
import { caFetch } from '../relay/integration/https-client';
import { startRelay } from '../relay/server';
import { findChromium, launchChromium, UsageError } from './lib/chromium';
import { median } from './lib/suite';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15);
const WARMUP = 2;
const TYPING_MS = Number(process.env.BENCH_TYPING_MS ?? 1000);
const PASSWORD = 'Bench unlock lantern 42 orchard';

function log(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

function emit(metric: string, value: number, unit: 'ms' | 'ratio'): void {
  if (!Number.isFinite(value)) throw new Error(`metric ${metric} is not a finite number: ${value}`);
  const v = Number(value.toFixed(unit === 'ms' ? 1 : 3));
  process.stdout.write(`{"metric": ${JSON.stringify(metric)}, "value": ${JSON.stringify(v)}, "unit": ${JSON.stringify(unit)}}\n`);
}

async function main(): Promise<void> {
  if (!Number.isInteger(ROUNDS) || ROUNDS < 3 || ROUNDS > 200) throw new UsageError('BENCH_ROUNDS must be an integer from 3 to 200');
  const chromiumPath = findChromium();
  if (!existsSync(join(ROOT, 'client/build/index.html'))) {
    log('building the app (client/build is missing)');
    execFileSync('npx', ['vite', 'build'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  }
  // One account signs in many times a minute here; a person would not.
  process.env.SEALVAULT_ESCROW_CALLS_PER_MINUTE = '10000';
  const dataDir = mkdtempSync(join(tmpdir(), 'sealvault-bench-unlock-'));
  const relay = await startRelay({
    dataDir,
    port: 0,
    host: '127.0.0.1',
    httpPort: false,
    handleSignals: false,
    spaDir: join(ROOT, 'client/build'),
    logger: createLogger({ level: 'warn', destination: process.stderr }),
    log: () => {},
  });
  const fetcher = caFetch(readFileSync(join(dataDir, 'tls', 'ca.pem')));
  const browser = await launchChromium(chromiumPath);
  try {
    const origin = relay.url.replace(/\/$/, '');
    const transport = fetchTransport(origin, (url, init) => fetcher(url, init as never));
    const setupToken = readFileSync(join(dataDir, 'setup-link.txt'), 'utf8').trim().split('#')[1];
    const setup = (await transport.request('POST', '/api/directory/setup', {
      setupToken,
      enterprise: { name: 'Bench Ltd' },
      administrators: [
        { role: 'system-admin', legalName: 'Bench System', employeeNumber: 'B001', contact: 'sys@bench.test', username: 'bench' },
        { role: 'security-admin', legalName: 'Bench Security', employeeNumber: 'B002', contact: 'sec@bench.test' },
        { role: 'auditor', legalName: 'Bench Auditor', employeeNumber: 'B003', contact: 'aud@bench.test' },
      ],
    })) as { invitations: { role: string; invitationCode: string }[] };
    const code = setup.invitations.find((i) => i.role === 'system-admin')!.invitationCode;
    await registerAccount({ transport, invitationCode: code, password: PASSWORD, deriveP: (pw, salt, params) => derivePasswordHalf(pw, salt, params) });
    log(`relay ${origin}, Chromium ${browser.version()}, ${ROUNDS} sign-ins after ${WARMUP} warm-up`);

    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    page.on('pageerror', (e) => log(`[page error] ${e.message}`));
    const rows: Record<string, number>[] = [];
    for (let round = 0; round < WARMUP + ROUNDS; round++) {
      await page.goto(`${origin}/login`);
      // A person takes a moment to type; the page may use it (it warms the Argon2id worker).
      await page.waitForTimeout(TYPING_MS);
      await page.getByLabel('Username').fill('bench');
      await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByTestId('welcome').getByText('Welcome', { exact: false }).waitFor({ timeout: 60_000 });
      await page.waitForFunction(() => performance.getEntriesByName('unlock:ready').length > 0);
      const marks = await page.evaluate(() => Object.fromEntries(performance.getEntriesByType('mark').filter((m) => m.name.startsWith('unlock:')).map((m) => [m.name.slice(7), m.startTime])));
      const at = (name: string) => {
        const t = marks[name];
        if (t === undefined) throw new Error(`the login page set no unlock:${name} mark`);
        return t;
      };
      const row = {
        unlock: at('done') - at('submit'),
        ready: at('ready') - at('submit'),
        prelogin: at('argon2id') - at('prelogin'),
        argon2id: at('login') - at('argon2id'),
        login: at('escrow') - at('login'),
        escrow: at('keys') - at('escrow'),
        keys: at('done') - at('keys'),
      };
      if (round >= WARMUP) rows.push(row);
      log(`round ${round + 1}${round < WARMUP ? ' (warm-up)' : ''}: ${Object.entries(row).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ')} ms`);
      // Sign out, as a person would, so sessions do not pile up.
      await page.getByRole('button', { name: 'Sign out' }).click();
    }
    const med = (k: string) => median(rows.map((r) => r[k]!));
    emit('unlock_median_ms', med('unlock'), 'ms');
    emit('ready_median_ms', med('ready'), 'ms');
    emit('argon2id_median_ms', med('argon2id'), 'ms');
    emit('argon2id_share', median(rows.map((r) => r.argon2id! / r.unlock!)), 'ratio');
    emit('unlock_overhead_ms', median(rows.map((r) => r.unlock! - r.argon2id!)), 'ms');
    emit('prelogin_ms', med('prelogin'), 'ms');
    emit('opaque_login_ms', med('login'), 'ms');
    emit('escrow_ms', med('escrow'), 'ms');
    emit('keys_ms', med('keys'), 'ms');
  } finally {
    await browser.close();
    fetcher.close();
    await relay.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`[bench] ${e instanceof UsageError ? e.message : e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
