/**
 * The escrow service (DESIGN.md section 4). It holds each account's escrow share E (the second
 * half of the KEK input) and the public half of its escrow-auth key, and releases E only when
 * the caller shows BOTH
 *   - a fresh, single-use escrow ticket signed by the directory (account active, <= 60 s), and
 *   - an Ed25519 signature by the escrow-auth key (seed derived from the password half P) over a
 *     fresh challenge bound to that ticket (shared/formats/escrow-challenge.ts).
 * A malicious directory can mint tickets but cannot sign challenges, so it alone never obtains E.
 * An account may also register a recovery-auth key (Ed25519, from its recovery code): with a
 * ticket and a signature over a challenge (shared/formats/recovery-proof.ts) it registers a new
 * share version with the same E and a new escrow-auth key after a forgotten password. It never
 * releases E, and its failures count toward the same rate limits and lockout.
 * Escrow never asks the directory about an account: a disabled account gets no new tickets, and
 * a ticket issued just before the account was disabled stays usable until it expires (<= 60 s).
 * Calls are rate-limited per account and per client address, five bad signatures in fifteen
 * minutes lock the account for fifteen minutes, and every release and refusal is audited: a
 * release whose audit entry cannot be written is not made.
 */
import { Hono, type Context } from 'hono';
import { z } from 'zod';
import { ID_PATTERN } from '../../shared/crypto/account-keys';
import { equalBytes } from '../../shared/crypto/bytes';
import { fromBase64url, toBase64url } from '../../shared/crypto/encoding';
import { isCryptoError } from '../../shared/crypto/errors';
import { TICKET_ID_MAX_LENGTH, verifyEscrowChallenge } from '../../shared/formats/escrow-challenge';
import { verifyRecoveryChallenge } from '../../shared/formats/recovery-proof';
import { importEd25519PublicKey, verifyToken, type TokenPayload } from '../../shared/formats/token';
import { HealthSchema } from '../../shared/schemas/common';
import {
  ChallengeRequestSchema,
  ChallengeResponseSchema,
  EscrowProofSchema,
  PutRecoveryKeyResponseSchema,
  PutRecoveryKeySchema,
  RegisterShareResponseSchema,
  RegisterShareSchema,
  ReleaseRequestSchema,
  ReleaseResponseSchema,
  ShareStatusSchema,
} from '../../shared/schemas/escrow';
import { ServiceKeySchema } from '../../shared/schemas/keys';
import type { AuditEvent } from '../common/audit-sink';
import { requireSession, sameOriginWrites, type SessionEnv } from '../common/auth';
import { ApiDescription } from '../common/openapi';
import { readJson, validate } from '../common/validate';
import { HttpError } from '../http/errors';
import type { RelayService, ServiceContext } from '../services/service';
import { SlidingWindowLimiter } from './rate-limit';
import { openEscrowStore, type ShareRow } from './store';

export const ESCROW_POLICY = {
  /** challenge, release and key-rotation calls per account per window */
  callsPerWindow: 10,
  /**
   * the same calls per client address per window: larger, since a whole office signing in at
   * nine behind one NAT address shares it; guessing is bounded by the per-account limit and lockout
   */
  callsPerAddressPerWindow: 300,
  windowMs: 60_000,
  /** failed signatures within failureWindowMs that lock the account */
  maxFailures: 5,
  failureWindowMs: 15 * 60_000,
  lockMs: 15 * 60_000,
  /** a challenge must be answered within this */
  challengeTtlMs: 60_000,
  /** escrow tickets live at most this long (docs/relay-api.md) */
  ticketMaxLifetimeSeconds: 60,
} as const;

const BODY_LIMIT = 8 * 1024;
/** Spent tickets, used challenges and old failures are kept this long, then pruned. */
const KEEP_MS = 30 * 60_000;

