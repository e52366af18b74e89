/**
 * Relay block-path bench: upload and download of a 1 GiB file through the vault's block API
 * (4 MiB blocks, a few PUTs/GETs in flight, a signed manifest, commit), against a plain streamed
 * PUT and GET of the same bytes to a bench-only route on the same relay, in the same run. Run with
 * `npm run bench:relay` (tsx bench/relay.ts). See bench/README-relay.md.
 *
 * The relay runs in a child process (bench/relay-server.ts: the real startRelay over HTTPS on
 * 127.0.0.1 with the real vault and minimal directory/keys/audit stand-ins), so its RSS can be
 * sampled from /proc/<pid>/status while this process plays the client.
 *
 * stdout carries only result lines, one JSON object each:
 *   {"metric": "upload_mbps", "value": 312.4, "unit": "MB/s"}
 * Progress and per-round figures go to stderr.
 *
 * Environment: BENCH_MIB (plaintext size, default 1024), BENCH_ROUNDS (default 3; medians are
 * reported), BENCH_CONCURRENCY (block requests in flight, default 4), BENCH_RPS_SECONDS (default 5),
 * BENCH_RELAY_NODE_ARGS (extra node flags for the relay child, e.g. "--cpu-prof"). The relay child
 * inherits the environment, so SEALVAULT_VERIFY_DOWNLOADS and SEALVAULT_HASH_THREADS apply to it,
 * and TMPDIR chooses where the data folder (block stores included) lives.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request, type RequestOptions } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { SESSION_LIFETIME_SECONDS } from '../relay/common/auth';
import { blockRange, planBlocks } from '../shared/crypto/blocks';
import { ciphertextLength } from '../shared/crypto/chunked';
import { buildManifest, signManifest } from '../shared/crypto/manifest';
import { generateSigningKeyPair } from '../shared/crypto/statements';
import { signToken } from '../shared/formats/token';
import { dropBlobs } from './lib/stores';
import { cpuSeconds, describeThreads, threadCpu } from './lib/proc';

const MiB = 1024 * 1024;
const PLAINTEXT = positiveInt('BENCH_MIB', 1024) * MiB;
const WARMUP = 64 * MiB;
const ROUNDS = positiveInt('BENCH_ROUNDS', 3);
const CONCURRENCY = positiveInt('BENCH_CONCURRENCY', 4);
const RPS_SECONDS = positiveInt('BENCH_RPS_SECONDS', 5);
const RPS_CLIENTS = 8;
const BLOCK = 4 * MiB;
const WATCHDOG_MS = 30 * 60 * 1000;
const ROOT = fileURLToPath(new URL('..', import.meta.url));

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

const DECIMALS: Record<string, number> = { 'MB/s': 1, ratio: 3, MiB: 1, 'req/s': 0 };
function emit(metric: string, value: number, unit: 'MB/s' | 'ratio' | 'MiB' | 'req/s'): void {
  if (!Number.isFinite(value)) throw new Error(`metric ${metric} is not a finite number: ${value}`);
  const v = Number(value.toFixed(DECIMALS[unit]));
  process.stdout.write(`{"metric": ${JSON.stringify(metric)}, "value": ${JSON.stringify(v)}, "unit": ${JSON.stringify(unit)}}\n`);
}

const signed = (v: number) => `${v >= 0 ? '+' : ''}${v.toFixed(1)}`;

const median = (values: number[]) => {
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

// ---------------------------------------------------------------------------------------------
// The relay child and its memory

interface Relay {
  child: ChildProcess;
  pid: number;
  port: number;
  ca: Buffer;
  dataDir: string;
}

async function startRelayChild(dataDir: string, signerSpki: string): Promise<Relay> {
  const child = spawn(process.execPath, [...(process.env.BENCH_RELAY_NODE_ARGS ?? '').split(' ').filter(Boolean), '--import', 'tsx', join(ROOT, 'bench/relay-server.ts')], {
    cwd: ROOT,
    env: { ...process.env, BENCH_RELAY_DATA: dataDir, BENCH_SIGNER_SPKI: signerSpki },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`relay child exited with ${code} before listening`)));
  });
  const info = JSON.parse(line) as { pid: number; port: number; caCertPath: string };
  return { child, pid: info.pid, port: info.port, ca: readFileSync(info.caCertPath), dataDir };
}

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]);
  return kb / 1024;
}

class RssSampler {
  peak = 0;
  private timer: NodeJS.Timeout | undefined;
  constructor(readonly pid: number) {}
  start(): void {
    this.peak = rssMiB(this.pid);
    this.timer = setInterval(() => {
      this.peak = Math.max(this.peak, rssMiB(this.pid));
    }, 10);
  }
  stop(): number {
    clearInterval(this.timer);
    this.peak = Math.max(this.peak, rssMiB(this.pid));
    return this.peak;
  }
}

// ---------------------------------------------------------------------------------------------
// HTTPS client

interface Answer {
  status: number;
  body: Buffer;
}

class Client {
  private readonly agent: Agent;
  private token = '';
  private tokenAt = 0;

  constructor(
    private readonly relay: Relay,
    private readonly directoryKey: CryptoKey,
    sockets: number,
  ) {
    this.agent = new Agent({ keepAlive: true, maxSockets: sockets, ca: relay.ca, servername: 'localhost' });
  }

  /** A session signed with the directory's own service key, renewed well before it expires. */
  async session(): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    if (now - this.tokenAt > SESSION_LIFETIME_SECONDS / 2) {
      this.token = await signToken(this.directoryKey, { typ: 'session', iss: 'directory', sub: 'bench', jti: randomBytes(8).toString('hex'), iat: now, exp: now + SESSION_LIFETIME_SECONDS, roles: ['employee'] });
      this.tokenAt = now;
    }
    return this.token;
  }

  /**
   * One request. `write` streams the body (with backpressure); `sink` consumes the response body
   * instead of buffering it.
   */
  async send(method: string, path: string, options: { headers?: Record<string, string>; body?: Buffer; write?: (req: import('node:http').ClientRequest) => Promise<void>; sink?: (chunk: Buffer) => void } = {}): Promise<Answer> {
    const headers: Record<string, string> = { authorization: `Bearer ${await this.session()}`, host: `localhost:${this.relay.port}`, ...options.headers };
    if (options.body) headers['content-length'] = String(options.body.length);
    const opts: RequestOptions = { host: '127.0.0.1', port: this.relay.port, path: `/api/vault${path}`, method, headers, agent: this.agent, servername: 'localhost' };
    return new Promise<Answer>((resolve, reject) => {
      const req = request(opts, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (chunk: Buffer) => (options.sink && res.statusCode === 200 ? options.sink(chunk) : parts.push(chunk)));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts) }));
        res.on('error', reject);
      });
      req.on('error', reject);
      if (options.write) options.write(req).then(() => req.end(), reject);
      else req.end(options.body);
    });
  }

  async json(method: string, path: string, value?: unknown): Promise<unknown> {
    const body = value === undefined ? undefined : Buffer.from(JSON.stringify(value));
    const res = await this.send(method, path, body ? { body, headers: { 'content-type': 'application/json' } } : {});
    if (res.status >= 300) throw new Error(`${method} ${path}: HTTP ${res.status} ${res.body.toString().slice(0, 300)}`);
    return JSON.parse(res.body.toString());
  }

  close(): void {
    this.agent.destroy();
  }
}

