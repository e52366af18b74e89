/**
 * Contract spaces in the browser (DESIGN.md section 7): the space manager makes the space key
 * SK, wraps it to each member's certified envelope key and signs each grant; a member opens SK
 * only from a grant it can verify. The relay stores and enforces the same grants, but a client
 * never trusts it for them:
 *   - a grant opens only if its statement is signed by the space's manager, whose certificate
 *     verifies under the enterprise CA, and names exactly this envelope, member, space and key
 *     version (a relay cannot plant an envelope wrapped to the victim's key, or re-label one);
 *   - nothing is wrapped to an account that is not active and certified (certifiedKeysOf).
 * Revoking a member makes a new SK version for new contracts and grants it to everyone else.
 */
import { fail } from '../crypto/errors';
import { openEnvelope, sealEnvelope, type Envelope } from '../crypto/envelopes';
import { openSpaceName, sealSpaceName } from '../crypto/space-name';
import { signStatement, verifyStatement } from '../crypto/statements';
import {
  envelopeDigest,
  GRANT_STATEMENT_TYPE,
  GrantsListSchema,
  RevokeResultSchema,
  SpaceSchema,
  type EnvelopeWire,
  type GrantRole,
  type SealedSpaceName,
} from '../schemas/keys';
import { parseAnswer, type UnlockedAccount } from './account';
import { certifiedKeysOf } from './certification';
import type { RelayTransport } from './relay-transport';
import type { z } from 'zod';

// SK encrypts nothing itself today: it wraps and unwraps contract keys (DEKs).
const SPACE_KEY = { algorithm: { name: 'AES-GCM', length: 256 } as AesKeyAlgorithm, usages: ['encrypt', 'decrypt', 'wrapKey', 'unwrapKey'] as KeyUsage[] };

export type SpaceGrants = z.infer<typeof GrantsListSchema>;
export type MemberRole = Exclude<GrantRole, 'manager'>;

export function spaceKeyContext(space: string, recipient: string, keyVersion: number) {
  return { purpose: 'space-key', recipient, space, keyVersion };
}

function randomSpaceId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return `sp-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

async function newSpaceKey(): Promise<CryptoKey> {
  // Extractable: the manager wraps it to each member; members open their copy non-extractable.
  return crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, true, ['encrypt', 'decrypt', 'wrapKey', 'unwrapKey']);
}

/** Wraps `spaceKey` to `member` (already checked as certified), signs the grant and stores it. */
async function storeGrant(
  transport: RelayTransport,
  me: UnlockedAccount,
  space: string,
  member: { account: string; envelopeKey: CryptoKey },
  role: GrantRole,
  keyVersion: number,
  spaceKey: CryptoKey,
): Promise<void> {
  const envelope = await sealEnvelope(member.envelopeKey, spaceKey, spaceKeyContext(space, member.account, keyVersion));
  const grantStatement = await signStatement(me.signing.privateKey, {
    type: GRANT_STATEMENT_TYPE,
    space,
    member: member.account,
    role,
    keyVersion,
    granter: me.account,
    envelopeDigest: await envelopeDigest(envelope as EnvelopeWire),
  });
  await transport.request('POST', '/api/keys/grants', { space, member: member.account, role, keyVersion, envelope, grantStatement }, me.session);
}

/** A new space managed by `me`, with SK version 1 wrapped to the manager; its name is sealed under SK. */
export async function createSpace(transport: RelayTransport, me: UnlockedAccount, caCertificatePem: string, name: string): Promise<{ space: string; keyVersion: number }> {
  const space = randomSpaceId();
  // The manager's own keys must be certified too: members will check the grants it signs.
  const self = await certifiedKeysOf(transport, me.account, caCertificatePem);
  const sk = await newSpaceKey();
  const sealedName = await sealSpaceName(sk, space, 1, name);
  parseAnswer(SpaceSchema, await transport.request('POST', '/api/keys/spaces', { space, sealedName }, me.session), 'space');
  await storeGrant(transport, me, space, self, 'manager', 1, sk);
  return { space, keyVersion: 1 };
}

/**
 * The space's name as its members read it: opened with the SK version it was sealed under
 * (through the caller's verified grant), or the plaintext label of a space named before names
 * were sealed; null when there is none, or the caller holds no grant of that version.
 */
export async function spaceNameOf(
  transport: RelayTransport,
  me: UnlockedAccount,
  caCertificatePem: string,
  space: string,
  listed: { name: string | null; sealedName: SealedSpaceName | null },
  grants?: SpaceGrants,
): Promise<string | null> {
  if (!listed.sealedName) return listed.name;
  const { key } = await openSpaceKey(transport, me, caCertificatePem, space, { keyVersion: listed.sealedName.keyVersion, ...(grants ? { grants } : {}) });
  return openSpaceName(key, space, listed.sealedName);
}

export async function spaceGrants(transport: RelayTransport, me: UnlockedAccount, space: string): Promise<SpaceGrants> {
  const grants = parseAnswer(GrantsListSchema, await transport.request('GET', `/api/keys/grants?space=${encodeURIComponent(space)}`, undefined, me.session), 'grants');
  if (grants.space !== space) fail('E_CONTEXT', 'the relay answered with the grants of another space');
  // A revocation moves the space to a new key version; the members and key from before it must not come back.
  me.seen?.check(`space:${space}/key`, grants.keyVersion);
  return grants;
}

/**
 * Opens the caller's copy of SK at `keyVersion` (the space's current one by default), after
 * checking the grant is the manager's signed word for exactly this envelope.
 */
export async function openSpaceKey(
  transport: RelayTransport,
  me: UnlockedAccount,
  caCertificatePem: string,
  space: string,
  options: { keyVersion?: number; extractable?: boolean; grants?: SpaceGrants } = {},
): Promise<{ key: CryptoKey; keyVersion: number; role: GrantRole }> {
  const grants = options.grants ?? (await spaceGrants(transport, me, space));
  const keyVersion = options.keyVersion ?? grants.keyVersion;
  const mine = grants.grants.find((g) => g.member === me.account && g.keyVersion === keyVersion);
  if (!mine || !mine.envelope) fail('E_CONTEXT', `no grant of this space's key version ${keyVersion} is addressed to you`);
  const statement = mine.grantStatement.statement;
  if (statement.granter !== grants.manager) fail('E_SIGNATURE', "the grant was not made by the space's manager");
  const manager = await certifiedKeysOf(transport, statement.granter, caCertificatePem);
  await verifyStatement(manager.signingKey, mine.grantStatement, GRANT_STATEMENT_TYPE);
  if (statement.space !== space || statement.member !== me.account || statement.keyVersion !== keyVersion || statement.role !== mine.role) {
    fail('E_CONTEXT', 'the signed grant names another space, member, role or key version');
  }
  if (statement.envelopeDigest !== (await envelopeDigest(mine.envelope))) fail('E_CONTEXT', 'the envelope is not the one the manager signed');
  const key = await openEnvelope(me.envelope.privateKey, mine.envelope as Envelope, spaceKeyContext(space, me.account, keyVersion), { ...SPACE_KEY, extractable: options.extractable ?? false });
  return { key, keyVersion, role: mine.role };
}

