import { beforeAll, describe, expect, it } from 'vitest';
import { deriveEscrowAuthKey, deriveKek, randomEscrowShare } from '../../shared/crypto/account-keys';
import { fromBase64url, toBase64url } from '../../shared/crypto/encoding';
import { signEscrowChallenge } from '../../shared/formats/escrow-challenge';
import { signRecoveryChallenge } from '../../shared/formats/recovery-proof';
import { CLOCK_SKEW_SECONDS } from '../../shared/formats/token';
import type { AuditEvent, AuditSink } from '../common/audit-sink';
import { memoryAuditSink } from '../common/audit-sink';
import { createRelayApp } from '../server';
import { testServiceContext } from '../test-support/service-context';
import { createFakeDirectory, type FakeDirectory } from '../keys/testing/fake-directory';
import type { RelayServiceFactory } from '../services/service';
import { createEscrowService, ESCROW_POLICY } from './index';

// catalog.ts can list the factory as it is.
const asFactory: RelayServiceFactory = createEscrowService;
void asFactory;

let dir: FakeDirectory;
beforeAll(async () => {
  dir = await createFakeDirectory();
});

interface User {
  id: string;
  passwordHalf: Uint8Array;
  auth: { privateKey: CryptoKey; publicKey: Uint8Array };
  share: Uint8Array;
}

async function newUser(id: string): Promise<User> {
  const passwordHalf = crypto.getRandomValues(new Uint8Array(32));
  return { id, passwordHalf, auth: await deriveEscrowAuthKey(passwordHalf), share: randomEscrowShare() };
}

type Res = { status: number; json: any; headers: Headers }; // eslint-disable-line @typescript-eslint/no-explicit-any

async function setup(opts: { audit?: AuditSink & { events: AuditEvent[] } } = {}) {
  const start = Date.now();
  let clock = start;
  const ctx = await testServiceContext('escrow', { local: dir.local });
  const audit = opts.audit ?? ctx.audit;
  const service = createEscrowService({ ...ctx, audit }, { now: () => clock });
  const errors: string[] = [];
  const app = createRelayApp({ services: [service], errorLog: (line) => errors.push(line) });
  const seconds = () => Math.floor(clock / 1000);

  const call = async (method: string, path: string, o: { session?: string; body?: unknown; raw?: string; ip?: string; contentType?: string } = {}): Promise<Res> => {
    const headers: Record<string, string> = {};
    if (o.session) headers.authorization = `Bearer ${o.session}`;
    let body: string | undefined;
    if (o.raw !== undefined || o.body !== undefined) {
      headers['content-type'] = o.contentType ?? 'application/json';
      body = o.raw ?? JSON.stringify(o.body);
    }
    const env = { incoming: { socket: { remoteAddress: o.ip ?? '192.0.2.1' } } };
    const res = await app.request(`/api/escrow${path}`, { method, headers, ...(body === undefined ? {} : { body }) }, env);
    const text = await res.text();
    if (res.status === 500) throw new Error(`500 from ${method} ${path}: ${errors.join('\n')}`);
    return { status: res.status, json: text ? JSON.parse(text) : null, headers: res.headers };
  };

  const register = async (u: User, version = 1, extra: Record<string, unknown> = {}) =>
    call('POST', '/shares', {
      session: await dir.session(u.id),
      body: { version, share: toBase64url(u.share), authKey: toBase64url(u.auth.publicKey), ...extra },
    });

  const ticket = async (u: User | string, extra: Parameters<FakeDirectory['ticket']>[1] = {}, signer?: CryptoKey) => {
    const jti = extra.jti ?? `tk-${crypto.randomUUID()}`;
    const token = await dir.ticket(typeof u === 'string' ? u : u.id, { iat: seconds(), exp: seconds() + 60, jti, ...extra }, signer);
    return { token, jti };
  };

  const challenge = async (ticketToken: string, ip?: string) => call('POST', '/challenge', { body: { ticket: ticketToken }, ...(ip ? { ip } : {}) });

  const sign = async (key: CryptoKey, ch: Res, account: string, jti: string) =>
    toBase64url(await signEscrowChallenge(key, fromBase64url(ch.json.challenge), account, jti));

  /** The whole unlock as the browser does it. */
  const unlock = async (u: User, o: { key?: CryptoKey; ip?: string } = {}) => {
    const t = await ticket(u);
    const ch = await challenge(t.token, o.ip);
    expect(ch.status).toBe(200);
    const signature = await sign(o.key ?? u.auth.privateKey, ch, u.id, t.jti);
    return call('POST', '/release', { body: { ticket: t.token, challengeId: ch.json.challengeId, signature }, ...(o.ip ? { ip: o.ip } : {}) });
  };

  const events = audit.events;
  /** A refusal: its status and code, and its audit entry (the newest one). */
  const expectRefused = (res: Res, status: number, code: string, actor?: string) => {
    expect([res.status, res.json?.error?.code]).toEqual([status, code]);
    const last = events.at(-1)!;
    expect(last).toMatchObject({ outcome: 'refused', details: expect.objectContaining({ reason: code }) });
    expect(last.action).toMatch(/^escrow\./);
    if (actor !== undefined) expect(last.actor).toBe(actor);
  };

  return {
    ctx,
    call,
    register,
    ticket,
    challenge,
    sign,
    unlock,
    events,
    expectRefused,
    advance: (ms: number) => {
      clock += ms;
    },
    seconds,
  };
}

describe('escrow service: every-service routes', () => {
  it('answers health, key and OpenAPI', async () => {
    const { call, ctx } = await setup();
    expect((await call('GET', '/health')).json).toEqual({ service: 'escrow', version: 'test', ok: true });
    expect((await call('GET', '/key')).json).toEqual({ service: 'escrow', publicKey: ctx.key.publicB64u });
    const doc = (await call('GET', '/openapi.json')).json;
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/api/escrow/shares', '/api/escrow/shares/status', '/api/escrow/challenge', '/api/escrow/release', '/api/escrow/health', '/api/escrow/recovery-key']),
    );
    expect(doc.paths['/api/escrow/release'].post.requestBody.content['application/json'].schema.required).toEqual(['ticket', 'challengeId', 'signature']);
  });
});

