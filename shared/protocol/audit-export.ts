/**
 * Exports the audit bundle (docs/AUDIT.md section 2) as the auditor: the whole log in pages, every
 * checkpoint with its cosignatures, the consistency proofs between successive checkpoints, the
 * witnesses, the log and service keys, the enterprise CA, every certificate ever issued and the
 * revocations. Nothing is checked here: the bundle is the relay's word, and verifyAuditLog (in the
 * console or `sealvault verify-audit`) decides what of it holds.
 */
import { z } from 'zod';
import { AUDIT_BUNDLE_TYPE, type AuditBundle } from '../audit/bundle';
import type { AuditConsistencyProof, AuditEvidence, StoredEntry, UncertifiedAccountKey } from '../audit/verify';
import {
  AUDIT_PAGE_MAX,
  AuditServiceName,
  CheckpointListSchema,
  CheckpointResponseSchema,
  ConsistencyProofResponseSchema,
  EntriesPageSchema,
  LogKeyResponseSchema,
  WitnessListSchema,
} from '../schemas/audit';
import { B64u } from '../schemas/common';
import { EnterpriseResponse, IssuedCertificatesResponse, PublicKeysResponse, RevocationsResponse } from '../schemas/directory';
import { parseAnswer, type UnlockedAccount } from './account';
import { RelayApiError, type RelayTransport } from './relay-transport';

const ServiceKeyAnswer = z.object({ service: z.string(), publicKey: B64u({ bytes: 32 }) });
/** Consistency proofs fetched at once. */
const PROOF_CONCURRENCY = 8;

export type ExportProgress = (done: number, total: number) => void;

export async function exportAuditBundle(transport: RelayTransport, auditor: UnlockedAccount, onProgress?: ExportProgress): Promise<AuditBundle> {
  const get = (path: string) => transport.request('GET', path, undefined, auditor.session);
  const exportedAt = Date.now();

  const logKey = parseAnswer(LogKeyResponseSchema, await get('/api/audit/log-key'), 'log key');
  // The latest checkpoint first: its size tells how many entries to expect, for progress only.
  const latest = parseAnswer(CheckpointResponseSchema, await get('/api/audit/checkpoint'), 'checkpoint');

  // Checkpoints before entries: a checkpoint signed meanwhile would cover entries not fetched.
  const checkpoints: { size: number; note: string }[] = [];
  for (let start: number | null = 0; start !== null; ) {
    const page: z.infer<typeof CheckpointListSchema> = parseAnswer(CheckpointListSchema, await get(`/api/audit/checkpoints?start=${start}&limit=${AUDIT_PAGE_MAX}`), 'checkpoints');
    checkpoints.push(...page.checkpoints);
    if (page.nextStart !== null && page.nextStart <= start) throw new RelayApiError(502, 'E_FORMAT', 'the checkpoint pages do not advance');
    start = page.nextStart;
  }

  const entries: StoredEntry[] = [];
  for (let start: number | null = 0; start !== null; ) {
    const page: z.infer<typeof EntriesPageSchema> = parseAnswer(EntriesPageSchema, await get(`/api/audit/entries?start=${start}&limit=${AUDIT_PAGE_MAX}`), 'audit entries');
    entries.push(...page.entries);
    onProgress?.(entries.length, Math.max(latest.size, entries.length));
    // A relay that answers the same page forever must not keep the export running.
    if (page.nextStart !== null && page.nextStart <= start) throw new RelayApiError(502, 'E_FORMAT', 'the audit log pages do not advance');
    start = page.nextStart;
  }

  // Proofs between successive sizes; from the empty tree there is nothing to prove.
  const pairs = checkpoints.slice(1).map((c, i) => ({ first: checkpoints[i]!.size, second: c.size }));
  const consistency: AuditConsistencyProof[] = new Array<AuditConsistencyProof>(pairs.length);
  for (let i = 0; i < pairs.length; i += PROOF_CONCURRENCY) {
    await Promise.all(
      pairs.slice(i, i + PROOF_CONCURRENCY).map(async ({ first, second }, j) => {
        if (first === 0 || first === second) {
          consistency[i + j] = { first, second, proof: [] };
          return;
        }
        const answer = parseAnswer(ConsistencyProofResponseSchema, await get(`/api/audit/proofs/consistency?first=${first}&second=${second}`), 'consistency proof');
        consistency[i + j] = { first, second, proof: answer.proof };
      }),
    );
  }

  const witnesses = parseAnswer(WitnessListSchema, await get('/api/audit/witnesses'), 'witnesses').witnesses.map((w) => ({ name: w.name, vkey: w.vkey, account: w.account }));

  const serviceKeys: Record<string, string> = {};
  for (const service of AuditServiceName.options) {
    try {
      serviceKeys[service] = parseAnswer(ServiceKeyAnswer, await transport.request('GET', `/api/${service}/key`), `${service} key`).publicKey;
    } catch (e) {
      // A service this relay does not run signed no entry; one that did will fail verification by name.
      if (!(e instanceof RelayApiError && e.status === 404)) throw e;
    }
  }

  const enterprise = parseAnswer(EnterpriseResponse, await transport.request('GET', '/api/directory/enterprise'), 'enterprise');
  const certificates = parseAnswer(IssuedCertificatesResponse, await get('/api/directory/certificates'), 'certificates').certificates;
  const revocations = parseAnswer(RevocationsResponse, await get('/api/directory/revocations'), 'revocations').revocations;

  // Accounts that signed entries but hold no certificate at all (the administrators made at
  // setup): their registered key, marked as such (verify.ts UncertifiedAccountKey).
  const certified = new Set(certificates.map((c) => c.account));
  const signers = new Set<string>();
  for (const e of entries) if (e.entry?.signer.kind === 'account' && !certified.has(e.entry.signer.account)) signers.add(e.entry.signer.account);
  const uncertifiedKeys: UncertifiedAccountKey[] = [];
  for (const account of signers) {
    const keys = parseAnswer(PublicKeysResponse, await transport.request('GET', `/api/directory/accounts/${encodeURIComponent(account)}/public-keys`), 'public keys');
    if (keys.signingKey !== null && keys.signingKeyId !== null) uncertifiedKeys.push({ account, keyId: keys.signingKeyId, spki: keys.signingKey });
  }

  const evidence: AuditEvidence = {
    origin: logKey.origin,
    logVkey: logKey.vkey,
    serviceKeys,
    caCertificatePem: enterprise.caCertificate ?? '',
    certificates: certificates.map((c) => c.certificate),
    revocations,
    entries,
    checkpoints: checkpoints.map((c) => c.note),
    witnesses,
    consistency,
    uncertifiedKeys,
  };
  return { type: AUDIT_BUNDLE_TYPE, exportedAt, exportedBy: auditor.account, evidence };
}