function expectStatus(res: Answer, ok: number[], what: string): void {
  if (!ok.includes(res.status)) throw new Error(`${what}: HTTP ${res.status} ${res.body.toString().slice(0, 300)}`);
}

// ---------------------------------------------------------------------------------------------
// The "ciphertext": ciphertextLength(n) pseudo-random bytes, made block by block on demand

const BASES = 8;
const STAMP = 16;

/** 8 random 4 MiB buffers: block i is a 16-byte stamp (i, run id) then base i mod 8 after its first 16 bytes. */
const bases = Array.from({ length: BASES }, () => randomBytes(BLOCK));

class Source {
  readonly length: number;
  readonly plan: { blockSize: number; count: number };
  /** SHA-256 of each block (for the manifest) and of the whole (for the plain download). */
  readonly hashes: Buffer[] = [];
  whole = '';
  private readonly run = randomBytes(8);

  constructor(readonly plaintextLength: number) {
    this.length = ciphertextLength(plaintextLength);
    this.plan = planBlocks(this.length, BLOCK);
  }

  /**
   * Block i as two immutable pieces. Nothing is copied or allocated per block beyond the stamp,
   * so the client's cost is the same small one on the block and the plain path, and the whole
   * file is never held (32 MiB of bases are).
   */
  block(i: number): [Buffer, Buffer] {
    const { length } = blockRange(this.plan, this.length, i);
    const stamp = Buffer.alloc(STAMP);
    stamp.writeUInt32BE(i, 0);
    this.run.copy(stamp, 8);
    return [stamp.subarray(0, Math.min(STAMP, length)), bases[i % BASES]!.subarray(STAMP, Math.max(STAMP, length))];
  }

