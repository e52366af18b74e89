/**
 * The server side of OPAQUE (@serenity-kit/opaque): the directory stores a registration record
 * per account and never sees the OPAQUE input (itself only HKDF(P), docs/FORMATS.md section 2).
 *
 * Unknown usernames run the same computation with a null record (the library answers with a fake
 * record), using the username as the credential identifier so that repeated attempts on one
 * unknown name see the same OPRF key, as they would for a real account.
 */
import { client, ready, server } from '@serenity-kit/opaque';
import { HttpError } from '../http/errors';
import { randomId } from './util';

export async function createOpaqueSetup(): Promise<string> {
  await ready;
  return server.createSetup();
}

export class OpaqueServer {
  private constructor(private readonly setup: string) {}

  static async create(setup: string): Promise<OpaqueServer> {
    await ready;
    return new OpaqueServer(setup);
  }

  registrationResponse(accountId: string, registrationRequest: string): string {
    try {
      return server.createRegistrationResponse({ serverSetup: this.setup, userIdentifier: accountId, registrationRequest }).registrationResponse;
    } catch {
      // The library refuses points that do not decode; that is bad client input, not a relay fault.
      throw new HttpError(400, 'E_VALIDATION', 'registrationRequest is not a valid OPAQUE registration request');
    }
  }

  /**
   * True if the record deserializes (a valid client public key and envelope shape), checked by
   * running a throwaway login start with it: a junk record stored at registration would otherwise
   * surface only at the first login, as an error the user cannot fix.
   */
  recordIsUsable(accountId: string, record: string): boolean {
    try {
      const { startLoginRequest } = client.startLogin({ password: 'record check' });
      server.startLogin({ serverSetup: this.setup, userIdentifier: accountId, registrationRecord: record, startLoginRequest });
      return true;
    } catch {
      return false;
    }
  }

  /** Starts a login; a null record gives the fake answer for unknown names. */
  startLogin(identifier: string, record: string | null, startLoginRequest: string): { serverLoginState: string; loginResponse: string } {
    try {
      return server.startLogin({ serverSetup: this.setup, userIdentifier: identifier, registrationRecord: record, startLoginRequest });
    } catch {
      throw new HttpError(400, 'E_VALIDATION', 'startLoginRequest is not a valid OPAQUE login request');
    }
  }

  /** True only when the client proved knowledge of the password behind the record. */
  finishLogin(serverLoginState: string, finishLoginRequest: string): boolean {
    try {
      server.finishLogin({ serverLoginState, finishLoginRequest });
      return true;
    } catch {
      return false;
    }
  }
}

export interface PendingLogin {
  /** null for an unknown username (the fake path) */
  account: string | null;
  username: string;
  address: string;
  serverLoginState: string;
  expiresAt: number;
}

export const LOGIN_STATE_TTL_MS = 60_000;
/** Bounds memory if many logins are started and never finished; the rate limits keep it far below. */
const MAX_PENDING = 10_000;

/**
 * OPAQUE server login state lives here, never with the client: keyed by a random loginId, for
 * 60 s, taken exactly once by /login/finish.
 */
export class PendingLogins {
  private readonly pending = new Map<string, PendingLogin>();

  constructor(private readonly now: () => number) {}

  add(login: Omit<PendingLogin, 'expiresAt'>): string {
    if (this.pending.size >= MAX_PENDING) throw new HttpError(429, 'E_RATE_LIMITED', 'too many logins in progress; try again in a minute');
    const id = randomId();
    this.pending.set(id, { ...login, expiresAt: this.now() + LOGIN_STATE_TTL_MS });
    return id;
  }

  /** Removes and returns the login (the caller checks expiresAt): a second finish with the same id finds nothing. */
  take(id: string): PendingLogin | undefined {
    const login = this.pending.get(id);
    this.pending.delete(id);
    return login;
  }

  /** Removes and returns the logins that expired unfinished (a wrong password ends there: the client cannot finish). */
  sweep(): PendingLogin[] {
    const now = this.now();
    const expired: PendingLogin[] = [];
    for (const [id, login] of this.pending) {
      if (login.expiresAt <= now) {
        this.pending.delete(id);
        expired.push(login);
      }
    }
    return expired;
  }

  get size(): number {
    return this.pending.size;
  }
}
