/**
 * A ServiceContext for testing one service through app.request(): a temp data folder, a real
 * service key, an in-memory audit sink, a silent logger, and peers that the test supplies
 * (for example another service's app, or a directory key it controls).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { memoryAuditSink } from '../common/audit-sink';
import { createLogger, createMetrics } from '../common/observability';
import { createPeers, type FetchLike, type PeerConfig, type Peers } from '../common/peers';
import { loadOrCreateServiceKey } from '../common/service-key';
import type { ServiceName } from '../services/names';
import type { ServiceContext } from '../services/service';

export async function testServiceContext(
  name: ServiceName,
  options: { dataDir?: string; peers?: Peers; local?: () => FetchLike; peerConfig?: Partial<Record<ServiceName, PeerConfig>> } = {},
): Promise<ServiceContext & { audit: ReturnType<typeof memoryAuditSink> }> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), `sealvault-${name}-`));
  const silent = new Writable({ write: (_c, _e, cb) => cb() });
  return {
    name,
    version: 'test',
    dataDir,
    key: await loadOrCreateServiceKey(dataDir),
    peers: options.peers ?? createPeers({ config: options.peerConfig, ...(options.local ? { local: options.local } : {}) }),
    audit: memoryAuditSink(),
    log: createLogger({ level: 'silent', destination: silent }),
    metrics: createMetrics(),
  };
}
