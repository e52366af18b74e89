/**
 * npm run bench:contracts: a large contract file up and down through the app's own code path in
 * headless Chromium (shared/protocol/files.ts, called as client/src/lib/contracts/transfers.ts
 * calls it, by an account unlocked in the page), against the real relay over loopback HTTPS, and
 * the same bytes through one plain authenticated PUT and GET on the same relay in the same run.
 * See bench/README-contracts.md.
 *
 * stdout carries only result lines, one JSON object each:
 *   {"metric": "upload_mbps", "value": 61.2, "unit": "MB/s"}
 *   upload_mbps, download_mbps             app path, plaintext bytes / wall time, median of rounds
 *   plain_upload_mbps, plain_download_mbps the plain PUT / GET of the same bytes, median
 *   upload_plain_ratio, download_plain_ratio   median over rounds of app / plain in that round
 *   tab_memory_growth_mib                  peak RSS of the tab's renderer process during the app
 *                                          path's transfers (each begun after a GC) minus its RSS
 *                                          before the rounds (after a warm-up and a GC)
 *   plain_tab_memory_growth_mib            the same during the plain requests
 * Progress and diagnostics (the page's passes timed alone, CPU per process and thread, JS heap,
 * other Chromium processes) go to stderr.
 *
 * Environment: BENCH_SIZE_MIB (default 1024), BENCH_ROUNDS (default 3), BENCH_PROFILE_DIR (write
 * a CPU profile of the page per phase there), PLAYWRIGHT_CHROMIUM_PATH (default
 * /usr/bin/chromium). TMPDIR chooses where the relay's data folder (block stores included) lives:
 * it needs about 3 GiB free per GiB of file (blobs are deleted after each round).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { createContract } from '../shared/protocol/contracts';
import type { ContractFields } from '../shared/schemas/contract';
import { createSpace, grantAccess } from '../shared/protocol/spaces';
import { createLogger } from '../relay/common/observability';
import { startEnterprise, type Enterprise } from '../relay/integration/enterprise-fixture';
import type { ContractsBenchApi, Timed } from './browser/contracts-page';
import { CdpBrowser, type CdpPage } from './lib/cdp';
import { findChromium, UsageError } from './lib/chromium';
import { dropBlobs } from './lib/stores';
import { median } from './lib/suite';
import { cpuSeconds, describeThreads, threadCpu } from './lib/proc';
import { benchVault } from './relay-fakes';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MiB = 1024 * 1024;
const SIZE = positiveInt('BENCH_SIZE_MIB', 1024) * MiB;
const ROUNDS = positiveInt('BENCH_ROUNDS', 3);
const WARMUP = 16 * MiB;
const SAMPLE_MS = 10;
const HEAP_SAMPLE_MS = 250;
const WATCHDOG_MS = 60 * 60 * 1000;
/** BENCH_PROFILE_DIR: write a CPU profile of the page's main thread per phase there (Chrome DevTools format). */
const PROFILE_DIR = process.env.BENCH_PROFILE_DIR;

function positiveInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n <= 0) throw new UsageError(`${name} must be a positive integer, got ${raw}`);
  return n;
}

