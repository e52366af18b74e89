import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_HTTP_PORT, DEFAULT_HTTPS_PORT, startRelay, type StartRelayOptions } from './server';
import { SERVICE_NAMES, isServiceName, type ServiceName } from './services/names';
import { backup } from './ops/backup';
import { status } from './ops/status';
import { parseAuditBundle } from '../shared/audit/bundle';
import { describeFailure, verifyAuditLog } from '../shared/audit/verify';

export const USAGE = `Usage: sealvault start [--port N] [--http-port N] [--host ADDR] [--data DIR] [--service NAME]
       sealvault backup --to DIR [--data DIR] [--service NAME]
       sealvault status [--data DIR] [--url https://localhost:8443/]
       sealvault verify-audit BUNDLE.json   (exit 0: all verifies, 1: failures, 2: unreadable)

  --port N          HTTPS port (default $SEALVAULT_PORT or ${DEFAULT_HTTPS_PORT}; 0 picks a free port)
  --http-port N     plain-HTTP port that only redirects to HTTPS (default $SEALVAULT_HTTP_PORT or ${DEFAULT_HTTP_PORT}; 0 disables)
  --host ADDR       interface to bind (default $SEALVAULT_HOST or all interfaces)
  --data DIR        data folder (default $SEALVAULT_DATA or ./data)
  --service NAME    run one service alone, without the web client: ${SERVICE_NAMES.join(', ')}

  TLS: $SEALVAULT_TLS_CERT and $SEALVAULT_TLS_KEY (PEM paths, both or neither) replace the local CA.
  Peers (with --service): $SEALVAULT_PEER_<NAME>_URL (e.g. SEALVAULT_PEER_DIRECTORY_URL=https://dir.example:8443)
  and $SEALVAULT_PEER_<NAME>_KEY (its base64url Ed25519 service key, from GET /api/<name>/key; pin it).
  Trust a peer's private CA with NODE_EXTRA_CA_CERTS.
  The web client is served from $SEALVAULT_CLIENT_BUILD or client/build.`;

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export type Env = Readonly<Record<string, string | undefined>>;

/** Turns argv (after the script name) and the environment into relay options; throws UsageError. */
export function parseCli(argv: readonly string[], env: Env): StartRelayOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        port: { type: 'string' },
        'http-port': { type: 'string' },
        host: { type: 'string' },
        data: { type: 'string' },
        service: { type: 'string' },
      },
    });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1 || positionals[0] !== 'start') {
    throw new UsageError(positionals.length === 0 ? 'missing command' : `unknown command: ${positionals.join(' ')}`);
  }

  const port = parsePort(values.port ?? env.SEALVAULT_PORT, values.port ? '--port' : 'SEALVAULT_PORT') ?? DEFAULT_HTTPS_PORT;
  const httpPort = parsePort(values['http-port'] ?? env.SEALVAULT_HTTP_PORT, values['http-port'] ? '--http-port' : 'SEALVAULT_HTTP_PORT') ?? DEFAULT_HTTP_PORT;
  const service = values.service;
  if (service !== undefined && !isServiceName(service)) {
    throw new UsageError(`unknown service "${service}"; expected one of ${SERVICE_NAMES.join(', ')}`);
  }
  const certPath = nonEmpty(env.SEALVAULT_TLS_CERT);
  const keyPath = nonEmpty(env.SEALVAULT_TLS_KEY);
  if ((certPath === undefined) !== (keyPath === undefined)) {
    throw new UsageError('set both SEALVAULT_TLS_CERT and SEALVAULT_TLS_KEY, or neither');
  }
  const host = values.host ?? nonEmpty(env.SEALVAULT_HOST);
  const peers = Object.fromEntries(
    SERVICE_NAMES.flatMap((name) => {
      const url = nonEmpty(env[`SEALVAULT_PEER_${name.toUpperCase()}_URL`]);
      const publicKey = nonEmpty(env[`SEALVAULT_PEER_${name.toUpperCase()}_KEY`]);
      if (url === undefined && publicKey === undefined) return [];
      if (url !== undefined && !/^https:\/\//.test(url)) throw new UsageError(`SEALVAULT_PEER_${name.toUpperCase()}_URL must be an https:// URL`);
      return [[name, { ...(url ? { url } : {}), ...(publicKey ? { publicKey } : {}) }]];
    }),
  );
  const spaDir = nonEmpty(env.SEALVAULT_CLIENT_BUILD);

  return {
    dataDir: resolve(values.data ?? nonEmpty(env.SEALVAULT_DATA) ?? './data'),
    port,
    // 0 means "off" on the command line; startRelay reserves 0 for "pick a free port".
    httpPort: httpPort === 0 ? false : httpPort,
    ...(host === undefined ? {} : { host }),
    ...(service === undefined ? {} : { only: service }),
    ...(Object.keys(peers).length > 0 ? { peers } : {}),
    ...(spaDir === undefined ? {} : { spaDir: resolve(spaDir) }),
    ...(certPath && keyPath ? { tls: { certPath: resolve(certPath), keyPath: resolve(keyPath) } } : {}),
  };
}