describe('escrow service: registration', () => {
  it('registers version 1 once, idempotently, and refuses weak or conflicting values', async () => {
    const { call, register, events } = await setup();
    const u = await newUser('alice');
    expect((await call('POST', '/shares', { body: { version: 1, share: toBase64url(u.share), authKey: toBase64url(u.auth.publicKey) } })).status).toBe(401);

    const zero = await register({ ...u, share: new Uint8Array(32) });
    expect([zero.status, zero.json.error.code]).toEqual([400, 'E_KEY_WEAK']);
    const weakKey = await register({ ...u, auth: { ...u.auth, publicKey: Uint8Array.from({ length: 32 }, (_, i) => (i === 0 ? 1 : 0)) } });
    expect([weakKey.status, weakKey.json.error.code]).toEqual([400, 'E_KEY_WEAK']);
    expect((await register(u, 2)).json.error.code).toBe('E_VERSION');

    expect((await register(u)).json).toEqual({ account: 'alice', version: 1 });
    expect(events.at(-1)).toMatchObject({ actor: 'alice', action: 'escrow.register', outcome: 'ok', details: expect.objectContaining({ version: 1, via: 'registration' }) });
    const count = events.length;
    expect((await register(u)).status).toBe(200); // same again
    expect(events.length).toBe(count);
    // A stolen session cannot replace the share or the key guarding it.
    const other = await newUser('alice');
    const replaced = await register(other);
    expect([replaced.status, replaced.json.error.code]).toEqual([409, 'E_CONFLICT']);
    expect((await register({ ...u, auth: other.auth })).json.error.code).toBe('E_CONFLICT');
    expect((await register(other, 2)).json.error.code).toBe('E_SIGNATURE'); // a new version needs a proof

    const status = await call('GET', '/shares/status', { session: await dir.session('alice') });
    expect(status.json).toEqual({ account: 'alice', version: 1, authKey: toBase64url(u.auth.publicKey), recoveryKey: null });
    expect((await call('GET', '/shares/status', { session: await dir.session('bob') })).json).toEqual({ account: 'bob', version: null, authKey: null, recoveryKey: null });
    expect((await call('GET', '/shares/status')).status).toBe(401);
  });

  it('refuses bad input with a 4xx', async () => {
    const { call, events } = await setup();
    const u = await newUser('alice');
    const session = await dir.session('alice');
    const good = { version: 1, share: toBase64url(u.share), authKey: toBase64url(u.auth.publicKey) };
    const cases: unknown[] = [
      { ...good, extra: 1 },
      { ...good, version: '1' },
      { ...good, version: 0 },
      { ...good, version: 1.5 },
      { ...good, share: toBase64url(u.share.subarray(0, 31)) },
      { ...good, share: `${good.share}=` },
      { ...good, share: good.share.replace(/.$/, '=') },
      { ...good, share: Buffer.from(u.share).toString('base64') + 'A' },
      { ...good, authKey: 12 },
      { version: 1, share: good.share },
      null,
      [],
    ];
    for (const body of cases) {
      const res = await call('POST', '/shares', { session, body });
      expect([res.status, res.json.error.code], JSON.stringify(body)).toEqual([400, 'E_VALIDATION']);
      expect(events.at(-1)).toMatchObject({ action: 'escrow.register', outcome: 'refused', details: expect.objectContaining({ reason: 'E_VALIDATION' }) });
    }
    expect((await call('POST', '/shares', { session, raw: '{"version":' })).json.error.code).toBe('E_BAD_JSON');
    expect((await call('POST', '/shares', { session, raw: JSON.stringify(good), contentType: 'text/plain' })).status).toBe(415);
    expect((await call('POST', '/shares', { session, raw: JSON.stringify({ ...good, pad: 'x'.repeat(9000) }) })).status).toBe(413);
    expect((await call('POST', '/challenge', { raw: JSON.stringify({ ticket: `sv1.${'A'.repeat(9000)}.B` }) })).status).toBe(413);
    expect((await call('POST', '/challenge', { body: { ticket: 'not a token' } })).json.error.code).toBe('E_VALIDATION');
    expect((await call('POST', '/release', { body: { ticket: 'sv1.a.b', challengeId: 'x', signature: 'y' } })).json.error.code).toBe('E_VALIDATION');
    expect((await call('POST', '/release', { body: { ticket: 'sv1.a.b', challengeId: toBase64url(new Uint8Array(16)), signature: toBase64url(new Uint8Array(64)), more: 1 } })).status).toBe(400);
    expect(events.at(-1)).toMatchObject({ action: 'escrow.release', outcome: 'refused' });
  });
});