function log(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

const DECIMALS: Record<string, number> = { 'MB/s': 1, ratio: 3, MiB: 1 };
function emit(metric: string, value: number, unit: 'MB/s' | 'ratio' | 'MiB'): void {
  if (!Number.isFinite(value)) throw new Error(`metric ${metric} is not a finite number: ${value}`);
  const v = Number(value.toFixed(DECIMALS[unit]));
  process.stdout.write(`{"metric": ${JSON.stringify(metric)}, "value": ${JSON.stringify(v)}, "unit": ${JSON.stringify(unit)}}\n`);
}

// ---------------------------------------------------------------------------------------------
// The page: bundled with esbuild and served by the relay itself as its "SPA"

/** A folder the relay serves as its web client: index.html loading the bench bundle. */
async function pageFolder(): Promise<string> {
  const out = await build({
    absWorkingDir: ROOT,
    entryPoints: ['bench/browser/contracts-page.ts'],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
  });
  const js = out.outputFiles[0];
  if (!js) throw new Error('esbuild produced no bundle');
  const dir = mkdtempSync(join(tmpdir(), 'sealvault-bench-contracts-page-'));
  mkdirSync(join(dir, '_app'));
  writeFileSync(join(dir, '_app', 'bench.js'), js.contents);
  writeFileSync(join(dir, 'index.html'), '<!doctype html>\n<html><head><meta charset="utf-8"><title>sealvault contracts bench</title><script type="module" src="/_app/bench.js"></script></head><body></body></html>\n');
  return dir;
}

type Method = keyof ContractsBenchApi;
/** Calls globalThis.sealvaultContractsBench[name](...args) in the page; arguments and result as JSON. */
async function call<K extends Method>(page: CdpPage, name: K, ...args: Parameters<ContractsBenchApi[K]>): Promise<Awaited<ReturnType<ContractsBenchApi[K]>>> {
  return page.evaluate<Awaited<ReturnType<ContractsBenchApi[K]>>>(`globalThis.sealvaultContractsBench[${JSON.stringify(name)}](...${JSON.stringify(args)})`);
}

// ---------------------------------------------------------------------------------------------
// Processes: memory and CPU from /proc

function status(pid: number): string {
  return readFileSync(`/proc/${pid}/status`, 'utf8');
}
function statusKiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const kb = Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status(pid))?.[1]);
  if (!Number.isFinite(kb)) throw new Error(`no ${field} for pid ${pid}`);
  return kb;
}
const rssMiB = (pid: number) => statusKiB(pid, 'VmRSS') / 1024;

/** Resets the kernel's peak-RSS counter (VmHWM) to the current RSS; false when not allowed. */
function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

interface ChromiumProcesses {
  /** the renderer process of the bench page */
  renderer: number;
  /** every Chromium process by CDP type (browser, renderer, GPU, network service, ...) */
  all: { type: string; id: number }[];
}

/**
 * The page's renderer: SystemInfo.getProcessInfo lists the processes but not which renderer
 * hosts which tab (headless Chromium keeps spare ones), so the page spins for 1 s and the
 * renderer that used the CPU is the one.
 */
async function findProcesses(browser: CdpBrowser, page: CdpPage): Promise<ChromiumProcesses> {
  const info = await browser.send<{ processInfo: { type: string; id: number }[] }>('SystemInfo.getProcessInfo');
  const renderers = info.processInfo.filter((p) => p.type === 'renderer').map((p) => p.id);
  let used: (readonly [number, number])[] = [];
  for (let attempt = 0; attempt < 5; attempt++) {
    const before = new Map(renderers.map((pid) => [pid, cpuSeconds(pid)]));
    await page.evaluate('{ const t0 = performance.now(); while (performance.now() - t0 < 1000); }');
    used = renderers.map((pid) => [pid, cpuSeconds(pid) - before.get(pid)!] as const).sort((a, b) => b[1] - a[1]);
    const [top, next] = used;
    if (top && top[1] >= 0.1 && (!next || next[1] < top[1] / 4)) return { renderer: top[0], all: info.processInfo };
  }
  throw new Error(`cannot tell the page's renderer process apart (CPU seconds during a 1 s spin: ${JSON.stringify(used)})`);
}

interface HeapUsage {
  usedSize: number;
  /** ArrayBuffer contents (recent Chromium): outside the JS heap proper */
  backingStorageSize?: number;
}

/**
 * Samples the renderer's RSS every 10 ms and the page's JS heap (Runtime.getHeapUsage, which
 * needs no instrumentation to be switched on) every 250 ms; per phase, the kernel's own peak
 * (VmHWM, reset at the start of the phase) is taken too, as it sees spikes between samples.
 */
class MemorySampler {
  private rss = 0;
  private heap = 0;
  private hwm = false;
  private timers: NodeJS.Timeout[] = [];
  constructor(
    private readonly pid: number,
    private readonly page: CdpPage,
  ) {}
  async heapMiB(): Promise<{ used: number; buffers: number }> {
    const h = await this.page.send<HeapUsage>('Runtime.getHeapUsage');
    return { used: h.usedSize / MiB, buffers: (h.backingStorageSize ?? NaN) / MiB };
  }
  start(): void {
    this.timers.push(setInterval(() => (this.rss = Math.max(this.rss, rssMiB(this.pid))), SAMPLE_MS));
    this.timers.push(
      setInterval(() => {
        this.heapMiB().then(
          (h) => (this.heap = Math.max(this.heap, h.used + (Number.isNaN(h.buffers) ? 0 : h.buffers))),
          () => undefined,
        );
      }, HEAP_SAMPLE_MS),
    );
  }
  /** Starts a phase: peaks from here on. False when VmHWM cannot be reset (sampled RSS only). */
  phase(): boolean {
    this.rss = rssMiB(this.pid);
    this.heap = 0;
    this.hwm = resetPeak(this.pid);
    return this.hwm;
  }
  /** The phase's peaks: RSS (MiB, the larger of sampled and VmHWM) and JS heap + ArrayBuffers (sampled). */
  peaks(): { rss: number; heap: number } {
    this.rss = Math.max(this.rss, rssMiB(this.pid));
    // VmHWM is updated lazily by the kernel and can lag the sampled RSS, never the other way round.
    return { rss: this.hwm ? Math.max(this.rss, statusKiB(this.pid, 'VmHWM') / 1024) : this.rss, heap: this.heap };
  }
  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
  }
}

