/**
 * Runs last (files run in name order): after every other end-to-end test, no relay database
 * (with its write-ahead log) and no block store holds any of the tests' plaintext or key bytes:
 * contract titles, counterparties, file names and contents, passwords, the password half P, the
 * space names, the space keys and the contract keys (DESIGN.md section 10). The key bytes are taken out here, in
 * Node, by the people who may open them, with the browser's own protocol code.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { expect, test } from '@playwright/test';
import { derivePasswordHalf } from '../shared/crypto/argon2';
import { fromBase64url, toBase64url } from '../shared/crypto/encoding';
import { recordAad } from '../shared/crypto/records';
import { unlockAccount, type DeriveP } from '../shared/protocol/account';
import { fetchTransport } from '../shared/protocol/relay-transport';
import { openSpaceKey } from '../shared/protocol/spaces';
import { EnterpriseResponse } from '../shared/schemas/directory';
import { caFetch } from '../relay/integration/https-client';
import { E2E_MARKERS } from './support/markers';
import { patternBytes } from './support/people';

const deriveP: DeriveP = (password, salt, params) => derivePasswordHalf(password, salt, params);
// The passwords of accounts.spec.ts and contracts.spec.ts.
const PASSWORDS = ['Ledger lantern orchard 7 system', 'Quartz meadow signet 9 security', 'Harbor compass juniper 4 audit', ...['mgr', 'alice', 'bob', 'carol'].map((u) => `${u} contract pages password 5`)];

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    return e.isDirectory() ? filesUnder(path) : e.isFile() ? [path] : [];
  });
}

test('no relay database or block store holds any test plaintext or key bytes', async () => {
  test.setTimeout(120_000);
  const dataDir = process.env.SEALVAULT_E2E_DATA ?? '';
  const baseURL = String(test.info().project.use.baseURL);
  const fetcher = caFetch(readFileSync(join(dataDir, 'tls', 'ca.pem')));
  const transport = fetchTransport(baseURL, (url, init) => fetcher(url, init as never));
  const call = (path: string, session: string) => transport.request('GET', path, undefined, session) as Promise<any>;

  const needles = new Map<string, Buffer>();
  const text = (label: string, value: string) => needles.set(label, Buffer.from(value, 'utf8'));
  const bytes = (label: string, value: Uint8Array) => {
    needles.set(label, Buffer.from(value));
    needles.set(`${label} (base64url)`, Buffer.from(toBase64url(value), 'utf8'));
    needles.set(`${label} (base64)`, Buffer.from(Buffer.from(value).toString('base64'), 'utf8'));
    needles.set(`${label} (hex)`, Buffer.from(Buffer.from(value).toString('hex'), 'utf8'));
  };
  for (const t of ['Supply agreement', '供货合同', 'Acme Ltd', '北京某某公司', E2E_MARKERS.counterparty, E2E_MARKERS.fileText, '125000.50', 'Sales 销售', '销售', 'Legal 法务']) text(t, t);
  for (const name of ['supply-agreement.pdf', 'annex.bin', 'price-schedule.csv', 'notes.txt', 'Delivery notes: FOB Shanghai']) text(name, name);
  for (const [i, p] of PASSWORDS.entries()) text(`password ${i}`, p);
  // 64 bytes from the middle of the annex and of the PDF's padding (contracts.spec.ts).
  bytes('annex content', patternBytes(9 * 1024 * 1024 + 123, 0xa11e).subarray(5_000_000, 5_000_064));
  bytes('PDF content', patternBytes(30 * 1024 * 1024, 0xf11e).subarray(20_000_000, 20_000_064));

  // The manager's P, the space keys of every version, and every contract's DEK.
  let p: Uint8Array | null = null;
  const mgr = await unlockAccount({ transport, username: 'mgr', password: 'mgr contract pages password 5', deriveP }, (m) => (p = m.passwordHalf));
  bytes('P of mgr', p!);
  const caPem = EnterpriseResponse.parse(await transport.request('GET', '/api/directory/enterprise')).caCertificate!;
  const { spaces } = await call('/api/keys/spaces', mgr.session);
  let deks = 0;
  for (const s of spaces as { space: string; keyVersion: number }[]) {
    const sk = new Map<number, CryptoKey>();
    for (let v = 1; v <= s.keyVersion; v++) {
      const key = await openSpaceKey(transport, mgr, caPem, s.space, { keyVersion: v, extractable: true });
      sk.set(v, key.key);
      bytes(`space key ${s.space} v${v}`, new Uint8Array(await crypto.subtle.exportKey('raw', key.key)));
    }
    const list = await call(`/api/vault/contracts?space=${s.space}`, mgr.session);
    for (const c of list.contracts as { contract: string }[]) {
      const { record } = await call(`/api/vault/contracts/${c.contract}/records/dek/latest`, mgr.session);
      const dek = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: fromBase64url(record.nonce), additionalData: recordAad(record) }, sk.get(record.version)!, fromBase64url(record.ct));
      bytes(`DEK of ${c.contract}`, new Uint8Array(dek));
      deks++;
    }
  }
  // The contracts test made two spaces (one key rotation) and its contract: the scan has keys to look for.
  expect(spaces.length).toBeGreaterThanOrEqual(2);
  expect(deks).toBeGreaterThanOrEqual(1);
  fetcher.close();

  const scanned = filesUnder(dataDir).filter((f) => !relative(dataDir, f).startsWith('tls'));
  const found: string[] = [];
  let total = 0;
  for (const file of scanned) {
    const content = readFileSync(file);
    total += statSync(file).size;
    for (const [label, needle] of needles) if (content.includes(needle)) found.push(`${label} in ${relative(dataDir, file)}`);
  }
  expect(scanned.filter((f) => /\.sqlite$/.test(f))).toHaveLength(5);
  // The block stores hold at least the 30 MiB PDF and the annex, stored twice (striping).
  expect(total).toBeGreaterThan(2 * 39 * 1024 * 1024);
  expect(found).toEqual([]);
});
