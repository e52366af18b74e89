/**
 * Verifies a whole audit log offline (docs/AUDIT.md section 1, DESIGN.md section 9): every
 * entry's format and signature, every checkpoint's log signature and root, the consistency of
 * successive checkpoints, and the witnesses' cosignatures. Browser-safe: WebCrypto only, no DOM.
 *
 * Everything in `AuditEvidence` except the caller's own trust anchors comes from the relay and is
 * attacker input: the log key and service keys are what the caller decided to trust, the entries,
 * notes and proofs are only believed once they verify against those. A failure never stops the
 * run: the verdict lists every failure, each naming the entry index or checkpoint size.
 *
 * Speed (100,000 entries in a browser well under 20 s): each leaf is hashed once; the tree is
 * built level by level from the leaf hashes, each level's hashes in parallel, so the root of any
 * checkpoint size is a fold of at most 64 stored perfect subtrees; keys are imported once; the
 * signature checks run in bounded parallel batches (WebCrypto works off the main thread).
 */
import { concatBytes, equalBytes, fromUtf8, own, utf8 } from '../crypto/bytes';
import { canonicalJson, fromBase64url, toBase64url } from '../crypto/encoding';
import { isCryptoError } from '../crypto/errors';
import { publicKeyId } from '../crypto/statements';
import { detailsDigest, type AuditEntry } from '../formats/audit-entry';
import { NAME_OIDS, checkIssuedBy, parseCertificate, type x509 } from '../pki/x509';
import { AppendEntryRequestSchema, type StoredEntrySchema } from '../schemas/audit';
import {
  SIG_TYPE_COSIGNATURE_V1,
  SIG_TYPE_ED25519,
  ed25519Verifier,
  openCheckpoint,
  parseCheckpoint,
  parseVerifierKey,
  splitNote,
  verifyConsistency,
  verifyCosignature,
  type Checkpoint,
  type NoteVerifier,
} from '../tlog';
import type { z } from 'zod';

export type StoredEntry = z.infer<typeof StoredEntrySchema>;

export interface AuditRevocation {
  /** certificate serial, hex (compared case-insensitively) */
  serial: string;
  /** milliseconds since the epoch */
  revokedAt: number;
  reason: string;
}

export interface AuditWitness {
  name: string;
  /** c2sp verifier key string, type 0x04 */
  vkey: string;
  account: string;
}

export interface AuditConsistencyProof {
  first: number;
  second: number;
  /** base64url hashes, as GET /api/audit/proofs/consistency gives them */
  proof: string[];
}

/**
 * A signing key the directory registered for an account that holds no certificate at all (the
 * three administrators made at setup are never certified: nobody may certify their own keys).
 * An extension of docs/AUDIT.md section 1: without it, their entries could not be checked at
 * all. It is the relay's word, so it is used only for accounts with no certificate in the
 * evidence, and the verdict counts the entries checked this way (`uncertified`).
 */
export interface UncertifiedAccountKey {
  account: string;
  /** publicKeyId of the key (shared/crypto/statements.ts) */
  keyId: string;
  /** base64url SPKI of the ECDSA P-256 key */
  spki: string;
}

export interface AuditEvidence {
  /** the log's origin line (and key name) */
  origin: string;
  /** c2sp signed-note verifier key of the log */
  logVkey: string;
  /** service name -> base64url raw Ed25519 public key */
  serviceKeys: Record<string, string>;
  caCertificatePem: string;
  /** every employee certificate ever issued, old ones included */
  certificates: string[];
  revocations: AuditRevocation[];
  /** in index order, from 0 */
  entries: StoredEntry[];
  /** signed notes, each possibly with cosignature lines, in the order they were seen */
  checkpoints: string[];
  witnesses: AuditWitness[];
  /** between successive checkpoints */
  consistency: AuditConsistencyProof[];
  /** see UncertifiedAccountKey */
  uncertifiedKeys?: UncertifiedAccountKey[];
}

export type AuditFailureKind =
  | 'entry-format'
  | 'entry-signature'
  | 'missing-entry'
  | 'order'
  | 'checkpoint-signature'
  | 'checkpoint-root'
  | 'consistency'
  | 'cosignature';

export interface AuditFailure {
  kind: AuditFailureKind;
  index?: number;
  size?: number;
  message: string;
}

