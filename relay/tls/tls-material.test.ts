import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureLocalCa } from './local-ca';
import { resolveTlsMaterial } from './tls-material';

const root = mkdtempSync(join(tmpdir(), 'sealvault-tlsmat-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('resolveTlsMaterial', () => {
  it('uses a configured certificate and creates no local CA', async () => {
    const elsewhere = await ensureLocalCa({ tlsDir: join(root, 'operator-pki') });
    const dataDir = join(root, 'data-configured');
    const tls = await resolveTlsMaterial({ dataDir, configured: { certPath: elsewhere.certPath, keyPath: elsewhere.keyPath } });
    expect(tls.source).toBe('configured');
    expect(tls.certPath).toBe(elsewhere.certPath);
    expect(existsSync(join(dataDir, 'tls'))).toBe(false);
  });

  it('falls back to the local CA in <data>/tls', async () => {
    const dataDir = join(root, 'data-local');
    const tls = await resolveTlsMaterial({ dataDir });
    expect(tls.source).toBe('local-ca');
    expect(tls.certPath).toBe(join(dataDir, 'tls', 'server.pem'));
  });

  it('refuses a configured key that does not match the certificate', async () => {
    const a = await ensureLocalCa({ tlsDir: join(root, 'a') });
    const b = await ensureLocalCa({ tlsDir: join(root, 'b') });
    await expect(resolveTlsMaterial({ dataDir: root, configured: { certPath: a.certPath, keyPath: b.keyPath } })).rejects.toThrow(
      /does not belong to certificate/,
    );
  });

  it('names the missing file', async () => {
    await expect(resolveTlsMaterial({ dataDir: root, configured: { certPath: join(root, 'nope.pem'), keyPath: join(root, 'nope-key.pem') } })).rejects.toThrow(
      /cannot read TLS certificate .*nope\.pem \(ENOENT\)/,
    );
  });
});
