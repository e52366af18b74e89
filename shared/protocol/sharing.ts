/**
 * One contract shared with one colleague outside its space (DESIGN.md section 7): a writer of
 * the space wraps the contract's DEK to the colleague's certified envelope key and signs the
 * envelope; the colleague reads that contract, and nothing else of the space, read-only.
 *
 * Nothing here trusts the relay:
 *   - nothing is wrapped to an account that is not active and certified (certifiedKeysOf), and
 *     only a writer according to the manager's signed grants shares (verifiedWriters);
 *   - the recipient opens an envelope only if its statement is signed by a verified writer of
 *     the space and names exactly this envelope, recipient, contract and space, so a relay can
 *     neither plant a key it knows nor move a genuine share to another contract;
 *   - the fields are then opened as any reader opens them (openContractWith): signed by a
 *     writer, never older than a version seen.
 */
import { equalBytes } from '../crypto/bytes';
import { DEK_ALGORITHM } from '../crypto/contract-keys';
import { canonicalJson } from '../crypto/encoding';
import { openEnvelope, sealEnvelope, type Envelope } from '../crypto/envelopes';
import { fail } from '../crypto/errors';
import { signStatement, verifyStatement } from '../crypto/statements';
import {
  ContractSharesSchema,
  CreateEnvelopeResultSchema,
  DEK_PURPOSE,
  DeleteEnvelopeResultSchema,
  ENVELOPE_STATEMENT_TYPE,
  EnvelopeListSchema,
  SignedEnvelopeStatementSchema,
  envelopeDigest,
  type DekEnvelopeContext,
  type EnvelopeWire,
} from '../schemas/keys';
import { parseAnswer, type UnlockedAccount } from './account';
import { recordAsAccount } from './audit-client';
import { certifiedKeysOf } from './certification';
import { dekFromSpaceKey, openContractWith, type OpenedContract, type VersionMemory } from './contracts';
import type { RelayTransport } from './relay-transport';
import { verifiedWriters } from './spaces';

type EnvelopeStatement = { type: typeof ENVELOPE_STATEMENT_TYPE; granter: string; context: DekEnvelopeContext; envelopeDigest: string };

/** The context a single share's envelope binds (docs/FORMATS.md section 8). */
export function dekContext(recipient: string, contract: string, space: string): DekEnvelopeContext {
  return { purpose: DEK_PURPOSE, recipient, contract, space };
}

const q = encodeURIComponent;

/** Same key if both sign a fixed message alike: the DEK about to be shared is the one that opened the fields. */
async function sameDek(a: CryptoKey, b: CryptoKey): Promise<boolean> {
  const probe = new TextEncoder().encode('sealvault/v1/same-dek');
  const [x, y] = await Promise.all([crypto.subtle.sign('HMAC', a, probe), crypto.subtle.sign('HMAC', b, probe)]);
  return equalBytes(new Uint8Array(x), new Uint8Array(y));
}

/**
 * Shares `opened` with `recipientAccount`: refused (E_CONTEXT) before anything is wrapped unless
 * the recipient is an active, certified account with a strong key (else E_KEY_WEAK) other than
 * the caller, and the caller is a writer of the space by the manager's signed grants.
 */
export async function shareContract(
  transport: RelayTransport,
  me: UnlockedAccount,
  caCertificatePem: string,
  opened: OpenedContract,
  recipientAccount: string,
): Promise<{ id: string }> {
  if (recipientAccount === me.account) fail('E_CONTEXT', 'a contract is shared with someone else; you read it already');
  const recipient = await certifiedKeysOf(transport, recipientAccount, caCertificatePem);
  const writers = await verifiedWriters(transport, me, caCertificatePem, opened.space);
  if (!writers.has(me.account)) fail('E_CONTEXT', "only the space's manager, editors and signers share its contracts");
  const { contract, space } = opened;
  // Extractable for this function only: wrapped to the recipient below, then dropped.
  const dek = await dekFromSpaceKey(transport, me, caCertificatePem, space, contract, writers, { extractable: true });
  if (!(await sameDek(dek, opened.dek))) fail('E_CONTEXT', 'the stored contract key is not the one this contract was opened with');
  const context = dekContext(recipient.account, contract, space);
  const envelope = (await sealEnvelope(recipient.envelopeKey, dek, context)) as EnvelopeWire;
  const digest = await envelopeDigest(envelope);
  const statement: EnvelopeStatement = { type: ENVELOPE_STATEMENT_TYPE, granter: me.account, context, envelopeDigest: digest };
  const signedBy = await signStatement(me.signing.privateKey, statement);
  const stored = parseAnswer(CreateEnvelopeResultSchema, await transport.request('POST', '/api/keys/envelopes', { envelope, signedBy }, me.session), 'share');
  if (stored.id !== digest) fail('E_CONTEXT', 'the relay stored another envelope than the one sent');
  await recordAsAccount(transport, me, { action: 'contract.share', target: `contract:${contract}`, details: { space, recipient: recipient.account, envelope: digest } });
  return { id: digest };
}

export interface ContractShare {
  id: string;
  recipient: string;
  granter: string;
  createdAt: number;
  /** signed by a verified writer of the space, for exactly this envelope, recipient, contract and space */
  verified: boolean;
}

