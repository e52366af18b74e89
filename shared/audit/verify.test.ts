/**
 * verifyAuditLog on a synthetic log built with the real formats: entries signed by a test
 * service key and by an account key certified by a test CA, checkpoints signed with shared/tlog,
 * a witness cosignature. Each test plays the relay editing its log (THREATS.md, "Audit log") and
 * expects the failure named by kind and entry index or checkpoint size.
 */
import { describe, expect, it } from 'vitest';
import { fromUtf8, utf8 } from '../crypto/bytes';
import { canonicalJson, fromBase64url, toBase64url, type Json } from '../crypto/encoding';
import { generateEnvelopeKeyPair } from '../crypto/envelopes';
import { generateSigningKeyPair, publicKeyId, signStatement, type Statement } from '../crypto/statements';
import { AUDIT_ENTRY_TYPE, detailsDigest, leafBytes, signServiceEntry, type AuditEntry, type SignedAuditEntry } from '../formats/audit-entry';
import { createEnterpriseCa, type EnterpriseCa } from '../pki/enterprise-ca';
import { issueEmployeeCertificate } from '../pki/employee-certificate';
import { parseCertificate } from '../pki/x509';
import { SIG_TYPE_COSIGNATURE_V1, consistencyProof, cosignCheckpoint, leafHash, signCheckpoint, treeHash, verifierKeyString, type Ed25519KeyPair } from '../tlog';
import { verifyAuditLog, type AuditEvidence, type StoredEntry } from './verify';

const ORIGIN = 'audit.example.test/sealvault/audit/0123';
const WITNESS = 'witness.example.test/auditor-1';
const T0 = Date.UTC(2026, 0, 10, 9, 0, 0);

const spki = async (key: CryptoKey) => new Uint8Array(await crypto.subtle.exportKey('spki', key));
const ed25519 = async (): Promise<Ed25519KeyPair & { raw: Uint8Array }> => {
  const pair = (await crypto.subtle.generateKey('Ed25519', true, ['sign', 'verify'])) as CryptoKeyPair;
  const raw = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey));
  return { privateKey: pair.privateKey, publicKey: raw, raw };
};

interface World {
  ca: EnterpriseCa;
  service: Ed25519KeyPair & { raw: Uint8Array };
  log: Ed25519KeyPair & { raw: Uint8Array };
  witness: Ed25519KeyPair & { raw: Uint8Array };
  account: { id: string; keys: CryptoKeyPair; keyId: string; certificate: string; serial: string };
}

let world: Promise<World> | undefined;
function getWorld(): Promise<World> {
  world ??= (async () => {
    const ca = await createEnterpriseCa('Acme', new Date(T0 - 86_400_000));
    const keys = await generateSigningKeyPair();
    const envelope = await generateEnvelopeKeyPair();
    const certificate = await issueEmployeeCertificate(
      ca,
      { account: 'acct-1', legalName: 'Ann Example', employeeNumber: 'E1', enterprise: 'Acme' },
      { signingKeySpki: await spki(keys.publicKey), envelopeKeySpki: await spki(envelope.publicKey) },
      new Date(T0 - 3_600_000),
    );
    const serial = parseCertificate(certificate, 'test').serialNumber.toLowerCase();
    return { ca, service: await ed25519(), log: await ed25519(), witness: await ed25519(), account: { id: 'acct-1', keys, keyId: await publicKeyId(keys.publicKey), certificate, serial } };
  })();
  return world;
}

async function serviceEntry(w: World, n: number): Promise<SignedAuditEntry & { details: Record<string, Json> }> {
  const details = { n };
  const entry: AuditEntry = {
    type: AUDIT_ENTRY_TYPE,
    time: T0 + n * 1000,
    actor: 'acct-1',
    action: 'login.success',
    target: 'account:acct-1',
    outcome: 'ok',
    details: await detailsDigest(details),
    signer: { kind: 'service', service: 'directory', key: toBase64url(w.service.raw) },
  };
  return { ...(await signServiceEntry(w.service.privateKey, entry)), details };
}

async function accountEntry(w: World, n: number, signingKey = w.account.keys.privateKey): Promise<SignedAuditEntry & { details: Record<string, Json> }> {
  const details = { n };
  const entry: AuditEntry = {
    type: AUDIT_ENTRY_TYPE,
    time: T0 + n * 1000,
    actor: 'acct-1',
    action: 'contract.create',
    target: `contract:c-${n}`,
    outcome: 'ok',
    details: await detailsDigest(details),
    signer: { kind: 'account', account: 'acct-1', keyId: w.account.keyId },
  };
  const signed = await signStatement(signingKey, entry as unknown as Statement);
  return { entry, signature: signed.signature, details };
}

