/**
 * Audit log bench (issue 7): `npm run bench:audit` (tsx bench/audit.ts). See bench/README-audit.md.
 *
 * stdout carries only result lines, one JSON object each, such as
 *   {"metric":"append_per_s","value":5400,"unit":"entries/s","baseline":21000,"ratio":0.26,...}
 * Progress goes to stderr.
 *
 * 1. append_per_s: service-signed entries (signed beforehand by a "vault" key) appended through
 *    the audit service's own POST /entries, in process with app.request: JSON parsing, the strict
 *    schema, the admission checks (the signer's key is the key that service publishes, Ed25519
 *    signature, details digest, clock skew), the leaf, the Merkle nodes and the row, each append
 *    its own SQLite transaction. Baseline: the same rows inserted raw into a table of the same
 *    schema, one transaction per row, nothing checked, no tree.
 * 2. inclusion_proof_ms_1m: an audit store with BENCH_AUDIT_LEAVES (default 1,000,000) leaves,
 *    leaf hashes appended straight into relay/audit's MerkleStore, then RFC 9162 inclusion
 *    proofs for random indexes at the full size (median, p99). Baseline: as many primary-key
 *    reads of stored nodes as a proof has hashes, timed the same way.
 * 3. browser_verify_100k_s: headless Chromium (/usr/bin/chromium or PLAYWRIGHT_CHROMIUM_PATH)
 *    verifies BENCH_AUDIT_VERIFY (default 100,000) service-signed entries and a signed
 *    checkpoint over them. With shared/audit/verify.ts present, through verifyAuditLog
 *    (docs/AUDIT.md section 1); without it, with a stand-in doing the same work (the checkpoint
 *    signature, Ed25519 verify of every entry, the RFC 9162 root over all leaves with
 *    shared/tlog), said so in the line's "verifier" field. Baseline: the same number of bare
 *    Ed25519 verifies plus bare SHA-256 leaf hashes in the same page.
 *
 * Environment: BENCH_AUDIT_APPENDS (default 20000), BENCH_AUDIT_CONCURRENCY (appends in flight,
 * default 32), BENCH_AUDIT_LEAVES, BENCH_AUDIT_PROOFS (default 2000), BENCH_AUDIT_VERIFY.
 */
import Database from 'better-sqlite3';
import { build } from 'esbuild';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { canonicalJson, toBase64url, type Json } from '../shared/crypto/encoding';
import { AUDIT_ENTRY_TYPE, detailsDigest, leafBytes, signServiceEntry, type AuditEntry, type SignedAuditEntry } from '../shared/formats/audit-entry';
import { createEnterpriseCa } from '../shared/pki/enterprise-ca';
import { signCheckpoint, verifierKeyString, verifyInclusion } from '../shared/tlog';
import { createAuditService } from '../relay/audit';
import { AuditStore } from '../relay/audit/store';
import { sha256LeafHash, sha256NodeHash } from '../relay/audit/merkle-store';
import type { Peers } from '../relay/common/peers';
import { loadOrCreateServiceKey, type ServiceKey } from '../relay/common/service-key';
import { testServiceContext } from '../relay/test-support/service-context';
import { findChromium, launchChromium, serve, UsageError } from './lib/chromium';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const APPENDS = positiveInt('BENCH_AUDIT_APPENDS', 20_000);
const CONCURRENCY = positiveInt('BENCH_AUDIT_CONCURRENCY', 32);
const LEAVES = positiveInt('BENCH_AUDIT_LEAVES', 1_000_000);
const PROOFS = positiveInt('BENCH_AUDIT_PROOFS', 2000);
const VERIFY = positiveInt('BENCH_AUDIT_VERIFY', 100_000);

function positiveInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got ${raw}`);
  return n;
}

function log(message: string): void {
  process.stderr.write(`[bench:audit] ${message}\n`);
}

function emit(line: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

const round = (x: number, digits = 3) => Number(x.toFixed(digits));
const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

/** `n` entries signed by `key` as the `service` service, with their details (what a service sink sends). */
async function signedEntries(key: ServiceKey, service: 'vault', n: number, onProgress?: (done: number) => void): Promise<{ signed: SignedAuditEntry; details: Record<string, Json> }[]> {
  const out: { signed: SignedAuditEntry; details: Record<string, Json> }[] = [];
  const now = Date.now();
  for (let i = 0; i < n; i++) {
    const details = { contract: `c-${i % 97}`, bytes: 4 * 1024 * 1024, n: i };
    const entry: AuditEntry = {
      type: AUDIT_ENTRY_TYPE,
      time: now + i,
      actor: `acct-${(i % 500).toString().padStart(4, '0')}-bench`,
      action: 'block.download',
      target: `file:f-${i % 1000}/v1/block:${i % 16}`,
      outcome: 'ok',
      details: await detailsDigest(details),
      signer: { kind: 'service', service, key: key.publicB64u },
    };
    out.push({ signed: await signServiceEntry(key.privateKey, entry), details });
    if (onProgress && (i + 1) % 20_000 === 0) onProgress(i + 1);
  }
  return out;
}

// ---- 1. appends ---------------------------------------------------------------------------------

async function benchAppends(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sealvault-bench-audit-'));
  try {
    const vaultKey = await loadOrCreateServiceKey(mkdtempSync(join(dir, 'vault-')));
    // The audit service trusts the vault's key as published by the vault: here, handed over directly.
    const peers: Peers = {
      fetch: () => Promise.reject(new Error('no peer calls expected for service-signed entries')),
      publicKey: async (service) => {
        if (service !== 'vault') throw new Error(`no key for ${service}`);
        return vaultKey.publicKey;
      },
    };
    mkdirSync(join(dir, 'audit'), { recursive: true });
    const ctx = await testServiceContext('audit', { dataDir: join(dir, 'audit'), peers });
    const audit = await createAuditService(ctx, { checkpointIntervalMs: 0 });
    log(`signing ${APPENDS} + 1000 warm-up entries with the vault's key`);
    const all = await signedEntries(vaultKey, 'vault', APPENDS + 1000);
    const bodies = all.map(({ signed, details }) => JSON.stringify({ ...signed, detailsJson: details }));

    const post = async (body: string) => {
      const res = await audit.app.request('/entries', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      if (res.status !== 200) throw new Error(`append refused: HTTP ${res.status} ${await res.text()}`);
    };
    const run = async (items: string[]) => {
      let next = 0;
      await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
        while (next < items.length) await post(items[next++]!);
      }));
    };
    await run(bodies.slice(0, 1000)); // warm-up: JIT, statement cache, key import
    const t0 = performance.now();
    await run(bodies.slice(1000));
    const appendMs = performance.now() - t0;
    if (audit.store.size() !== APPENDS + 1000) throw new Error(`the log has ${audit.store.size()} entries, expected ${APPENDS + 1000}`);
    await audit.close();

    // Baseline: the same rows, raw, one transaction each, same pragmas as relay/common/db.ts.
    const raw = new Database(join(dir, 'raw.sqlite'));
    raw.pragma('journal_mode = WAL');
    raw.pragma('synchronous = NORMAL');
    raw.exec(`CREATE TABLE entries (idx INTEGER PRIMARY KEY, leaf BLOB NOT NULL, leaf_hash BLOB NOT NULL UNIQUE, actor TEXT NOT NULL, details_json TEXT, received_at INTEGER NOT NULL) STRICT;
              CREATE INDEX entries_by_actor ON entries (actor, idx);`);
    const insert = raw.prepare('INSERT INTO entries (idx, leaf, leaf_hash, actor, details_json, received_at) VALUES (?, ?, ?, ?, ?, ?)');
    const rows = all.map(({ signed, details }, i) => {
      const leaf = Buffer.from(leafBytes(signed));
      return [i, leaf, sha256LeafHash(leaf), signed.entry.actor, canonicalJson(details), Date.now()] as const;
    });
    const one = raw.transaction((r: (typeof rows)[number]) => insert.run(...r));
    for (const r of rows.slice(0, 1000)) one.immediate(r);
    const t1 = performance.now();
    for (const r of rows.slice(1000)) one.immediate(r);
    const rawMs = performance.now() - t1;
    raw.close();

    const perS = APPENDS / (appendMs / 1000);
    const rawPerS = APPENDS / (rawMs / 1000);
    log(`appends: ${APPENDS} in ${round(appendMs / 1000)} s; raw inserts: ${round(rawMs / 1000)} s`);
    emit({ metric: 'append_per_s', value: Math.round(perS), unit: 'entries/s', aim: '>= 5000', baseline: Math.round(rawPerS), baseline_unit: 'raw SQLite inserts/s (same rows, one transaction each, no checks, no tree)', ratio: round(perS / rawPerS), entries: APPENDS, concurrency: CONCURRENCY });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- 2. inclusion proofs at 1M --------------------------------------------------------------------

