/**
 * Seals in the browser (docs/SIGNING.md section 2, DESIGN.md section 8). Every step is a
 * statement its author signs here; nothing the relay says about a seal is believed unless the
 * statements behind it verify:
 *   - the lists, type, name, stamp and use rule come from the requester's signed request, checked
 *     with the requester's certified key (certifiedKeysOf), the requester being a manager;
 *   - a seal is active only with a security administrator's signed approval naming that request
 *     and the certificate, from a certified account that holds the role and is on no list;
 *   - the certificate must verify under the enterprise CA for exactly this seal, and the key a
 *     user opens must be the certificate's key, so a relay cannot plant a key it knows.
 * The approving administrator's browser makes the seal's key pair, wraps the private key to each
 * user's certified envelope key and forgets it; it never reaches the relay unwrapped.
 */
import { toBase64url } from '../crypto/encoding';
import { openEnvelope, sealEnvelope, type Envelope } from '../crypto/envelopes';
import { fail } from '../crypto/errors';
import { signStatement, verifyStatement, type Statement } from '../crypto/statements';
import { issueSealCertificate, sealCertificateFingerprint, verifySealCertificate } from '../pki/seal-certificate';
import { EC_P256, ECDSA_SHA256, NAME_OIDS, parseCertificate, subjectField } from '../pki/x509';
import { PublicKeysResponse } from '../schemas/directory';
import {
  SEAL_ACTION_DECISION_TYPE,
  SEAL_ACTION_REQUEST_TYPE,
  SEAL_APPROVAL_TYPE,
  SEAL_KEY_PURPOSE,
  SEAL_REJECTION_TYPE,
  SEAL_REQUEST_TYPE,
  SEAL_USE_APPROVAL_TYPE,
  SEAL_USE_REQUEST_TYPE,
  SealHistorySchema,
  SealKeySchema,
  SealListSchema,
  SealRevocationsSchema,
  SealSchema,
  SealUseRequestListSchema,
  SealUseRequestSchema,
  SignedSealApprovalSchema,
  SignedSealUseApprovalSchema,
  stampDigest,
  statementDigest,
  type SealAction,
  type SealApprovalStatement,
  type SealHistoryEntry,
  type SealKeyEnvelopeContext,
  type SealRequestStatement,
  type SealType,
  type SealUseApprovalStatement,
  type SealUseRequestWire,
  type SealWire,
} from '../schemas/seals';
import { parseAnswer, type UnlockedAccount } from './account';
import { recordAsAccount } from './audit-client';
import { certifiedKeysOf, openEnterpriseCaKey } from './certification';
import type { RelayTransport } from './relay-transport';

const q = encodeURIComponent;
const base = '/api/keys/seals';
const sealPath = (id: string) => `${base}/${q(id)}`;
const target = (id: string) => `seal:${id}`;

type Signed<T> = { statement: T; signature: string };

export type { SealWire, SealType, SealAction };

/** A new random seal or request id (16 random bytes, base64url). */
export function newSealId(): string {
  return toBase64url(crypto.getRandomValues(new Uint8Array(16)));
}

export function sealKeyContext(recipient: string, seal: string, certificateFingerprint: string): SealKeyEnvelopeContext {
  return { purpose: SEAL_KEY_PURPOSE, recipient, seal, certificate: certificateFingerprint };
}

/** What `mine` may do with a seal, from its lists. */
export function sealPowers(seal: Pick<SealWire, 'managers' | 'users' | 'auditors'>, me: string): ('manage' | 'use' | 'audit')[] {
  return [...(seal.managers.includes(me) ? (['manage'] as const) : []), ...(seal.users.includes(me) ? (['use'] as const) : []), ...(seal.auditors.includes(me) ? (['audit'] as const) : [])];
}

const sameList = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * Checks the seal's request: signed by its requester's certified key, the requester a manager,
 * and every field the relay serves equal to what was signed. Returns the verified statement.
 */