/** Who holds a single share of `opened` (for its writers), each checked against the space's verified writers. */
export async function contractShares(transport: RelayTransport, me: UnlockedAccount, opened: OpenedContract): Promise<ContractShare[]> {
  const { contract, space } = opened;
  const answer = parseAnswer(ContractSharesSchema, await transport.request('GET', `/api/keys/envelopes/shares?space=${q(space)}&contract=${q(contract)}`, undefined, me.session), 'shares');
  if (answer.space !== space || answer.contract !== contract) fail('E_CONTEXT', 'the relay listed the shares of another contract');
  return Promise.all(
    answer.shares.map(async (s) => {
      const key = opened.writers.get(s.granter);
      const st = key ? await verifyStatement<EnvelopeStatement>(key, s.signedBy, ENVELOPE_STATEMENT_TYPE).catch(() => null) : null;
      const verified = st !== null && st.granter === s.granter && st.envelopeDigest === s.id && canonicalJson(st.context) === canonicalJson(dekContext(s.recipient, contract, space));
      return { id: s.id, recipient: s.recipient, granter: s.granter, createdAt: s.createdAt, verified };
    }),
  );
}

/** Removes one share (its granter or the space's manager; the relay decides) and signs the audit entry. */
export async function unshareContract(transport: RelayTransport, me: UnlockedAccount, opened: OpenedContract, share: { id: string; recipient: string }): Promise<void> {
  const removed = parseAnswer(DeleteEnvelopeResultSchema, await transport.request('DELETE', `/api/keys/envelopes/${q(share.id)}`, undefined, me.session), 'unshare');
  if (removed.id !== share.id || removed.recipient !== share.recipient || removed.contract !== opened.contract || removed.space !== opened.space) {
    fail('E_CONTEXT', 'the relay removed another share than the one asked for');
  }
  await recordAsAccount(transport, me, { action: 'contract.unshare', target: `contract:${opened.contract}`, details: { space: opened.space, recipient: share.recipient, envelope: share.id } });
}

export interface SharedWithMe {
  space: string;
  contract: string;
  granter: string;
  createdAt: number;
}

/**
 * The contracts the relay says are shared with the caller, one per contract, newest first.
 * A listing only: each share is verified when the contract is opened (openSharedContract).
 */
export async function sharedWithMe(transport: RelayTransport, me: UnlockedAccount): Promise<SharedWithMe[]> {
  const list = parseAnswer(EnvelopeListSchema, await transport.request('GET', `/api/keys/envelopes?purpose=${DEK_PURPOSE}`, undefined, me.session), 'shared contracts');
  const byContract = new Map<string, SharedWithMe>();
  for (const e of list.envelopes.toSorted((a, b) => b.createdAt - a.createdAt)) {
    if (e.purpose !== DEK_PURPOSE || e.space === null || e.contract === null || e.envelope.context.recipient !== me.account) continue;
    const key = `${e.space}/${e.contract}`;
    if (!byContract.has(key)) byContract.set(key, { space: e.space, contract: e.contract, granter: e.granter, createdAt: e.createdAt });
  }
  return [...byContract.values()];
}

/** Opens one listed share, verified first (signature, writer, context, digest), then unwrapped. */
async function openShare(
  me: UnlockedAccount,
  entry: { envelope: EnvelopeWire; signedBy: unknown },
  expected: DekEnvelopeContext,
  writers: ReadonlyMap<string, CryptoKey>,
): Promise<{ dek: CryptoKey; sharedBy: string }> {
  const signed = SignedEnvelopeStatementSchema.safeParse(entry.signedBy);
  if (!signed.success) fail('E_SIGNATURE', 'the share carries no envelope statement of its granter');
  // attacker-controlled until verified: the granter named in the statement
  const key = writers.get(signed.data.statement.granter);
  if (!key) fail('E_SIGNATURE', 'the share was not made by a manager, editor or signer of the space');
  const statement = await verifyStatement<EnvelopeStatement>(key, entry.signedBy, ENVELOPE_STATEMENT_TYPE);
  if (canonicalJson(statement.context) !== canonicalJson(expected)) fail('E_CONTEXT', 'the signed share names another contract, space or recipient');
  if (statement.envelopeDigest !== (await envelopeDigest(entry.envelope))) fail('E_CONTEXT', 'the envelope is not the one its granter signed');
  const dek = await openEnvelope(me.envelope.privateKey, entry.envelope as Envelope, expected, { algorithm: DEK_ALGORITHM, usages: ['sign'] });
  return { dek, sharedBy: statement.granter };
}

/**
 * The DEK from the caller's share of `contract`: the newest share that verifies and opens; a bad
 * one beside a good one is passed over (never shown as genuine); with none, the first refusal.
 */
async function dekFromShare(
  transport: RelayTransport,
  me: UnlockedAccount,
  space: string,
  contract: string,
  writers: ReadonlyMap<string, CryptoKey>,
): Promise<{ dek: CryptoKey; sharedBy: string }> {
  const list = parseAnswer(EnvelopeListSchema, await transport.request('GET', `/api/keys/envelopes?purpose=${DEK_PURPOSE}&space=${q(space)}&contract=${q(contract)}`, undefined, me.session), 'shared envelopes');
  const candidates = list.envelopes.filter((e) => e.purpose === DEK_PURPOSE).toSorted((a, b) => b.createdAt - a.createdAt);
  if (candidates.length === 0) fail('E_CONTEXT', 'no share of this contract is addressed to you');
  const expected = dekContext(me.account, contract, space);
  let refusal: unknown = null;
  for (const entry of candidates) {
    try {
      return await openShare(me, entry, expected, writers);
    } catch (e) {
      refusal ??= e;
    }
  }
  throw refusal;
}

/** Opens a contract shared with the caller alone (read only), with the same checks as any reader. */
export function openSharedContract(transport: RelayTransport, me: UnlockedAccount, caCertificatePem: string, space: string, contract: string, memory: VersionMemory): Promise<OpenedContract> {
  return openContractWith(transport, me, caCertificatePem, space, contract, memory, { via: 'share', open: (writers) => dekFromShare(transport, me, space, contract, writers) });
}
