/**
 * Errors of the contract pages as sentences: a form mistake names its field, everything else
 * goes through locale.error (crypto refusals by code, relay refusals by code and message).
 */
import { ZodError } from 'zod';
import { isCryptoError } from '$shared/crypto/errors';
import { locale } from '$lib/i18n/locale.svelte';
import type { MessageKey } from '$lib/i18n/messages';

/** A refusal made by this app, already a message key (no crypto or relay code behind it). */
export class NoticeError extends Error {
  override readonly name = 'NoticeError';
  constructor(
    readonly key: MessageKey,
    readonly params: Record<string, string | number> = {},
  ) {
    super(key);
  }
}

export function errorText(e: unknown): string {
  if (e instanceof NoticeError) return locale.t(e.key, e.params);
  if (e instanceof ZodError) {
    const issues = e.issues.map((i) => `${i.path.join('.') || '—'}: ${i.message}`).join('; ');
    return locale.t('contracts.error.invalidFields', { issues });
  }
  // The general words of a crypto refusal, then what exactly was refused (as the relay's
  // refusals show its own sentence): "not certified yet" says more than "belongs elsewhere".
  if (isCryptoError(e)) return `${locale.error(e)} (${e.message.replace(/^E_[A-Z_]+: /, '')})`;
  return locale.error(e);
}