export async function verifySealRequest(transport: RelayTransport, caPem: string, seal: SealWire): Promise<SealRequestStatement> {
  const requester = await certifiedKeysOf(transport, seal.requester, caPem);
  const st = await verifyStatement<SealRequestStatement & Statement>(requester.signingKey, seal.request, SEAL_REQUEST_TYPE);
  if (st.requester !== seal.requester || !st.managers.includes(st.requester)) fail('E_SIGNATURE', 'the seal was not asked for by one of its managers');
  if (
    st.seal !== seal.id ||
    st.sealType !== seal.type ||
    st.name !== seal.name ||
    st.useNeedsApproval !== seal.useNeedsApproval ||
    !sameList(st.managers, seal.managers) ||
    !sameList(st.users, seal.users) ||
    !sameList(st.auditors, seal.auditors)
  ) {
    fail('E_CONTEXT', 'the seal the relay shows is not the one that was asked for');
  }
  if (st.stampDigest !== (await stampDigest(seal.stampPng))) fail('E_CONTEXT', 'the stamp is not the one that was asked for');
  const everyone = [...st.managers, ...st.users, ...st.auditors];
  if (new Set(everyone).size !== everyone.length) fail('E_CONTEXT', 'one person holds two powers over this seal');
  return st;
}

/**
 * Checks the seal's approval and certificate: a security administrator (certified, holding the
 * role, on no list, not the requester) signed an approval of exactly this request and
 * certificate, and the certificate verifies under the enterprise CA for this seal.
 */
export async function verifySealApproval(transport: RelayTransport, caPem: string, seal: SealWire, request: SealRequestStatement): Promise<{ approval: SealApprovalStatement; fingerprint: string; spki: Uint8Array; serial: string }> {
  const parsed = SignedSealApprovalSchema.safeParse(seal.approval);
  if (!parsed.success || seal.certificate === null) fail('E_SIGNATURE', 'the seal carries no approval of a security administrator');
  // attacker-controlled until verified: the approver named in the statement
  const approverId = parsed.data.statement.approver;
  const roles = parseAnswer(PublicKeysResponse, await transport.request('GET', `/api/directory/accounts/${q(approverId)}/public-keys`), 'public keys');
  if (roles.account !== approverId || !roles.roles.includes('security-admin')) fail('E_SIGNATURE', 'the seal was not approved by a security administrator');
  const approver = await certifiedKeysOf(transport, approverId, caPem);
  const approval = await verifyStatement<SealApprovalStatement & Statement>(approver.signingKey, seal.approval, SEAL_APPROVAL_TYPE);
  if (approval.approver === request.requester || [...request.managers, ...request.users, ...request.auditors].includes(approval.approver)) {
    fail('E_SIGNATURE', 'the seal was approved by someone who asked for it or holds a power over it');
  }
  if (approval.seal !== seal.id || approval.requestDigest !== (await statementDigest(request))) fail('E_CONTEXT', 'the approval is of another seal or request');
  const verified = await verifySealCertificate(seal.certificate, { caCertificatePem: caPem, seal: seal.id, name: request.name, type: request.sealType, now: new Date() });
  if (approval.certificate !== verified.fingerprint) fail('E_CONTEXT', 'the certificate is not the one that was approved');
  return { approval, fingerprint: verified.fingerprint, spki: verified.spki, serial: verified.serial };
}

// ---- asking, listing --------------------------------------------------------------------------

export interface SealRequestInput {
  id?: string;
  type: SealType;
  name: string;
  /** base64 PNG */
  stampPng: string;
  managers: string[];
  users: string[];
  auditors: string[];
  useNeedsApproval: boolean;
}

/** Asks for a seal; the caller must be among the managers, and every listed person certified. */
export async function requestSeal(transport: RelayTransport, me: UnlockedAccount, caPem: string, input: SealRequestInput): Promise<SealWire> {
  if (!input.managers.includes(me.account)) fail('E_CONTEXT', 'the one who asks for a seal is one of its managers');
  const everyone = [...input.managers, ...input.users, ...input.auditors];
  if (new Set(everyone).size !== everyone.length) fail('E_CONTEXT', 'managers, users and auditors must be different people');
  // Nobody is named who cannot be trusted to hold a power: refused before anything is sent.
  for (const account of everyone) await certifiedKeysOf(transport, account, caPem);
  const statement: SealRequestStatement = {
    type: SEAL_REQUEST_TYPE,
    seal: input.id ?? newSealId(),
    sealType: input.type,
    name: input.name,
    stampDigest: await stampDigest(input.stampPng),
    managers: input.managers,
    users: input.users,
    auditors: input.auditors,
    useNeedsApproval: input.useNeedsApproval,
    requester: me.account,
  };
  const request = await signStatement(me.signing.privateKey, statement as SealRequestStatement & Statement);
  const seal = parseAnswer(SealSchema, await transport.request('POST', base, { stampPng: input.stampPng, request }, me.session), 'seal');
  if (seal.id !== statement.seal || seal.status !== 'requested') fail('E_CONTEXT', 'the relay stored another seal than the one asked for');
  await recordAsAccount(transport, me, { action: 'seal.request', target: target(seal.id), details: { type: input.type, name: input.name, request: await statementDigest(statement) } });
  return seal;
}

