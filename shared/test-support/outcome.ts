import { isCryptoError } from '../crypto/errors';

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
