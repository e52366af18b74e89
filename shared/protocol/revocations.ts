/**
 * The certificates a PDF signature must not be trusted with: employee certificates the directory
 * revoked, and the certificates of destroyed seals. Both lists come from the relay, which could
 * withhold an entry (availability is not promised); it cannot add a false one that matters, since
 * a listed serial only ever makes a signature less trusted.
 */
import { z } from 'zod';
import type { PdfRevocation } from '../pdf/verify';
import { RevocationsResponse } from '../schemas/directory';
import { parseAnswer, type UnlockedAccount } from './account';
import type { RelayTransport } from './relay-transport';

const SealRevocations = z.object({ revocations: RevocationsResponse.shape.revocations });

export async function revokedCertificates(transport: RelayTransport, me: UnlockedAccount): Promise<Map<string, PdfRevocation>> {
  const [employees, seals] = await Promise.all([
    transport.request('GET', '/api/directory/revocations', undefined, me.session),
    transport.request('GET', '/api/keys/seals/revocations', undefined, me.session),
  ]);
  const all = [...parseAnswer(RevocationsResponse, employees, 'revocations').revocations, ...parseAnswer(SealRevocations, seals, 'seal revocations').revocations];
  return new Map(all.map((r) => [r.serial, { revokedAt: r.revokedAt, reason: r.reason }]));
}