  hashAll(): void {
    const whole = createHash('sha256');
    for (let i = 0; i < this.plan.count; i++) {
      const [a, b] = this.block(i);
      this.hashes.push(createHash('sha256').update(a).update(b).digest());
      whole.update(a).update(b);
    }
    this.whole = whole.digest('hex');
  }
}

async function pool(count: number, workers: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(workers, count) }, async () => {
      for (let i = next++; i < count; i = next++) await work(i);
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// Phases

async function blockUpload(client: Client, src: Source, signer: CryptoKey, file: string): Promise<void> {
  const manifest = buildManifest({
    contract: 'bench-contract',
    version: 1,
    file,
    uploader: 'bench',
    salt: randomBytes(24),
    commitment: randomBytes(32),
    plaintextLength: src.plaintextLength,
    blockSize: src.plan.blockSize,
    blockHashes: src.hashes,
  });
  await client.json('POST', '/contracts/bench-contract/files', { file, version: 1, manifest: await signManifest(signer, manifest) });
  await pool(src.plan.count, CONCURRENCY, async (i) => {
    const [stamp, rest] = src.block(i);
    const res = await client.send('PUT', `/files/${file}/versions/1/blocks/${i}`, {
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(stamp.length + rest.length) },
      write: async (req) => {
        req.write(stamp);
        if (!req.write(rest)) await new Promise((ok) => req.once('drain', ok));
      },
    });
    expectStatus(res, [201], `PUT block ${i}`);
  });
  await client.json('POST', `/files/${file}/versions/1/commit`);
}

async function blockDownload(client: Client, src: Source, file: string): Promise<void> {
  const manifest = (await client.json('GET', `/files/${file}/versions/1/manifest`)) as { statement: { blocks: string[] } };
  if (manifest.statement.blocks.length !== src.plan.count) throw new Error('manifest block count differs');
  await pool(src.plan.count, CONCURRENCY, async (i) => {
    const hash = createHash('sha256');
    let bytes = 0;
    const res = await client.send('GET', `/files/${file}/versions/1/blocks/${i}`, {
      sink: (chunk) => {
        bytes += chunk.length;
        hash.update(chunk);
      },
    });
    expectStatus(res, [200], `GET block ${i}`);
    if (bytes !== blockRange(src.plan, src.length, i).length || !hash.digest().equals(src.hashes[i]!)) throw new Error(`block ${i} came back different`);
  });
}

async function plainUpload(client: Client, src: Source): Promise<void> {
  const res = await client.send('PUT', '/bench-plain/blob', {
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(src.length) },
    write: async (req) => {
      for (let i = 0; i < src.plan.count; i++) {
        for (const piece of src.block(i)) if (!req.write(piece)) await new Promise((ok) => req.once('drain', ok));
      }
    },
  });
  expectStatus(res, [201], 'plain PUT');
}

async function plainDownload(client: Client, src: Source): Promise<void> {
  const hash = createHash('sha256');
  let bytes = 0;
  const res = await client.send('GET', '/bench-plain/blob', {
    sink: (chunk) => {
      bytes += chunk.length;
      hash.update(chunk);
    },
  });
  expectStatus(res, [200], 'plain GET');
  if (bytes !== src.length || hash.digest('hex') !== src.whole) throw new Error('plain download came back different');
}