describe('escrow service: release', () => {
  it('releases E to the holder of a fresh ticket and the escrow-auth key, and audits it', async () => {
    const { register, unlock, events } = await setup();
    const u = await newUser('alice');
    await register(u);
    const res = await unlock(u);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ version: 1, share: toBase64url(u.share) });
    // The released E with P gives the account's KEK.
    await expect(deriveKek(u.passwordHalf, fromBase64url(res.json.share), 'alice')).resolves.toBeDefined();
    expect(events.at(-1)).toMatchObject({ actor: 'alice', action: 'escrow.release', target: 'account:alice', outcome: 'ok', details: expect.objectContaining({ version: 1 }) });
    expect(JSON.stringify(events)).not.toContain(toBase64url(u.share));
  });

  it('refuses a ticket without a signature, and the ticket is spent', async () => {
    const { register, ticket, challenge, call, expectRefused } = await setup();
    const u = await newUser('alice');
    await register(u);
    const t = await ticket(u);
    const ch = await challenge(t.token);
    expectRefused(await call('POST', '/release', { body: { ticket: t.token, challengeId: ch.json.challengeId } }), 401, 'E_SIGNATURE', 'alice');
    expectRefused(await challenge(t.token), 409, 'E_TICKET_SPENT', 'alice');
  });

  it('refuses a replayed ticket and a replayed challenge', async () => {
    const { register, ticket, challenge, sign, call, expectRefused } = await setup();
    const u = await newUser('alice');
    await register(u);
    const t = await ticket(u);
    const ch1 = await challenge(t.token);
    const ch2 = await challenge(t.token);
    const sig1 = await sign(u.auth.privateKey, ch1, u.id, t.jti);
    expect((await call('POST', '/release', { body: { ticket: t.token, challengeId: ch1.json.challengeId, signature: sig1 } })).status).toBe(200);
    // the same ticket again, with the same or another challenge
    expectRefused(await call('POST', '/release', { body: { ticket: t.token, challengeId: ch1.json.challengeId, signature: sig1 } }), 409, 'E_TICKET_SPENT');
    const sig2 = await sign(u.auth.privateKey, ch2, u.id, t.jti);
    expectRefused(await call('POST', '/release', { body: { ticket: t.token, challengeId: ch2.json.challengeId, signature: sig2 } }), 409, 'E_TICKET_SPENT');
    expectRefused(await challenge(t.token), 409, 'E_TICKET_SPENT');
    // a fresh ticket with the answered challenge
    const t2 = await ticket(u);
    expectRefused(await call('POST', '/release', { body: { ticket: t2.token, challengeId: ch1.json.challengeId, signature: sig1 } }), 409, 'E_CHALLENGE', 'alice');
    // a challenge made for one ticket, shown with another
    const t3 = await ticket(u);
    const ch3 = await challenge(t3.token);
    const t4 = await ticket(u);
    const sig3 = await sign(u.auth.privateKey, ch3, u.id, t4.jti);
    expectRefused(await call('POST', '/release', { body: { ticket: t4.token, challengeId: ch3.json.challengeId, signature: sig3 } }), 409, 'E_CHALLENGE');
    // an unknown challenge
    const t5 = await ticket(u);
    expectRefused(await call('POST', '/release', { body: { ticket: t5.token, challengeId: toBase64url(new Uint8Array(16)), signature: sig3 } }), 409, 'E_CHALLENGE');
  });

  it("refuses a ticket for another account than the challenge's", async () => {
    const { register, ticket, challenge, sign, call, expectRefused } = await setup();
    const alice = await newUser('alice');
    const bob = await newUser('bob');
    await register(alice);
    await register(bob);
    const ta = await ticket(alice);
    const ch = await challenge(ta.token);
    const tb = await ticket(bob);
    // bob's ticket, alice's challenge, signed by alice over bob's ticket id
    const sig = toBase64url(await signEscrowChallenge(alice.auth.privateKey, fromBase64url(ch.json.challenge), 'alice', tb.jti));
    expectRefused(await call('POST', '/release', { body: { ticket: tb.token, challengeId: ch.json.challengeId, signature: sig } }), 403, 'E_TICKET_ACCOUNT', 'bob');
    // bob's own key over bob's ticket does not open alice's challenge either
    const tb2 = await ticket(bob);
    const sigBob = await sign(bob.auth.privateKey, ch, 'bob', tb2.jti);
    const ch2 = await challenge((await ticket(alice)).token);
    expectRefused(await call('POST', '/release', { body: { ticket: tb2.token, challengeId: ch2.json.challengeId, signature: sigBob } }), 403, 'E_TICKET_ACCOUNT');
  });

  it('refuses tickets not signed by the directory, of another type, too long-lived or expired', async () => {
    const { register, ticket, challenge, call, sign, advance, expectRefused, seconds, events } = await setup();
    const u = await newUser('alice');
    await register(u);
    const rogue = (await crypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify'])) as CryptoKeyPair;
    const forged = await ticket(u, {}, rogue.privateKey);
    expectRefused(await challenge(forged.token), 401, 'E_TICKET_INVALID');
    // the refusal's actor is never taken from an unverified ticket
    expect(events.at(-1)!.actor).toBeUndefined();
    expect(events.at(-1)!.target).toBe('escrow');
    // a forged ticket is refused at release too, even with a real challenge
    const real = await ticket(u);
    const ch = await challenge(real.token);
    const sig = await sign(u.auth.privateKey, ch, u.id, forged.jti);
    expectRefused(await call('POST', '/release', { body: { ticket: forged.token, challengeId: ch.json.challengeId, signature: sig } }), 401, 'E_TICKET_INVALID');
    // a session token is not a ticket
    const session = await dir.session('alice', ['employee'], { iat: seconds(), exp: seconds() + 60 });
    expectRefused(await challenge(session), 401, 'E_TICKET_INVALID');
    // a ticket that lives longer than 60 s
    expectRefused(await challenge((await ticket(u, { exp: seconds() + 120 })).token), 401, 'E_TICKET_INVALID');
    // a ticket past its expiry
    const old = await ticket(u);
    advance(2 * 60_000);
    expectRefused(await challenge(old.token), 401, 'E_TICKET_EXPIRED');
    expectRefused(await call('POST', '/release', { body: { ticket: old.token, challengeId: ch.json.challengeId, signature: sig } }), 401, 'E_TICKET_EXPIRED');
  });

  it('refuses an expired challenge', async () => {
    const { register, ticket, challenge, sign, call, advance, expectRefused } = await setup();
    const u = await newUser('alice');
    await register(u);
    const t = await ticket(u);
    const ch = await challenge(t.token);
    expect(ch.json.expiresAt).toBeGreaterThan(Math.floor(Date.now() / 1000));
    advance(ESCROW_POLICY.challengeTtlMs + 1000);
    const sig = await sign(u.auth.privateKey, ch, u.id, t.jti);
    expectRefused(await call('POST', '/release', { body: { ticket: t.token, challengeId: ch.json.challengeId, signature: sig } }), 409, 'E_CHALLENGE_EXPIRED', 'alice');
  });

  it('refuses signatures by another key or over other bytes', async () => {
    const { register, ticket, challenge, sign, call, unlock, expectRefused } = await setup();
    const u = await newUser('alice');
    await register(u);
    const wrong = await deriveEscrowAuthKey(crypto.getRandomValues(new Uint8Array(32)));
    expectRefused(await unlock(u, { key: wrong.privateKey }), 403, 'E_SIGNATURE', 'alice');
    const t = await ticket(u);
    const ch = await challenge(t.token);
    const otherJti = await sign(u.auth.privateKey, ch, u.id, 'another-ticket');
    expectRefused(await call('POST', '/release', { body: { ticket: t.token, challengeId: ch.json.challengeId, signature: otherJti } }), 403, 'E_SIGNATURE');
    const t2 = await ticket(u);
    const ch2 = await challenge(t2.token);
    const zero = toBase64url(new Uint8Array(64));
    expectRefused(await call('POST', '/release', { body: { ticket: t2.token, challengeId: ch2.json.challengeId, signature: zero } }), 403, 'E_SIGNATURE');
    expect((await unlock(u)).status).toBe(200);
  });

  it('makes no release when the audit log cannot record it', async () => {
    const sink = memoryAuditSink();
    const failing: AuditSink & { events: AuditEvent[] } = {
      events: sink.events,
      async record(event) {
        if (event.action === 'escrow.release' && event.outcome === 'ok') throw new Error('audit log down');
        await sink.record(event);
      },
    };
    const { register, unlock } = await setup({ audit: failing });
    const u = await newUser('alice');
    await register(u);
    const res = await unlock(u);
    expect([res.status, res.json.error.code]).toEqual([503, 'E_AUDIT_UNAVAILABLE']);
    expect(JSON.stringify(res.json)).not.toContain(toBase64url(u.share));
  });

  it('takes back a registration the audit log cannot record', async () => {
    const failing: AuditSink & { events: AuditEvent[] } = {
      events: [],
      async record() {
        throw new Error('audit log down');
      },
    };
    const { register, call } = await setup({ audit: failing });
    const u = await newUser('alice');
    expect((await register(u)).status).toBe(503);
    expect((await call('GET', '/shares/status', { session: await dir.session('alice') })).json.version).toBeNull();
  });
});

