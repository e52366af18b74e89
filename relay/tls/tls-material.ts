import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureLocalCa, type LocalCaResult } from './local-ca';

export interface ConfiguredTls {
  certPath: string;
  keyPath: string;
}

/** Paths and facts only; the key bytes are read by whoever starts the TLS server. */
export type TlsMaterial =
  | { source: 'configured'; certPath: string; keyPath: string; fingerprint256: string; notes: string[] }
  | ({ source: 'local-ca' } & LocalCaResult);

/**
 * A configured certificate wins; the local CA exists only so a first start works without one.
 * Configured files are checked here so a wrong path or mismatched key fails at startup with
 * a plain message rather than on the first TLS handshake.
 */
export async function resolveTlsMaterial({
  dataDir,
  configured,
  now = new Date(),
}: {
  dataDir: string;
  configured?: ConfiguredTls | undefined;
  now?: Date;
}): Promise<TlsMaterial> {
  if (configured) {
    const cert = readOrExplain(configured.certPath, 'certificate');
    const key = readOrExplain(configured.keyPath, 'private key');
    let leaf: X509Certificate;
    try {
      leaf = new X509Certificate(cert);
    } catch {
      throw new Error(`TLS certificate ${configured.certPath} is not a PEM certificate`);
    }
    if (!leaf.checkPrivateKey(parsePrivateKey(key, configured.keyPath))) {
      throw new Error(`TLS key ${configured.keyPath} does not belong to certificate ${configured.certPath}`);
    }
    const notes = Date.parse(leaf.validTo) < now.getTime() ? [`The configured certificate expired on ${leaf.validTo}.`] : [];
    return { source: 'configured', certPath: configured.certPath, keyPath: configured.keyPath, fingerprint256: leaf.fingerprint256, notes };
  }
  return { source: 'local-ca', ...(await ensureLocalCa({ tlsDir: join(dataDir, 'tls'), now })) };
}

function readOrExplain(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    const reason = error instanceof Error && 'code' in error ? String(error.code) : 'unreadable';
    throw new Error(`cannot read TLS ${what} ${path} (${reason})`);
  }
}

function parsePrivateKey(pem: Buffer, path: string) {
  try {
    return createPrivateKey(pem);
  } catch {
    throw new Error(`TLS key ${path} is not an unencrypted PEM private key`);
  }
}