/** Grants `member` a role with the current SK; refused here unless the member is active and certified. */
export async function grantAccess(transport: RelayTransport, me: UnlockedAccount, caCertificatePem: string, space: string, member: string, role: MemberRole): Promise<void> {
  const recipient = await certifiedKeysOf(transport, member, caCertificatePem);
  const grants = await spaceGrants(transport, me, space);
  if (grants.manager !== me.account) fail('E_CONTEXT', 'only the space manager grants access');
  const { key, keyVersion } = await openSpaceKey(transport, me, caCertificatePem, space, { extractable: true, grants });
  await storeGrant(transport, me, space, recipient, role, keyVersion, key);
}

/**
 * Revokes `member`: the relay removes the grant and moves the space to SK version v+1; the
 * manager makes that new key and grants it to itself and every remaining member (each checked
 * as certified again), so new contracts are out of the revoked member's reach.
 */
export async function revokeAccess(transport: RelayTransport, me: UnlockedAccount, caCertificatePem: string, space: string, member: string): Promise<{ keyVersion: number }> {
  const revoked = parseAnswer(RevokeResultSchema, await transport.request('DELETE', `/api/keys/grants/${encodeURIComponent(space)}/${encodeURIComponent(member)}`, undefined, me.session), 'revoke');
  const grants = await spaceGrants(transport, me, space);
  if (revoked.keyVersion !== grants.keyVersion || revoked.member !== member) fail('E_CONTEXT', 'the relay answered the revocation inconsistently');
  const next = await newSpaceKey();
  const self = await certifiedKeysOf(transport, me.account, caCertificatePem);
  await storeGrant(transport, me, space, self, 'manager', grants.keyVersion, next);
  for (const m of grants.members) {
    if (m.member === me.account || m.member === member || m.role === 'manager') continue;
    const recipient = await certifiedKeysOf(transport, m.member, caCertificatePem).catch(() => null);
    // A member who is meanwhile disabled or revoked gets no new key; their grant stays for old contracts only.
    if (recipient) await storeGrant(transport, me, space, recipient, m.role, grants.keyVersion, next);
  }
  // Members granted from now on hold only the new key: the name is sealed again under it.
  if (grants.sealedName) {
    const name = await spaceNameOf(transport, me, caCertificatePem, space, grants, grants);
    if (name) await transport.request('PUT', `/api/keys/spaces/${encodeURIComponent(space)}/name`, { sealedName: await sealSpaceName(next, space, grants.keyVersion, name) }, me.session);
  }
  return { keyVersion: grants.keyVersion };
}

/** Roles whose members may write contracts (records, files, versions) in a space. */
export const WRITER_ROLES: readonly GrantRole[] = ['manager', 'editor', 'signer'];

/**
 * The accounts allowed to write in `space`, each with its certified signing key: the manager and
 * every member whose current grant, signed by the manager, says editor or signer (a signer writes the signed version of a file). What a reader checks a
 * manifest or record signature against; the relay's member list alone is not trusted.
 */
export async function verifiedWriters(transport: RelayTransport, me: UnlockedAccount, caCertificatePem: string, space: string): Promise<Map<string, CryptoKey>> {
  const grants = await spaceGrants(transport, me, space);
  const manager = await certifiedKeysOf(transport, grants.manager, caCertificatePem);
  const writers = new Map<string, CryptoKey>([[grants.manager, manager.signingKey]]);
  for (const g of grants.grants) {
    if (g.keyVersion !== grants.keyVersion || !WRITER_ROLES.includes(g.role) || writers.has(g.member)) continue;
    const st = await verifyStatement(manager.signingKey, g.grantStatement, GRANT_STATEMENT_TYPE).catch(() => null);
    if (!st || st.granter !== grants.manager || st.member !== g.member || st.role !== g.role || st.space !== space) continue;
    const member = await certifiedKeysOf(transport, g.member, caCertificatePem).catch(() => null);
    if (member) writers.set(g.member, member.signingKey);
  }
  return writers;
}
