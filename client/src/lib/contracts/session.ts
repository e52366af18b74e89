/**
 * What the contract pages share: one transport that also moves storage blocks, the enterprise
 * CA certificate every protocol check needs, and one VersionMemory per signed-in account, so a
 * relay that serves an older fields record than one seen on another page is caught.
 */
import { fetchTransport } from '$shared/protocol/relay-transport';
import type { FileTransport } from '$shared/protocol/files';
import type { UnlockedAccount } from '$shared/protocol/account';
import { site } from '$lib/session/site.svelte';
import { vault, versionMemory } from '$lib/session/vault.svelte';
import { NoticeError } from './errors';

/** The same origin as $lib/relay's transport, typed with its block methods (uploads, downloads). */
export const fileTransport: FileTransport = fetchTransport('');

/** The rollback memory of `account` for this tab: the one its unlocked account carries. */
export { versionMemory };

/** The enterprise CA certificate (PEM), loading the site's public answers if they are not in yet. */
export async function caPem(): Promise<string> {
  if (!site.caCertificate) await site.load();
  if (!site.caCertificate) throw new NoticeError('contracts.error.noCa');
  return site.caCertificate;
}

/** The unlocked account, or a readable refusal when the vault locked meanwhile. */
export function me(): UnlockedAccount {
  const account = vault.unlocked;
  if (!account) throw new NoticeError('contracts.error.locked');
  return account;
}
