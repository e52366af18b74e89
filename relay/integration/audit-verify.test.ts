/**
 * The independent audit end to end (docs/AUDIT.md sections 1 and 2, THREATS.md "Audit log"): a
 * real relay over HTTPS, real actions, a bundle exported as the auditor and verified in process
 * and by `sealvault verify-audit`. Then the test plays the relay operator: it drops the audit
 * database's append-only triggers and edits, deletes, inserts and reorders rows, and serves one
 * client a forked history signed with the real log key, and expects each to be named.
 */
import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { utf8 } from '../../shared/crypto/bytes';
import { canonicalJson, fromBase64url, toBase64url, type Json } from '../../shared/crypto/encoding';
import { AUDIT_ENTRY_TYPE, detailsDigest, leafBytes, signServiceEntry, type AuditEntry } from '../../shared/formats/audit-entry';
import type { AuditBundle } from '../../shared/audit/bundle';
import { verifyAuditLog, type AuditVerdict, type StoredEntry } from '../../shared/audit/verify';
import { exportAuditBundle } from '../../shared/protocol/audit-export';
import type { RelayTransport } from '../../shared/protocol/relay-transport';
import { createSpace } from '../../shared/protocol/spaces';
import { consistencyProof, leafHash, signCheckpoint, treeHash } from '../../shared/tlog';
import { loadOrCreateServiceKey } from '../common/service-key';
import { startEnterprise, type Enterprise } from './enterprise-fixture';

let e: Enterprise;
let dir: string;
let db: Database.Database;

type Row = { idx: number; leaf: Buffer; leaf_hash: Buffer; actor: string; details_json: string | null; received_at: number };

const auditDb = () => join(e.dataDir, 'audit', 'audit.sqlite');
const exportBundle = () => exportAuditBundle(e.transport, e.auditor);
const kinds = (v: AuditVerdict) => v.failures.map((f) => ({ kind: f.kind, index: f.index, size: f.size }));

/** Waits (without asserting on time) until the audit service has signed a checkpoint of the whole log. */
async function settled(): Promise<number> {
  for (;;) {
    const count = (db.prepare('SELECT count(*) AS n FROM entries').get() as { n: number }).n;
    const latest = (db.prepare('SELECT max(size) AS n FROM checkpoints').get() as { n: number }).n;
    if (latest === count) return count;
    await new Promise((r) => setTimeout(r, 200));
  }
}

