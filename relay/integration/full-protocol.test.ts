/**
 * The whole protocol from Node, against the real relay over HTTPS in a child process, with the
 * shared crypto core as the client: first-run setup, four-eyes account and role approval,
 * the enterprise CA certifying an employee, registration, OPAQUE login, escrow ticket and challenge, KEK, private-key unwrap, a space with a
 * signed grant, a 20 MiB file uploaded in blocks across a relay killed with SIGKILL halfway,
 * resumed, committed, downloaded and compared; one block store deleted and the file still
 * downloads; and finally no database file or block store holds the plaintext or any key bytes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { dangerouslyDeriveKekBytes, deriveEscrowAuthKey, deriveKek, randomEscrowShare } from '../../shared/crypto/account-keys';
import { DEFAULT_ARGON2_PARAMS, derivePasswordHalf } from '../../shared/crypto/argon2';
import { planBlocks, blockRange } from '../../shared/crypto/blocks';
import { createDecryptStream, encryptMessage, fileContext } from '../../shared/crypto/chunked';
import { fromBase64url, toBase64url, toHex } from '../../shared/crypto/encoding';
import { generateEnvelopeKeyPair, importEnvelopePublicKey, sealEnvelope } from '../../shared/crypto/envelopes';
import { buildManifest, createBlockVerifier, signManifest, verifyManifest } from '../../shared/crypto/manifest';
import { unwrapPrivateKey, wrapPrivateKey, type WrapContext } from '../../shared/crypto/private-keys';
import { generateSigningKeyPair, importSigningPublicKey, publicKeyId, signStatement } from '../../shared/crypto/statements';
import { signEscrowChallenge } from '../../shared/formats/escrow-challenge';
import { escrowTicket, httpTransport, login, newSalt, prelogin, register } from '../../shared/protocol/directory-client';
import { envelopeDigest, type EnvelopeWire } from '../../shared/schemas/keys';
import { createEnterpriseCa } from '../../shared/pki/enterprise-ca';
import { issueEmployeeCertificate } from '../../shared/pki/employee-certificate';
import { caFetch, type CaFetch } from './https-client';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MiB = 1024 * 1024;
const MARKER = 'SEALVAULT-E2E-PLAINTEXT-MARKER-7f3a9c';

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

interface RelayProcess {
  proc: ChildProcess;
  output: string[];
}

async function startRelayProcess(port: number, dataDir: string): Promise<RelayProcess> {
  // node --import tsx, not the tsx launcher: the launcher forks a second process that SIGKILL would miss.
  const proc = spawn(process.execPath, ['--import', 'tsx', 'relay/cli.ts', 'start', '--port', String(port), '--http-port', '0', '--data', dataDir], {
    cwd: ROOT,
    env: { ...process.env, SEALVAULT_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`relay did not start:\n${output.join('')}`)), 60_000);
    const onData = (d: Buffer) => {
      output.push(d.toString());
      if (output.join('').includes(`https://localhost:${port}/`)) {
        clearTimeout(timer);
        resolve();
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', (d: Buffer) => output.push(d.toString()));
    proc.on('exit', (code) => reject(new Error(`relay exited with ${code}:\n${output.join('')}`)));
  });
  return { proc, output };
}

async function waitForOutput(relay: RelayProcess, pattern: RegExp, ms = 10_000): Promise<RegExpExecArray | null> {
  const until = Date.now() + ms;
  for (;;) {
    const match = pattern.exec(relay.output.join(''));
    if (match || Date.now() > until) return match;
    await new Promise((r) => setTimeout(r, 50));
  }
}

function stop(relay: RelayProcess, signal: NodeJS.Signals): Promise<void> {
  return new Promise((resolve) => {
    if (relay.proc.exitCode !== null) return resolve();
    relay.proc.once('exit', () => resolve());
    relay.proc.kill(signal);
  });
}

class Api {
  constructor(
    readonly base: string,
    readonly fetch: CaFetch,
  ) {}

  /** The directory client's transport, over the same trusted connection. */
  directory() {
    return httpTransport('/api/directory', (url, init) => this.fetch(`${this.base}${url}`, init as never));
  }
  async call<T = any>(method: string, path: string, body?: unknown, session?: string): Promise<T> {
    const headers: Record<string, string> = {};
    if (session) headers.authorization = `Bearer ${session}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await this.fetch(`${this.base}${path}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    const json = await res.json().catch(() => null);
    if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${JSON.stringify(json)}`);
    return json as T;
  }
  async putBlock(path: string, bytes: Uint8Array, session: string): Promise<Response> {
    return this.fetch(`${this.base}${path}`, { method: 'PUT', headers: { authorization: `Bearer ${session}`, 'content-type': 'application/octet-stream' }, body: bytes });
  }
  async getBytes(path: string, session: string): Promise<Uint8Array> {
    const res = await this.fetch(`${this.base}${path}`, { headers: { authorization: `Bearer ${session}` } });
    if (!res.ok) throw new Error(`GET ${path}: HTTP ${res.status} ${await res.text()}`);
    return new Uint8Array(await res.arrayBuffer());
  }
}

/** Everything secret the test makes, to grep the relay's files for afterwards. */
const secrets: { name: string; bytes: Uint8Array }[] = [];
const remember = (name: string, bytes: Uint8Array) => secrets.push({ name, bytes: new Uint8Array(bytes) });
/** Escrow shares are meant to be at rest in escrow's database: the scan must find them there (a control). */
const escrowShares: Uint8Array[] = [];

interface Member {
  account: string;
  username: string;
  password: string;
  session: string;
}

async function registerMember(api: Api, invitationCode: string, password: string, label: string): Promise<Member> {
  const dir = api.directory();
  const salt = newSalt();
  const params = { ...DEFAULT_ARGON2_PARAMS };
  const p = await derivePasswordHalf(password, salt, params);
  const [envelope, signing] = await Promise.all([generateEnvelopeKeyPair(), generateSigningKeyPair()]);
  const envelopeSpki = new Uint8Array(await crypto.subtle.exportKey('spki', envelope.publicKey));
  const signingSpki = new Uint8Array(await crypto.subtle.exportKey('spki', signing.publicKey));
  const reg = await register(dir, { invitationCode, passwordHalf: p, salt, params, envelopeKey: envelopeSpki, signingKey: signingSpki });
  const e = randomEscrowShare();
  escrowShares.push(new Uint8Array(e));
  const auth = await deriveEscrowAuthKey(p);
  await api.call('POST', '/api/escrow/shares', { version: 1, share: toBase64url(e), authKey: toBase64url(auth.publicKey) }, reg.session);
  const kek = await deriveKek(p, e, reg.account);
  const kdf = { ...params, salt: toBase64url(salt) };
  const envCtx: WrapContext = { account: reg.account, purpose: 'envelope', keyId: await publicKeyId(envelope.publicKey), kdf };
  const sigCtx: WrapContext = { account: reg.account, purpose: 'signing', keyId: await publicKeyId(signing.publicKey), kdf };
  await api.call(
    'PUT',
    '/api/keys/private-keys/1',
    { envelopeKey: await wrapPrivateKey(kek, envelope.privateKey, envCtx), signingKey: await wrapPrivateKey(kek, signing.privateKey, sigCtx), kek: { ...kdf, escrowVersion: 1 } },
    reg.session,
  );
  remember(`${label} password`, new TextEncoder().encode(password));
  remember(`${label} password half`, p);
  remember(`${label} KEK`, await dangerouslyDeriveKekBytes(p, e, reg.account));
  remember(`${label} envelope private key`, new Uint8Array(await crypto.subtle.exportKey('pkcs8', envelope.privateKey)));
  remember(`${label} signing private key`, new Uint8Array(await crypto.subtle.exportKey('pkcs8', signing.privateKey)));
  return { account: reg.account, username: reg.username, password, session: reg.session };
}

/** Login and unlock: prelogin, Argon2id, OPAQUE, ticket, escrow challenge, KEK, private keys. */
async function unlock(api: Api, username: string, password: string) {
  const dir = api.directory();
  const pre = await prelogin(dir, username);
  const p = await derivePasswordHalf(password, pre.salt, pre.params);
  const session = await login(dir, username, p);
  const { ticket } = await escrowTicket(dir, session.session);
  const jti = JSON.parse(new TextDecoder().decode(fromBase64url(ticket.split('.')[1]!))).jti as string;
  const challenge = await api.call('POST', '/api/escrow/challenge', { ticket });
  const auth = await deriveEscrowAuthKey(p);
  const signature = await signEscrowChallenge(auth.privateKey, fromBase64url(challenge.challenge), session.account, jti);
  const released = await api.call('POST', '/api/escrow/release', { ticket, challengeId: challenge.challengeId, signature: toBase64url(signature) });
  const kek = await deriveKek(p, fromBase64url(released.share), session.account);
  const keys = await api.call('GET', '/api/keys/private-keys/latest', undefined, session.session);
  const pub = await api.call('GET', `/api/directory/accounts/${session.account}/public-keys`);
  const envelopePublic = await importEnvelopePublicKey(fromBase64url(pub.envelopeKey));
  const signingPublic = await importSigningPublicKey(fromBase64url(pub.signingKey));
  const kdf = { m: keys.kek.m, t: keys.kek.t, p: keys.kek.p, salt: keys.kek.salt };
  const envelopePrivate = await unwrapPrivateKey(kek, keys.envelopeKey, { account: session.account, purpose: 'envelope', keyId: await publicKeyId(envelopePublic), kdf }, envelopePublic);
  const signingPrivate = await unwrapPrivateKey(kek, keys.signingKey, { account: session.account, purpose: 'signing', keyId: await publicKeyId(signingPublic), kdf }, signingPublic);
  return { session: session.session, account: session.account, roles: session.roles, envelopePublic, envelopePrivate, signingPublic, signingPrivate };
}

function allFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...allFiles(p));
    else if (entry.isFile()) out.push(p);
  }
  return out;
}

const dataDir = mkdtempSync(join(tmpdir(), 'sealvault-protocol-'));
let relay: RelayProcess | undefined;
let fetcher: ReturnType<typeof caFetch> | undefined;
afterAll(async () => {
  if (relay) await stop(relay, 'SIGKILL');
  fetcher?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('the full protocol against the relay over HTTPS', () => {
  it('registers, unlocks, uploads across a crash, survives a lost store, and leaks nothing', async () => {
    const port = await freePort();
    relay = await startRelayProcess(port, dataDir);
    // The banner arrives in several writes: wait for its setup line, not just the URL.
    const setupToken = (await waitForOutput(relay, /setup#([A-Za-z0-9_-]{43})/))?.[1];
    expect(setupToken, 'the first start prints a one-time setup link').toBeDefined();
    fetcher = caFetch(readFileSync(join(dataDir, 'tls', 'ca.pem')));
    const base = `https://localhost:${port}`;
    const api = new Api(base, fetcher);

    // First run: the enterprise and its three administrators.
    const setup = await api.call('POST', '/api/directory/setup', {
      setupToken,
      enterprise: { name: '示例科技 Example Tech' },
      administrators: [
        { role: 'system-admin', legalName: 'Sys Admin', employeeNumber: 'A001', contact: 'sys@example.test' },
        { role: 'security-admin', legalName: 'Sec Admin', employeeNumber: 'A002', contact: 'sec@example.test' },
        { role: 'auditor', legalName: 'Audi Tor', employeeNumber: 'A003', contact: 'audit@example.test' },
      ],
    });
    const invite = (role: string) => setup.invitations.find((i: { role: string }) => i.role === role).invitationCode as string;
    const sys = await registerMember(api, invite('system-admin'), 'sys-admin correct horse 1', 'system admin');
    const sec = await registerMember(api, invite('security-admin'), 'sec-admin battery staple 2', 'security admin');

    // Four eyes: the system admin creates the employee and asks for the space-manager role; the security admin approves both.
    const created = await api.call('POST', '/api/directory/accounts', { legalName: '张三 Zhang San', employeeNumber: 'E1001', contact: 'zhang@example.test' }, sys.session);
    await api.call('POST', `/api/directory/accounts/${created.account}/approve`, {}, sec.session);
    const request = await api.call('POST', '/api/directory/role-requests', { account: created.account, role: 'space-manager', op: 'add' }, sys.session);
    await api.call('POST', `/api/directory/role-requests/${request.id}/approve`, {}, sec.session);
    const employee = await registerMember(api, created.invitationCode, 'employee password 合同 3', 'employee');
    // The security administrator's enterprise CA certifies the employee's key bundle.
    const ca = await createEnterpriseCa('示例科技 Example Tech');
    await api.call('PUT', '/api/directory/enterprise/ca', { certificate: ca.certificatePem }, sec.session);
    const employeeKeys = await api.call('GET', `/api/directory/accounts/${employee.account}/public-keys`);
    const certificate = await issueEmployeeCertificate(
      ca,
      { account: employee.account, legalName: '张三 Zhang San', employeeNumber: 'E1001', enterprise: '示例科技 Example Tech' },
      { signingKeySpki: fromBase64url(employeeKeys.signingKey), envelopeKeySpki: fromBase64url(employeeKeys.envelopeKey) },
    );
    await api.call('POST', `/api/directory/accounts/${employee.account}/certificate`, { certificate }, sec.session);

    // Login and unlock with both halves.
    const me = await unlock(api, employee.username, employee.password);
    expect(me.account).toBe(employee.account);
    expect(me.roles).toContain('space-manager');
    expect(me.signingPrivate.extractable).toBe(false);

    // A space with its key enveloped to the manager and a grant the manager signed.
    const spaceKey = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, true, ['encrypt', 'decrypt']);
    remember('space key', new Uint8Array(await crypto.subtle.exportKey('raw', spaceKey)));
    await api.call('POST', '/api/keys/spaces', { space: 'sp-1', name: 'Procurement' }, me.session);
    const envelope = await sealEnvelope(me.envelopePublic, spaceKey, { purpose: 'space-key', recipient: me.account, space: 'sp-1', keyVersion: 1 });
    const grantStatement = await signStatement(me.signingPrivate, {
      type: 'sealvault/v1/grant',
      space: 'sp-1',
      member: me.account,
      role: 'manager',
      keyVersion: 1,
      granter: me.account,
      envelopeDigest: await envelopeDigest(envelope as EnvelopeWire),
    });
    await api.call('POST', '/api/keys/grants', { space: 'sp-1', member: me.account, role: 'manager', keyVersion: 1, envelope, grantStatement }, me.session);
    await api.call('POST', '/api/vault/contracts', { contract: 'c-1', space: 'sp-1' }, me.session);

    // A 20 MiB file, encrypted in this "browser", in 1 MiB blocks.
    const plaintext = new Uint8Array(20 * MiB);
    for (let i = 0; i < plaintext.length; i += 65536) crypto.getRandomValues(plaintext.subarray(i, i + 65536));
    const marker = new TextEncoder().encode(MARKER);
    for (let at = 0; at + marker.length < plaintext.length; at += 3 * MiB + 17) plaintext.set(marker, at);
    const dekBytes = crypto.getRandomValues(new Uint8Array(32));
    remember('DEK', dekBytes);
    const dek = await crypto.subtle.importKey('raw', dekBytes, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    const context = fileContext('c-1', 'f-1');
    const ciphertext = await encryptMessage(dek, plaintext, { context });
    const plan = planBlocks(ciphertext.length, MiB);
    const blocks = Array.from({ length: plan.count }, (_, i) => {
      const { offset, length } = blockRange(plan, ciphertext.length, i);
      return ciphertext.subarray(offset, offset + length);
    });
    expect(blocks.length).toBe(21);
    const manifest = buildManifest({
      contract: 'c-1',
      version: 1,
      file: 'f-1',
      uploader: me.account,
      salt: ciphertext.subarray(0, 24),
      commitment: ciphertext.subarray(24, 56),
      plaintextLength: plaintext.length,
      blockSize: plan.blockSize,
      blockHashes: blocks.map((b) => new Uint8Array(createHash('sha256').update(b).digest())),
    });
    await api.call('POST', '/api/vault/contracts/c-1/files', { file: 'f-1', version: 1, manifest: await signManifest(me.signingPrivate, manifest) }, me.session);
    const blockPath = (i: number) => `/api/vault/files/f-1/versions/1/blocks/${i}`;
    for (let i = 0; i < 10; i++) expect([200, 201]).toContain((await api.putBlock(blockPath(i), blocks[i]!, me.session)).status);

    // Crash: SIGKILL while block 10 is on the wire, then start again on the same data.
    const inFlight = api.putBlock(blockPath(10), blocks[10]!, me.session).catch((e: unknown) => e);
    await stop(relay, 'SIGKILL');
    await inFlight;
    fetcher.close();
    relay = await startRelayProcess(port, dataDir);
    expect(await waitForOutput(relay, /NODE_EXTRA_CA_CERTS/)).not.toBeNull();
    expect(relay.output.join('')).not.toMatch(/setup#/);
    const fetcher2 = caFetch(readFileSync(join(dataDir, 'tls', 'ca.pem')));
    fetcher = fetcher2;
    const api2 = new Api(base, fetcher2);

    const status = await api2.call('GET', '/api/vault/files/f-1/versions/1/blocks', undefined, me.session);
    expect(status.present).toEqual(expect.arrayContaining([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
    expect(status.missing.length).toBeGreaterThanOrEqual(10);
    for (const i of status.missing as number[]) expect([200, 201]).toContain((await api2.putBlock(blockPath(i), blocks[i]!, me.session)).status);
    await api2.call('POST', '/api/vault/files/f-1/versions/1/commit', {}, me.session);

    const download = async () => {
      const signed = await api2.call('GET', '/api/vault/files/f-1/versions/1/manifest', undefined, me.session);
      const verified = await verifyManifest(me.signingPublic, signed.manifest ?? signed, { contract: 'c-1', version: 1, file: 'f-1' });
      const fetched: { index: number; bytes: Uint8Array }[] = [];
      for (let i = 0; i < verified.blocks.length; i++) fetched.push({ index: i, bytes: await api2.getBytes(blockPath(i), me.session) });
      const source = new ReadableStream({
        start(c) {
          for (const b of fetched) c.enqueue(b);
          c.close();
        },
      });
      const out = createHash('sha256');
      let length = 0;
      const reader = source.pipeThrough(createBlockVerifier(verified)).pipeThrough(createDecryptStream(dek, { context })).getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        out.update(value);
        length += value.length;
      }
      return { length, sha256: out.digest('hex') };
    };
    const expected = { length: plaintext.length, sha256: createHash('sha256').update(plaintext).digest('hex') };
    expect(await download()).toEqual(expected);

    // Lose one block store entirely: every block has a replica elsewhere.
    rmSync(join(dataDir, 'vault', 'stores', 'store-1'), { recursive: true, force: true });
    expect(await download()).toEqual(expected);

    // Nothing secret at rest: no database, WAL, key file or block holds the plaintext or key bytes.
    await stop(relay, 'SIGTERM');
    relay = undefined;
    const needles = [{ name: 'plaintext marker', bytes: marker }, ...secrets].flatMap(({ name, bytes }) => {
      const b = Buffer.from(bytes);
      return [
        { name: `${name} (raw)`, needle: b },
        { name: `${name} (hex)`, needle: Buffer.from(toHex(bytes)) },
        { name: `${name} (base64url)`, needle: Buffer.from(b.toString('base64url')) },
        { name: `${name} (base64)`, needle: Buffer.from(b.toString('base64')) },
      ].filter((n) => n.needle.length >= 12);
    });
    const files = allFiles(dataDir);
    expect(files.some((f) => f.endsWith('.sqlite'))).toBe(true);
    expect(files.filter((f) => f.includes(join('vault', 'stores'))).length).toBeGreaterThanOrEqual(21);
    const forms = (bytes: Uint8Array) => [Buffer.from(bytes), Buffer.from(toHex(bytes)), Buffer.from(Buffer.from(bytes).toString('base64url')), Buffer.from(Buffer.from(bytes).toString('base64'))];
    const leaks: string[] = [];
    const sharesFound = new Set<number>();
    for (const file of files) {
      if (statSync(file).size === 0) continue;
      const content = readFileSync(file);
      for (const { name, needle } of needles) if (content.includes(needle)) leaks.push(`${name} in ${file.slice(dataDir.length)}`);
      escrowShares.forEach((share, i) => {
        if (forms(share).some((f) => content.includes(f))) {
          expect(file.includes(join(dataDir, 'escrow'))).toBe(true);
          sharesFound.add(i);
        }
      });
    }
    expect(leaks).toEqual([]);
    // The control: the scan does see secrets that are at rest, in the one place they belong.
    expect(sharesFound.size).toBe(escrowShares.length);
  }, 600_000);
});