async function stored(signed: SignedAuditEntry & { details: Record<string, Json> }, index: number): Promise<StoredEntry> {
  const leaf = leafBytes({ entry: signed.entry, signature: signed.signature });
  return {
    index,
    leaf: toBase64url(leaf),
    entry: signed.entry as StoredEntry['entry'],
    signature: signed.signature,
    detailsJson: signed.details,
    leafHash: toBase64url(await leafHash(leaf)),
    receivedAt: signed.entry.time,
  };
}

async function hashesOf(entries: StoredEntry[]): Promise<Uint8Array[]> {
  return Promise.all(entries.map((e) => leafHash(fromBase64url(e.leaf))));
}

async function checkpointOf(w: World, entries: StoredEntry[], size: number, key: Ed25519KeyPair = w.log): Promise<string> {
  return signCheckpoint(key, ORIGIN, { origin: ORIGIN, size, root: await treeHash(await hashesOf(entries), size) });
}

async function proofsFor(entries: StoredEntry[], sizes: number[]): Promise<AuditEvidence['consistency']> {
  const hashes = await hashesOf(entries);
  const out: AuditEvidence['consistency'] = [];
  for (let i = 1; i < sizes.length; i++) {
    out.push({ first: sizes[i - 1]!, second: sizes[i]!, proof: (await consistencyProof(hashes, sizes[i - 1]!, sizes[i]!)).map(toBase64url) });
  }
  return out;
}

/** Six entries (service, account, service, account, service, account), checkpoints at 2, 4 and 6, the last cosigned. */
async function goodLog(): Promise<{ w: World; evidence: AuditEvidence }> {
  const w = await getWorld();
  const signed = await Promise.all([0, 1, 2, 3, 4, 5].map((n) => (n % 2 === 0 ? serviceEntry(w, n) : accountEntry(w, n))));
  const entries = await Promise.all(signed.map((s, i) => stored(s, i)));
  const sizes = [2, 4, 6];
  const checkpoints = await Promise.all(sizes.map((s) => checkpointOf(w, entries, s)));
  checkpoints[2] = await cosignCheckpoint(w.witness, WITNESS, checkpoints[2]!, Math.floor(T0 / 1000) + 60);
  return {
    w,
    evidence: {
      origin: ORIGIN,
      logVkey: await verifierKeyString(ORIGIN, w.log.raw),
      serviceKeys: { directory: toBase64url(w.service.raw) },
      caCertificatePem: w.ca.certificatePem,
      certificates: [w.account.certificate],
      revocations: [],
      entries,
      checkpoints,
      witnesses: [{ name: WITNESS, vkey: await verifierKeyString(WITNESS, w.witness.raw, SIG_TYPE_COSIGNATURE_V1), account: 'auditor-1' }],
      consistency: await proofsFor(entries, sizes),
    },
  };
}

const verify = (evidence: AuditEvidence) => verifyAuditLog(evidence, { now: T0 + 86_400_000 });
const named = (verdict: Awaited<ReturnType<typeof verifyAuditLog>>) => verdict.failures.map((f) => ({ kind: f.kind, index: f.index, size: f.size }));

/** Rewrites the leaf of one stored entry as a relay editing its database would. */
function editLeaf(e: StoredEntry, edit: (signed: { entry: AuditEntry; signature: string }) => void): StoredEntry {
  const signed = JSON.parse(fromUtf8(fromBase64url(e.leaf))) as { entry: AuditEntry; signature: string };
  edit(signed);
  const leaf = utf8(canonicalJson(signed as unknown as Json));
  return { ...e, leaf: toBase64url(leaf), entry: signed.entry as StoredEntry['entry'], signature: signed.signature };
}