function parsePort(value: string | undefined, source: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535) throw new UsageError(`${source} must be a port number 0-65535, got "${value}"`);
  return port;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

export interface OpsOptions {
  command: 'backup' | 'status';
  dataDir: string;
  to?: string;
  only?: ServiceName;
  url?: string;
}

/** Options of the operator commands `backup` and `status`; throws UsageError. */
export function parseOps(argv: readonly string[], env: Env): OpsOptions {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], allowPositionals: true, strict: true, options: { data: { type: 'string' }, to: { type: 'string' }, service: { type: 'string' }, url: { type: 'string' } } });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const [command, ...rest] = parsed.positionals;
  if ((command !== 'backup' && command !== 'status') || rest.length > 0) throw new UsageError(`unknown command: ${parsed.positionals.join(' ')}`);
  const { values } = parsed;
  if (command === 'backup' && !values.to) throw new UsageError('backup needs --to DIR');
  if (values.service !== undefined && !isServiceName(values.service)) throw new UsageError(`unknown service "${values.service}"`);
  return {
    command,
    dataDir: resolve(values.data ?? nonEmpty(env.SEALVAULT_DATA) ?? './data'),
    ...(values.to ? { to: resolve(values.to) } : {}),
    ...(values.service ? { only: values.service as ServiceName } : {}),
    ...(values.url ? { url: values.url } : {}),
  };
}

/**
 * `sealvault verify-audit <bundle.json>`: checks an exported audit bundle offline with the same
 * core as the auditor's console. One line per failure, then a summary; returns the exit status.
 */
export async function verifyAuditCommand(argv: readonly string[], out: (line: string) => void = console.log, err: (line: string) => void = console.error): Promise<number> {
  if (argv.length !== 1) {
    err('sealvault verify-audit: give exactly one bundle file (sealvault verify-audit BUNDLE.json)');
    return 2;
  }
  let bundle;
  try {
    bundle = parseAuditBundle(await readFile(argv[0]!, 'utf8'));
  } catch (e) {
    err(`sealvault verify-audit: cannot read ${argv[0]}: ${e instanceof Error ? e.message : String(e)}`);
    return 2;
  }
  let done = -1;
  const verdict = await verifyAuditLog(bundle.evidence, {
    onProgress: (n, total) => {
      // Progress on stderr, and only every 10%, so stdout stays one line per failure.
      const tenth = total === 0 ? 10 : Math.floor((n * 10) / total);
      if (tenth !== done && process.stderr.isTTY) process.stderr.write(`\rverifying entries: ${n}/${total}`);
      done = tenth;
    },
  });
  if (process.stderr.isTTY) process.stderr.write('\n');
  for (const f of verdict.failures) out(describeFailure(f));
  const what = `${verdict.entries} entries, ${verdict.checkpoints} checkpoints (${verdict.cosigned} cosigned), exported ${new Date(bundle.exportedAt).toISOString()} by ${bundle.exportedBy}`;
  const uncertified = verdict.uncertified > 0 ? `; ${verdict.uncertified} entries signed by accounts without a certificate, checked against their registered key` : '';
  out(verdict.ok ? `OK: ${what} verify${uncertified}` : `FAILED: ${verdict.failures.length} failure(s) in ${what}${uncertified}`);
  return verdict.ok ? 0 : 1;
}

export async function main(argv: readonly string[], env: Env): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(USAGE);
    return;
  }
  if (argv[0] === 'verify-audit') {
    process.exitCode = await verifyAuditCommand(argv.slice(1));
    return;
  }
  try {
    if (argv[0] === 'backup' || argv[0] === 'status') {
      const ops = parseOps(argv, env);
      const report = ops.command === 'backup' ? await backup({ dataDir: ops.dataDir, dest: ops.to!, ...(ops.only ? { only: ops.only } : {}), env }) : await status({ dataDir: ops.dataDir, ...(ops.url ? { url: ops.url } : {}), env });
      console.log(JSON.stringify(report, null, 2));
      return;
    }
    const options = parseCli(argv, env);
    await startRelay(options);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`sealvault: ${error.message}\n\n${USAGE}`);
    process.exit(2);
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2), process.env).catch((error: unknown) => {
    console.error(`sealvault: failed to start: ${error instanceof Error ? error.message : String(error)}`);
    if (error instanceof Error && error.cause instanceof Error) console.error(`  cause: ${error.cause.message}`);
    process.exit(1);
  });
}