/** The seals the relay lists for the caller (unverified listing: each is verified when used or decided). */
export async function listSeals(transport: RelayTransport, me: UnlockedAccount): Promise<SealWire[]> {
  return parseAnswer(SealListSchema, await transport.request('GET', base, undefined, me.session), 'seals').seals;
}

export async function getSeal(transport: RelayTransport, me: UnlockedAccount, id: string): Promise<SealWire> {
  const seal = parseAnswer(SealSchema, await transport.request('GET', sealPath(id), undefined, me.session), 'seal');
  if (seal.id !== id) fail('E_CONTEXT', 'the relay answered about another seal');
  return seal;
}

export async function sealHistory(transport: RelayTransport, me: UnlockedAccount, id: string): Promise<SealHistoryEntry[]> {
  const answer = parseAnswer(SealHistorySchema, await transport.request('GET', `${sealPath(id)}/history`, undefined, me.session), 'seal history');
  if (answer.seal !== id) fail('E_CONTEXT', 'the relay answered about another seal');
  return answer.entries;
}

// ---- the security administrator's decision --------------------------------------------------

export type ApproveStep = 'verify' | 'ca-key' | 'generate' | 'certificate' | 'envelopes' | 'store';

/**
 * Approves a requested seal: verifies the request, makes the seal's key pair, issues its
 * certificate with the enterprise CA key, wraps the private key to each user's certified key,
 * posts all of it with the signed approval, and forgets the key.
 */
export async function approveSeal(transport: RelayTransport, me: UnlockedAccount, caPem: string, id: string, onStep: (step: ApproveStep) => void = () => {}): Promise<SealWire> {
  onStep('verify');
  const seal = await getSeal(transport, me, id);
  if (seal.status !== 'requested') fail('E_CONTEXT', `the seal is ${seal.status}, not requested`);
  const request = await verifySealRequest(transport, caPem, seal);
  if (request.requester === me.account) fail('E_CONTEXT', 'the person who asked for a seal cannot approve it');
  if ([...request.managers, ...request.users, ...request.auditors].includes(me.account)) fail('E_CONTEXT', 'a manager, user or auditor of a seal cannot approve it');
  const users = await Promise.all(request.users.map((u) => certifiedKeysOf(transport, u, caPem)));

  onStep('ca-key');
  const caKey = await openEnterpriseCaKey(transport, me, caPem);
  const enterprise = subjectField(parseCertificate(caPem, 'the enterprise CA certificate'), NAME_OIDS.organization, 'organization (O) of the CA');

  onStep('generate');
  // Extractable only so it can be wrapped to the users below; this is its only copy, dropped on return.
  const pair = (await crypto.subtle.generateKey(EC_P256, true, ['sign', 'verify'])) as CryptoKeyPair;
  const spki = new Uint8Array(await crypto.subtle.exportKey('spki', pair.publicKey));

  onStep('certificate');
  const certificate = await issueSealCertificate({ certificatePem: caPem, privateKey: caKey }, { id, name: request.name, type: request.sealType, enterprise }, spki);
  const verified = await verifySealCertificate(certificate, { caCertificatePem: caPem, seal: id, name: request.name, type: request.sealType, spki, now: new Date() });

  onStep('envelopes');
  const envelopes: Envelope[] = [];
  for (const user of users) envelopes.push(await sealEnvelope(user.envelopeKey, pair.privateKey, sealKeyContext(user.account, id, verified.fingerprint), 'pkcs8'));

  onStep('store');
  const statement: SealApprovalStatement = { type: SEAL_APPROVAL_TYPE, seal: id, requestDigest: await statementDigest(request), certificate: verified.fingerprint, approver: me.account };
  const approval = await signStatement(me.signing.privateKey, statement as SealApprovalStatement & Statement);
  const stored = parseAnswer(SealSchema, await transport.request('POST', `${sealPath(id)}/approve`, { certificate, envelopes, approval }, me.session), 'seal');
  if (stored.id !== id || stored.status !== 'active' || stored.certificate !== certificate) fail('E_CONTEXT', 'the relay did not store the approved seal');
  await recordAsAccount(transport, me, { action: 'seal.approve', target: target(id), details: { serial: verified.serial, certificate: verified.fingerprint, users: request.users, request: statement.requestDigest } });
  return stored;
}