function runCli(bundle: AuditBundle | string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const file = join(dir, `bundle-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, typeof bundle === 'string' ? bundle : JSON.stringify(bundle));
  return new Promise((resolve, reject) => {
    const child = spawn('npx', ['tsx', 'relay/cli.ts', 'verify-audit', file], { cwd: process.cwd(), env: process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Runs `tamper` on the database, exports and verifies, then undoes it so the next case starts clean. */
async function tampered(tamper: () => void, undo: () => void): Promise<{ bundle: AuditBundle; verdict: AuditVerdict }> {
  db.transaction(tamper)();
  try {
    const bundle = await exportBundle();
    return { bundle, verdict: await verifyAuditLog(bundle.evidence) };
  } finally {
    db.transaction(undo)();
  }
}

beforeAll(async () => {
  e = await startEnterprise('Audit Verify Corp');
  dir = mkdtempSync(join(tmpdir(), 'sealvault-audit-verify-'));
  const alice = await e.employee('alice', 'Alice Auditee', { spaceManager: true });
  await e.employee('bob', 'Bob Auditee');
  await createSpace(e.transport, alice, e.caPem, 'Audited space');
  db = new Database(auditDb());
  // A real attacker with the file simply drops the append-only triggers.
  db.exec('DROP TRIGGER entries_no_update; DROP TRIGGER entries_no_delete;');
  await settled();
}, 120_000);

afterAll(async () => {
  db?.close();
  await e?.close();
});

describe('audit log verification over the real relay', () => {
  it('exports a bundle as the auditor that verifies, in process and with sealvault verify-audit', async () => {
    const size = await settled();
    const bundle = await exportBundle();
    const verdict = await verifyAuditLog(bundle.evidence);
    expect(verdict.failures).toEqual([]);
    expect(verdict.ok).toBe(true);
    expect(verdict.entries).toBeGreaterThanOrEqual(size);
    expect(verdict.checkpoints).toBeGreaterThan(1);
    // Employees' entries are checked against their certificates; the administrators have none.
    const accountSigned = bundle.evidence.entries.filter((x) => x.entry?.signer.kind === 'account');
    expect(accountSigned.some((x) => x.entry?.actor === e.sec.account)).toBe(true);
    expect(bundle.evidence.certificates.length).toBe(2);
    const cli = await runCli(bundle);
    expect(cli.code).toBe(0);
    expect(cli.stdout).toMatch(/^OK: \d+ entries/m);
  });

  it('names a row edited in the database', async () => {
    await settled();
    const row = db.prepare('SELECT * FROM entries WHERE idx = 3').get() as Row;
    const signed = JSON.parse(row.leaf.toString('utf8')) as { entry: AuditEntry; signature: string };
    signed.entry.target = 'account:someone-else';
    const edited = Buffer.from(utf8(canonicalJson(signed as unknown as Json)));
    const { bundle, verdict } = await tampered(
      () => db.prepare('UPDATE entries SET leaf = ? WHERE idx = 3').run(edited),
      () => db.prepare('UPDATE entries SET leaf = ? WHERE idx = 3').run(row.leaf),
    );
    expect(verdict.ok).toBe(false);
    expect(kinds(verdict)).toContainEqual({ kind: 'entry-signature', index: 3, size: undefined });
    expect(kinds(verdict).filter((f) => f.kind === 'checkpoint-root').length).toBeGreaterThan(0);
    const cli = await runCli(bundle);
    expect(cli.code).toBe(1);
    expect(cli.stdout).toMatch(/^entry-signature \(entry 3\): /m);
    expect(cli.stdout).toMatch(/^FAILED: /m);
  });

  it('names the checkpoint whose entries were deleted from the end', async () => {
    const size = await settled();
    const rows = db.prepare('SELECT * FROM entries WHERE idx >= ? ORDER BY idx').all(size - 2) as Row[];
    const { bundle, verdict } = await tampered(
      () => db.prepare('DELETE FROM entries WHERE idx >= ?').run(size - 2),
      () => {
        for (const r of rows) db.prepare('INSERT INTO entries (idx, leaf, leaf_hash, actor, details_json, received_at) VALUES (?, ?, ?, ?, ?, ?)').run(r.idx, r.leaf, r.leaf_hash, r.actor, r.details_json, r.received_at);
      },
    );
    expect(kinds(verdict)).toContainEqual({ kind: 'missing-entry', index: size - 2, size });
    const cli = await runCli(bundle);
    expect(cli.code).toBe(1);
    expect(cli.stdout).toContain(`missing-entry (entry ${size - 2}, checkpoint size ${size})`);
  });

  it('names the checkpoints broken by a row inserted in the middle, even one validly signed with the stolen service key', async () => {
    const size = await settled();
    const key = await loadOrCreateServiceKey(join(e.dataDir, 'audit'));
    const details = { forged: true };
    const entry: AuditEntry = {
      type: AUDIT_ENTRY_TYPE,
      time: Date.now(),
      actor: 'service:audit',
      action: 'audit.note',
      target: 'enterprise',
      outcome: 'ok',
      details: await detailsDigest(details),
      signer: { kind: 'service', service: 'audit', key: key.publicB64u },
    };
    const leaf = Buffer.from(leafBytes(await signServiceEntry(key.privateKey, entry)));
    const at = 4;
    const shift = 1_000_000;
    const forgedHash = Buffer.from(await leafHash(leaf));
    const { bundle, verdict } = await tampered(
      () => {
        db.prepare('UPDATE entries SET idx = idx + ? WHERE idx >= ?').run(shift, at);
        db.prepare('UPDATE entries SET idx = idx - ? + 1 WHERE idx >= ?').run(shift, shift);
        db.prepare('INSERT INTO entries (idx, leaf, leaf_hash, actor, details_json, received_at) VALUES (?, ?, ?, ?, ?, ?)').run(at, leaf, forgedHash, 'service:audit', canonicalJson(details), Date.now());
      },
      () => {
        db.prepare('DELETE FROM entries WHERE idx = ?').run(at);
        db.prepare('UPDATE entries SET idx = idx + ? WHERE idx > ?').run(shift, at);
        db.prepare('UPDATE entries SET idx = idx - ? - 1 WHERE idx >= ?').run(shift, shift);
      },
    );
    const roots = verdict.failures.filter((f) => f.kind === 'checkpoint-root');
    expect(roots.length).toBeGreaterThan(0);
    // Every checkpoint that covers the insertion point, and none before it.
    expect(roots.every((f) => f.size! > at)).toBe(true);
    expect(roots.map((f) => f.size)).toContain(size);
    expect(verdict.failures.some((f) => f.kind === 'entry-signature')).toBe(false);
    const cli = await runCli(bundle);
    expect(cli.code).toBe(1);
    expect(cli.stdout).toContain(`checkpoint-root (checkpoint size ${size})`);
  });

  it('names the checkpoints broken by two rows swapped', async () => {
    const size = await settled();
    const swap = () => {
      db.prepare('UPDATE entries SET idx = -1 WHERE idx = 5').run();
      db.prepare('UPDATE entries SET idx = 5 WHERE idx = 6').run();
      db.prepare('UPDATE entries SET idx = 6 WHERE idx = -1').run();
    };
    const { bundle, verdict } = await tampered(swap, swap);
    const roots = verdict.failures.filter((f) => f.kind === 'checkpoint-root').map((f) => f.size!);
    expect(roots).toContain(size);
    expect(roots.every((s) => s > 5)).toBe(true);
    const cli = await runCli(bundle);
    expect(cli.code).toBe(1);
    expect(cli.stdout).toContain(`checkpoint-root (checkpoint size ${size})`);
  });

  it('exits 2 with a clear message for a file that is not a bundle', async () => {
    const cli = await runCli('{"type": "something else"}');
    expect(cli.code).toBe(2);
    expect(cli.stderr).toContain('is not a sealvault/v1/audit-bundle');
  });

  it('catches a forked history served to one client against the checkpoint it saw before', async () => {
    await settled();
    const real = await exportBundle();
    const seen = real.evidence.checkpoints.at(-1)!;
    const seenSize = Number(seen.split('\n')[1]);

    // The operator, holding the log key, serves this client a history where entries 1 and 2
    // traded places, with checkpoints and proofs made to match it.
    const key = await loadOrCreateServiceKey(join(e.dataDir, 'audit'));
    const forked: StoredEntry[] = real.evidence.entries.map((x) => ({ ...x }));
    [forked[1], forked[2]] = [forked[2]!, forked[1]!];
    forked.forEach((x, i) => (x.index = i));
    const hashes = await Promise.all(forked.map((x) => leafHash(fromBase64url(x.leaf))));
    const sizes = real.evidence.checkpoints.map((n) => Number(n.split('\n')[1]));
    const notes = new Map<number, string>();
    for (const size of sizes) {
      notes.set(size, await signCheckpoint({ privateKey: key.privateKey, publicKey: key.publicRaw }, real.evidence.origin, { origin: real.evidence.origin, size, root: await treeHash(hashes, size) }));
    }
    const forking: RelayTransport = {
      async request(method, path, body, session) {
        const url = new URL(path, 'https://relay.invalid');
        const q = (k: string) => Number(url.searchParams.get(k) ?? 0);
        if (url.pathname === '/api/audit/entries') {
          const page = forked.slice(q('start'), q('start') + q('limit'));
          return { entries: page, nextStart: q('start') + q('limit') < forked.length ? q('start') + q('limit') : null };
        }
        if (url.pathname === '/api/audit/checkpoints') return { checkpoints: sizes.filter((s) => s >= q('start')).map((s) => ({ size: s, note: notes.get(s)! })), nextStart: null };
        if (url.pathname === '/api/audit/checkpoint') return { size: sizes.at(-1)!, note: notes.get(sizes.at(-1)!)! };
        if (url.pathname === '/api/audit/proofs/consistency') return { first: q('first'), second: q('second'), proof: (await consistencyProof(hashes, q('first'), q('second'))).map(toBase64url) };
        return e.transport.request(method, path, body, session);
      },
    };
    const bundle = await exportAuditBundle(forking, e.auditor);
    // Alone, the forked history is self-consistent: only memory of what was seen catches it.
    expect((await verifyAuditLog(bundle.evidence)).ok).toBe(true);
    const verdict = await verifyAuditLog({ ...bundle.evidence, checkpoints: [seen, ...bundle.evidence.checkpoints] });
    expect(verdict.ok).toBe(false);
    expect(kinds(verdict)).toContainEqual({ kind: 'consistency', index: undefined, size: seenSize });
    expect(kinds(verdict)).toContainEqual({ kind: 'checkpoint-root', index: undefined, size: seenSize });
  });
});