describe('escrow service: lockout and rate limits', () => {
  it('locks an account after 5 bad signatures within 15 minutes, and unlocks it after 15 minutes', async () => {
    const { register, ticket, challenge, sign, call, unlock, advance, events, expectRefused } = await setup();
    const u = await newUser('alice');
    await register(u);
    const wrong = await deriveEscrowAuthKey(crypto.getRandomValues(new Uint8Array(32)));
    for (let i = 0; i < 4; i++) {
      expectRefused(await unlock(u, { key: wrong.privateKey }), 403, 'E_SIGNATURE');
      advance(31_000); // stays under the rate limit
    }
    // a good challenge obtained before the lock
    const tGood = await ticket(u);
    const chGood = await challenge(tGood.token);
    const fifth = await unlock(u, { key: wrong.privateKey });
    expect([fifth.status, fifth.json.error.code]).toEqual([403, 'E_SIGNATURE']);
    expect(events.find((e) => e.action === 'escrow.lockout')).toMatchObject({ actor: 'alice', outcome: 'ok', details: expect.objectContaining({ failures: 5 }) });

    advance(31_000);
    expectRefused(await challenge((await ticket(u)).token), 423, 'E_LOCKED', 'alice');
    // even the right key is refused while locked
    const sig = await sign(u.auth.privateKey, chGood, u.id, tGood.jti);
    expectRefused(await call('POST', '/release', { body: { ticket: tGood.token, challengeId: chGood.json.challengeId, signature: sig } }), 423, 'E_LOCKED');

    advance(ESCROW_POLICY.lockMs);
    const after = await unlock(u);
    expect(after.status).toBe(200);
    expect(after.json.share).toBe(toBase64url(u.share));
  });

  it('does not lock for failures spread over more than 15 minutes', async () => {
    const { register, unlock, advance } = await setup();
    const u = await newUser('alice');
    await register(u);
    const wrong = await deriveEscrowAuthKey(crypto.getRandomValues(new Uint8Array(32)));
    for (let i = 0; i < 4; i++) {
      expect((await unlock(u, { key: wrong.privateKey })).status).toBe(403);
      advance(31_000);
    }
    advance(ESCROW_POLICY.failureWindowMs);
    expect((await unlock(u, { key: wrong.privateKey })).json.error.code).toBe('E_SIGNATURE');
    expect((await unlock(u)).status).toBe(200);
  });

  it('limits challenge and release calls per account, auditing the first refusal of a window', async () => {
    const { register, ticket, challenge, advance, events } = await setup();
    const u = await newUser('alice');
    await register(u);
    for (let i = 0; i < ESCROW_POLICY.callsPerWindow; i++) {
      expect((await challenge((await ticket(u)).token, `198.51.100.${i}`)).status).toBe(200);
    }
    const before = events.length;
    const limited = await challenge((await ticket(u)).token, '203.0.113.7');
    expect([limited.status, limited.json.error.code]).toEqual([429, 'E_RATE_LIMITED']);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(events.at(-1)).toMatchObject({ actor: 'alice', action: 'escrow.challenge', outcome: 'refused', details: expect.objectContaining({ reason: 'E_RATE_LIMITED' }) });
    expect((await challenge((await ticket(u)).token, '203.0.113.8')).status).toBe(429);
    expect(events.length).toBe(before + 1); // not one entry per hammering call
    advance(ESCROW_POLICY.windowMs + 1);
    expect((await challenge((await ticket(u)).token)).status).toBe(200);
  });

  it('limits calls per client address across accounts', async () => {
    const { register, ticket, challenge, call, advance, events } = await setup();
    // Far more calls than one account may make: an office behind one address is not one person.
    expect(ESCROW_POLICY.callsPerAddressPerWindow).toBeGreaterThan(ESCROW_POLICY.callsPerWindow * 10);
    const office = Math.ceil(ESCROW_POLICY.callsPerAddressPerWindow / ESCROW_POLICY.callsPerWindow);
    const users = await Promise.all(Array.from({ length: office + 1 }, (_, i) => newUser(`a${i + 1}`)));
    for (const u of users) await register(u);
    for (let i = 0; i < ESCROW_POLICY.callsPerAddressPerWindow; i++) {
      expect((await challenge((await ticket(users[i % office]!)).token, '192.0.2.50')).status).toBe(200);
    }
    const limited = await challenge((await ticket(users[office]!)).token, '192.0.2.50');
    expect([limited.status, limited.json.error.code]).toEqual([429, 'E_RATE_LIMITED']);
    expect(events.at(-1)).toMatchObject({ action: 'escrow.challenge', outcome: 'refused', details: expect.objectContaining({ reason: 'E_RATE_LIMITED', client: '192.0.2.50' }) });
    const release = await call('POST', '/release', { body: { ticket: (await ticket(users[office]!)).token, challengeId: toBase64url(new Uint8Array(16)), signature: toBase64url(new Uint8Array(64)) }, ip: '192.0.2.50' });
    expect(release.status).toBe(429);
    expect((await challenge((await ticket(users[office]!)).token, '192.0.2.51')).status).toBe(200);
    advance(ESCROW_POLICY.windowMs + 1);
    expect((await challenge((await ticket(users[2]!)).token, '192.0.2.50')).status).toBe(200);
  });
});