// ---------------------------------------------------------------------------------------------

const CONTRACT_FIELDS: ContractFields = {
  title: 'Bench supply agreement',
  counterparties: ['Bench Counterparty GmbH'],
  amount: null,
  dates: { signed: null, effective: null, expires: null },
  status: 'active',
  extra: {},
};

async function main(): Promise<void> {
  const chromiumPath = findChromium();
  const spaDir = await pageFolder();
  let e: Enterprise | undefined;
  let browser: CdpBrowser | undefined;
  const watchdog = setTimeout(() => {
    log('watchdog: the run took too long');
    process.exit(1);
  }, WATCHDOG_MS);
  try {
    log('starting the relay and setting up the enterprise (three administrators, CA, two certified employees, a space, a contract)');
    e = await startEnterprise('Bench Contracts Ltd', { spaDir, serviceFactories: { vault: benchVault }, host: '127.0.0.1', logger: createLogger({ level: 'warn', destination: process.stderr }) });
    const manager = await e.employee('manager', 'Bench Manager', { spaceManager: true });
    const editor = await e.employee('editor', 'Bench Editor');
    const { space } = await createSpace(e.transport, manager, e.caPem, 'Bench space');
    await grantAccess(e.transport, manager, e.caPem, space, editor.account, 'editor');
    const contract = await createContract(e.transport, editor, e.caPem, space, CONTRACT_FIELDS);
    const origin = e.relay.url.replace(/\/$/, '');

    browser = await CdpBrowser.launch(chromiumPath);
    const { product } = await browser.send<{ product: string }>('Browser.getVersion');
    // The relay's certificate comes from its own local CA, which this fresh profile does not know.
    await browser.send('Security.setIgnoreCertificateErrors', { ignore: true });
    const page = await browser.newPage(`${origin}/`);
    page.onConsole((type, text) => log(`[page ${type}] ${text}`));
    if (!(await page.evaluate<boolean>("'sealvaultContractsBench' in globalThis"))) throw new Error('the bench page did not load its bundle');
    const procs = await findProcesses(browser, page);
    log(`relay ${origin}, ${product}, page renderer pid ${procs.renderer}; ${SIZE / MiB} MiB, ${ROUNDS} round(s)`);

    const t0 = performance.now();
    await call(page, 'unlock', 'editor', 'editor password for tests 9');
    const writers = await call(page, 'open', e.caPem, space, contract.contract);
    log(`unlocked and opened the contract in the page in ${(performance.now() - t0).toFixed(0)} ms (${writers} writers)`);

    // Warm-up: every path once with a small file, so JIT, heaps and connections are settled
    // before the memory baseline.
    const warm = await call(page, 'makeSource', WARMUP);
    await call(page, 'checkSource', warm);
    await call(page, 'plainUpload', warm, 'warmup');
    await call(page, 'appUpload', warm, 'f-warmup');
    await call(page, 'plainDownload', warm, 'warmup');
    await call(page, 'appDownload', warm, 'f-warmup');
    await call(page, 'dropSource', warm);
    dropBlobs(join(e.dataDir, 'vault'));
    log('warm-up done');

    const src = await call(page, 'makeSource', SIZE);
    const tc = performance.now();
    await call(page, 'checkSource', src);
    log(`source of ${SIZE} bytes made and read through the checking sink once in ${((performance.now() - tc) / 1000).toFixed(1)} s`);
    log(`Chromium RSS (MiB): ${procs.all.map((p) => `${p.id === procs.renderer ? 'tab' : p.type} ${safeRss(p.id).toFixed(0)}`).join(', ')}`);

    {
      const cpu0 = cpuSeconds(procs.renderer);
      const threads0 = threadCpu(procs.renderer);
      if (PROFILE_DIR) {
        mkdirSync(PROFILE_DIR, { recursive: true });
        await page.send('Profiler.enable');
        await page.send('Profiler.setSamplingInterval', { interval: 200 });
        await page.send('Profiler.start');
      }
      const p = await call(page, 'passes', src);
      if (PROFILE_DIR) {
        const { profile } = await page.send<{ profile: unknown }>('Profiler.stop');
        writeFileSync(join(PROFILE_DIR, 'passes.cpuprofile'), JSON.stringify(profile));
      }
      const rate = (ms: number) => `${(p.bytes / 1e6 / (ms / 1000)).toFixed(1)} MB/s`;
      log(`page passes alone: read the Blob ${rate(p.readMs)}, encrypt ${rate(p.encryptMs)}, encrypt + cut + hash blocks (prepareManifest) ${rate(p.manifestMs)}; tab CPU ${((cpuSeconds(procs.renderer) - cpu0) / (SIZE / 1e9)).toFixed(2)} s/GB (${describeThreads(threads0, threadCpu(procs.renderer), SIZE / 1e9)})`);
    }
    const sampler = new MemorySampler(procs.renderer, page);
    const collectGarbage = async () => {
      await page.send('HeapProfiler.collectGarbage');
      await new Promise((r) => setTimeout(r, 500)); // let the sweeper free ArrayBuffer contents
    };
    await collectGarbage();
    const others = procs.all.filter((p) => p.id !== procs.renderer);
    const othersBefore = new Map(others.map((p) => [p.id, safeRss(p.id)]));
    const baseline = rssMiB(procs.renderer);
    const heapBaseline = await sampler.heapMiB();
    const hwm = sampler.phase();
    log(`baseline: renderer RSS ${baseline.toFixed(1)} MiB, JS heap ${heapBaseline.used.toFixed(1)} MiB + ArrayBuffers ${heapBaseline.buffers.toFixed(1)} MiB${hwm ? '' : ' (cannot reset VmHWM: sampled peaks only)'}`);
    sampler.start();

    const gb = SIZE / 1e9;
    const allPids = [procs.renderer, ...others.map((p) => p.id)];
    const growth = { app: 0, plain: 0, appHeap: 0, plainHeap: 0 };
    const timed = async (label: string, kind: 'app' | 'plain', run: () => Promise<Timed>): Promise<number> => {
      // Each phase starts without the previous one's garbage, so its peak is its own.
      await collectGarbage();
      const cpu0 = new Map(allPids.map((pid) => [pid, cpuSeconds(pid)]));
      const renderer0 = threadCpu(procs.renderer);
      const relay0 = threadCpu(process.pid);
      const own0 = cpuSeconds(process.pid);
      sampler.phase();
      if (PROFILE_DIR) await page.send('Profiler.start');
      const r = await run();
      const peaks = sampler.peaks();
      if (PROFILE_DIR) {
        const { profile } = await page.send<{ profile: unknown }>('Profiler.stop');
        const file = join(PROFILE_DIR, `${label.replace(/\W+/g, '-')}.cpuprofile`);
        writeFileSync(file, JSON.stringify(profile));
        log(`  page CPU profile: ${file}`);
      }
      growth[kind] = Math.max(growth[kind], peaks.rss - baseline);
      const heapGrowth = peaks.heap - heapBaseline.used - (Number.isNaN(heapBaseline.buffers) ? 0 : heapBaseline.buffers);
      growth[kind === 'app' ? 'appHeap' : 'plainHeap'] = Math.max(growth[kind === 'app' ? 'appHeap' : 'plainHeap'], heapGrowth);
      const mbps = r.bytes / 1e6 / (r.ms / 1000);
      const byType = new Map<string, number>();
      for (const p of procs.all) {
        const name = p.id === procs.renderer ? 'tab' : p.type;
        byType.set(name, (byType.get(name) ?? 0) + cpuSeconds(p.id) - (cpu0.get(p.id) ?? 0));
      }
      const chromiumCpu = [...byType].filter(([, v]) => v / gb >= 0.05).map(([k, v]) => `${k} ${(v / gb).toFixed(2)}`).join(', ');
      const passes = r.firstPassMs ? ` = first pass (hash blocks, store manifest) ${(r.firstPassMs / 1000).toFixed(2)} s + upload pass ${((r.ms - r.firstPassMs) / 1000).toFixed(2)} s` : '';
      log(`${label}: ${mbps.toFixed(1)} MB/s (${(r.ms / 1000).toFixed(2)} s${passes}); tab RSS peak ${signed(peaks.rss - baseline)} MiB, JS heap + ArrayBuffers peak ${signed(heapGrowth)} MiB`);
      if (r.blocks) log(`  block requests: ${r.blocks.count}, median ${r.blocks.median.toFixed(0)} ms, 90th percentile ${r.blocks.p90.toFixed(0)} ms (call to answer)`);
      log(`  CPU s/GB: Chromium ${chromiumCpu}; relay+bench process ${((cpuSeconds(process.pid) - own0) / gb).toFixed(2)}`);
      log(`  tab threads: ${describeThreads(renderer0, threadCpu(procs.renderer), gb)}`);
      log(`  relay threads: ${describeThreads(relay0, threadCpu(process.pid), gb)}`);
      return mbps;
    };

    const series = { up: [] as number[], down: [] as number[], plainUp: [] as number[], plainDown: [] as number[], upRatio: [] as number[], downRatio: [] as number[] };
    for (let round = 1; round <= ROUNDS; round++) {
      if (await call(page, 'freshSession', 600)) log('signed in again (the session was close to expiry)');
      const file = `f-round-${round}`;
      // Alternate which path goes first, so a drift in the machine's speed does not favour one.
      const plainFirst = round % 2 === 1;
      const up = (plain: boolean) => (plain ? timed(`round ${round} plain upload`, 'plain', () => call(page, 'plainUpload', src, 'blob')) : timed(`round ${round} app upload`, 'app', () => call(page, 'appUpload', src, file)));
      const down = (plain: boolean) => (plain ? timed(`round ${round} plain download`, 'plain', () => call(page, 'plainDownload', src, 'blob')) : timed(`round ${round} app download`, 'app', () => call(page, 'appDownload', src, file)));
      const u1 = await up(plainFirst);
      const u2 = await up(!plainFirst);
      const [pu, au] = plainFirst ? [u1, u2] : [u2, u1];
      const d1 = await down(plainFirst);
      const d2 = await down(!plainFirst);
      const [pd, ad] = plainFirst ? [d1, d2] : [d2, d1];
      dropBlobs(join(e.dataDir, 'vault'));
      series.up.push(au);
      series.down.push(ad);
      series.plainUp.push(pu);
      series.plainDown.push(pd);
      series.upRatio.push(au / pu);
      series.downRatio.push(ad / pd);
      log(`round ${round} ratios: upload ${(au / pu).toFixed(3)}, download ${(ad / pd).toFixed(3)}`);
    }
    sampler.stop();
    log(`tab (renderer) RSS growth over the ${baseline.toFixed(1)} MiB baseline, peak per kind of phase: app path ${signed(growth.app)} MiB, plain requests ${signed(growth.plain)} MiB`);
    log(`JS heap + ArrayBuffer contents (sampled every ${HEAP_SAMPLE_MS} ms), peak growth: app path ${signed(growth.appHeap)} MiB, plain requests ${signed(growth.plainHeap)} MiB`);
    log(`other Chromium processes, RSS now vs before the rounds: ${others.map((p) => `${p.type} ${signed(safeRss(p.id) - (othersBefore.get(p.id) ?? 0))} MiB`).join(', ')}`);

    emit('upload_mbps', median(series.up), 'MB/s');
    emit('download_mbps', median(series.down), 'MB/s');
    emit('plain_upload_mbps', median(series.plainUp), 'MB/s');
    emit('plain_download_mbps', median(series.plainDown), 'MB/s');
    emit('upload_plain_ratio', median(series.upRatio), 'ratio');
    emit('download_plain_ratio', median(series.downRatio), 'ratio');
    emit('tab_memory_growth_mib', growth.app, 'MiB');
    emit('plain_tab_memory_growth_mib', growth.plain, 'MiB');
  } finally {
    clearTimeout(watchdog);
    await browser?.close();
    await e?.close();
    rmSync(spaDir, { recursive: true, force: true });
  }
}

const signed = (v: number) => `${v >= 0 ? '+' : ''}${v.toFixed(1)}`;
function safeRss(pid: number): number {
  try {
    return rssMiB(pid);
  } catch {
    return NaN;
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`[bench] ${err instanceof UsageError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