export interface AuditVerdict {
  ok: boolean;
  entries: number;
  checkpoints: number;
  /** checkpoints carrying at least one valid cosignature of a registered witness */
  cosigned: number;
  /** extension: account entries checked against an UncertifiedAccountKey, not a certificate */
  uncertified: number;
  failures: AuditFailure[];
}

export interface VerifyAuditOptions {
  onProgress?(done: number, total: number): void;
  /** milliseconds since the epoch; certificates of the CA are checked at this time (default now) */
  now?: number;
}

/** Signature checks (and digests) in flight at once. */
const BATCH = 256;
/** onProgress granularity, in entries. */
const PROGRESS_STEP = 1000;

const LEAF_PREFIX = new Uint8Array([0x00]);
const NODE_PREFIX = 0x01;

function reason(e: unknown): string {
  if (e instanceof Error) return e.message.replace(/^E_[A-Z_]+: /, '');
  return String(e);
}

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
}

function nodeInput(left: Uint8Array, right: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(65);
  out[0] = NODE_PREFIX;
  out.set(left, 1);
  out.set(right, 33);
  return out;
}

/** Runs `work` over 0..n-1, BATCH at a time; `tick` after each batch. */
async function inBatches(n: number, work: (i: number) => Promise<void>, tick?: (done: number) => void): Promise<void> {
  for (let start = 0; start < n; start += BATCH) {
    const end = Math.min(n, start + BATCH);
    const jobs: Promise<void>[] = [];
    for (let i = start; i < end; i++) jobs.push(work(i));
    await Promise.all(jobs);
    tick?.(end);
  }
}

/**
 * levels[l][i] is the MTH of leaves [i * 2^l, (i + 1) * 2^l): every complete aligned subtree,
 * each level hashed in parallel batches.
 */
async function buildLevels(leaves: Uint8Array[]): Promise<Uint8Array[][]> {
  const levels: Uint8Array[][] = [leaves];
  let below = leaves;
  while (below.length >= 2) {
    const above: Uint8Array[] = new Array<Uint8Array>(Math.floor(below.length / 2));
    const b = below;
    await inBatches(above.length, async (i) => {
      above[i] = await sha256(nodeInput(b[2 * i]!, b[2 * i + 1]!));
    });
    levels.push(above);
    below = above;
  }
  return levels;
}

/**
 * The RFC 9162 root of the first `size` leaves: the perfect subtrees of the binary expansion of
 * `size` (largest first), folded from the right, which is exactly how MTH splits.
 */
async function rootOf(levels: Uint8Array[][], size: number): Promise<Uint8Array> {
  if (size === 0) return sha256(new Uint8Array(0));
  const parts: Uint8Array[] = [];
  let offset = 0;
  for (let level = levels.length - 1; level >= 0; level--) {
    const width = 2 ** level;
    if (size - offset >= width) {
      parts.push(levels[level]![offset / width]!);
      offset += width;
    }
  }
  let root = parts[parts.length - 1]!;
  for (let i = parts.length - 2; i >= 0; i--) root = await sha256(nodeInput(parts[i]!, root));
  return root;
}

interface CertifiedKey {
  serial: string;
  notBefore: number;
  notAfter: number;
}

interface AccountKey {
  key: CryptoKey;
  /** empty for an uncertified key */
  certificates: CertifiedKey[];
  certified: boolean;
}

