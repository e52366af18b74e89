/**
 * Where the time goes: runs each phase of the crypto bench once per round (smaller message,
 * default 64 MiB) and reports, next to the wall-clock throughput, the CPU time every thread
 * spent on it, read from /proc (Linux only). In Chromium that is the renderer's main thread,
 * its thread-pool threads (where WebCrypto runs) and the Web Workers; in Node the main thread and
 * the libuv pool. A phase whose threads are mostly idle is latency-bound (thread hops, a busy
 * machine), one whose main thread is busy is bound by JavaScript.
 *
 *   npx tsx bench/diagnose.ts            (BENCH_MIB, BENCH_ROUNDS and PLAYWRIGHT_CHROMIUM_PATH apply)
 *
 * Human-readable output on stdout; not part of `npm run bench:crypto`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { bundle, call, findChromium, openBenchPage, serve } from './lib/chromium';
import { CryptoSuite, mbps, MiB, type Timing } from './lib/suite';

const TOTAL = Number(process.env.BENCH_MIB || 64) * MiB;
const ROUNDS = Number(process.env.BENCH_ROUNDS || 2);
const TICK_MS = 10; // USER_HZ is 100 on Linux
const UNITS = TOTAL / (16 * 1024);

type Threads = Map<number, { name: string; ticks: number }>;

function readThreads(pid: number): Threads {
  const out: Threads = new Map();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(Number(tid), { name: Number(tid) === pid ? 'main' : name, ticks: Number(f[11]) + Number(f[12]) });
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

/** CPU milliseconds per thread group (threads of one name), with the number of threads that ran. */
function cpuSince(pid: number, before: Threads): Map<string, { ms: number; threads: number }> {
  const groups = new Map<string, { ms: number; threads: number }>();
  for (const [tid, t] of readThreads(pid)) {
    const ms = (t.ticks - (before.get(tid)?.ticks ?? 0)) * TICK_MS;
    if (ms <= 0) continue;
    const g = groups.get(t.name) ?? { ms: 0, threads: 0 };
    g.ms += ms;
    g.threads += 1;
    groups.set(t.name, g);
  }
  return groups;
}

async function phase(label: string, pid: number, run: () => Promise<Timing>): Promise<void> {
  const before = readThreads(pid);
  const t = await run();
  const cpu = [...cpuSince(pid, before)].sort((a, b) => b[1].ms - a[1].ms);
  const main = cpu.find(([n]) => n === 'main')?.[1].ms ?? 0;
  const total = cpu.reduce((a, [, g]) => a + g.ms, 0);
  const groups = cpu
    .slice(0, 5)
    .map(([n, g]) => `${n}${g.threads > 1 ? `x${g.threads}` : ''} ${g.ms}`)
    .join(', ');
  console.log(
    `${label.padEnd(22)} ${mbps(t).toFixed(1).padStart(7)} MB/s  wall ${t.ms.toFixed(0).padStart(6)} ms  cpu ${String(total).padStart(5)} ms` +
      `  main ${((main * 1000) / UNITS).toFixed(1).padStart(5)} us/16KiB  [${groups}]`,
  );
}

function descendants(root: number): { pid: number; cmd: string }[] {
  const procs: { pid: number; ppid: number; cmd: string }[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      procs.push({ pid: Number(d), ppid, cmd: readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0/g, ' ') });
    } catch {
      // gone
    }
  }
  const mine = new Set([root]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of procs) if (mine.has(p.ppid) && !mine.has(p.pid)) grew = mine.add(p.pid) !== undefined;
  }
  return procs.filter((p) => mine.has(p.pid) && p.pid !== root);
}

async function main(): Promise<void> {
  console.log(`message ${TOTAL / MiB} MiB, ${ROUNDS} rounds, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log('-- Node (main = JS thread; the rest is the libuv pool)');
  const suite = new CryptoSuite(TOTAL);
  for (let r = 0; r < ROUNDS; r++) {
    await phase('stream encrypt', process.pid, () => suite.encrypt());
    await phase('stream decrypt', process.pid, () => suite.decrypt());
    suite.dropCiphertext();
    await phase('raw sequential', process.pid, () => suite.raw());
    await phase('raw 16 in flight', process.pid, () => suite.rawConcurrent(16));
  }

  const server = await serve(await bundle());
  const { browser, page } = await openBenchPage(findChromium(), server.origin, (m) => process.stderr.write(`${m}\n`));
  try {
    await call(page, 'setup', TOTAL, 2);
    // The renderer that runs our page is the one that now has DedicatedWorker threads.
    const renderer = descendants(process.pid)
      .filter((p) => p.cmd.includes('--type=renderer'))
      .find((p) => [...readThreads(p.pid).values()].some((t) => t.name.startsWith('DedicatedWorker')));
    if (!renderer) throw new Error('could not find the renderer process of the bench page');
    console.log(`-- Chromium ${browser.version()}, renderer pid ${renderer.pid} (main = the page's thread)`);
    for (let r = 0; r < ROUNDS; r++) {
      await phase('stream encrypt', renderer.pid, () => call(page, 'encrypt'));
      await phase('stream decrypt', renderer.pid, () => call(page, 'decrypt'));
      await call(page, 'dropCiphertext');
      await phase('raw sequential', renderer.pid, () => call(page, 'raw'));
      await phase('raw 16 in flight', renderer.pid, () => call(page, 'rawConcurrent', 16));
      await phase('raw 2 workers', renderer.pid, async () => (await call(page, 'workersRaw', 2)).wall);
    }
    await call(page, 'teardown');
  } finally {
    await browser.close().catch(() => undefined);
    await server.close();
  }
  console.log(`load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
}

main().catch((e: unknown) => {
  process.stderr.write(`failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