describe('verifyAuditLog', () => {
  it('accepts an untouched log: every entry, checkpoint, proof and the cosignature verify, with progress reported', async () => {
    const { evidence } = await goodLog();
    const progress: [number, number][] = [];
    const verdict = await verifyAuditLog(evidence, { now: T0 + 86_400_000, onProgress: (done, total) => progress.push([done, total]) });
    expect(verdict).toEqual({ ok: true, entries: 6, checkpoints: 3, cosigned: 1, uncertified: 0, failures: [] });
    expect(progress.at(-1)).toEqual([6, 6]);
  });

  it('names an edited entry (its leaf bytes changed) and every checkpoint that covers it', async () => {
    const { evidence } = await goodLog();
    evidence.entries[3] = editLeaf(evidence.entries[3]!, (s) => (s.entry.target = 'contract:other'));
    evidence.entries[3]!.leafHash = toBase64url(await leafHash(fromBase64url(evidence.entries[3]!.leaf)));
    const verdict = await verify(evidence);
    expect(verdict.ok).toBe(false);
    expect(named(verdict)).toEqual([
      { kind: 'entry-signature', index: 3, size: undefined },
      { kind: 'checkpoint-root', index: undefined, size: 4 },
      { kind: 'checkpoint-root', index: undefined, size: 6 },
    ]);
  });

  it('names an entry whose leaf was changed but whose shown fields were not', async () => {
    const { evidence } = await goodLog();
    const edited = editLeaf(evidence.entries[2]!, (s) => (s.entry.action = 'login.failure'));
    evidence.entries[2] = { ...evidence.entries[2]!, leaf: edited.leaf };
    const failures = (await verify(evidence)).failures;
    expect(failures.filter((f) => f.index === 2).map((f) => f.kind)).toEqual(['entry-format', 'entry-format']);
    expect(failures.find((f) => f.index === 2 && /leaf hash/.test(f.message))).toBeDefined();
  });

  it('names the checkpoint size when the last entry was deleted', async () => {
    const { evidence } = await goodLog();
    evidence.entries.pop();
    const verdict = await verify(evidence);
    expect(named(verdict)).toEqual([{ kind: 'missing-entry', index: 5, size: 6 }]);
    expect(verdict.failures[0]!.message).toContain('size 6');
  });

  it('names an inserted entry by the first checkpoint it breaks, and a gap by its index', async () => {
    const { w, evidence } = await goodLog();
    const forged = await stored(await serviceEntry(w, 42), 2);
    const renumbered = [...evidence.entries.slice(0, 2), forged, ...evidence.entries.slice(2)].map((e, i) => ({ ...e, index: i }));
    expect(named(await verify({ ...evidence, entries: renumbered }))).toEqual([
      { kind: 'checkpoint-root', index: undefined, size: 4 },
      { kind: 'checkpoint-root', index: undefined, size: 6 },
    ]);
    // Inserted without renumbering, the duplicate index itself is named.
    const duplicate = [...evidence.entries.slice(0, 3), { ...forged, index: 2 }, ...evidence.entries.slice(3)];
    expect(named(await verify({ ...evidence, entries: duplicate })).filter((f) => f.kind === 'order')[0]).toEqual({ kind: 'order', index: 3, size: undefined });
  });

  it('names two reordered entries: by index when their numbers show it, by checkpoint when renumbered', async () => {
    const { evidence } = await goodLog();
    const swapped = [...evidence.entries];
    [swapped[1], swapped[2]] = [swapped[2]!, swapped[1]!];
    expect(named(await verify({ ...evidence, entries: swapped })).filter((f) => f.kind === 'order')).toEqual([
      { kind: 'order', index: 1, size: undefined },
      { kind: 'order', index: 2, size: undefined },
    ]);
    const renumbered = swapped.map((e, i) => ({ ...e, index: i }));
    expect(named(await verify({ ...evidence, entries: renumbered }))).toEqual([
      { kind: 'checkpoint-root', index: undefined, size: 2 },
      { kind: 'checkpoint-root', index: undefined, size: 4 },
      { kind: 'checkpoint-root', index: undefined, size: 6 },
    ]);
  });

  it('names a forged account signature, even in a log whose checkpoints commit to it', async () => {
    const { w, evidence } = await goodLog();
    const impostor = await generateSigningKeyPair();
    evidence.entries[5] = await stored(await accountEntry(w, 5, impostor.privateKey), 5);
    evidence.checkpoints[2] = await checkpointOf(w, evidence.entries, 6);
    evidence.consistency = await proofsFor(evidence.entries, [2, 4, 6]);
    const verdict = await verify(evidence);
    expect(named(verdict)).toEqual([{ kind: 'entry-signature', index: 5, size: undefined }]);
    expect(verdict.failures[0]!.message).toContain('acct-1');
  });

  it('names an entry signed with a certificate after its revocation, and not the ones before', async () => {
    const { w, evidence } = await goodLog();
    // Entries 1, 3 and 5 are the account's, at T0 + 1 s, 3 s and 5 s.
    evidence.revocations = [{ serial: w.account.serial.toUpperCase(), revokedAt: T0 + 2000, reason: 'account-disabled' }];
    const verdict = await verify(evidence);
    expect(named(verdict)).toEqual([
      { kind: 'entry-signature', index: 3, size: undefined },
      { kind: 'entry-signature', index: 5, size: undefined },
    ]);
    expect(verdict.failures[0]!.message).toMatch(/revoked/);
  });

  it('names account entries when no certificate vouches for the key', async () => {
    const { evidence } = await goodLog();
    const verdict = await verify({ ...evidence, certificates: [] });
    expect(named(verdict).map((f) => f.index)).toEqual([1, 3, 5]);
    expect(new Set(verdict.failures.map((f) => f.kind))).toEqual(new Set(['entry-signature']));
  });

  it('checks an account that holds no certificate at all against its registered key, and counts it', async () => {
    const { w, evidence } = await goodLog();
    const uncertifiedKeys = [{ account: 'acct-1', keyId: w.account.keyId, spki: toBase64url(await spki(w.account.keys.publicKey)) }];
    const verdict = await verify({ ...evidence, certificates: [], uncertifiedKeys });
    expect(verdict).toMatchObject({ ok: true, uncertified: 3 });
  });

  it('names a checkpoint signed by another key', async () => {
    const { w, evidence } = await goodLog();
    evidence.checkpoints[1] = await checkpointOf(w, evidence.entries, 4, await ed25519());
    const verdict = await verify(evidence);
    expect(named(verdict)).toEqual([{ kind: 'checkpoint-signature', index: undefined, size: 4 }]);
  });

  it('names a forked checkpoint: the later one does not extend the earlier', async () => {
    const { w, evidence } = await goodLog();
    // The relay serves one client a history in which entry 1 never happened.
    const fork = [evidence.entries[0]!, ...(await Promise.all([7, 8, 9].map(async (n, i) => stored(await serviceEntry(w, n), i + 1))))];
    const forkedCheckpoint = await checkpointOf(w, fork, 4);
    const seen = evidence.checkpoints[0]!; // size 2, from the real history
    const verdict = await verify({ ...evidence, entries: fork, checkpoints: [seen, forkedCheckpoint], consistency: [{ first: 2, second: 4, proof: (await consistencyProof(await hashesOf(fork), 2, 4)).map(toBase64url) }] });
    expect(named(verdict)).toEqual([
      { kind: 'checkpoint-root', index: undefined, size: 2 },
      { kind: 'consistency', index: undefined, size: 4 },
    ]);
    // Two checkpoints of one size with different roots are a fork whatever the entries say.
    const twin = await checkpointOf(w, fork, 2);
    const both = await verify({ ...evidence, checkpoints: [seen, twin], consistency: [] });
    expect(named(both)).toContainEqual({ kind: 'consistency', index: undefined, size: 2 });
  });

  it('names a truncation: a later checkpoint smaller than one seen before', async () => {
    const { evidence } = await goodLog();
    const verdict = await verify({ ...evidence, checkpoints: [evidence.checkpoints[2]!, evidence.checkpoints[0]!] , consistency: [] });
    expect(named(verdict)).toEqual([{ kind: 'consistency', index: undefined, size: 2 }]);
  });

  it('names a bad consistency proof', async () => {
    const { evidence } = await goodLog();
    evidence.consistency[1] = { ...evidence.consistency[1]!, proof: evidence.consistency[1]!.proof.map(() => toBase64url(new Uint8Array(32))) };
    expect(named(await verify(evidence))).toEqual([{ kind: 'consistency', index: undefined, size: 6 }]);
  });

  it('names a bad cosignature of a registered witness, and ignores lines of unknown signers', async () => {
    const { w, evidence } = await goodLog();
    const lines = evidence.checkpoints[2]!.split('\n');
    const last = lines.length - 2; // the cosignature line (the note ends with a newline)
    const [dash, name, sig] = lines[last]!.split(' ');
    const bytes = Uint8Array.from(atob(sig!), (c) => c.charCodeAt(0));
    bytes[bytes.length - 1]! ^= 1;
    lines[last] = [dash, name, btoa(String.fromCharCode(...bytes))].join(' ');
    evidence.checkpoints[2] = lines.join('\n');
    const verdict = await verify(evidence);
    expect(named(verdict)).toEqual([{ kind: 'cosignature', index: undefined, size: 6 }]);
    expect(verdict.cosigned).toBe(0);

    // An unregistered cosigner is no witness of ours: neither a failure nor counted.
    const stranger = await ed25519();
    const good = await goodLog();
    good.evidence.checkpoints[0] = await cosignCheckpoint(stranger, 'stranger.example', good.evidence.checkpoints[0]!, Math.floor(T0 / 1000));
    expect(await verify(good.evidence)).toMatchObject({ ok: true, cosigned: 1 });
    void w;
  });
});