export interface EscrowServiceOptions {
  /** milliseconds since the epoch; injectable so tests move time instead of sleeping */
  now?: () => number;
  /** calls per account per minute; default SEALVAULT_ESCROW_CALLS_PER_MINUTE or ESCROW_POLICY.callsPerWindow */
  callsPerAccountPerMinute?: number;
}

/** An operator's override of the per-account budget (docs/relay-operations.md), bounded to sane values. */
function configuredCallsPerMinute(): number {
  const raw = process.env.SEALVAULT_ESCROW_CALLS_PER_MINUTE;
  if (raw === undefined || raw === '') return ESCROW_POLICY.callsPerWindow;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 2 || n > 10_000) throw new Error(`SEALVAULT_ESCROW_CALLS_PER_MINUTE must be an integer from 2 to 10000, got ${JSON.stringify(raw)}`);
  return n;
}

type Bindings = { incoming?: { socket?: { remoteAddress?: string } } };
type Env = { Bindings: Bindings; Variables: SessionEnv['Variables'] };

/** What one request has learnt about its caller so far: who to name in the audit entry of a refusal. */
interface Attempt {
  action: string;
  client: string;
  account?: string;
  ticketId?: string;
  /** the verified ticket's account, when it differs from the session's (a proof for another account) */
  ticketAccount?: string;
  /** what a new share version is registered with: a proof by the escrow-auth key or by the recovery key */
  via?: ShareVia;
}

/** How a share version was registered: the first, or a later one by the escrow-auth key (password) or the recovery key. */
type ShareVia = 'registration' | 'password' | 'recovery';

/** Which key must sign the challenge: the escrow-auth key, or the recovery key for a new version with this auth key. */
type ProofKey = { kind: 'auth' } | { kind: 'recovery'; newAuthKey: Uint8Array; version: number };

// Ed25519 public keys that verify signatures nobody had to make: refused at registration.
const WEAK_AUTH_KEYS = [new Uint8Array(32), Uint8Array.from({ length: 32 }, (_, i) => (i === 0 ? 1 : 0))];

/** Release input as read: `signature` may be missing so that its absence is refused, audited, and still spends the ticket. */
const ReleaseInputSchema = ReleaseRequestSchema.extend({ signature: ReleaseRequestSchema.shape.signature.optional() });
const ProofInputSchema = EscrowProofSchema;

/** Refuses all-zero-like weak keys and bytes that are not an Ed25519 public key (E_KEY_WEAK). */
async function checkEd25519PublicKey(key: Uint8Array, what: string): Promise<void> {
  if (WEAK_AUTH_KEYS.some((w) => equalBytes(w, key))) throw new HttpError(400, 'E_KEY_WEAK', `the ${what} is a weak Ed25519 key`);
  try {
    await importEd25519PublicKey(key);
  } catch {
    throw new HttpError(400, 'E_KEY_WEAK', `the ${what} is not an Ed25519 public key`);
  }
}

function clientAddress(c: Context<Env>): string {
  const address = c.env?.incoming?.socket?.remoteAddress;
  return typeof address === 'string' && address.length > 0 && address.length <= 64 ? address : 'unknown';
}