export async function rejectSeal(transport: RelayTransport, me: UnlockedAccount, caPem: string, id: string, reason: string): Promise<SealWire> {
  const seal = await getSeal(transport, me, id);
  if (seal.status !== 'requested') fail('E_CONTEXT', `the seal is ${seal.status}, not requested`);
  const request = await verifySealRequest(transport, caPem, seal);
  if (request.requester === me.account) fail('E_CONTEXT', 'the person who asked for a seal cannot decide it');
  const statement = { type: SEAL_REJECTION_TYPE, seal: id, requestDigest: await statementDigest(request), reason: reason.trim(), approver: me.account };
  const rejection = await signStatement(me.signing.privateKey, statement);
  const stored = parseAnswer(SealSchema, await transport.request('POST', `${sealPath(id)}/reject`, { rejection }, me.session), 'seal');
  if (stored.status !== 'rejected') fail('E_CONTEXT', 'the relay did not reject the seal');
  await recordAsAccount(transport, me, { action: 'seal.reject', target: target(id), details: { reason: statement.reason, request: statement.requestDigest } });
  return stored;
}

/** A manager asks to disable or destroy a seal. */
export async function requestSealAction(transport: RelayTransport, me: UnlockedAccount, id: string, action: SealAction, reason: string): Promise<SealWire> {
  const statement = { type: SEAL_ACTION_REQUEST_TYPE, seal: id, action, reason: reason.trim(), by: me.account };
  const request = await signStatement(me.signing.privateKey, statement);
  const stored = parseAnswer(SealSchema, await transport.request('POST', `${sealPath(id)}/${action}-request`, { request }, me.session), 'seal');
  if (stored.pending?.action !== action || stored.pending.by !== me.account) fail('E_CONTEXT', 'the relay did not record the request');
  await recordAsAccount(transport, me, { action: `seal.${action}-request`, target: target(id), details: { reason: statement.reason } });
  return stored;
}

/**
 * The security administrator decides the pending action: only a request signed by a manager
 * of the seal (by the verified request's lists) is decided.
 */
export async function decideSealAction(transport: RelayTransport, me: UnlockedAccount, caPem: string, id: string, approve: boolean): Promise<SealWire> {
  const seal = await getSeal(transport, me, id);
  const pending = seal.pending;
  if (!pending) fail('E_CONTEXT', 'nothing is pending on this seal');
  const request = await verifySealRequest(transport, caPem, seal);
  if (!request.managers.includes(pending.by)) fail('E_SIGNATURE', 'the action was asked for by someone who does not manage the seal');
  if (pending.by === me.account || [...request.managers, ...request.users, ...request.auditors].includes(me.account)) fail('E_CONTEXT', 'the decision belongs to an administrator who neither asked nor holds a power over the seal');
  const asker = await certifiedKeysOf(transport, pending.by, caPem);
  const asked = await verifyStatement<{ type: string; seal: string; action: string; reason: string; by: string }>(asker.signingKey, pending.statement, SEAL_ACTION_REQUEST_TYPE);
  if (asked.seal !== id || asked.action !== pending.action || asked.by !== pending.by) fail('E_CONTEXT', 'the pending request is of another seal or action');
  const statement = { type: SEAL_ACTION_DECISION_TYPE, seal: id, action: pending.action, approve, requestDigest: await statementDigest(asked), by: me.account };
  const decision = await signStatement(me.signing.privateKey, statement);
  const stored = parseAnswer(SealSchema, await transport.request('POST', `${sealPath(id)}/decide`, { decision }, me.session), 'seal');
  const action = approve ? `seal.${pending.action}` : `seal.${pending.action}-request`;
  await recordAsAccount(transport, me, { action, target: target(id), outcome: approve ? 'ok' : 'refused', details: { requestedBy: pending.by, reason: asked.reason } });
  return stored;
}

