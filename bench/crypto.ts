/**
 * Crypto throughput bench: the project's chunked-encryption streams against bare WebCrypto
 * AES-256-GCM, in Node and in headless Chromium, with `openssl speed` as the ceiling, plus
 * Argon2id timings. Run with `npm run bench:crypto` (tsx bench/crypto.ts).
 *
 * stdout carries only result lines, one JSON object each:
 *   {"metric": "node_encrypt_mbps", "value": 512.3, "unit": "MB/s"}
 * Progress, per-round figures and diagnostics go to stderr. See bench/README.md.
 *
 * Environment: PLAYWRIGHT_CHROMIUM_PATH (default /usr/bin/chromium), BENCH_MIB (message size,
 * default 256), BENCH_ROUNDS (timed rounds per metric, the median is reported; default 3).
 */
import { execFile } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { promisify } from 'node:util';
import type { Browser } from '@playwright/test';
import { bundle, call, findChromium, openBenchPage, probeChromium, serve, UsageError } from './lib/chromium';
import { argon2Once, CryptoSuite, mbps, median, MiB, type Timing } from './lib/suite';

const TOTAL = positiveInt('BENCH_MIB', 256) * MiB;
const ROUNDS = positiveInt('BENCH_ROUNDS', 3);
const ARGON2_RUNS = 3;
const IN_FLIGHT = 16;
const WORKERS = 2;
/** Past this the run is considered hung: everything is torn down and the exit code is 1. */
const WATCHDOG_MS = 15 * 60 * 1000;

function positiveInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got ${raw}`);
  return n;
}

function log(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

const DECIMALS: Record<string, number> = { 'MB/s': 1, ratio: 3, ms: 1 };

/** The only thing this program writes to stdout. */
function emit(metric: string, value: number, unit: 'MB/s' | 'ratio' | 'ms'): void {
  if (!Number.isFinite(value)) throw new Error(`metric ${metric} is not a finite number: ${value}`);
  const v = Number(value.toFixed(DECIMALS[unit]));
  process.stdout.write(`{"metric": ${JSON.stringify(metric)}, "value": ${JSON.stringify(v)}, "unit": ${JSON.stringify(unit)}}\n`);
}

const fmt = (values: number[]) => values.map((v) => v.toFixed(1)).join(', ');

/** Per-round ratios of two series measured side by side: shows how much of a ratio is noise. */
function logPaired(label: string, a: Series, b: Series): void {
  log(`${label} per round: ${a.values.map((v, i) => (v / b.values[i]!).toFixed(3)).join(', ')}`);
}

/** Collects per-round throughputs and reports their median. */
class Series {
  readonly values: number[] = [];
  constructor(readonly label: string) {}
  add(t: Timing): void {
    this.values.push(mbps(t));
  }
  get median(): number {
    return median(this.values);
  }
  describe(): string {
    return `${this.label}: median ${this.median.toFixed(1)} MB/s (rounds: ${fmt(this.values)})`;
  }
}

// ---------------------------------------------------------------------------------------------
// Node

interface NodeResults {
  encrypt: number;
  decrypt: number;
  raw: number;
  argon2: number;
}

async function benchNode(): Promise<NodeResults> {
  log(`Node ${process.version}: making ${TOTAL / MiB} MiB of random plaintext`);
  const suite = new CryptoSuite(TOTAL);
  const enc = new Series('node encrypt stream');
  const dec = new Series('node decrypt stream');
  const raw = new Series('node raw sequential');
  const conc = new Series(`node raw ${IN_FLIGHT} in flight (diagnostic)`);
  for (let r = 1; r <= ROUNDS; r++) {
    log(`node round ${r}/${ROUNDS}`);
    enc.add(await suite.encrypt());
    dec.add(await suite.decrypt());
    suite.dropCiphertext();
    raw.add(await suite.raw());
    conc.add(await suite.rawConcurrent(IN_FLIGHT));
  }
  for (const s of [enc, dec, raw, conc]) log(s.describe());
  logPaired('node encrypt/raw', enc, raw);
  logPaired('node decrypt/raw', dec, raw);
  log(`node Argon2id x${ARGON2_RUNS}`);
  const argon: number[] = [];
  for (let i = 0; i < ARGON2_RUNS; i++) argon.push(await argon2Once());
  log(`node argon2id runs: ${fmt(argon)} ms`);
  return { encrypt: enc.median, decrypt: dec.median, raw: raw.median, argon2: median(argon) };
}

// ---------------------------------------------------------------------------------------------
// OpenSSL

async function benchOpenssl(): Promise<number> {
  const args = ['speed', '-evp', 'aes-256-gcm', '-bytes', '16384', '-seconds', '3'];
  log(`openssl ${args.join(' ')}`);
  let stdout: string;
  try {
    ({ stdout } = await promisify(execFile)('openssl', args, { timeout: 60_000 }));
  } catch (e) {
    throw new Error(`openssl speed failed (is the openssl command installed?): ${(e as Error).message}`);
  }
  // The result table is in 1000s of bytes per second: "AES-256-GCM    3933454.34k".
  const line = stdout.split('\n').find((l) => /^aes-256-gcm\s+[\d.]+k\s*$/i.test(l.trim()));
  const k = line ? Number(line.trim().split(/\s+/)[1]!.replace(/k$/, '')) : NaN;
  if (!Number.isFinite(k)) throw new Error(`could not find the 16384-byte AES-256-GCM figure in openssl's output:\n${stdout}`);
  const value = k / 1000;
  log(`openssl aes-256-gcm 16 KiB: ${value.toFixed(1)} MB/s`);
  return value;
}