describe('escrow service: password change', () => {
  it('registers a new version only with a proof by the current escrow-auth key', async () => {
    const { register, ticket, challenge, sign, unlock, call, events, advance, expectRefused } = await setup();
    const old = await newUser('alice');
    await register(old);
    const next = await newUser('alice'); // new P, new auth key, new E
    const session = await dir.session('alice');
    const proofWith = async (key: CryptoKey, account = 'alice') => {
      const t = await ticket(account);
      const ch = await challenge(t.token);
      return { ticket: t.token, challengeId: ch.json.challengeId, signature: await sign(key, ch, account, t.jti) };
    };
    expectRefused(await register(next, 2), 401, 'E_SIGNATURE', 'alice');
    // a proof made with the new key proves nothing
    expectRefused(await register(next, 2, { proof: await proofWith(next.auth.privateKey) }), 403, 'E_SIGNATURE', 'alice');
    // a proof for another account
    const bob = await newUser('bob');
    await register(bob);
    expectRefused(await register(next, 2, { proof: await proofWith(bob.auth.privateKey, 'bob') }), 403, 'E_TICKET_ACCOUNT', 'alice');
    expect((await call('GET', '/shares/status', { session })).json.version).toBe(1);
    // skipping a version
    expect((await register(next, 3, { proof: await proofWith(old.auth.privateKey) })).json.error.code).toBe('E_VERSION');

    const ok = await register(next, 2, { proof: await proofWith(old.auth.privateKey) });
    expect(ok.json).toEqual({ account: 'alice', version: 2 });
    expect(events.at(-1)).toMatchObject({ actor: 'alice', action: 'escrow.register', outcome: 'ok', details: expect.objectContaining({ version: 2, via: 'password' }) });
    expect((await register(next, 2)).status).toBe(200); // idempotent without a new proof
    expect((await register(old, 1)).status).toBe(200); // the old version is unchanged
    expect((await register(next, 1)).json.error.code).toBe('E_CONFLICT');

    // From now on only the new key releases, and it releases the new share.
    advance(ESCROW_POLICY.windowMs + 1);
    expectRefused(await unlock(old), 403, 'E_SIGNATURE');
    const released = await unlock(next);
    expect(released.json).toEqual({ version: 2, share: toBase64url(next.share) });

    // The proof may name its kind: "auth" is the same proof.
    const third = await newUser('alice');
    advance(ESCROW_POLICY.windowMs + 1);
    const explicit = await register(third, 3, { proof: { kind: 'auth', ...(await proofWith(next.auth.privateKey)) } });
    expect(explicit.json).toEqual({ account: 'alice', version: 3 });
    expect(events.at(-1)).toMatchObject({ action: 'escrow.register', outcome: 'ok', details: expect.objectContaining({ version: 3, via: 'password' }) });
    expect((await register(third, 4, { proof: { kind: 'other', ...(await proofWith(third.auth.privateKey)) } })).json.error.code).toBe('E_VALIDATION');
  });
});

// ---- recovery key ----------------------------------------------------------------------------

/** A recovery-auth key pair (the browser derives it from the recovery code; any Ed25519 key does here). */
async function recoveryKeyPair(): Promise<{ privateKey: CryptoKey; publicKey: Uint8Array }> {
  return deriveEscrowAuthKey(crypto.getRandomValues(new Uint8Array(32)));
}

type Env = Awaited<ReturnType<typeof setup>>;

/** A recovery proof as the browser makes it: ticket, challenge, recovery signature binding the new auth key and version. */
async function recoveryProof(
  env: Env,
  account: string,
  key: CryptoKey,
  newAuthKey: Uint8Array,
  version: number,
  o: { format?: 'recovery' | 'escrow-challenge'; ip?: string } = {},
) {
  const t = await env.ticket(account);
  const ch = await env.challenge(t.token, o.ip);
  expect(ch.status).toBe(200);
  const challenge = fromBase64url(ch.json.challenge);
  const signature =
    o.format === 'escrow-challenge'
      ? await signEscrowChallenge(key, challenge, account, t.jti)
      : await signRecoveryChallenge(key, challenge, account, t.jti, newAuthKey, version);
  return { kind: 'recovery' as const, ticket: t.token, challengeId: ch.json.challengeId, signature: toBase64url(signature) };
}