async function benchProofs(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sealvault-bench-tree-'));
  try {
    const store = new AuditStore(dir);
    const t0 = performance.now();
    const BATCH = 20_000;
    const leafOf = (i: number) => createHash('sha256').update(Buffer.from([0])).update(`leaf ${i}`).digest();
    // Leaf hashes straight into the tree (the entries table is not what a proof reads).
    const appendBatch = store.db.transaction((from: number, to: number) => {
      for (let i = from; i < to; i++) store.tree.append(leafOf(i));
    });
    for (let from = 0; from < LEAVES; from += BATCH) {
      appendBatch(from, Math.min(LEAVES, from + BATCH));
      if ((from / BATCH) % 10 === 9) log(`tree: ${Math.min(LEAVES, from + BATCH)} leaves`);
    }
    log(`tree of ${LEAVES} leaves built in ${round((performance.now() - t0) / 1000)} s`);
    const root = store.tree.root(LEAVES);

    // Proofs for random indexes at the full size; one in 100 checked with shared/tlog (outside the timing).
    const times: number[] = [];
    let hashes = 0;
    for (let k = 0; k < PROOFS; k++) {
      const index = randomBytes(4).readUInt32BE() % LEAVES;
      const t = performance.now();
      const proof = store.tree.inclusionProof(index, LEAVES);
      times.push(performance.now() - t);
      hashes += proof.length;
      if (k % 100 === 0) await verifyInclusion({ leafHash: store.tree.leafHash(index), index, size: LEAVES, proof, root });
    }
    times.sort((a, b) => a - b);

    // Baseline: as many stored-node point reads as a proof has hashes, at random places.
    const read = store.db.prepare<[number, number], { hash: Buffer }>('SELECT hash FROM nodes WHERE level = ? AND idx = ?');
    const per = Math.round(hashes / PROOFS);
    const base: number[] = [];
    for (let k = 0; k < PROOFS; k++) {
      const t = performance.now();
      for (let level = 0; level < per; level++) read.get(level, Math.floor(Math.random() * Math.max(1, Math.floor(LEAVES / 2 ** level))));
      base.push(performance.now() - t);
    }
    base.sort((a, b) => a - b);
    store.close();
    const median = quantile(times, 0.5);
    emit({ metric: 'inclusion_proof_ms_1m', value: round(median, 4), unit: 'ms (median)', p99: round(quantile(times, 0.99), 4), aim: '< 5', leaves: LEAVES, proofs: PROOFS, hashes_per_proof: per, baseline: round(quantile(base, 0.5), 4), baseline_unit: `ms for ${per} primary-key node reads`, ratio: round(median / quantile(base, 0.5), 2) });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- 3. the auditor's browser verifies 100k entries --------------------------------------------

/** The stand-in page: the same work as verifyAuditLog for service-signed entries. */
const STANDIN_PAGE = `
import { verifyServiceEntry } from './shared/formats/audit-entry';
import { ed25519Verifier, leafHash, openCheckpoint, treeHash } from './shared/tlog';
import { fromBase64url } from './shared/crypto/encoding';
import { importEd25519PublicKey } from './shared/formats/token';
import { REAL } from 'audit-real';

async function standIn(evidence) {
  const key = await importEd25519PublicKey(fromBase64url(evidence.serviceKey));
  const verifier = await ed25519Verifier(evidence.keyName, fromBase64url(evidence.logKey));
  const checkpoint = await openCheckpoint(evidence.checkpoint, { origin: evidence.origin, verifiers: [verifier] });
  const enc = new TextEncoder();
  const hashes = [];
  for (const leaf of evidence.leaves) {
    const bytes = enc.encode(leaf);
    const signed = JSON.parse(leaf);
    await verifyServiceEntry(key, signed);
    hashes.push(await leafHash(bytes));
  }
  const root = await treeHash(hashes);
  const same = root.length === checkpoint.root.length && root.every((b, i) => b === checkpoint.root[i]);
  if (!same || checkpoint.size !== hashes.length) throw new Error('the checkpoint root is not the root of the entries');
  return { entries: hashes.length, ok: true };
}

async function bare(evidence) {
  const key = await importEd25519PublicKey(fromBase64url(evidence.serviceKey));
  const enc = new TextEncoder();
  const msgs = evidence.leaves.map((l) => enc.encode(l));
  const sig = new Uint8Array(64);
  const t = performance.now();
  for (const m of msgs) {
    await crypto.subtle.verify('Ed25519', key, sig, m);
    await crypto.subtle.digest('SHA-256', m);
  }
  return performance.now() - t;
}

globalThis.sealvaultBench = {
  async verify() {
    const evidence = await (await fetch('/evidence.json')).json();
    let verifier = 'stand-in: Ed25519 verify of each entry + RFC 9162 root with shared/tlog + checkpoint signature';
    const t = performance.now();
    let result;
    if (REAL) {
      verifier = 'shared/audit/verify.ts verifyAuditLog';
      result = await REAL(evidence);
    } else {
      result = await standIn(evidence);
    }
    const ms = performance.now() - t;
    const baseMs = await bare(evidence);
    return { ms, baseMs, verifier, result, ed25519: true };
  },
};
`;

/** verifyAuditLog through its documented API (docs/AUDIT.md section 1), when the file exists. */
const REAL_MODULE = `
import { verifyAuditLog } from './shared/audit/verify';
export const REAL = async (e) => {
  const entries = e.leaves.map((leaf, index) => {
    const parsed = JSON.parse(leaf);
    return { index, leaf: e.leafB64u[index], entry: parsed.entry, signature: parsed.signature, detailsJson: null, leafHash: e.leafHashes[index], receivedAt: parsed.entry.time };
  });
  const verdict = await verifyAuditLog({ origin: e.origin, logVkey: e.vkey, serviceKeys: { vault: e.serviceKey }, caCertificatePem: e.caPem, certificates: [], revocations: [], entries, checkpoints: [e.checkpoint], witnesses: [], consistency: [] });
  if (!verdict.ok) throw new Error('verifyAuditLog: ' + JSON.stringify(verdict.failures.slice(0, 3)));
  return verdict;
};
`;

async function benchBrowser(): Promise<void> {
  const executable = findChromium();
  const real = existsSync(join(ROOT, 'shared/audit/verify.ts'));
  log(`browser verify: signing ${VERIFY} entries (${real ? 'shared/audit/verify.ts found' : 'shared/audit/verify.ts not there yet: stand-in'})`);
  const dir = mkdtempSync(join(tmpdir(), 'sealvault-bench-verify-'));
  try {
    const key = await loadOrCreateServiceKey(dir);
    const logKey = await loadOrCreateServiceKey(mkdtempSync(join(dir, 'log-')));
    const all = await signedEntries(key, 'vault', VERIFY, (n) => log(`signed ${n}`));
    const leaves = all.map(({ signed }) => new TextDecoder().decode(leafBytes(signed)));
    const leafHashes = leaves.map((l) => sha256LeafHash(Buffer.from(l)));
    // The root as relay/audit computes it (node:crypto), independent of the page's shared/tlog.
    let level: Buffer[] = leafHashes;
    const mth = (lo: number, hi: number): Buffer => {
      if (hi - lo === 1) return level[lo]!;
      let k = 1;
      while (k * 2 < hi - lo) k *= 2;
      return sha256NodeHash(mth(lo, lo + k), mth(lo + k, hi));
    };
    const root = mth(0, leafHashes.length);
    level = [];
    const origin = 'bench.example/sealvault/audit/bench';
    const checkpoint = await signCheckpoint({ privateKey: logKey.privateKey, publicKey: logKey.publicRaw }, origin, { origin, size: leaves.length, root });
    const evidence = {
      origin,
      keyName: origin,
      serviceKey: key.publicB64u,
      logKey: logKey.publicB64u,
      vkey: await verifierKeyString(origin, logKey.publicRaw),
      // A real CA certificate: verifyAuditLog refuses evidence whose CA does not parse, even with no account entries.
      caPem: (await createEnterpriseCa('Bench enterprise')).certificatePem,
      checkpoint,
      leaves,
      leafB64u: leaves.map((l) => toBase64url(new TextEncoder().encode(l))),
      leafHashes: leafHashes.map((h) => toBase64url(h)),
    };
    const out = await build({
      absWorkingDir: ROOT,
      stdin: { contents: STANDIN_PAGE, resolveDir: ROOT, loader: 'ts', sourcefile: 'audit-verify-page.ts' },
      plugins: [
        {
          name: 'audit-real',
          setup(b) {
            b.onResolve({ filter: /^audit-real$/ }, () => ({ path: 'audit-real', namespace: 'audit-real' }));
            b.onLoad({ filter: /.*/, namespace: 'audit-real' }, () => ({ contents: real ? REAL_MODULE : 'export const REAL = null;', resolveDir: ROOT, loader: 'ts' }));
          },
        },
      ],
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      write: false,
      logLevel: 'silent',
    });
    const server = await serve(new Map([['/entry.js', out.outputFiles[0]!.text], ['/evidence.json', JSON.stringify(evidence)]]));
    const browser = await launchChromium(executable);
    try {
      const pageHandle = await (await browser.newContext()).newPage();
      pageHandle.on('pageerror', (e) => log(`[page error] ${e.message}`));
      await pageHandle.goto(`${server.origin}/`);
      await pageHandle.waitForFunction(() => 'sealvaultBench' in globalThis, undefined, { timeout: 30_000 });
      log(`Chromium ${browser.version()}: verifying ${VERIFY} entries`);
      const r = (await pageHandle.evaluate(() => (globalThis as unknown as { sealvaultBench: { verify(): Promise<unknown> } }).sealvaultBench.verify())) as { ms: number; baseMs: number; verifier: string };
      emit({ metric: 'browser_verify_100k_s', value: round(r.ms / 1000), unit: 's', aim: '< 20', entries: VERIFY, verifier: r.verifier, chromium: browser.version(), baseline: round(r.baseMs / 1000), baseline_unit: 's for bare Ed25519 verifies + SHA-256 of the same leaves in the same page', ratio: round(r.ms / r.baseMs, 2) });
    } finally {
      await browser.close();
      await server.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const only = process.argv[2];
  if (!only || only === 'append') await benchAppends();
  if (!only || only === 'proof') await benchProofs();
  if (!only || only === 'browser') await benchBrowser();
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`${e instanceof UsageError ? e.message : e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
