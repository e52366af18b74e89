/**
 * A running relay (in process, HTTPS with its local CA) with an enterprise set up through the
 * browser's own protocol code: the three administrators, the enterprise CA made by the security
 * administrator, and a helper that brings an employee from invitation to a certified account.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { derivePasswordHalf } from '../../shared/crypto/argon2';
import { registerAccount, type DeriveP, type RegisteredAccount } from '../../shared/protocol/account';
import { certifyAccount, establishEnterpriseCa, openEnterpriseCaKey } from '../../shared/protocol/certification';
import { fetchTransport, type RelayTransport } from '../../shared/protocol/relay-transport';
import type { FileTransport } from '../../shared/protocol/files';
import { AccountProfileSchema } from '../../shared/schemas/directory';
import { createLogger } from '../common/observability';
import { startRelay, type RunningRelay, type StartRelayOptions } from '../server';
import { caFetch } from './https-client';

export const deriveP: DeriveP = (password, salt, params) => derivePasswordHalf(password, salt, params);

export interface Enterprise {
  relay: RunningRelay;
  dataDir: string;
  /** moves storage blocks too, as the app's own transport does */
  transport: FileTransport;
  sys: RegisteredAccount;
  sec: RegisteredAccount;
  auditor: RegisteredAccount;
  caPem: string;
  /** the first security administrator's opened CA key */
  caKey: CryptoKey;
  name: string;
  /** invited by sys, approved and certified by sec; `spaceManager` adds that role through a request */
  employee(username: string, legalName: string, options?: { spaceManager?: boolean; roles?: string[]; certify?: boolean }): Promise<RegisteredAccount>;
  /** Stops the relay (in-flight requests finish, new ones are refused), waits `downMs`, starts it again on the same port and data. */
  restart(downMs: number): Promise<void>;
  close(): Promise<void>;
}

export const employeePassword = (username: string) => `${username} password for tests 9`;

/** What a caller may change about the relay (the built app to serve for end-to-end tests; a bench: a wrapped service, loopback only, logs on stderr). */
export type EnterpriseRelayOptions = Pick<StartRelayOptions, 'spaDir' | 'serviceFactories' | 'host' | 'logger'>;

export interface EnterpriseOptions {
  /** Sees every request the browser code makes from setup on (the audit coverage test records them); default: the transport as is. */
  wrapTransport?: (transport: FileTransport, dataDir: string) => FileTransport;
}

export async function startEnterprise(name = '示例科技 Example Tech', relayOptions: EnterpriseRelayOptions = {}, options: EnterpriseOptions = {}): Promise<Enterprise> {
  // Test accounts unlock far more often in a minute than people do.
  process.env.SEALVAULT_ESCROW_CALLS_PER_MINUTE = '1000';
  const dataDir = mkdtempSync(join(tmpdir(), 'sealvault-enterprise-'));
  const start = (port: number) =>
    startRelay({ dataDir, port, httpPort: false, handleSignals: false, log: () => {}, logger: createLogger({ level: 'warn' }), spaDir: join(dataDir, 'no-client'), ...relayOptions });
  let relay = await start(0);
  const fetcher = caFetch(readFileSync(join(dataDir, 'tls', 'ca.pem')));
  const plain = fetchTransport(relay.url.replace(/\/$/, ''), (url, init) => fetcher(url, init as never));
  const transport = options.wrapTransport ? options.wrapTransport(plain, dataDir) : plain;
  const call = (method: 'GET' | 'POST', path: string, body?: unknown, session?: string) => transport.request(method, path, body, session) as Promise<any>;

  const setupToken = readFileSync(join(dataDir, 'setup-link.txt'), 'utf8').trim().split('#')[1];
  const setup = await call('POST', '/api/directory/setup', {
    setupToken,
    enterprise: { name },
    administrators: [
      { role: 'system-admin', legalName: 'Sys Admin', employeeNumber: 'A001', contact: 'sys@example.test', username: 'sys' },
      { role: 'security-admin', legalName: 'Sec Admin', employeeNumber: 'A002', contact: 'sec@example.test', username: 'sec' },
      { role: 'auditor', legalName: 'Audi Tor', employeeNumber: 'A003', contact: 'audit@example.test', username: 'auditor' },
    ],
  });
  const invite = (role: string) => setup.invitations.find((i: { role: string }) => i.role === role).invitationCode as string;
  const sys = await registerAccount({ transport, invitationCode: invite('system-admin'), password: 'sys admin correct horse 1', deriveP });
  const sec = await registerAccount({ transport, invitationCode: invite('security-admin'), password: 'sec admin battery staple 2', deriveP });
  const auditor = await registerAccount({ transport, invitationCode: invite('auditor'), password: 'auditor tamper evident 3', deriveP });
  const { certificatePem: caPem } = await establishEnterpriseCa(transport, sec, name);
  const caKey = await openEnterpriseCaKey(transport, sec, caPem);
  let number = 1000;

  return {
    get relay() {
      return relay;
    },
    dataDir,
    transport,
    sys,
    sec,
    auditor,
    caPem,
    caKey,
    name,
    async employee(username, legalName, options = {}) {
      const invited = await call('POST', '/api/directory/accounts', { legalName, employeeNumber: `E${++number}`, contact: `${username}@example.test`, username }, sys.session);
      await call('POST', `/api/directory/accounts/${invited.account}/approve`, {}, sec.session);
      for (const role of [...(options.spaceManager ? ['space-manager'] : []), ...(options.roles ?? [])]) {
        const request = await call('POST', '/api/directory/role-requests', { account: invited.account, role, op: 'add' }, sys.session);
        await call('POST', `/api/directory/role-requests/${request.id}/approve`, {}, sec.session);
      }
      const account = await registerAccount({ transport, invitationCode: invited.invitationCode, password: employeePassword(username), deriveP });
      if (options.certify !== false) {
        const profile = AccountProfileSchema.parse(await call('GET', `/api/directory/accounts/${account.account}`, undefined, sec.session));
        await certifyAccount(transport, sec, { certificatePem: caPem, privateKey: caKey, enterpriseName: name }, profile);
      }
      return account;
    },
    async restart(downMs) {
      const port = relay.port;
      await relay.close();
      await new Promise((r) => setTimeout(r, downMs));
      relay = await start(port);
    },
    async close() {
      fetcher.close();
      await relay.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
