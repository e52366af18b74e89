/**
 * The relay under test for bench/relay.ts, in its own process so that its memory can be read
 * from /proc/<pid>/status without the bench client's buffers in it. Started as
 * `node --import tsx bench/relay-server.ts` with BENCH_RELAY_DATA=<folder>; prints one JSON line
 * {pid, port, caCertPath} on stdout when listening on 127.0.0.1, then serves until SIGTERM.
 * Everything else (banner, warnings) goes to stderr.
 */
import { createLogger } from '../relay/common/observability';
import { startRelay } from '../relay/server';
import { benchVault, fakeAudit, fakeDirectory, fakeKeys } from './relay-fakes';

const dataDir = process.env.BENCH_RELAY_DATA;
if (!dataDir) {
  process.stderr.write('set BENCH_RELAY_DATA to the data folder\n');
  process.exit(2);
}

const relay = await startRelay({
  dataDir,
  port: 0,
  host: '127.0.0.1',
  httpPort: false,
  handleSignals: false,
  spaDir: '/nonexistent-bench-spa',
  logger: createLogger({ level: 'warn', destination: process.stderr }),
  log: (line) => process.stderr.write(`[relay] ${line}\n`),
  serviceFactories: { vault: benchVault, directory: fakeDirectory, keys: fakeKeys, audit: fakeAudit },
});
if (relay.tls.source !== 'local-ca') throw new Error('expected the local CA');
process.stdout.write(`${JSON.stringify({ pid: process.pid, port: relay.port, caCertPath: relay.tls.caCertPath })}\n`);

const stop = () => {
  void relay.close().then(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
