import { X509Certificate, createHash, webcrypto } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer, type TLSSocket } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { LOCAL_CA_FILES, ensureLocalCa, issueServerCertificate, type LocalCa } from './local-ca';

const DAY = 86_400_000;
const dirs: string[] = [];
function freshTlsDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sealvault-tls-'));
  dirs.push(dir);
  return join(dir, 'tls');
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function cert(path: string): X509Certificate {
  return new X509Certificate(readFileSync(path));
}

async function loadCa(tlsDir: string): Promise<LocalCa> {
  const keyPem = readFileSync(join(tlsDir, LOCAL_CA_FILES.caKey), 'utf8');
  const der = Buffer.from(keyPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
  const signingKey = await webcrypto.subtle.importKey('pkcs8', der, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
  return { certPem: readFileSync(join(tlsDir, LOCAL_CA_FILES.caCert), 'utf8'), signingKey: signingKey as CryptoKey };
}

describe('ensureLocalCa on first start', () => {
  it('creates a P-256 CA and a localhost server certificate signed by it', async () => {
    const tlsDir = freshTlsDir();
    const result = await ensureLocalCa({ tlsDir });
    expect(result.created).toEqual({ ca: true, server: true });

    const ca = cert(result.caCertPath);
    expect(ca.ca).toBe(true);
    expect(ca.subject).toContain('CN=Sealvault local CA');
    expect(ca.checkIssued(ca)).toBe(true);
    expect(ca.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    const caYears = (Date.parse(ca.validTo) - Date.now()) / (365 * DAY);
    expect(caYears).toBeGreaterThan(9.9);
    expect(caYears).toBeLessThan(10.1);

    const server = cert(result.certPath);
    expect(server.ca).toBe(false);
    expect(server.checkIssued(ca)).toBe(true);
    expect(server.verify(ca.publicKey)).toBe(true);
    expect(server.checkHost('localhost')).toBe('localhost');
    expect(server.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(server.checkIP('::1')).toBe('::1');
    expect(server.checkHost('example.com')).toBeUndefined();
    expect(server.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
    const serverDays = (Date.parse(server.validTo) - Date.now()) / DAY;
    expect(serverDays).toBeGreaterThan(364);
    expect(serverDays).toBeLessThan(366);
    expect(result.serverNotAfter.getTime()).toBe(Date.parse(server.validTo));
  });

  it('reports the CA fingerprint the way openssl prints it', async () => {
    const result = await ensureLocalCa({ tlsDir: freshTlsDir() });
    const der = cert(result.caCertPath).raw;
    const expected = createHash('sha256').update(der).digest('hex').toUpperCase().match(/../g)!.join(':');
    expect(result.caFingerprint256).toBe(expected);
    expect(result.caFingerprint256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  });

  it('keeps private keys and the folder owner-only', async () => {
    const result = await ensureLocalCa({ tlsDir: freshTlsDir() });
    expect(statSync(result.tlsDir).mode & 0o777).toBe(0o700);
    expect(statSync(result.caKeyPath).mode & 0o777).toBe(0o600);
    expect(statSync(result.keyPath).mode & 0o777).toBe(0o600);
    expect(statSync(result.caCertPath).mode & 0o777).toBe(0o644);
    expect(readFileSync(result.keyPath, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
  });
});

describe('ensureLocalCa on later starts', () => {
  it('reuses every file while the certificate is good', async () => {
    const tlsDir = freshTlsDir();
    const first = await ensureLocalCa({ tlsDir });
    const before = Object.values(LOCAL_CA_FILES).map((f) => readFileSync(join(tlsDir, f), 'utf8'));
    const second = await ensureLocalCa({ tlsDir });
    expect(second.created).toEqual({ ca: false, server: false });
    expect(second.caFingerprint256).toBe(first.caFingerprint256);
    expect(second.notes).toEqual([]);
    expect(Object.values(LOCAL_CA_FILES).map((f) => readFileSync(join(tlsDir, f), 'utf8'))).toEqual(before);
  });

  it.each([
    ['within 30 days of expiry', 340],
    ['expired', 400],
  ])('renews a server certificate %s under the same CA', async (_label, ageDays) => {
    const tlsDir = freshTlsDir();
    const first = await ensureLocalCa({ tlsDir, now: new Date(Date.now() - ageDays * DAY) });
    const second = await ensureLocalCa({ tlsDir });
    expect(second.created).toEqual({ ca: false, server: true });
    expect(second.caFingerprint256).toBe(first.caFingerprint256);
    expect(second.notes.join('\n')).toMatch(/Renewed server\.pem/);
    expect(second.serverNotAfter.getTime()).toBeGreaterThan(Date.now() + 364 * DAY);
  });

  it('reissues a server certificate that another CA signed', async () => {
    const tlsDir = freshTlsDir();
    const other = await ensureLocalCa({ tlsDir: freshTlsDir() });
    const mine = await ensureLocalCa({ tlsDir });
    writeFileSync(mine.certPath, readFileSync(other.certPath));
    writeFileSync(mine.keyPath, readFileSync(other.keyPath));
    const again = await ensureLocalCa({ tlsDir });
    expect(again.created).toEqual({ ca: false, server: true });
    expect(cert(again.certPath).checkIssued(cert(again.caCertPath))).toBe(true);
  });

  it('keeps a CA whose key was removed until the server certificate needs renewal', async () => {
    const tlsDir = freshTlsDir();
    const first = await ensureLocalCa({ tlsDir, now: new Date(Date.now() - 340 * DAY) });
    unlinkSync(first.caKeyPath);
    // Still valid at the time of creation + 1 day: reused, with a warning.
    const early = await ensureLocalCa({ tlsDir, now: new Date(Date.now() - 339 * DAY) });
    expect(early.created).toEqual({ ca: false, server: false });
    expect(early.notes.join('\n')).toMatch(/ca-key\.pem is missing/);
    // Today it is inside the renewal window and cannot be renewed: a new CA, said loudly.
    const now = await ensureLocalCa({ tlsDir });
    expect(now.created).toEqual({ ca: true, server: true });
    expect(now.caFingerprint256).not.toBe(first.caFingerprint256);
    expect(now.notes.join('\n')).toMatch(/Replaced the local CA.*must trust the new ca\.pem/);
  });

  it('replaces an unreadable CA and says so', async () => {
    const tlsDir = freshTlsDir();
    const first = await ensureLocalCa({ tlsDir });
    writeFileSync(first.caCertPath, 'not a certificate');
    const again = await ensureLocalCa({ tlsDir });
    expect(again.created).toEqual({ ca: true, server: true });
    expect(again.notes.join('\n')).toMatch(/ca\.pem does not parse/);
  });
});

describe('name constraints on the local CA', () => {
  function handshake(serverKey: string, serverCert: string, caPem: string, servername: string): Promise<string> {
    return new Promise((resolve) => {
      const server = createServer({ key: serverKey, cert: serverCert }, (socket) => socket.end());
      server.listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        const socket: TLSSocket = connect({ host: '127.0.0.1', port, servername, ca: caPem }, () => {
          socket.end();
          server.close();
          resolve('accepted');
        });
        socket.on('error', (error) => {
          server.close();
          resolve(error.message);
        });
      });
    });
  }

  it('lets a client verify localhost but refuses any other name, even with the CA key', async () => {
    const tlsDir = freshTlsDir();
    const result = await ensureLocalCa({ tlsDir });
    const caPem = readFileSync(result.caCertPath, 'utf8');
    expect(await handshake(readFileSync(result.keyPath, 'utf8'), readFileSync(result.certPath, 'utf8'), caPem, 'localhost')).toBe('accepted');

    // Someone who stole ca-key.pem mints a certificate for a real site.
    const forged = await issueServerCertificate(await loadCa(tlsDir), { dnsNames: ['bank.example'], ipAddresses: ['192.0.2.1'] });
    // OpenSSL's X509_V_ERR_PERMITTED_VIOLATION; Node has no code name for it.
    expect(await handshake(forged.keyPem, forged.certPem, caPem, 'bank.example')).toBe('permitted subtree violation');
  });
});