/** An escrow-auth proof (for PUT /recovery-key and password changes). */
async function authProof(env: Env, account: string, key: CryptoKey) {
  const t = await env.ticket(account);
  const ch = await env.challenge(t.token);
  return { ticket: t.token, challengeId: ch.json.challengeId, signature: await env.sign(key, ch, account, t.jti) };
}

describe('escrow service: recovery key', () => {
  it('registers a recovery key with version 1 and refuses to add or change it without a proof', async () => {
    const env = await setup();
    const { register, call, events } = env;
    const u = await newUser('alice');
    const rk = await recoveryKeyPair();
    const session = await dir.session('alice');
    const weak = Uint8Array.from({ length: 32 }, (_, i) => (i === 0 ? 1 : 0));
    expect((await register(u, 1, { recoveryKey: toBase64url(weak) })).json.error.code).toBe('E_KEY_WEAK');
    expect((await register(u, 1, { recoveryKey: toBase64url(u.auth.publicKey) })).json.error.code).toBe('E_KEY_WEAK');
    expect((await register(u, 1, { recoveryKey: toBase64url(rk.publicKey).slice(1) })).json.error.code).toBe('E_VALIDATION');

    expect((await register(u, 1, { recoveryKey: toBase64url(rk.publicKey) })).json).toEqual({ account: 'alice', version: 1 });
    expect(events.at(-1)).toMatchObject({ action: 'escrow.register', outcome: 'ok', details: expect.objectContaining({ version: 1, via: 'registration', recoveryKey: true }) });
    expect((await call('GET', '/shares/status', { session })).json.recoveryKey).toBe(toBase64url(rk.publicKey));
    // idempotent with or without naming it again; a different one is a conflict (a stolen session cannot swap it)
    expect((await register(u, 1, { recoveryKey: toBase64url(rk.publicKey) })).status).toBe(200);
    expect((await register(u)).status).toBe(200);
    const other = await recoveryKeyPair();
    expect((await register(u, 1, { recoveryKey: toBase64url(other.publicKey) })).json.error.code).toBe('E_CONFLICT');
    // nor add one to an account registered without it
    const b = await newUser('bob');
    await register(b);
    expect((await register(b, 1, { recoveryKey: toBase64url(other.publicKey) })).json.error.code).toBe('E_CONFLICT');
    expect((await call('GET', '/shares/status', { session: await dir.session('bob') })).json.recoveryKey).toBeNull();
    // only version 1 carries it
    const next = await newUser('alice');
    const v2 = await register(next, 2, { recoveryKey: toBase64url(other.publicKey), proof: await authProof(env, 'alice', u.auth.privateKey) });
    expect([v2.status, v2.json.error.code]).toEqual([400, 'E_VALIDATION']);
    expect((await call('GET', '/shares/status', { session })).json).toMatchObject({ version: 1, recoveryKey: toBase64url(rk.publicKey) });
  });

  it('sets and replaces the recovery key with PUT /recovery-key and a proof by the current escrow-auth key only', async () => {
    const env = await setup();
    const { register, call, events, expectRefused, advance } = env;
    const u = await newUser('alice');
    await register(u);
    const session = await dir.session('alice');
    const rk1 = await recoveryKeyPair();
    const rk2 = await recoveryKeyPair();
    const put = async (recoveryKey: Uint8Array, proof: unknown, s: string | undefined = session) =>
      call('PUT', '/recovery-key', { ...(s ? { session: s } : {}), body: { recoveryKey: toBase64url(recoveryKey), proof } });

    expect((await put(rk1.publicKey, await authProof(env, 'alice', u.auth.privateKey), '')).status).toBe(401);
    expectRefused(await put(rk1.publicKey, undefined), 400, 'E_VALIDATION', 'alice');
    // a recovery proof does not set the recovery key
    expectRefused(await put(rk1.publicKey, await recoveryProof(env, 'alice', rk1.privateKey, u.auth.publicKey, 1)), 400, 'E_VALIDATION', 'alice');
    // signed by another key: the new recovery key itself
    expectRefused(await put(rk1.publicKey, await authProof(env, 'alice', rk1.privateKey)), 403, 'E_SIGNATURE', 'alice');
    expectRefused(await put(u.auth.publicKey, await authProof(env, 'alice', u.auth.privateKey)), 400, 'E_KEY_WEAK', 'alice');
    advance(ESCROW_POLICY.windowMs + 1);
    // a proof for another account
    const b = await newUser('bob');
    await register(b);
    expectRefused(await put(rk1.publicKey, await authProof(env, 'bob', b.auth.privateKey)), 403, 'E_TICKET_ACCOUNT', 'alice');
    expect(events.filter((e) => e.action === 'escrow.recovery-key' && e.outcome === 'ok')).toEqual([]);
    expect((await call('GET', '/shares/status', { session })).json.recoveryKey).toBeNull();

    const set = await put(rk1.publicKey, await authProof(env, 'alice', u.auth.privateKey));
    expect(set.json).toEqual({ account: 'alice', version: 1, recoveryKey: toBase64url(rk1.publicKey) });
    expect(events.at(-1)).toMatchObject({ actor: 'alice', action: 'escrow.recovery-key', outcome: 'ok', details: expect.objectContaining({ version: 1, replaced: false }) });
    const replaced = await put(rk2.publicKey, await authProof(env, 'alice', u.auth.privateKey));
    expect(replaced.status).toBe(200);
    expect(events.at(-1)).toMatchObject({ action: 'escrow.recovery-key', outcome: 'ok', details: expect.objectContaining({ replaced: true }) });
    expect((await call('GET', '/shares/status', { session })).json.recoveryKey).toBe(toBase64url(rk2.publicKey));
    // the auth key of a later version must differ from the recovery key
    const same = { ...(await newUser('alice')), auth: { ...u.auth, publicKey: rk2.publicKey } };
    expect((await register(same, 2, { proof: await authProof(env, 'alice', u.auth.privateKey) })).json.error.code).toBe('E_KEY_WEAK');
  });

  it('registers a new version with the same E and a new escrow-auth key after a forgotten password', async () => {
    const env = await setup();
    const { register, call, events, expectRefused, unlock, advance } = env;
    const old = await newUser('alice');
    const rk = await recoveryKeyPair();
    await register(old, 1, { recoveryKey: toBase64url(rk.publicKey) });
    const session = await dir.session('alice');
    // a new password: new escrow-auth key, the same E (the recovery wrapping gave it back)
    const next = { ...(await newUser('alice')), share: old.share };
    const recover = async (proof: unknown, user = next, version = 2) => register(user, version, { proof });
    const lastVia = () => expect(events.at(-1)!.details).toMatchObject({ via: 'recovery' });

    // A recovery signature over the escrow-challenge bytes (no recovery domain) proves nothing.
    expectRefused(await recover(await recoveryProof(env, 'alice', rk.privateKey, next.auth.publicKey, 2, { format: 'escrow-challenge' })), 403, 'E_SIGNATURE', 'alice');
    lastVia();
    // The old escrow-auth key cannot pass as the recovery key.
    expectRefused(await recover(await recoveryProof(env, 'alice', old.auth.privateKey, next.auth.publicKey, 2)), 403, 'E_SIGNATURE', 'alice');
    advance(ESCROW_POLICY.windowMs + 1);
    // The signature binds the new auth key and the version.
    const someoneElse = await newUser('alice');
    expectRefused(await recover(await recoveryProof(env, 'alice', rk.privateKey, someoneElse.auth.publicKey, 2)), 403, 'E_SIGNATURE', 'alice');
    expectRefused(await recover(await recoveryProof(env, 'alice', rk.privateKey, next.auth.publicKey, 3)), 403, 'E_SIGNATURE', 'alice');
    // A recovery keeps E: a new share is refused even with a good recovery signature.
    const newShare = await newUser('alice');
    expectRefused(await recover(await recoveryProof(env, 'alice', rk.privateKey, newShare.auth.publicKey, 2), newShare), 409, 'E_SHARE_MISMATCH', 'alice');
    expect((await call('GET', '/shares/status', { session })).json.version).toBe(1);
    expect(events.filter((e) => e.action === 'escrow.register' && e.outcome === 'ok')).toHaveLength(1);

    advance(ESCROW_POLICY.windowMs + 1);
    const ok = await recover(await recoveryProof(env, 'alice', rk.privateKey, next.auth.publicKey, 2));
    expect(ok.json).toEqual({ account: 'alice', version: 2 });
    expect(events.at(-1)).toMatchObject({ actor: 'alice', action: 'escrow.register', outcome: 'ok', details: expect.objectContaining({ version: 2, via: 'recovery' }) });
    expect((await call('GET', '/shares/status', { session })).json).toEqual({
      account: 'alice',
      version: 2,
      authKey: toBase64url(next.auth.publicKey),
      recoveryKey: toBase64url(rk.publicKey),
    });
    // the new password's key releases the same E; the old one no longer does
    advance(ESCROW_POLICY.windowMs + 1);
    expect((await unlock(next)).json).toEqual({ version: 2, share: toBase64url(old.share) });
    expect((await unlock(old)).json.error.code).toBe('E_SIGNATURE');
  });

  it('never releases E with the recovery key, and refuses a recovery for an account without one', async () => {
    const env = await setup();
    const { register, ticket, challenge, sign, call, expectRefused } = env;
    const u = await newUser('alice');
    const rk = await recoveryKeyPair();
    await register(u, 1, { recoveryKey: toBase64url(rk.publicKey) });
    const t = await ticket(u);
    const ch = await challenge(t.token);
    expectRefused(await call('POST', '/release', { body: { ticket: t.token, challengeId: ch.json.challengeId, signature: await sign(rk.privateKey, ch, u.id, t.jti) } }), 403, 'E_SIGNATURE', 'alice');
    const t2 = await ticket(u);
    const ch2 = await challenge(t2.token);
    const recoverySig = toBase64url(await signRecoveryChallenge(rk.privateKey, fromBase64url(ch2.json.challenge), u.id, t2.jti, u.auth.publicKey, 1));
    expectRefused(await call('POST', '/release', { body: { kind: 'recovery', ticket: t2.token, challengeId: ch2.json.challengeId, signature: recoverySig } }), 400, 'E_VALIDATION');
    expectRefused(await call('POST', '/release', { body: { ticket: t2.token, challengeId: ch2.json.challengeId, signature: recoverySig } }), 403, 'E_SIGNATURE', 'alice');

    const b = await newUser('bob');
    await register(b);
    const next = { ...(await newUser('bob')), share: b.share };
    const res = await register(next, 2, { proof: await recoveryProof(env, 'bob', rk.privateKey, next.auth.publicKey, 2) });
    expectRefused(res, 409, 'E_NO_RECOVERY_KEY', 'bob');
  });

  it('locks the account after repeated bad recovery proofs and rate-limits them, as for releases', async () => {
    const env = await setup();
    const { register, ticket, challenge, events, expectRefused, unlock, advance } = env;
    const u = await newUser('alice');
    const rk = await recoveryKeyPair();
    await register(u, 1, { recoveryKey: toBase64url(rk.publicKey) });
    const next = { ...(await newUser('alice')), share: u.share };
    const wrong = await recoveryKeyPair();
    const badRecovery = async () => register(next, 2, { proof: await recoveryProof(env, 'alice', wrong.privateKey, next.auth.publicKey, 2) });
    for (let i = 0; i < ESCROW_POLICY.maxFailures - 1; i++) {
      expectRefused(await badRecovery(), 403, 'E_SIGNATURE');
      advance(31_000);
    }
    // bad recovery proofs and bad release signatures count together
    expectRefused(await unlock(u, { key: wrong.privateKey }), 403, 'E_SIGNATURE');
    expect(events.find((e) => e.action === 'escrow.lockout')).toMatchObject({ actor: 'alice', details: expect.objectContaining({ failures: ESCROW_POLICY.maxFailures }) });
    advance(31_000);
    expectRefused(await challenge((await ticket(u)).token), 423, 'E_LOCKED', 'alice');

    // Once unlocked, bad recovery proofs alone lock it again, and then even the right recovery key is refused.
    advance(ESCROW_POLICY.lockMs);
    for (let i = 0; i < ESCROW_POLICY.maxFailures - 1; i++) {
      advance(31_000);
      expect((await badRecovery()).json.error.code).toBe('E_SIGNATURE');
    }
    const pending = await recoveryProof(env, 'alice', rk.privateKey, next.auth.publicKey, 2); // obtained before the lock
    expect((await badRecovery()).json.error.code).toBe('E_SIGNATURE');
    expect(events.filter((e) => e.action === 'escrow.lockout')).toHaveLength(2);
    expectRefused(await register(next, 2, { proof: pending }), 423, 'E_LOCKED', 'alice');
    expect(events.at(-1)!.details).toMatchObject({ via: 'recovery' });

    // Rate limit: past the account's calls in a window, a recovery proof is refused with 429.
    advance(ESCROW_POLICY.lockMs + ESCROW_POLICY.windowMs);
    const ready = await recoveryProof(env, 'alice', rk.privateKey, next.auth.publicKey, 2);
    for (let i = 1; i < ESCROW_POLICY.callsPerWindow; i++) expect((await challenge((await ticket(u)).token, `198.51.100.${i}`)).status).toBe(200);
    const limited = await register(next, 2, { proof: ready });
    expect([limited.status, limited.json.error.code]).toEqual([429, 'E_RATE_LIMITED']);
    expect(events.at(-1)).toMatchObject({ action: 'escrow.register', outcome: 'refused', details: expect.objectContaining({ reason: 'E_RATE_LIMITED', via: 'recovery' }) });
    advance(ESCROW_POLICY.windowMs + 1);
    expect((await register(next, 2, { proof: await recoveryProof(env, 'alice', rk.privateKey, next.auth.publicKey, 2) })).status).toBe(200);
  });

  it('takes back a recovery key, or its change, that the audit log cannot record', async () => {
    const sink = memoryAuditSink();
    let failOn = '';
    const failing: AuditSink & { events: AuditEvent[] } = {
      events: sink.events,
      async record(event) {
        if (event.action === failOn && event.outcome === 'ok') throw new Error('audit log down');
        await sink.record(event);
      },
    };
    const env = await setup({ audit: failing });
    const { register, call } = env;
    const u = await newUser('alice');
    const rk1 = await recoveryKeyPair();
    const session = await dir.session('alice');
    failOn = 'escrow.register';
    expect((await register(u, 1, { recoveryKey: toBase64url(rk1.publicKey) })).status).toBe(503);
    expect((await call('GET', '/shares/status', { session })).json).toMatchObject({ version: null, recoveryKey: null });
    failOn = '';
    expect((await register(u, 1, { recoveryKey: toBase64url(rk1.publicKey) })).status).toBe(200);
    failOn = 'escrow.recovery-key';
    const rk2 = await recoveryKeyPair();
    const res = await call('PUT', '/recovery-key', { session, body: { recoveryKey: toBase64url(rk2.publicKey), proof: await authProof(env, 'alice', u.auth.privateKey) } });
    expect([res.status, res.json.error.code]).toEqual([503, 'E_AUDIT_UNAVAILABLE']);
    expect((await call('GET', '/shares/status', { session })).json.recoveryKey).toBe(toBase64url(rk1.publicKey));
  });
});

