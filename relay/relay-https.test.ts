// The relay for real: HTTPS on an ephemeral port, the generated CA as the only trust anchor.
import { Hono } from 'hono';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type DetailedPeerCertificate, type TLSSocket } from 'node:tls';
import { afterAll, describe, expect, it } from 'vitest';
import { startRelay, type RunningRelay, type StartRelayOptions } from './server';
import { FIXTURE_INDEX_HTML, writeSpaFixture } from './test-support/spa-fixture';
import { integrityOf, withIntegrity } from './http/subresource-integrity';

const root = mkdtempSync(join(tmpdir(), 'sealvault-relay-'));
const dataDir = join(root, 'data');
const spa = writeSpaFixture();
// What the relay serves: the build's page plus the import map of module digests.
const servedIndexHtml = withIntegrity(FIXTURE_INDEX_HTML, integrityOf(spa.buildDir));
const running: RunningRelay[] = [];
afterAll(async () => {
  await Promise.all(running.map((r) => r.close()));
  rmSync(root, { recursive: true, force: true });
  rmSync(spa.root, { recursive: true, force: true });
});

async function start(overrides: Partial<StartRelayOptions> = {}): Promise<{ relay: RunningRelay; output: string[] }> {
  const output: string[] = [];
  const relay = await startRelay({
    dataDir,
    port: 0,
    httpPort: 0,
    host: '127.0.0.1',
    spaDir: spa.buildDir,
    handleSignals: false,
    log: (line) => output.push(line),
    ...overrides,
  });
  running.push(relay);
  return { relay, output };
}

interface Fetched {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  peer: DetailedPeerCertificate;
  protocol: string | null;
  authorized: boolean;
}