export function createEscrowService(ctx: ServiceContext, options: EscrowServiceOptions = {}): RelayService {
  const now = options.now ?? Date.now;
  const store = openEscrowStore(ctx.dataDir);
  const accountLimiter = new SlidingWindowLimiter(options.callsPerAccountPerMinute ?? configuredCallsPerMinute(), ESCROW_POLICY.windowMs);
  const addressLimiter = new SlidingWindowLimiter(ESCROW_POLICY.callsPerAddressPerWindow, ESCROW_POLICY.windowMs);
  const api = new ApiDescription('escrow', ctx.version);
  const app = new Hono<Env>();
  app.use('*', sameOriginWrites());
  /** Refusals that are not audited one by one (repeated rate-limit hits in one window). */
  const quiet = new WeakSet<Error>();
  let lastPrune = 0;

  const audit = async (event: AuditEvent): Promise<void> => {
    try {
      await ctx.audit.record(event);
    } catch (e) {
      ctx.log.error({ err: e, action: event.action }, 'audit append failed');
      throw new HttpError(503, 'E_AUDIT_UNAVAILABLE', 'the audit log is unavailable; escrow does nothing unrecorded');
    }
  };

  /** Runs a handler; any client error it ends with is written to the audit log as a refusal first. */
  const guarded = async (c: Context<Env>, action: string, run: (a: Attempt) => Promise<Response>): Promise<Response> => {
    const attempt: Attempt = { action, client: clientAddress(c) };
    try {
      return await run(attempt);
    } catch (e) {
      if (e instanceof HttpError && e.status < 500 && !quiet.has(e)) {
        await audit({
          ...(attempt.account ? { actor: attempt.account } : {}),
          action,
          target: attempt.account ? `account:${attempt.account}` : 'escrow',
          outcome: 'refused',
          details: {
            reason: e.code,
            message: e.message,
            client: attempt.client,
            ...(attempt.ticketId ? { ticket: attempt.ticketId } : {}),
            ...(attempt.ticketAccount ? { ticketAccount: attempt.ticketAccount } : {}),
            ...(attempt.via ? { via: attempt.via } : {}),
          },
        });
      }
      throw e;
    }
  };

  const limit = (c: Context<Env>, key: string): void => {
    const r = (key.startsWith('client:') ? addressLimiter : accountLimiter).hit(key, now());
    if (r.allowed) return;
    c.header('Retry-After', String(r.retryAfterSeconds));
    const err = new HttpError(429, 'E_RATE_LIMITED', 'too many escrow requests; wait a minute');
    if (!r.firstRefusal) quiet.add(err);
    throw err;
  };

  const checkTicket = async (ticket: string, a: Attempt): Promise<TokenPayload> => {
    const directoryKey = await ctx.peers.publicKey('directory');
    let t: TokenPayload;
    try {
      t = await verifyToken(directoryKey, ticket, {
        typ: 'escrow-ticket',
        iss: 'directory',
        now: Math.floor(now() / 1000),
        maxLifetimeSeconds: ESCROW_POLICY.ticketMaxLifetimeSeconds,
      });
    } catch (e) {
      if (isCryptoError(e, 'E_ROLLBACK')) throw new HttpError(401, 'E_TICKET_EXPIRED', 'the escrow ticket has expired; ask the directory for a new one');
      if (isCryptoError(e)) throw new HttpError(401, 'E_TICKET_INVALID', 'not a valid escrow ticket from the directory');
      throw e;
    }
    if (!ID_PATTERN.test(t.sub) || t.jti.length === 0 || t.jti.length > TICKET_ID_MAX_LENGTH || t.jti.includes('\u0000')) {
      throw new HttpError(401, 'E_TICKET_INVALID', 'the escrow ticket names a malformed account or id');
    }
    // The session (when there is one) names the actor; otherwise the verified ticket does.
    if (a.account === undefined) a.account = t.sub;
    else if (a.account !== t.sub) a.ticketAccount = t.sub;
    a.ticketId = t.jti;
    return t;
  };

  const maybePrune = (at: number): void => {
    if (at - lastPrune < ESCROW_POLICY.windowMs) return;
    lastPrune = at;
    store.prune(at, KEEP_MS);
  };

  /**
   * The two-factor check shared by release, key rotation and recovery: a valid unspent ticket
   * (spent now, whatever follows), an unexpired unused challenge made for that ticket (used up
   * now), and a signature over it by the account's current escrow-auth key (or, for a recovery,
   * by its recovery key over the recovery bytes). A bad signature by either key counts toward the
   * same lockout. Returns the ticket and the account's latest share.
   */
  const authorize = async (
    c: Context<Env>,
    a: Attempt,
    input: { ticket: string; challengeId: string; signature?: string | undefined },
    sessionAccount?: string,
    proofKey: ProofKey = { kind: 'auth' },
  ): Promise<{ ticket: TokenPayload; share: ShareRow }> => {
    const t = await checkTicket(input.ticket, a);
    if (sessionAccount !== undefined && t.sub !== sessionAccount) throw new HttpError(403, 'E_TICKET_ACCOUNT', 'the escrow ticket is for another account');
    limit(c, `account:${t.sub}`);
    const at = now();
    if (!store.spend(t.jti, t.sub, t.exp * 1000, at)) throw new HttpError(409, 'E_TICKET_SPENT', 'this escrow ticket was already used');
    const lockedUntil = store.lockedUntil(t.sub, at);
    if (lockedUntil !== null) throw new HttpError(423, 'E_LOCKED', `too many failed attempts; the account is locked until ${new Date(lockedUntil).toISOString()}`);
    const taken = store.takeChallenge(input.challengeId, at);
    if (!taken.ok) {
      if (taken.why === 'expired') throw new HttpError(409, 'E_CHALLENGE_EXPIRED', 'the challenge has expired; ask for a new one');
      throw new HttpError(409, 'E_CHALLENGE', taken.why === 'used' ? 'the challenge was already answered' : 'no such challenge');
    }
    if (taken.row.account !== t.sub) throw new HttpError(403, 'E_TICKET_ACCOUNT', 'the escrow ticket is for another account than the challenge');
    if (taken.row.jti !== t.jti) throw new HttpError(409, 'E_CHALLENGE', 'the challenge was issued for another ticket');
    const share = store.latest(t.sub);
    if (!share) throw new HttpError(404, 'E_NO_SHARE', 'no escrow share is registered for this account');
    if (input.signature === undefined) throw new HttpError(401, 'E_SIGNATURE', 'the challenge must be signed with the escrow-auth key');
    const signature = fromBase64url(input.signature);
    const challenge = new Uint8Array(taken.row.challenge);
    let ok: boolean;
    if (proofKey.kind === 'recovery') {
      const row = store.recoveryKey(t.sub);
      if (!row) throw new HttpError(409, 'E_NO_RECOVERY_KEY', 'no recovery key is registered for this account');
      const recoveryKey = await importEd25519PublicKey(new Uint8Array(row.recovery_key));
      ok = await verifyRecoveryChallenge(recoveryKey, signature, challenge, t.sub, t.jti, proofKey.newAuthKey, proofKey.version);
    } else {
      const authKey = await importEd25519PublicKey(new Uint8Array(share.auth_key));
      ok = await verifyEscrowChallenge(authKey, signature, challenge, t.sub, t.jti);
    }
    if (!ok) {
      const f = store.recordFailure(t.sub, now(), ESCROW_POLICY.maxFailures, ESCROW_POLICY.failureWindowMs, ESCROW_POLICY.lockMs);
      if (f.lockedUntil !== null) {
        await audit({
          actor: t.sub,
          action: 'escrow.lockout',
          target: `account:${t.sub}`,
          outcome: 'ok',
          details: { failures: f.failures, until: f.lockedUntil, client: a.client },
        });
      }
      throw new HttpError(403, 'E_SIGNATURE', `the challenge signature does not verify with the registered ${proofKey.kind === 'recovery' ? 'recovery' : 'escrow-auth'} key`);
    }
    store.clearFailures(t.sub);
    return { ticket: t, share };
  };

  // ---- every service ------------------------------------------------------------------------

  api.add({ method: 'get', path: '/health', summary: 'Service health', response: HealthSchema });
  app.get('/health', (c) => c.json({ service: 'escrow', version: ctx.version, ok: true }));

  api.add({ method: 'get', path: '/key', summary: "The escrow service's Ed25519 public key", response: ServiceKeySchema });
  app.get('/key', (c) => c.json({ service: 'escrow', publicKey: ctx.key.publicB64u }));

  api.add({ method: 'get', path: '/openapi.json', summary: 'This description' });
  app.get('/openapi.json', (c) => c.json(api.document()));

  // ---- shares ---------------------------------------------------------------------------------

  api.add({
    method: 'post',
    path: '/shares',
    summary:
      "Register the session account's escrow share E and escrow-auth public key. Version 1 first (it may carry the recovery key); a later version needs `proof` made with the current escrow-auth key (as for a release), or a recovery proof by the recovery key, which keeps the same E.",
    auth: 'session',
    body: RegisterShareSchema,
    response: RegisterShareResponseSchema,
    errors: {
      400: 'E_VALIDATION, E_KEY_WEAK (all-zero share, weak auth or recovery key, auth key equal to the recovery key)',
      401: 'E_SIGNATURE (proof missing), E_TICKET_INVALID, E_TICKET_EXPIRED',
      403: 'E_SIGNATURE (proof does not verify), E_TICKET_ACCOUNT',
      404: 'E_NO_SHARE',
      409: 'E_CONFLICT (this version holds other values), E_ROLLBACK, E_VERSION (not the next version), E_TICKET_SPENT, E_CHALLENGE, E_CHALLENGE_EXPIRED, E_NO_RECOVERY_KEY, E_SHARE_MISMATCH (a recovery must keep E)',
      423: 'E_LOCKED',
      429: 'E_RATE_LIMITED',
      503: 'E_AUDIT_UNAVAILABLE: nothing was registered',
    },
  });
  app.post('/shares', requireSession(ctx.peers), (c) =>
    guarded(c, 'escrow.register', async (a) => {
      const account = c.get('session').sub;
      a.account = account;
      const body = await readJson(c, RegisterShareSchema, BODY_LIMIT);
      const share = fromBase64url(body.share);
      const authKey = fromBase64url(body.authKey);
      const newRecoveryKey = body.recoveryKey === undefined ? null : fromBase64url(body.recoveryKey);
      if (share.every((b) => b === 0)) throw new HttpError(400, 'E_KEY_WEAK', 'the escrow share must not be all zeros');
      await checkEd25519PublicKey(authKey, 'escrow-auth key');
      if (newRecoveryKey !== null) {
        if (body.version !== 1) throw new HttpError(400, 'E_VALIDATION', 'recoveryKey comes with version 1; replace it with PUT /recovery-key');
        await checkEd25519PublicKey(newRecoveryKey, 'recovery key');
      }
      const storedRecoveryKey = store.recoveryKey(account)?.recovery_key;
      for (const rk of [newRecoveryKey, storedRecoveryKey]) {
        if (rk && equalBytes(rk, authKey)) throw new HttpError(400, 'E_KEY_WEAK', 'the escrow-auth key must not be the recovery key');
      }
      const same = store.share(account, body.version);
      if (same) {
        const sameRecovery = newRecoveryKey === null || (storedRecoveryKey !== undefined && equalBytes(storedRecoveryKey, newRecoveryKey));
        if (equalBytes(same.share, share) && equalBytes(same.auth_key, authKey) && sameRecovery) return c.json({ account, version: body.version });
        throw new HttpError(409, 'E_CONFLICT', `version ${body.version} is registered with other values`);
      }
      const latest = store.latest(account);
      let via: ShareVia = 'registration';
      if (!latest) {
        if (body.version !== 1) throw new HttpError(409, 'E_VERSION', 'register version 1 first');
        if (body.proof) throw new HttpError(400, 'E_VALIDATION', 'version 1 takes no proof');
      } else {
        if (body.version < latest.version) throw new HttpError(409, 'E_ROLLBACK', `version ${latest.version} is already registered`);
        if (body.version !== latest.version + 1) throw new HttpError(409, 'E_VERSION', `the next version is ${latest.version + 1}`);
        if (!body.proof) throw new HttpError(401, 'E_SIGNATURE', 'a new version needs a proof signed with the current escrow-auth key or the recovery key');
        const proof = validate(ProofInputSchema, body.proof);
        via = proof.kind === 'recovery' ? 'recovery' : 'password';
        a.via = via;
        limit(c, `client:${a.client}`);
        const proofKey: ProofKey = via === 'recovery' ? { kind: 'recovery', newAuthKey: authKey, version: body.version } : { kind: 'auth' };
        const { share: current } = await authorize(c, a, proof, account, proofKey);
        // A recovery replaces the key that guards E, never E itself (the recovery wrapping holds E).
        if (via === 'recovery' && !equalBytes(current.share, share)) throw new HttpError(409, 'E_SHARE_MISMATCH', 'a recovery registers the escrow share escrow already holds');
      }
      if (!store.insertShare(account, body.version, Buffer.from(share), Buffer.from(authKey), latest?.version ?? null, now(), newRecoveryKey && Buffer.from(newRecoveryKey))) {
        throw new HttpError(409, 'E_CONFLICT', 'another version was registered meanwhile');
      }
      try {
        await audit({
          actor: account,
          action: 'escrow.register',
          target: `account:${account}`,
          outcome: 'ok',
          details: { version: body.version, via, client: a.client, ...(newRecoveryKey ? { recoveryKey: true } : {}) },
        });
      } catch (e) {
        // Nothing changes without its audit entry: take the new version (and its recovery key) back out.
        store.deleteShare(account, body.version);
        if (newRecoveryKey) store.setRecoveryKey(account, null, now());
        throw e;
      }
      return c.json({ account, version: body.version });
    }),
  );

  api.add({
    method: 'put',
    path: '/recovery-key',
    summary: "Set or replace the session account's recovery-auth public key; needs a proof made with the current escrow-auth key (as for a release)",
    auth: 'session',
    body: PutRecoveryKeySchema,
    response: PutRecoveryKeyResponseSchema,
    errors: {
      400: 'E_VALIDATION (a recovery proof is not accepted here), E_KEY_WEAK (weak key, or the current escrow-auth key)',
      401: 'E_TICKET_INVALID, E_TICKET_EXPIRED',
      403: 'E_SIGNATURE, E_TICKET_ACCOUNT',
      404: 'E_NO_SHARE',
      409: 'E_TICKET_SPENT, E_CHALLENGE, E_CHALLENGE_EXPIRED',
      423: 'E_LOCKED',
      429: 'E_RATE_LIMITED',
      503: 'E_AUDIT_UNAVAILABLE: nothing was changed',
    },
  });
  app.put('/recovery-key', requireSession(ctx.peers), (c) =>
    guarded(c, 'escrow.recovery-key', async (a) => {
      const account = c.get('session').sub;
      a.account = account;
      const body = await readJson(c, PutRecoveryKeySchema, BODY_LIMIT);
      const recoveryKey = fromBase64url(body.recoveryKey);
      await checkEd25519PublicKey(recoveryKey, 'recovery key');
      const current = store.latest(account);
      if (current && equalBytes(current.auth_key, recoveryKey)) throw new HttpError(400, 'E_KEY_WEAK', 'the recovery key must not be the escrow-auth key');
      limit(c, `client:${a.client}`);
      const { share } = await authorize(c, a, body.proof, account);
      if (equalBytes(share.auth_key, recoveryKey)) throw new HttpError(400, 'E_KEY_WEAK', 'the recovery key must not be the escrow-auth key');
      const previous = store.setRecoveryKey(account, Buffer.from(recoveryKey), now());
      try {
        await audit({
          actor: account,
          action: 'escrow.recovery-key',
          target: `account:${account}`,
          outcome: 'ok',
          details: { version: share.version, replaced: previous !== undefined, client: a.client },
        });
      } catch (e) {
        store.setRecoveryKey(account, previous ? previous.recovery_key : null, previous?.updated_at ?? now());
        throw e;
      }
      return c.json({ account, version: share.version, recoveryKey: body.recoveryKey });
    }),
  );

  api.add({
    method: 'get',
    path: '/shares/status',
    summary: "Which share version and escrow-auth key escrow holds for the session's account (never E itself)",
    auth: 'session',
    response: ShareStatusSchema,
  });
  app.get('/shares/status', requireSession(ctx.peers), (c) => {
    const account = c.get('session').sub;
    const latest = store.latest(account);
    const recovery = store.recoveryKey(account);
    return c.json({
      account,
      version: latest?.version ?? null,
      authKey: latest ? toBase64url(latest.auth_key) : null,
      recoveryKey: recovery ? toBase64url(recovery.recovery_key) : null,
    });
  });

  // ---- challenge and release -----------------------------------------------------------------

  api.add({
    method: 'post',
    path: '/challenge',
    summary: 'A fresh 32-byte challenge (60 s, single use) for an unspent escrow ticket',
    body: ChallengeRequestSchema,
    response: ChallengeResponseSchema,
    errors: {
      401: 'E_TICKET_INVALID, E_TICKET_EXPIRED',
      404: 'E_NO_SHARE',
      409: 'E_TICKET_SPENT',
      423: 'E_LOCKED',
      429: 'E_RATE_LIMITED',
    },
  });
  app.post('/challenge', (c) =>
    guarded(c, 'escrow.challenge', async (a) => {
      limit(c, `client:${a.client}`);
      const { ticket } = await readJson(c, ChallengeRequestSchema, BODY_LIMIT);
      const t = await checkTicket(ticket, a);
      limit(c, `account:${t.sub}`);
      const at = now();
      maybePrune(at);
      if (store.isSpent(t.jti)) throw new HttpError(409, 'E_TICKET_SPENT', 'this escrow ticket was already used');
      const lockedUntil = store.lockedUntil(t.sub, at);
      if (lockedUntil !== null) throw new HttpError(423, 'E_LOCKED', `too many failed attempts; the account is locked until ${new Date(lockedUntil).toISOString()}`);
      if (!store.latest(t.sub)) throw new HttpError(404, 'E_NO_SHARE', 'no escrow share is registered for this account');
      const challengeId = toBase64url(crypto.getRandomValues(new Uint8Array(16)));
      const challenge = crypto.getRandomValues(new Uint8Array(32));
      const expiresAt = at + ESCROW_POLICY.challengeTtlMs;
      store.addChallenge(challengeId, t.sub, t.jti, challenge, expiresAt);
      return c.json({ challengeId, challenge: toBase64url(challenge), expiresAt: Math.floor(expiresAt / 1000) });
    }),
  );

  api.add({
    method: 'post',
    path: '/release',
    summary: 'Release the escrow share E: needs the escrow ticket (spent now) and the escrow-auth signature over its challenge',
    body: ReleaseRequestSchema,
    response: ReleaseResponseSchema,
    errors: {
      401: 'E_TICKET_INVALID, E_TICKET_EXPIRED, E_SIGNATURE (missing)',
      403: 'E_SIGNATURE (does not verify), E_TICKET_ACCOUNT (ticket and challenge are for different accounts)',
      404: 'E_NO_SHARE',
      409: 'E_TICKET_SPENT, E_CHALLENGE (unknown, used or for another ticket), E_CHALLENGE_EXPIRED',
      423: 'E_LOCKED',
      429: 'E_RATE_LIMITED',
      503: 'E_AUDIT_UNAVAILABLE: the release could not be recorded, so it was not made',
    },
  });
  app.post('/release', (c) =>
    guarded(c, 'escrow.release', async (a) => {
      limit(c, `client:${a.client}`);
      const input = validate(ReleaseInputSchema, await readJson(c, z.unknown(), BODY_LIMIT));
      const { ticket, share } = await authorize(c, a, input);
      await audit({
        actor: ticket.sub,
        action: 'escrow.release',
        target: `account:${ticket.sub}`,
        outcome: 'ok',
        details: { version: share.version, ticket: ticket.jti, client: a.client },
      });
      return c.json({ version: share.version, share: toBase64url(share.share) });
    }),
  );

  return { name: 'escrow', app, close: () => store.close() };
}
