import { isCryptoError } from '../crypto/errors';
import { RelayApiError } from '../protocol/relay-transport';

/** "ok", or the crypto error code a promise was refused with; any other error is rethrown. */
export async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    if (isCryptoError(e)) return e.code;
    throw e;
  }
}

/** "resolved", or the relay's error code (RelayApiError) or crypto error code a promise was refused with. */
export async function relayCode(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'resolved';
  } catch (e) {
    if (e instanceof RelayApiError) return e.code;
    return codeOf(Promise.reject(e));
  }
}
