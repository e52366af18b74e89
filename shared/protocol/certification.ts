/**
 * The enterprise CA in the security administrator's browser (DESIGN.md section 4): made once at
 * their first registration, stored at rest only as RSA-OAEP envelopes to security
 * administrators, opened in memory to certify an employee's key bundle after the real-name
 * check. And the check every client makes before wrapping anything to someone: the account is
 * active, and its certificate verifies under the enterprise CA for exactly its keys.
 */
import { z } from 'zod';
import { fromBase64url } from '../crypto/encoding';
import { fail } from '../crypto/errors';
import { importEnvelopePublicKey, openEnvelope, sealEnvelope, type Envelope } from '../crypto/envelopes';
import { checkCaKeyPair, checkEnterpriseCaCertificate, createEnterpriseCa } from '../pki/enterprise-ca';
import { issueEmployeeCertificate, verifyEmployeeCertificate } from '../pki/employee-certificate';
import { NAME_OIDS, parseCertificate, subjectField } from '../pki/x509';
import { importSigningPublicKey } from '../crypto/statements';
import { PublicKeysResponse, type AccountProfile } from '../schemas/directory';
import { EnvelopeSchema } from '../schemas/keys';
import { parseAnswer, type UnlockedAccount } from './account';
import { recordAsAccount } from './audit-client';
import type { RelayTransport } from './relay-transport';

const CA_KEY_ALGORITHM = { algorithm: { name: 'ECDSA', namedCurve: 'P-256' } as EcKeyImportParams, usages: ['sign'] as KeyUsage[], format: 'pkcs8' as const };

const CaKeyList = z.object({ envelopes: z.array(z.object({ ca: z.string(), envelope: EnvelopeSchema })) });
const CaKeyRecipients = z.object({ ca: z.string(), recipients: z.array(z.string()) });

function caKeyContext(recipient: string, fingerprint: string) {
  return { purpose: 'ca-key', recipient, ca: fingerprint };
}

/** Makes the enterprise CA, publishes its certificate and stores the key enveloped to `me`. */
export async function establishEnterpriseCa(transport: RelayTransport, me: UnlockedAccount, enterpriseName: string): Promise<{ certificatePem: string; fingerprint: string }> {
  const ca = await createEnterpriseCa(enterpriseName);
  const envelope = await sealEnvelope(me.envelope.publicKey, ca.privateKey, caKeyContext(me.account, ca.fingerprint), 'pkcs8');
  // The envelope first: a published certificate whose key was lost would block certification for good.
  await transport.request('PUT', `/api/keys/ca-key/${encodeURIComponent(me.account)}`, { envelope }, me.session);
  await transport.request('PUT', '/api/directory/enterprise/ca', { certificate: ca.certificatePem }, me.session);
  await recordAsAccount(transport, me, { action: 'ca.create', target: 'enterprise', details: { fingerprint: ca.fingerprint } });
  return { certificatePem: ca.certificatePem, fingerprint: ca.fingerprint };
}

/**
 * Opens the CA key from the caller's envelope, proven to match the certificate; non-extractable
 * unless it is about to be enveloped to another security administrator.
 */
export async function openEnterpriseCaKey(transport: RelayTransport, me: UnlockedAccount, caCertificatePem: string, extractable = false): Promise<CryptoKey> {
  const { fingerprint } = await checkEnterpriseCaCertificate(caCertificatePem, new Date());
  const list = parseAnswer(CaKeyList, await transport.request('GET', '/api/keys/ca-key', undefined, me.session), 'CA key');
  const mine = list.envelopes.find((e) => e.ca === fingerprint);
  if (!mine) fail('E_CONTEXT', 'no envelope of the enterprise CA key is addressed to this account');
  const key = await openEnvelope(me.envelope.privateKey, mine.envelope as Envelope, caKeyContext(me.account, fingerprint), { ...CA_KEY_ALGORITHM, extractable });
  await checkCaKeyPair(caCertificatePem, key);
  return key;
}

/** The accounts that hold an envelope of this CA's key. */
export async function caKeyHolders(transport: RelayTransport, me: UnlockedAccount, caCertificatePem: string): Promise<string[]> {
  const { fingerprint } = await checkEnterpriseCaCertificate(caCertificatePem, new Date());
  const answer = parseAnswer(CaKeyRecipients, await transport.request('GET', `/api/keys/ca-key/recipients?ca=${fingerprint}`, undefined, me.session), 'CA key holders');
  if (answer.ca !== fingerprint) fail('E_CONTEXT', 'the relay answered about another CA');
  return answer.recipients;
}

/**
 * Envelopes the CA key to another security administrator, so that the enterprise does not
 * depend on one person's account to certify anyone. Only to an active, certified account that
 * holds the security-admin role.
 */