/** account -> keyId -> key and the certificates that vouch for it. */
async function accountKeys(evidence: AuditEvidence, now: Date, failures: AuditFailure[]): Promise<Map<string, Map<string, AccountKey>>> {
  const out = new Map<string, Map<string, AccountKey>>();
  let ca: x509.X509Certificate | undefined;
  try {
    ca = parseCertificate(evidence.caCertificatePem, 'the enterprise CA certificate');
  } catch (e) {
    // Without the CA no account signature can be trusted; every account entry will say so.
    failures.push({ kind: 'entry-signature', message: `the enterprise CA certificate is unusable: ${reason(e)}` });
  }
  if (ca) {
    for (const [n, pem] of evidence.certificates.entries()) {
      try {
        const cert = parseCertificate(pem, `certificate ${n}`);
        // Validity is checked per entry, at the entry's time, not here.
        await checkIssuedBy(cert, ca, `certificate ${n}`);
        const uid = cert.subjectName.getField(NAME_OIDS.userId);
        if (uid.length !== 1) throw new Error('does not name exactly one account');
        const key = await crypto.subtle.importKey('spki', new Uint8Array(cert.publicKey.rawData), { name: 'ECDSA', namedCurve: 'P-256' }, true, ['verify']);
        const keyId = await publicKeyId(key);
        const byKey = out.get(uid[0]!) ?? new Map<string, AccountKey>();
        out.set(uid[0]!, byKey);
        const entry = byKey.get(keyId) ?? { key, certificates: [], certified: true };
        entry.certificates.push({ serial: cert.serialNumber.toLowerCase(), notBefore: cert.notBefore.getTime(), notAfter: cert.notAfter.getTime() });
        byKey.set(keyId, entry);
      } catch (e) {
        // A bad certificate vouches for nothing; entries that needed it fail on their own.
        failures.push({ kind: 'entry-signature', message: `certificate ${n} in the evidence is not usable: ${reason(e)}` });
      }
    }
    if (now < ca.notBefore || now > ca.notAfter) {
      failures.push({ kind: 'entry-signature', message: `the enterprise CA certificate is not valid at ${now.toISOString()}` });
    }
  }
  for (const u of evidence.uncertifiedKeys ?? []) {
    // Only for accounts no certificate speaks for: a certified account's key comes from its certificates.
    if (out.has(u.account) && [...out.get(u.account)!.values()].some((k) => k.certified)) continue;
    try {
      const key = await crypto.subtle.importKey('spki', own(fromBase64url(u.spki)), { name: 'ECDSA', namedCurve: 'P-256' }, true, ['verify']);
      if ((await publicKeyId(key)) !== u.keyId) {
        throw new Error('its key id is not the id of the key');
      }
      const byKey = out.get(u.account) ?? new Map<string, AccountKey>();
      out.set(u.account, byKey);
      byKey.set(u.keyId, { key, certificates: [], certified: false });
    } catch (e) {
      failures.push({ kind: 'entry-signature', message: `the uncertified key of account ${u.account} is not usable: ${reason(e)}` });
    }
  }
  return out;
}

async function importServiceKeys(evidence: AuditEvidence, failures: AuditFailure[]): Promise<Map<string, { key: CryptoKey; raw: string }>> {
  const out = new Map<string, { key: CryptoKey; raw: string }>();
  for (const [service, raw] of Object.entries(evidence.serviceKeys)) {
    try {
      const bytes = fromBase64url(raw);
      if (bytes.length !== 32) throw new Error(`${bytes.length} bytes, not 32`);
      out.set(service, { key: await crypto.subtle.importKey('raw', bytes, { name: 'Ed25519' }, false, ['verify']), raw: toBase64url(bytes) });
    } catch (e) {
      failures.push({ kind: 'entry-signature', message: `the ${service} service key is not an Ed25519 key: ${reason(e)}` });
    }
  }
  return out;
}

interface ParsedEntry {
  entry: AuditEntry;
  signature: Uint8Array<ArrayBuffer>;
  /** JCS(entry): the bytes an account signs, cut out of the (canonical) leaf */
  entryBytes: Uint8Array<ArrayBuffer>;
}

/** Built once: a zod schema is compiled on construction, which per entry would dominate the run. */
const SignedEntrySchema = AppendEntryRequestSchema.omit({ detailsJson: true });
const LEAF_HEAD = '{"entry":';
/** serviceSignedBytes(entry) is this prefix and JCS(entry) (shared/formats/audit-entry.ts). */
const SERVICE_DOMAIN = utf8('sealvault/v1/audit-entry\u0000');

