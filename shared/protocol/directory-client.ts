/**
 * The browser's side of directory registration and login (DESIGN.md section 4), written against
 * a small transport so it runs unchanged in the app, in tests (app.request) and in tools.
 *
 * The relay is not trusted: every answer is validated against the wire schema, and prelogin's
 * salt and Argon2id parameters are bounded before the caller hashes anything with them. The
 * password itself never enters this module: callers pass P (the Argon2id output, computed in a
 * worker), and only the OPAQUE input HKDF(P, "sealvault/v1/opaque") reaches the OPAQUE client.
 */
import { client, ready } from '@serenity-kit/opaque';
import { checkArgon2Params, SALT_MAX_LENGTH, SALT_MIN_LENGTH, type Argon2Params } from '../crypto/argon2';
import { deriveOpaqueInput } from '../crypto/account-keys';
import { fromBase64url, toBase64url } from '../crypto/encoding';
import { fail } from '../crypto/errors';
import {
  EscrowTicketResponse,
  LoginStartResponse,
  PreloginResponse,
  RegisterStartResponse,
  SessionResponse,
  type SessionAnswer,
} from '../schemas/directory';
import type { z } from 'zod';
import { answerOrThrow, RelayApiError, type FetchFn, type RelayTransport } from './relay-transport';

/** Calls one directory route (path relative to /api/directory); throws DirectoryApiError for non-2xx answers. */
export interface DirectoryTransport {
  post(path: string, body: unknown, session?: string): Promise<unknown>;
}

/**
 * OPAQUE's own key stretching, kept light on purpose: its input is HKDF(P), and P is already
 * Argon2id at 64 MiB and 3 passes (prelogin's parameters), so a second memory-hard pass adds
 * about 0.18 s per login (the library's default) and no strength. Changing this value changes
 * every registration record: registration and login must always use the same one.
 */
export const OPAQUE_KEY_STRETCHING = { 'argon2id-custom': { iterations: 1, memory: 1024, parallelism: 1 } } as const;

/** Kept under its first name: directory refusals are relay refusals like any other. */
export { RelayApiError as DirectoryApiError };

/** The directory routes of a general relay transport. */
export function directoryOf(transport: RelayTransport): DirectoryTransport {
  return { post: (path, body, session) => transport.request('POST', `/api/directory${path}`, body ?? {}, session) };
}


/** A transport over fetch, e.g. `httpTransport('/api/directory')` in the app. */
export function httpTransport(base: string, fetchFn: FetchFn = (url, init) => fetch(url, init)): DirectoryTransport {
  return {
    async post(path, body, session) {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (session) headers.authorization = `Bearer ${session}`;
      return answerOrThrow(await fetchFn(`${base}${path}`, { method: 'POST', headers, body: JSON.stringify(body ?? {}) }));
    },
  };
}

function answerOf<S extends z.ZodType>(schema: S, value: unknown, what: string): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) return fail('E_FORMAT', `the relay's ${what} answer is malformed`);
  return parsed.data;
}

export interface Prelogin {
  salt: Uint8Array;
  params: Argon2Params;
}

/** The account's salt and parameters, refused (E_KDF_PARAMS) if weak or absurd: check before hashing. */
export async function prelogin(transport: DirectoryTransport, username: string): Promise<Prelogin> {
  const answer = answerOf(PreloginResponse, await transport.post('/prelogin', { username }), 'prelogin');
  const params = checkArgon2Params(answer.kdf);
  const salt = fromBase64url(answer.salt);
  if (salt.length < SALT_MIN_LENGTH || salt.length > SALT_MAX_LENGTH) fail('E_KDF_PARAMS', `salt must be ${SALT_MIN_LENGTH} to ${SALT_MAX_LENGTH} bytes`);
  return { salt, params };
}

/** A fresh 16-byte Argon2id salt for registration or a password change. */
export function newSalt(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(SALT_MIN_LENGTH));
}

export interface Registration {
  invitationCode: string;
  /** P = Argon2id(password, salt, params) */
  passwordHalf: Uint8Array;
  salt: Uint8Array;
  params: Argon2Params;
  /** SPKI DER of the RSA-OAEP envelope public key and of the ECDSA P-256 signing public key */
  envelopeKey: Uint8Array;
  signingKey: Uint8Array;
}

/** OPAQUE registration from an invitation; answers the first session of the new account. */
export async function register(transport: DirectoryTransport, r: Registration): Promise<SessionAnswer & { username: string }> {
  const params = checkArgon2Params(r.params);
  await ready;
  const password = await deriveOpaqueInput(r.passwordHalf);
  const { clientRegistrationState, registrationRequest } = client.startRegistration({ password });
  const started = answerOf(RegisterStartResponse, await transport.post('/register/start', { invitationCode: r.invitationCode, registrationRequest }), 'register/start');
  const { registrationRecord } = client.finishRegistration({ password, registrationResponse: started.registrationResponse, clientRegistrationState, keyStretching: OPAQUE_KEY_STRETCHING });
  const session = answerOf(
    SessionResponse,
    await transport.post('/register/finish', {
      invitationCode: r.invitationCode,
      registrationRecord,
      kdf: { salt: toBase64url(r.salt), ...params },
      envelopeKey: toBase64url(r.envelopeKey),
      signingKey: toBase64url(r.signingKey),
    }),
    'register/finish',
  );
  if (session.account !== started.account) fail('E_CONTEXT', 'the relay registered a different account than it started');
  return { ...session, username: started.username };
}

/**
 * Signs in with OPAQUE. A wrong password (or an unknown name, which the relay answers with a
 * fake record) is noticed here, before anything more is sent, and throws the same
 * DirectoryApiError E_LOGIN_FAILED the relay would answer.
 */
export async function login(transport: DirectoryTransport, username: string, passwordHalf: Uint8Array): Promise<SessionAnswer> {
  await ready;
  const password = await deriveOpaqueInput(passwordHalf);
  const { clientLoginState, startLoginRequest } = client.startLogin({ password });
  const started = answerOf(LoginStartResponse, await transport.post('/login/start', { username, startLoginRequest }), 'login/start');
  const finished = client.finishLogin({ clientLoginState, loginResponse: started.loginResponse, password, keyStretching: OPAQUE_KEY_STRETCHING });
  if (!finished) throw new RelayApiError(401, 'E_LOGIN_FAILED', 'wrong username or password');
  return answerOf(SessionResponse, await transport.post('/login/finish', { loginId: started.loginId, finishLoginRequest: finished.finishLoginRequest }), 'login/finish');
}

/** A single-use escrow ticket for the session's account (escrow checks it with the directory's key). */
export async function escrowTicket(transport: DirectoryTransport, session: string): Promise<{ ticket: string; expiresAt: number }> {
  return answerOf(EscrowTicketResponse, await transport.post('/escrow-ticket', {}, session), 'escrow-ticket');
}