export async function shareEnterpriseCaKey(transport: RelayTransport, me: UnlockedAccount, caCertificatePem: string, recipient: string): Promise<void> {
  const keys = parseAnswer(PublicKeysResponse, await transport.request('GET', `/api/directory/accounts/${encodeURIComponent(recipient)}/public-keys`), 'public keys');
  if (keys.account !== recipient || !keys.roles.includes('security-admin')) fail('E_CONTEXT', 'the CA key goes only to security administrators');
  const certified = await certifiedKeysOf(transport, recipient, caCertificatePem);
  const { fingerprint } = await checkEnterpriseCaCertificate(caCertificatePem, new Date());
  const caKey = await openEnterpriseCaKey(transport, me, caCertificatePem, true);
  const envelope = await sealEnvelope(certified.envelopeKey, caKey, caKeyContext(recipient, fingerprint), 'pkcs8');
  await transport.request('PUT', `/api/keys/ca-key/${encodeURIComponent(recipient)}`, { envelope }, me.session);
  await recordAsAccount(transport, me, { action: 'ca-key.share', target: `account:${recipient}`, details: { ca: fingerprint } });
}

/** Issues and stores the certificate of `target`'s key bundle, and signs the audit entry for it. */
export async function certifyAccount(
  transport: RelayTransport,
  me: UnlockedAccount,
  ca: { certificatePem: string; privateKey: CryptoKey; enterpriseName: string },
  target: AccountProfile,
): Promise<{ certificatePem: string; serial: string }> {
  const keys = parseAnswer(PublicKeysResponse, await transport.request('GET', `/api/directory/accounts/${encodeURIComponent(target.id)}/public-keys`), 'public keys');
  if (keys.account !== target.id) fail('E_CONTEXT', 'the relay answered with the keys of another account');
  if (!keys.envelopeKey || !keys.signingKey) fail('E_CONTEXT', 'this account has not registered its keys yet');
  const envelopeKeySpki = fromBase64url(keys.envelopeKey);
  // A weak envelope key is refused before it is certified, not only when someone wraps to it.
  await importEnvelopePublicKey(envelopeKeySpki);
  const identity = { account: target.id, legalName: target.legalName, employeeNumber: target.employeeNumber, enterprise: ca.enterpriseName };
  const keyBundle = { signingKeySpki: fromBase64url(keys.signingKey), envelopeKeySpki };
  const certificatePem = await issueEmployeeCertificate(ca, identity, keyBundle);
  const verified = await verifyEmployeeCertificate(certificatePem, { caCertificatePem: ca.certificatePem, account: target.id, legalName: target.legalName, employeeNumber: target.employeeNumber, ...keyBundle, now: new Date() });
  await transport.request('POST', `/api/directory/accounts/${encodeURIComponent(target.id)}/certificate`, { certificate: certificatePem }, me.session);
  await recordAsAccount(transport, me, { action: 'certificate.issue', target: `account:${target.id}`, details: { serial: verified.serial, fingerprint: verified.fingerprint, legalName: target.legalName, employeeNumber: target.employeeNumber } });
  return { certificatePem, serial: verified.serial };
}

export interface CertifiedKeys {
  account: string;
  envelopeKey: CryptoKey;
  signingKey: CryptoKey;
  legalName: string;
  employeeNumber: string;
}

/**
 * The keys a client may wrap to and trust signatures from: only for an active account whose
 * certificate is not revoked and verifies under the enterprise CA for exactly these keys.
 * Refuses (E_CONTEXT / E_SIGNATURE) otherwise, whatever the relay says about "certified".
 */
export async function certifiedKeysOf(transport: RelayTransport, account: string, caCertificatePem: string): Promise<CertifiedKeys> {
  const keys = parseAnswer(PublicKeysResponse, await transport.request('GET', `/api/directory/accounts/${encodeURIComponent(account)}/public-keys`), 'public keys');
  if (keys.account !== account) fail('E_CONTEXT', 'the relay answered with the keys of another account');
  if (keys.status !== 'active') fail('E_CONTEXT', `this account is ${keys.status}, not active`);
  if (keys.revoked) fail('E_CONTEXT', "this account's certificate is revoked");
  if (!keys.certified || !keys.certificate || !keys.envelopeKey || !keys.signingKey) fail('E_CONTEXT', 'this account is not certified yet');
  const envelopeKeySpki = fromBase64url(keys.envelopeKey);
  const signingKeySpki = fromBase64url(keys.signingKey);
  const cert = parseCertificate(keys.certificate, "the account's certificate");
  // The names are read from the certificate (the CA vouched for them); the keys and account must match the relay's.
  const legalName = subjectField(cert, NAME_OIDS.commonName, 'legal name (CN)');
  const employeeNumber = subjectField(cert, NAME_OIDS.serialNumber, 'employee number (serialNumber)');
  await verifyEmployeeCertificate(keys.certificate, { caCertificatePem, account, legalName, employeeNumber, signingKeySpki, envelopeKeySpki, now: new Date() });
  return { account, envelopeKey: await importEnvelopePublicKey(envelopeKeySpki), signingKey: await importSigningPublicKey(signingKeySpki), legalName, employeeNumber };
}
