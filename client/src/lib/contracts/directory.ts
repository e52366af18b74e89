/**
 * Relay answers the contract pages list: the caller's spaces, people to grant access to, the
 * names of members, and a contract's file versions. All parsed; none trusted for access.
 */
import { parseAnswer } from '$shared/protocol/account';
import { certifiedKeysOf } from '$shared/protocol/certification';
import { ContractFilesSchema } from '$shared/schemas/vault';
import { fail } from '$shared/crypto/errors';
import type { z } from 'zod';
import { transport } from '$lib/relay';
import { vault } from '$lib/session/vault.svelte';
import { MySpacesResponse, PeopleResponse, type MySpace, type Person } from './schemas';

export async function listMySpaces(): Promise<MySpace[]> {
  return parseAnswer(MySpacesResponse, await vault.call('GET', '/api/keys/spaces'), 'spaces').spaces;
}

const names = new Map<string, string>();

/** The phone book: active accounts whose legal name, username or employee number contains `query`. */
export async function searchPeople(query: string, limit = 20): Promise<Person[]> {
  const q = query.trim().slice(0, 100);
  const params = new URLSearchParams({ ...(q ? { q } : {}), limit: String(Math.min(100, Math.max(1, limit))) });
  const people = parseAnswer(PeopleResponse, await vault.call('GET', `/api/directory/people?${params}`), 'people').people;
  for (const p of people) names.set(p.id, p.legalName);
  return people;
}

/** A name learned earlier for `account` (this session), or null. */
export function knownName(account: string): string | null {
  if (account === vault.unlocked?.account && vault.profile) return vault.profile.legalName;
  return names.get(account) ?? null;
}

/**
 * The legal name of `account`: from its certificate when it verifies under the enterprise CA
 * (the CA vouched for it), else from the phone book (searched by the id, which matches when it
 * is also the username), else null.
 */
export async function resolveName(account: string, caCertificatePem: string): Promise<string | null> {
  const known = knownName(account);
  if (known) return known;
  const certified = await certifiedKeysOf(transport, account, caCertificatePem).catch(() => null);
  if (certified) {
    names.set(account, certified.legalName);
    return certified.legalName;
  }
  const found = await searchPeople(account, 5).catch(() => [] as Person[]);
  return found.find((p) => p.id === account)?.legalName ?? null;
}

export type ContractFiles = z.infer<typeof ContractFilesSchema>;

/** GET /api/vault/contracts/:contract/files: the versions of each file and their states. */
export async function contractFiles(contract: string): Promise<ContractFiles> {
  const answer = parseAnswer(ContractFilesSchema, await vault.call('GET', `/api/vault/contracts/${encodeURIComponent(contract)}/files`), 'contract files');
  if (answer.contract !== contract) fail('E_CONTEXT', 'the relay listed the files of another contract');
  return answer;
}