/** Parses leaf bytes; pushes an entry-format failure and returns undefined when they are not an entry. */
function parseLeaf(stored: StoredEntry, leaf: Uint8Array<ArrayBuffer>, index: number, failures: AuditFailure[]): ParsedEntry | undefined {
  const bad = (message: string) => {
    failures.push({ kind: 'entry-format', index, message });
    return undefined;
  };
  let json: unknown;
  let text: string;
  try {
    text = fromUtf8(leaf);
    json = JSON.parse(text);
  } catch {
    return bad('the leaf is not JSON');
  }
  const parsed = SignedEntrySchema.safeParse(json);
  if (!parsed.success) return bad(`the leaf is not a signed audit entry: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  const entry = parsed.data.entry as AuditEntry;
  // The leaf must be the canonical form, so one entry has exactly one leaf (and one leaf hash).
  if (canonicalJson(json) !== text) return bad('the leaf is not in canonical JSON form');
  if (stored.entry === null || stored.signature === null || canonicalJson({ entry: stored.entry, signature: stored.signature }) !== text) {
    return bad('the entry or signature shown beside the leaf is not the one in the leaf');
  }
  if (entry.signer.kind === 'account' && entry.actor !== entry.signer.account) return bad('an account-signed entry names another actor');
  // JCS sorts "entry" before "signature", and every field of an entry is ASCII (the schema), so
  // JCS(entry) is exactly the bytes between the head and the signature member.
  const tail = utf8(`,"signature":${JSON.stringify(parsed.data.signature)}}`).length;
  const entryBytes = leaf.slice(LEAF_HEAD.length, leaf.length - tail);
  return { entry, signature: fromBase64url(parsed.data.signature), entryBytes };
}

export async function verifyAuditLog(input: AuditEvidence, options: VerifyAuditOptions = {}): Promise<AuditVerdict> {
  const failures: AuditFailure[] = [];
  const entries = input.entries;
  const total = entries.length;
  const now = new Date(options.now ?? Date.now());
  let progressed = 0;
  const progress = (done: number) => {
    if (done - progressed >= PROGRESS_STEP || done === total) {
      progressed = done;
      options.onProgress?.(done, total);
    }
  };

  // ---- trust anchors ----
  let logVerifier: NoteVerifier | undefined;
  try {
    const vkey = await parseVerifierKey(input.logVkey);
    if (vkey.type !== SIG_TYPE_ED25519) throw new Error('the log key must be an Ed25519 (type 0x01) key');
    if (vkey.name !== input.origin) throw new Error(`the log key is named ${vkey.name}, not the origin ${input.origin}`);
    logVerifier = await ed25519Verifier(vkey.name, vkey.publicKey);
  } catch (e) {
    failures.push({ kind: 'checkpoint-signature', message: `the log key is unusable: ${reason(e)}` });
  }
  const serviceKeys = await importServiceKeys(input, failures);
  const accounts = await accountKeys(input, now, failures);
  const revokedAt = new Map<string, number>();
  for (const r of input.revocations) {
    const serial = r.serial.toLowerCase();
    revokedAt.set(serial, Math.min(r.revokedAt, revokedAt.get(serial) ?? Infinity));
  }

  // ---- entries: order, leaf hashes, format ----
  const leaves: Uint8Array<ArrayBuffer>[] = new Array<Uint8Array<ArrayBuffer>>(total);
  const leafHashes: Uint8Array[] = new Array<Uint8Array>(total);
  const given = new Set(entries.map((e) => e.index));
  for (let i = 0; i < total; i++) {
    const stored = entries[i]!;
    if (stored.index !== i) {
      // Entry i is either nowhere in the list (missing) or somewhere else (moved).
      const kind = given.has(i) ? 'order' : 'missing-entry';
      failures.push({ kind, index: i, message: kind === 'missing-entry' ? `entry ${i} is missing (the next one given is ${stored.index})` : `entry ${i} is out of order: it says it is entry ${stored.index}` });
    }
    try {
      leaves[i] = fromBase64url(stored.leaf);
    } catch {
      failures.push({ kind: 'entry-format', index: i, message: 'the leaf is not base64url' });
      leaves[i] = utf8(stored.leaf);
    }
  }
  await inBatches(total, async (i) => {
    leafHashes[i] = await sha256(concatBytes(LEAF_PREFIX, leaves[i]!));
  });

  const parsed: (ParsedEntry | undefined)[] = new Array<ParsedEntry | undefined>(total);
  for (let i = 0; i < total; i++) {
    const stored = entries[i]!;
    if (stored.leafHash !== toBase64url(leafHashes[i]!)) failures.push({ kind: 'entry-format', index: i, message: 'the leaf hash shown is not the hash of the leaf' });
    parsed[i] = parseLeaf(stored, leaves[i]!, i, failures);
  }

  // ---- entries: signatures and details digests, in bounded parallel batches ----
  let uncertified = 0;
  await inBatches(
    total,
    async (i) => {
      const p = parsed[i];
      if (!p) return;
      const { entry, signature } = p;
      const stored = entries[i]!;
      if (stored.detailsJson !== null) {
        let digest: string | undefined;
        try {
          digest = await detailsDigest(stored.detailsJson);
        } catch {
          digest = undefined;
        }
        if (digest !== entry.details) failures.push({ kind: 'entry-format', index: i, message: 'the details shown are not the details the entry signs (digest differs)' });
      }
      const signer = entry.signer;
      if (signer.kind === 'service') {
        const trusted = serviceKeys.get(signer.service);
        if (!trusted) return void failures.push({ kind: 'entry-signature', index: i, message: `no key of the ${signer.service} service is trusted` });
        if (trusted.raw !== signer.key) return void failures.push({ kind: 'entry-signature', index: i, message: `the entry names a key that is not the ${signer.service} service's key` });
        if (entry.actor.startsWith('service:') && entry.actor !== `service:${signer.service}`) {
          return void failures.push({ kind: 'entry-signature', index: i, message: `the ${signer.service} service signed an entry naming ${entry.actor} as actor` });
        }
        const ok = signature.length === 64 && (await crypto.subtle.verify({ name: 'Ed25519' }, trusted.key, signature, concatBytes(SERVICE_DOMAIN, p.entryBytes)).catch(() => false));
        if (!ok) failures.push({ kind: 'entry-signature', index: i, message: `the signature does not verify with the ${signer.service} service key` });
        return;
      }
      const key = accounts.get(signer.account)?.get(signer.keyId);
      if (!key) {
        return void failures.push({ kind: 'entry-signature', index: i, message: `no certificate of account ${signer.account} holds key ${signer.keyId}` });
      }
      const ok = signature.length === 64 && (await crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, key.key, signature, p.entryBytes).catch(() => false));
      if (!ok) return void failures.push({ kind: 'entry-signature', index: i, message: `the signature does not verify with the key of account ${signer.account}` });
      if (!key.certified) {
        uncertified++;
        return;
      }
      // Some certificate of this key must be valid at the entry's time and not revoked by then.
      const valid = key.certificates.filter((c) => c.notBefore <= entry.time && entry.time <= c.notAfter);
      if (valid.length === 0) return void failures.push({ kind: 'entry-signature', index: i, message: `no certificate of account ${signer.account} for this key is valid at ${new Date(entry.time).toISOString()}` });
      const live = valid.filter((c) => !((revokedAt.get(c.serial) ?? Infinity) <= entry.time));
      if (live.length === 0) {
        const serials = valid.map((c) => c.serial).join(', ');
        failures.push({ kind: 'entry-signature', index: i, message: `signed at ${new Date(entry.time).toISOString()} with certificate ${serials}, revoked before then` });
      }
    },
    progress,
  );
  if (total === 0) options.onProgress?.(0, 0);

  // ---- checkpoints: signature, origin, root ----
  const levels = await buildLevels(leafHashes);
  const opened: { note: string; checkpoint: Checkpoint; rootMatches: boolean }[] = [];
  const witnesses: { name: string; publicKey: Uint8Array; keyId: number }[] = [];
  for (const w of input.witnesses) {
    try {
      const k = await parseVerifierKey(w.vkey);
      if (k.type !== SIG_TYPE_COSIGNATURE_V1) throw new Error('not a cosignature (type 0x04) key');
      witnesses.push({ name: k.name, publicKey: k.publicKey, keyId: k.keyId });
    } catch (e) {
      failures.push({ kind: 'cosignature', message: `the key of witness ${w.name} (${w.account}) is unusable: ${reason(e)}` });
    }
  }
  let cosigned = 0;
  for (const note of input.checkpoints) {
    let checkpoint: Checkpoint;
    try {
      if (!logVerifier) throw new Error('no usable log key');
      checkpoint = await openCheckpoint(note, { origin: input.origin, verifiers: [logVerifier] });
    } catch (e) {
      failures.push({ kind: 'checkpoint-signature', ...claimedSize(note), message: `a checkpoint does not open with the log key: ${reason(e)}` });
      continue;
    }
    const size = checkpoint.size;
    let rootMatches = false;
    if (size > total) {
      failures.push({ kind: 'missing-entry', index: total, size, message: `the checkpoint of size ${size} covers entries ${total}..${size - 1}, which are not in the log` });
    } else if (!equalBytes(await rootOf(levels, size), checkpoint.root)) {
      failures.push({ kind: 'checkpoint-root', size, message: `the checkpoint of size ${size} does not commit to the first ${size} entries (an entry was changed, added, removed or moved)` });
    } else {
      rootMatches = true;
    }
    // Cosignatures: only registered witnesses count; a line of theirs that fails is a failure.
    const lines = splitNote(note).signatures;
    let any = false;
    for (const w of witnesses) {
      if (!lines.some((s) => s.name === w.name && s.keyId === w.keyId)) continue;
      try {
        await verifyCosignature(note, { name: w.name, publicKey: w.publicKey });
        any = true;
      } catch (e) {
        failures.push({ kind: 'cosignature', size, message: `the cosignature of witness ${w.name} on the checkpoint of size ${size} does not verify: ${reason(e)}` });
      }
    }
    if (any) cosigned++;
    opened.push({ note, checkpoint, rootMatches });
  }

  // ---- consistency ----
  // In the order seen, a tree never shrinks.
  for (let i = 1; i < opened.length; i++) {
    const a = opened[i - 1]!.checkpoint;
    const b = opened[i]!.checkpoint;
    if (b.size < a.size) failures.push({ kind: 'consistency', size: b.size, message: `the tree size went back from ${a.size} to ${b.size} (truncation)` });
  }
  // By size: each checkpoint extends the next smaller one.
  const bySize = [...opened].sort((x, y) => x.checkpoint.size - y.checkpoint.size);
  const proofs = new Map(input.consistency.map((p) => [`${p.first}/${p.second}`, p.proof]));
  for (let i = 1; i < bySize.length; i++) {
    const a = bySize[i - 1]!;
    const b = bySize[i]!;
    const first = a.checkpoint.size;
    const second = b.checkpoint.size;
    if (first === second) {
      if (!equalBytes(a.checkpoint.root, b.checkpoint.root)) failures.push({ kind: 'consistency', size: second, message: `two different checkpoints of size ${second} (a fork)` });
      continue;
    }
    const proof = proofs.get(`${first}/${second}`);
    if (proof === undefined) {
      // Without a proof the entries decide: two roots of prefixes of one list are consistent.
      if (!(a.rootMatches && b.rootMatches)) {
        failures.push({ kind: 'consistency', size: second, message: `the checkpoint of size ${second} is not shown to extend the one of size ${first} (no proof, and the entries do not confirm both)` });
      }
      continue;
    }
    try {
      await verifyConsistency({ first, second, firstRoot: a.checkpoint.root, secondRoot: b.checkpoint.root, proof: proof.map((h) => fromBase64url(h)) });
    } catch (e) {
      if (!isCryptoError(e) && !(e instanceof TypeError)) throw e;
      failures.push({ kind: 'consistency', size: second, message: `the checkpoint of size ${second} is not an extension of the one of size ${first}: ${reason(e)}` });
    }
  }

  failures.sort(byPosition);
  return { ok: failures.length === 0, entries: total, checkpoints: opened.length, cosigned, uncertified, failures };
}

/** The size a note claims, for naming a checkpoint whose signature fails (never trusted otherwise). */
function claimedSize(note: string): { size?: number } {
  try {
    return { size: parseCheckpoint(splitNote(note).text).size };
  } catch {
    return {};
  }
}

/** Failures about the whole evidence first, then by entry index, then by checkpoint size. */
function byPosition(a: AuditFailure, b: AuditFailure): number {
  const rank = (f: AuditFailure) => (f.index === undefined && f.size === undefined ? 0 : f.index !== undefined ? 1 : 2);
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb) return ra - rb;
  if (ra === 1) return a.index! - b.index!;
  if (ra === 2) return a.size! - b.size!;
  return 0;
}

/** One line per failure, as the CLI and the console print it. */
export function describeFailure(f: AuditFailure): string {
  const where = [f.index !== undefined ? `entry ${f.index}` : '', f.size !== undefined ? `checkpoint size ${f.size}` : ''].filter(Boolean).join(', ');
  return `${f.kind}${where ? ` (${where})` : ''}: ${f.message}`;
}