// ---------------------------------------------------------------------------------------------
// Chromium

interface ChromiumResults {
  encrypt: number;
  decrypt: number;
  raw: number;
  concurrent: number;
  workers: number;
  argon2: number;
}

async function benchChromium(executablePath: string, origin: string, track: (b: Browser) => void): Promise<ChromiumResults> {
  log(`launching ${executablePath}`);
  const { browser, page } = await openBenchPage(executablePath, origin, log);
  track(browser);
  log(`Chromium ${browser.version()}: making ${TOTAL / MiB} MiB of random plaintext in the page and ${WORKERS} workers`);
  await call(page, 'setup', TOTAL, WORKERS);

  const enc = new Series('chromium encrypt stream');
  const dec = new Series('chromium decrypt stream');
  const raw = new Series('chromium raw sequential');
  const conc = new Series(`chromium raw ${IN_FLIGHT} in flight`);
  const two = new Series(`chromium raw in ${WORKERS} workers`);
  const one = new Series('chromium raw in 1 worker, half the data (diagnostic)');
  for (let r = 1; r <= ROUNDS; r++) {
    log(`chromium round ${r}/${ROUNDS}`);
    enc.add(await call(page, 'encrypt'));
    dec.add(await call(page, 'decrypt'));
    await call(page, 'dropCiphertext');
    raw.add(await call(page, 'raw'));
    conc.add(await call(page, 'rawConcurrent', IN_FLIGHT));
    const w = await call(page, 'workersRaw', WORKERS);
    two.add(w.wall);
    log(`  ${WORKERS} workers, each: ${fmt(w.each.map(mbps))} MB/s`);
    one.add((await call(page, 'workersRaw', 1)).wall);
  }
  for (const s of [enc, dec, raw, conc, two, one]) log(s.describe());
  logPaired('chromium encrypt/raw', enc, raw);
  logPaired('chromium decrypt/raw', dec, raw);
  logPaired(`chromium ${IN_FLIGHT} in flight/raw`, conc, raw);
  logPaired(`chromium ${WORKERS} workers/raw`, two, raw);
  log(`chromium Argon2id x${ARGON2_RUNS}`);
  const argon: number[] = [];
  for (let i = 0; i < ARGON2_RUNS; i++) argon.push(await call(page, 'argon2'));
  log(`chromium argon2id runs: ${fmt(argon)} ms`);
  await call(page, 'teardown');
  return { encrypt: enc.median, decrypt: dec.median, raw: raw.median, concurrent: conc.median, workers: two.median, argon2: median(argon) };
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const t0 = performance.now();
  // Fail before spending minutes on the Node part: the browser must be there and start.
  const executablePath = findChromium();
  log(`Chromium ${await probeChromium(executablePath)} at ${executablePath} starts`);
  log(`${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'}), load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);

  const node = await benchNode();
  emit('node_encrypt_mbps', node.encrypt, 'MB/s');
  emit('node_decrypt_mbps', node.decrypt, 'MB/s');
  emit('node_webcrypto_raw_mbps', node.raw, 'MB/s');
  emit('node_encrypt_raw_ratio', node.encrypt / node.raw, 'ratio');
  emit('node_decrypt_raw_ratio', node.decrypt / node.raw, 'ratio');
  emit('argon2id_node_ms', node.argon2, 'ms');

  const openssl = await benchOpenssl();
  emit('openssl_mbps', openssl, 'MB/s');

  const server = await serve(await bundle());
  let browser: Browser | undefined;
  try {
    const c = await benchChromium(executablePath, server.origin, (b) => (browser = b));
    emit('chromium_encrypt_mbps', c.encrypt, 'MB/s');
    emit('chromium_decrypt_mbps', c.decrypt, 'MB/s');
    emit('chromium_webcrypto_raw_mbps', c.raw, 'MB/s');
    emit('chromium_encrypt_raw_ratio', c.encrypt / c.raw, 'ratio');
    emit('chromium_decrypt_raw_ratio', c.decrypt / c.raw, 'ratio');
    emit('chromium_encrypt_openssl_ratio', c.encrypt / openssl, 'ratio');
    emit('argon2id_chromium_ms', c.argon2, 'ms');
    emit('chromium_2workers_raw_mbps', c.workers, 'MB/s');
    emit('chromium_2workers_openssl_ratio', c.workers / openssl, 'ratio');
    emit('chromium_raw_concurrent16_mbps', c.concurrent, 'MB/s');
  } finally {
    await (browser as Browser | undefined)?.close().catch(() => undefined);
    await server.close();
  }
  log(`done in ${((performance.now() - t0) / 1000).toFixed(0)} s; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
}

const watchdog = setTimeout(() => {
  log(`still running after ${WATCHDOG_MS / 60000} minutes: giving up`);
  process.exit(1);
}, WATCHDOG_MS);
watchdog.unref();

main().then(
  () => clearTimeout(watchdog),
  (e: unknown) => {
    clearTimeout(watchdog);
    log(e instanceof UsageError ? `error: ${e.message}` : `failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exitCode = 1;
  },
);