function fetchHttps(port: number, path: string, ca: Buffer | undefined): Promise<Fetched> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: '127.0.0.1', port, path, servername: 'localhost', headers: { Host: `localhost:${port}` }, agent: false, ...(ca ? { ca } : {}) },
      (res) => {
        const socket = res.socket as TLSSocket;
        const peer = socket.getPeerCertificate(true);
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
            peer,
            protocol: socket.getProtocol(),
            authorized: socket.authorized,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

function fetchHttp(port: number, path: string, method = 'GET', body?: string) {
  return new Promise<{ status: number; headers: IncomingHttpHeaders; body: string }>((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method, headers: { Host: `localhost:${port}` }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function tlsHandshake(port: number, ca: Buffer, version: 'TLSv1.1' | 'TLSv1.2'): Promise<string> {
  return new Promise((resolve) => {
    // SECLEVEL=0 so that our own client is willing to offer TLS 1.1: the refusal must come from the server.
    const socket = connect(
      { host: '127.0.0.1', port, servername: 'localhost', ca, minVersion: version, maxVersion: version, ciphers: 'DEFAULT@SECLEVEL=0' },
      () => {
        resolve(`connected ${socket.getProtocol()}`);
        socket.end();
      },
    );
    socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

describe('relay over HTTPS with the local CA', () => {
  let first: { relay: RunningRelay; output: string[] };
  let ca: Buffer;
  let fingerprint: string;

  it('starts on an ephemeral port and prints URL, CA path and fingerprint', async () => {
    first = await start();
    const { relay, output } = first;
    expect(relay.port).toBeGreaterThan(0);
    expect(relay.httpPort).toBeGreaterThan(0);
    expect(relay.url).toBe(`https://localhost:${relay.port}/`);
    if (relay.tls.source !== 'local-ca') throw new Error('expected the local CA');
    expect(relay.tls.created).toEqual({ ca: true, server: true });
    expect(relay.tls.caCertPath).toBe(join(dataDir, 'tls', 'ca.pem'));
    ca = readFileSync(relay.tls.caCertPath);
    fingerprint = relay.tls.caFingerprint256;
    const printed = output.join('\n');
    expect(printed).toContain(`https://localhost:${relay.port}/`);
    expect(printed).toContain(relay.tls.caCertPath);
    expect(printed).toContain(fingerprint);
    expect(printed).toMatch(/trust/i);
    expect(printed).not.toMatch(/placeholder/);
    expect(printed).toMatch(/FIRST RUN: open https:\/\/localhost:\d+\/setup#[A-Za-z0-9_-]{43} /);
    // The same link in a file only the relay's user can read, for operators without the console.
    const linkFile = join(dataDir, 'setup-link.txt');
    const link = readFileSync(linkFile, 'utf8').trim();
    expect(printed).toContain(`FIRST RUN: open ${link} `);
    expect(statSync(linkFile).mode & 0o777).toBe(0o600);
  });

  it('serves the SPA and the API to a client that trusts only the local CA', async () => {
    const page = await fetchHttps(first.relay.port, '/contracts/1', ca);
    expect(page.authorized).toBe(true);
    expect(page.status).toBe(200);
    expect(page.body).toBe(servedIndexHtml);
    expect(page.headers['strict-transport-security']).toBe('max-age=63072000; includeSubDomains');
    expect(page.headers['content-security-policy']).toMatch(/script-src 'self' 'wasm-unsafe-eval' 'sha256-[A-Za-z0-9+/]+=*' 'sha256-[A-Za-z0-9+/]+=*';/);

    const health = await fetchHttps(first.relay.port, '/api/health', ca);
    expect(JSON.parse(health.body)).toMatchObject({ ok: true, services: ['directory', 'keys', 'escrow', 'vault', 'audit'] });
  });

  it('presents a localhost certificate issued by the local CA, over TLS 1.3', async () => {
    const { peer, protocol } = await fetchHttps(first.relay.port, '/api/health', ca);
    expect(protocol).toBe('TLSv1.3');
    expect(peer.subject.CN).toBe('localhost');
    expect(peer.issuer.CN).toBe('Sealvault local CA');
    expect((peer.subjectaltname ?? '').split(', ')).toEqual(expect.arrayContaining(['DNS:localhost', 'IP Address:127.0.0.1']));
    expect(peer.issuerCertificate.fingerprint256).toBe(fingerprint);
    expect(peer.issuerCertificate.subject.CN).toBe('Sealvault local CA');
  });

  it('is refused by a client that does not trust the local CA', async () => {
    await expect(fetchHttps(first.relay.port, '/', undefined)).rejects.toMatchObject({ code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
  });

  it('refuses TLS 1.1 and accepts TLS 1.2', async () => {
    expect(await tlsHandshake(first.relay.port, ca, 'TLSv1.1')).toBe('ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION');
    expect(await tlsHandshake(first.relay.port, ca, 'TLSv1.2')).toBe('connected TLSv1.2');
  });

  it('answers plain HTTP only with a 308 to the same path and query, without content', async () => {
    const { port, httpPort } = first.relay;
    const get = await fetchHttp(httpPort!, '/contracts/7?tab=seals&q=a%20b');
    expect(get.status).toBe(308);
    expect(get.headers.location).toBe(`https://localhost:${port}/contracts/7?tab=seals&q=a%20b`);
    expect(get.headers['content-length']).toBe('0');
    expect(get.body).toBe('');

    for (const path of ['/', '/api/health', '/index.html', '/_app/immutable/entry/start.test.js']) {
      const response = await fetchHttp(httpPort!, path);
      expect(response.status).toBe(308);
      expect(response.body).toBe('');
      expect(response.headers.location).toBe(`https://localhost:${port}${path}`);
    }
    const post = await fetchHttp(httpPort!, '/api/vault/records', 'POST', '{"secret":true}');
    expect(post.status).toBe(308);
    expect(post.body).toBe('');
  });

  it('reuses the same CA after a restart', async () => {
    await first.relay.close();
    const { relay } = await start();
    if (relay.tls.source !== 'local-ca') throw new Error('expected the local CA');
    expect(relay.tls.created).toEqual({ ca: false, server: false });
    expect(relay.tls.caFingerprint256).toBe(fingerprint);
    const health = await fetchHttps(relay.port, '/api/health', ca);
    expect(health.status).toBe(200);
    expect(health.peer.issuerCertificate.fingerprint256).toBe(fingerprint);
    await relay.close();
  });
});

describe('startRelay options', () => {
  it('runs one service alone, without the SPA or an HTTP listener', async () => {
    const { relay, output } = await start({ only: 'escrow', httpPort: false });
    const ca = readFileSync(join(dataDir, 'tls', 'ca.pem'));
    expect(relay.httpPort).toBeNull();
    expect(relay.services).toEqual(['escrow']);
    expect(JSON.parse((await fetchHttps(relay.port, '/api/health', ca)).body).services).toEqual(['escrow']);
    expect((await fetchHttps(relay.port, '/api/escrow/health', ca)).status).toBe(200);
    expect((await fetchHttps(relay.port, '/api/vault/health', ca)).status).toBe(404);
    const page = await fetchHttps(relay.port, '/', ca);
    expect(page.status).toBe(404);
    expect(JSON.parse(page.body).error.code).toBe('E_NOT_FOUND');
    expect(output.join('\n')).toMatch(/services: escrow$/m);
    expect(output.join('\n')).not.toMatch(/placeholders/);
    await relay.close();
  });

  it('fails clearly when the HTTP redirect port is taken', async () => {
    const { relay } = await start();
    await expect(start({ httpPort: relay.httpPort! })).rejects.toThrow(/cannot open the HTTP redirect port .*SEALVAULT_HTTP_PORT=0/);
    await relay.close();
  });

  it('hands each service its own data folder and closes it on shutdown', async () => {
    const closed: string[] = [];
    const { relay } = await start({
      only: 'audit',
      httpPort: false,
      serviceFactories: {
        audit: (context) => ({
          name: context.name,
          app: new Hono().get('/health', (c) => c.json({ real: true })),
          close: () => void closed.push(context.dataDir),
        }),
      },
    });
    const ca = readFileSync(join(dataDir, 'tls', 'ca.pem'));
    expect(JSON.parse((await fetchHttps(relay.port, '/api/audit/health', ca)).body)).toEqual({ real: true });
    await relay.close();
    expect(closed).toEqual([join(dataDir, 'audit')]);
    expect(statSync(join(dataDir, 'audit')).mode & 0o777).toBe(0o700);
    await expect(fetchHttps(relay.port, '/api/health', ca)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});