async function smallGets(client: Client, seconds: number): Promise<number> {
  const until = performance.now() + seconds * 1000;
  let done = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: RPS_CLIENTS }, async () => {
      while (performance.now() < until) {
        const res = await client.send('GET', '/contracts/bench-contract/files');
        expectStatus(res, [200], 'small GET');
        done++;
      }
    }),
  );
  return done / ((performance.now() - started) / 1000);
}

async function timed(label: string, bytes: number, sampler: RssSampler, baseline: number, fn: () => Promise<void>): Promise<{ mbps: number; rss: number }> {
  sampler.start();
  const cpu0 = cpuSeconds(sampler.pid);
  const threads0 = threadCpu(sampler.pid, 'event loop');
  const own0 = process.cpuUsage();
  const t0 = performance.now();
  await fn();
  const seconds = (performance.now() - t0) / 1000;
  const peak = sampler.stop();
  const relayCpu = cpuSeconds(sampler.pid) - cpu0;
  const threads = describeThreads(threads0, threadCpu(sampler.pid, 'event loop'), bytes / 1e9);
  const own = process.cpuUsage(own0);
  const clientCpu = (own.user + own.system) / 1e6;
  const mbps = bytes / 1e6 / seconds;
  log(
    `${label}: ${mbps.toFixed(1)} MB/s (${seconds.toFixed(2)} s), relay CPU ${(relayCpu / (bytes / 1e9)).toFixed(2)} s/GB (${threads}), client CPU ${(clientCpu / (bytes / 1e9)).toFixed(2)} s/GB, relay RSS peak ${peak.toFixed(1)} MiB (${signed(peak - baseline)})`,
  );
  return { mbps, rss: peak };
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'sealvault-bench-relay-'));
  let relay: Relay | undefined;
  let client: Client | undefined;
  const watchdog = setTimeout(() => {
    log('watchdog: the run took too long');
    relay?.child.kill('SIGKILL');
    process.exit(1);
  }, WATCHDOG_MS);
  try {
    const signerPair = await generateSigningKeyPair();
    const signer = signerPair.privateKey;
    const signerSpki = Buffer.from(await crypto.subtle.exportKey('spki', signerPair.publicKey)).toString('base64url');
    relay = await startRelayChild(dataDir, signerSpki);
    log(`relay pid ${relay.pid} on https://127.0.0.1:${relay.port} (data ${dataDir})`);
    const pkcs8 = readFileSync(join(dataDir, 'directory', 'service-key.pkcs8'));
    const directoryKey = await crypto.subtle.importKey('pkcs8', pkcs8, { name: 'Ed25519' }, false, ['sign']);
    client = new Client(relay, directoryKey, Math.max(CONCURRENCY, RPS_CLIENTS));

    const idle = rssMiB(relay.pid);
    await client.json('POST', '/contracts', { contract: 'bench-contract', space: 'bench-space' });
    const src = new Source(PLAINTEXT);
    log(`data: ${PLAINTEXT / MiB} MiB plaintext -> ${src.length} ciphertext bytes in ${src.plan.count} blocks of ${src.plan.blockSize}; ${ROUNDS} round(s), ${CONCURRENCY} block requests in flight`);
    const t0 = performance.now();
    src.hashAll();
    log(`block hashes computed in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    // Warm-up through every route with a smaller file, so that JIT, V8's heap sizing and the
    // allocators have settled before the baseline is taken: growth past it is what the
    // transfers themselves hold.
    const sampler = new RssSampler(relay.pid);
    const warm = new Source(WARMUP);
    warm.hashAll();
    sampler.start();
    await plainUpload(client, warm);
    await blockUpload(client, warm, signer, 'bench-warmup');
    await plainDownload(client, warm);
    await blockDownload(client, warm, 'bench-warmup');
    await smallGets(client, 1);
    const warmPeak = sampler.stop();
    const baseline = rssMiB(relay.pid);
    const mem0 = (await client.json('GET', '/bench-plain/_memory')) as Record<string, number>;
    log(`relay RSS idle ${idle.toFixed(1)} MiB, warm-up peak ${warmPeak.toFixed(1)} MiB, baseline after warm-up ${baseline.toFixed(1)} MiB`);
    log(`relay memory after warm-up (MiB): ${Object.entries(mem0).map(([k, v]) => `${k} ${(v / MiB).toFixed(1)}`).join(', ')}`);
    const series = { up: [] as number[], down: [] as number[], plainUp: [] as number[], plainDown: [] as number[], upRatio: [] as number[], downRatio: [] as number[] };
    let peak = baseline;
    for (let round = 1; round <= ROUNDS; round++) {
      const file = `bench-file-${round}`;
      // Alternate which path goes first, so a drift in the machine's speed does not favour one.
      const plainFirst = round % 2 === 1;
      const up = async (plain: boolean) => (plain ? timed(`round ${round} plain upload`, src.length, sampler, baseline, () => plainUpload(client!, src)) : timed(`round ${round} block upload`, src.length, sampler, baseline, () => blockUpload(client!, src, signer, file)));
      const down = async (plain: boolean) => (plain ? timed(`round ${round} plain download`, src.length, sampler, baseline, () => plainDownload(client!, src)) : timed(`round ${round} block download`, src.length, sampler, baseline, () => blockDownload(client!, src, file)));
      const first = await up(plainFirst);
      const second = await up(!plainFirst);
      const [pu, bu] = plainFirst ? [first, second] : [second, first];
      const third = await down(plainFirst);
      const fourth = await down(!plainFirst);
      const [pd, bd] = plainFirst ? [third, fourth] : [fourth, third];
      series.plainUp.push(pu.mbps);
      series.up.push(bu.mbps);
      series.plainDown.push(pd.mbps);
      series.down.push(bd.mbps);
      peak = Math.max(peak, pu.rss, bu.rss, pd.rss, bd.rss);
      dropBlobs(join(relay.dataDir, 'vault'));
      series.upRatio.push(bu.mbps / pu.mbps);
      series.downRatio.push(bd.mbps / pd.mbps);
      log(`round ${round} ratios: upload ${(bu.mbps / pu.mbps).toFixed(3)}, download ${(bd.mbps / pd.mbps).toFixed(3)}`);
    }
    sampler.start();
    const cpuBefore = cpuSeconds(relay.pid);
    const rps = await smallGets(client, RPS_SECONDS);
    const cpuPerRequest = (cpuSeconds(relay.pid) - cpuBefore) / (rps * RPS_SECONDS);
    peak = Math.max(peak, sampler.stop());
    log(`small GETs: ${rps.toFixed(0)} req/s with ${RPS_CLIENTS} clients for ${RPS_SECONDS} s, relay CPU ${(cpuPerRequest * 1000).toFixed(2)} ms per request`);

    const mem = (await client.json('GET', '/bench-plain/_memory')) as Record<string, number>;
    log(`relay memory at the end (MiB): ${Object.entries(mem).map(([k, v]) => `${k} ${(v / MiB).toFixed(1)}`).join(', ')}`);
    const up = median(series.up);
    const down = median(series.down);
    const plainUp = median(series.plainUp);
    const plainDown = median(series.plainDown);
    emit('upload_mbps', up, 'MB/s');
    emit('download_mbps', down, 'MB/s');
    emit('plain_upload_mbps', plainUp, 'MB/s');
    emit('plain_download_mbps', plainDown, 'MB/s');
    // Ratios: the median of each round's paired ratio (both paths measured minutes apart at most).
    emit('upload_plain_ratio', median(series.upRatio), 'ratio');
    emit('download_plain_ratio', median(series.downRatio), 'ratio');
    log(`relay RSS peak ${peak.toFixed(1)} MiB: +${(peak - baseline).toFixed(1)} MiB over the warmed-up baseline, +${(peak - idle).toFixed(1)} MiB over the idle relay`);
    emit('relay_rss_growth_mib', peak - baseline, 'MiB');
    emit('small_get_rps', rps, 'req/s');
  } finally {
    clearTimeout(watchdog);
    client?.close();
    if (relay) {
      const exited = new Promise((ok) => relay!.child.once('exit', ok));
      relay.child.kill('SIGTERM');
      await exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
