import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { UsageError, parseCli } from './cli';

describe('parseCli', () => {
  it('uses the defaults', () => {
    expect(parseCli(['start'], {})).toEqual({ dataDir: resolve('./data'), port: 8443, httpPort: 8080 });
  });

  it('reads the environment', () => {
    const env = {
      SEALVAULT_PORT: '9443',
      SEALVAULT_HTTP_PORT: '0',
      SEALVAULT_DATA: '/srv/sealvault',
      SEALVAULT_HOST: '127.0.0.1',
      SEALVAULT_TLS_CERT: '/etc/tls/cert.pem',
      SEALVAULT_TLS_KEY: '/etc/tls/key.pem',
      SEALVAULT_CLIENT_BUILD: '/opt/client',
    };
    expect(parseCli(['start'], env)).toEqual({
      dataDir: '/srv/sealvault',
      port: 9443,
      httpPort: false,
      host: '127.0.0.1',
      spaDir: '/opt/client',
      tls: { certPath: '/etc/tls/cert.pem', keyPath: '/etc/tls/key.pem' },
    });
  });

  it('lets flags win over the environment', () => {
    const options = parseCli(['start', '--port', '0', '--data', '/tmp/x', '--service', 'escrow', '--http-port', '8081'], { SEALVAULT_PORT: '9443' });
    expect(options).toMatchObject({ port: 0, dataDir: '/tmp/x', only: 'escrow', httpPort: 8081 });
  });

  it.each([
    [[], /missing command/],
    [['stop'], /unknown command: stop/],
    [['start', 'extra'], /unknown command/],
    [['start', '--verbose'], /Unknown option '--verbose'/],
    [['start', '--port'], /argument missing/],
    [['start', '--port', '70000'], /--port must be a port number/],
    [['start', '--port', '-1'], /argument is ambiguous/],
    [['start', '--port=-1'], /--port must be a port number/],
    [['start', '--port', '8e3'], /--port must be a port number/],
    [['start', '--service', 'billing'], /unknown service "billing"/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseCli(argv, {})).toThrow(UsageError);
    expect(() => parseCli(argv, {})).toThrow(message);
  });

  it('refuses a bad environment value by name', () => {
    expect(() => parseCli(['start'], { SEALVAULT_PORT: 'https' })).toThrow(/SEALVAULT_PORT must be a port number/);
    expect(() => parseCli(['start'], { SEALVAULT_TLS_CERT: '/a.pem' })).toThrow(/both SEALVAULT_TLS_CERT and SEALVAULT_TLS_KEY/);
  });
});

describe('sealvault command', () => {
  it('prints usage and exits 2 on an unknown flag', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'relay/cli.ts', 'start', '--bogus'], { encoding: 'utf8', cwd: fileURLToPath(new URL('..', import.meta.url)) });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('Usage: sealvault start');
    expect(run.stdout).toBe('');
  });
});

describe('peer configuration for a service run alone', () => {
  it('reads peer URLs and pinned keys from the environment', () => {
    const options = parseCli(['start', '--service', 'escrow'], {
      SEALVAULT_PEER_DIRECTORY_URL: 'https://dir.example:8443',
      SEALVAULT_PEER_DIRECTORY_KEY: 'AAAA',
      SEALVAULT_PEER_AUDIT_URL: 'https://audit.example',
    });
    expect(options.peers).toEqual({ directory: { url: 'https://dir.example:8443', publicKey: 'AAAA' }, audit: { url: 'https://audit.example' } });
  });
  it('refuses a plain-HTTP peer', () => {
    expect(() => parseCli(['start', '--service', 'escrow'], { SEALVAULT_PEER_DIRECTORY_URL: 'http://dir.example' })).toThrow(/https/);
  });
});