describe('escrow service: disabled accounts', () => {
  // Escrow never asks the directory about an account: it trusts the directory's tickets, and the
  // directory issues none to a disabled account. A ticket issued just before the account was
  // disabled works until it expires (at most 60 s, plus the 30 s clock skew tokens allow); after that, nothing.
  it('gives an account nothing once its last ticket has expired, whatever its session says', async () => {
    const env = await setup();
    const { register, ticket, challenge, sign, call, advance, expectRefused } = env;
    const u = await newUser('alice');
    const rk = await recoveryKeyPair();
    await register(u, 1, { recoveryKey: toBase64url(rk.publicKey) });
    const next = { ...(await newUser('alice')), share: u.share };
    const lookups = dir.lookups.length;
    // tickets issued before the directory disabled the account
    const early = await ticket(u);
    const earlyCh = await challenge(early.token);
    const forRecovery = await recoveryProof(env, 'alice', rk.privateKey, next.auth.publicKey, 2);
    const unused = await ticket(u);
    // ... the account is disabled now and gets no more tickets. Within 60 s, an earlier ticket still works:
    const within = await call('POST', '/release', { body: { ticket: early.token, challengeId: earlyCh.json.challengeId, signature: await sign(u.auth.privateKey, earlyCh, u.id, early.jti) } });
    expect(within.status).toBe(200);
    advance((ESCROW_POLICY.ticketMaxLifetimeSeconds + CLOCK_SKEW_SECONDS + 1) * 1000);
    // After that: no challenge, no release, no recovery, and the session alone never reveals E.
    expectRefused(await challenge(unused.token), 401, 'E_TICKET_EXPIRED');
    expectRefused(await call('POST', '/release', { body: { ticket: unused.token, challengeId: earlyCh.json.challengeId, signature: toBase64url(new Uint8Array(64)) } }), 401, 'E_TICKET_EXPIRED');
    expectRefused(await register(next, 2, { proof: forRecovery }), 401, 'E_TICKET_EXPIRED', 'alice');
    const status = await call('GET', '/shares/status', { session: await dir.session('alice') });
    expect(status.json.version).toBe(1);
    expect(JSON.stringify(status.json)).not.toContain(toBase64url(u.share));
    expect(dir.lookups.length).toBe(lookups); // escrow made no directory lookup of its own
  });
});