// ---- using the seal ---------------------------------------------------------------------------

export interface OpenedSeal {
  /** ECDSA P-256, non-extractable, ['sign'] */
  privateKey: CryptoKey;
  certificatePem: string;
  seal: SealWire;
  serial: string;
}

/**
 * The caller's seal key and certificate, refused unless the seal is active, the caller is one of
 * its users by the signed request, the approval and certificate verify, and the opened key is
 * the certificate's key.
 */
export async function openSealKey(transport: RelayTransport, me: UnlockedAccount, caPem: string, id: string): Promise<OpenedSeal> {
  const seal = await getSeal(transport, me, id);
  if (seal.status !== 'active') fail('E_CONTEXT', `the seal is ${seal.status}, not active`);
  const request = await verifySealRequest(transport, caPem, seal);
  if (!request.users.includes(me.account)) fail('E_CONTEXT', 'only the seal’s users hold its key');
  const { fingerprint, spki, serial } = await verifySealApproval(transport, caPem, seal, request);
  const answer = parseAnswer(SealKeySchema, await transport.request('GET', `${sealPath(id)}/key`, undefined, me.session), 'seal key');
  if (answer.seal !== id) fail('E_CONTEXT', 'the relay served the key of another seal');
  const privateKey = await openEnvelope(me.envelope.privateKey, answer.envelope, sealKeyContext(me.account, id, fingerprint), {
    algorithm: EC_P256,
    usages: ['sign'],
    format: 'pkcs8',
  });
  // The opened key must be the certified one: an envelope wrapping a key the relay knows fails here.
  const probe = crypto.getRandomValues(new Uint8Array(32));
  const publicKey = await crypto.subtle.importKey('spki', new Uint8Array(spki), EC_P256, false, ['verify']);
  if (!(await crypto.subtle.verify(ECDSA_SHA256, publicKey, await crypto.subtle.sign(ECDSA_SHA256, privateKey, probe), probe))) {
    fail('E_CONTEXT', "the opened key is not the seal certificate's key");
  }
  return { privateKey, certificatePem: seal.certificate!, seal, serial };
}

export interface SealUse {
  contract: string;
  flow: string;
}

/** A user asks the seal's managers to approve one use (one contract, one signing flow). */
export async function requestSealUse(transport: RelayTransport, me: UnlockedAccount, id: string, use: SealUse): Promise<SealUseRequestWire> {
  const statement = { type: SEAL_USE_REQUEST_TYPE, seal: id, request: newSealId(), contract: use.contract, flow: use.flow, user: me.account };
  const request = await signStatement(me.signing.privateKey, statement);
  const stored = parseAnswer(SealUseRequestSchema, await transport.request('POST', `${sealPath(id)}/use-requests`, { request }, me.session), 'use request');
  if (stored.id !== statement.request || stored.seal !== id) fail('E_CONTEXT', 'the relay stored another request');
  await recordAsAccount(transport, me, { action: 'seal.use-request', target: target(id), details: { request: statement.request, contract: use.contract, flow: use.flow } });
  return stored;
}

export async function listSealUseRequests(transport: RelayTransport, me: UnlockedAccount, id: string, filter: Partial<SealUse> = {}): Promise<SealUseRequestWire[]> {
  const query = new URLSearchParams(Object.entries(filter).filter((e): e is [string, string] => typeof e[1] === 'string')).toString();
  const answer = parseAnswer(SealUseRequestListSchema, await transport.request('GET', `${sealPath(id)}/use-requests${query ? `?${query}` : ''}`, undefined, me.session), 'use requests');
  if (answer.seal !== id || answer.requests.some((r) => r.seal !== id)) fail('E_CONTEXT', 'the relay answered about another seal');
  return answer.requests;
}

/** A manager of the seal approves one use request, after checking it is the user's own signed request. */
export async function approveSealUse(transport: RelayTransport, me: UnlockedAccount, caPem: string, id: string, requestId: string): Promise<SealUseRequestWire> {
  const seal = await getSeal(transport, me, id);
  const request = await verifySealRequest(transport, caPem, seal);
  if (!request.managers.includes(me.account)) fail('E_CONTEXT', "only the seal's managers approve its use");
  const use = (await listSealUseRequests(transport, me, id)).find((r) => r.id === requestId);
  if (!use) fail('E_CONTEXT', 'no such use request');
  if (!request.users.includes(use.user)) fail('E_SIGNATURE', 'the request is not from a user of the seal');
  const user = await certifiedKeysOf(transport, use.user, caPem);
  const asked = await verifyStatement<{ type: string; seal: string; request: string; contract: string; flow: string; user: string }>(user.signingKey, use.request, SEAL_USE_REQUEST_TYPE);
  if (asked.seal !== id || asked.request !== requestId || asked.contract !== use.contract || asked.flow !== use.flow || asked.user !== use.user) fail('E_CONTEXT', 'the use request is not the one its user signed');
  const statement: SealUseApprovalStatement = { type: SEAL_USE_APPROVAL_TYPE, seal: id, request: requestId, contract: asked.contract, flow: asked.flow, user: asked.user, approver: me.account };
  const approval = await signStatement(me.signing.privateKey, statement as SealUseApprovalStatement & Statement);
  const stored = parseAnswer(SealUseRequestSchema, await transport.request('POST', `${sealPath(id)}/use-requests/${q(requestId)}/approve`, { approval }, me.session), 'use request');
  await recordAsAccount(transport, me, { action: 'seal.use-approve', target: target(id), details: { request: requestId, user: asked.user, contract: asked.contract, flow: asked.flow } });
  return stored;
}

/**
 * For the signing step: the verified approval of using `seal` by `use.user` in this contract and
 * flow, or null when the seal (by its signed request) needs none. `carried` is an approval the
 * step carries (a verifier of the step passes it); without one, the user's own requests are read.
 * Fails E_CONTEXT when an approval is needed and there is none from a manager of the seal.
 */
export async function checkSealUseApproval(
  transport: RelayTransport,
  me: UnlockedAccount,
  caPem: string,
  seal: SealWire,
  use: SealUse & { user: string },
  carried?: unknown,
): Promise<Signed<SealUseApprovalStatement> | null> {
  const request = await verifySealRequest(transport, caPem, seal);
  if (!request.useNeedsApproval) return null;
  const candidates: unknown[] =
    carried !== undefined
      ? [carried]
      : (await listSealUseRequests(transport, me, seal.id, { contract: use.contract, flow: use.flow })).filter((r) => r.user === use.user && r.approval !== null).map((r) => r.approval);
  for (const candidate of candidates) {
    const parsed = SignedSealUseApprovalSchema.safeParse(candidate);
    if (!parsed.success) continue;
    const s = parsed.data.statement;
    if (!request.managers.includes(s.approver) || s.seal !== seal.id || s.contract !== use.contract || s.flow !== use.flow || s.user !== use.user) continue;
    try {
      const approver = await certifiedKeysOf(transport, s.approver, caPem);
      await verifyStatement(approver.signingKey, parsed.data, SEAL_USE_APPROVAL_TYPE);
      return parsed.data;
    } catch {
      // a forged or planted approval is passed over; another may still verify
    }
  }
  return fail('E_CONTEXT', 'using this seal needs the approval of one of its managers, and there is none for this contract and flow');
}

/** Signs the audit entry of one use of the seal (the signing step calls this after it stamped). */
export async function recordSealUse(transport: RelayTransport, me: UnlockedAccount, id: string, use: SealUse & { serial: string }): Promise<void> {
  await recordAsAccount(transport, me, { action: 'seal.use', target: target(id), details: { contract: use.contract, flow: use.flow, serial: use.serial } });
}

/** Destroyed seals' certificate serials, as the PDF verifier's `revoked` map wants them. */
export async function sealRevocations(transport: RelayTransport, me: UnlockedAccount): Promise<Map<string, { revokedAt: number; reason: string }>> {
  const answer = parseAnswer(SealRevocationsSchema, await transport.request('GET', `${base}/revocations`, undefined, me.session), 'seal revocations');
  return new Map(answer.revocations.map((r) => [r.serial, { revokedAt: r.revokedAt, reason: r.reason }]));
}

/** The certificate fingerprint, exported for pages that show it. */
export const certificateFingerprintOf = sealCertificateFingerprint;
