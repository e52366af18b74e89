import { createDecipheriv } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { ContractFields } from '$shared/schemas/contract';
import { codeOf } from '$shared/test-support/outcome';
import { EncryptedIndexStore, INDEX_FORMAT_VERSION, openEntry, planRefresh, sealEntry, type IndexBackend, type IndexEntry, type StoredCheck, type StoredEntry } from './index-store';

/** The backend contract of IndexedDB, in a Map: what a test (or an attacker with the disk) can read and change. */
class MapBackend implements IndexBackend {
  readonly rows = new Map<string, StoredEntry>();
  check: StoredCheck | undefined;
  async entries(space: string) {
    return [...this.rows.values()].filter((e) => e.space === space).map((e) => ({ ...e }));
  }
  async put(entry: StoredEntry) {
    this.rows.set(entry.contract, { ...entry });
  }
  async delete(contract: string) {
    this.rows.delete(contract);
  }
  async getCheck() {
    return this.check;
  }
  async reset(check: StoredCheck) {
    this.rows.clear();
    this.check = check;
  }
}

const ACCOUNT = 'acct-1';
const SPACE = 'sp-1';
const rawKey = new Uint8Array(32).map((_, i) => i + 1);
const keyOf = (bytes: Uint8Array<ArrayBuffer>) => crypto.subtle.importKey('raw', bytes, 'AES-GCM', false, ['encrypt', 'decrypt']);

function fields(title: string, counterparty: string): ContractFields {
  return { title, counterparties: [counterparty], amount: { value: '125000.50', currency: 'CNY' }, dates: { signed: '2024-03-15', effective: null, expires: null }, status: 'signed', extra: { 项目: '华东' } };
}
const entryA: IndexEntry = { contract: 'c-a', space: SPACE, fieldsVersion: 1, fields: fields('Supply agreement MARKER-A', 'Acme Ltd') };
const entryB: IndexEntry = { contract: 'c-b', space: SPACE, fieldsVersion: 3, fields: fields('租赁合同 MARKER-B', '北京某某公司') };

async function filled() {
  const backend = new MapBackend();
  const key = await keyOf(rawKey);
  const store = await EncryptedIndexStore.open(backend, key, ACCOUNT);
  await store.put(entryA);
  await store.put(entryB);
  return { backend, key, store };
}

describe('the encrypted index store', () => {
  it('gives back what it stored, and stores no plaintext', async () => {
    const { backend, store } = await filled();
    const { entries, dropped } = await store.load(SPACE);
    expect(dropped).toEqual([]);
    expect(entries.get('c-a')).toEqual(entryA);
    expect(entries.get('c-b')).toEqual(entryB);
    const disk = [...backend.rows.values()].map((e) => `${Buffer.from(e.ct).toString('latin1')}${Buffer.from(e.ct).toString('utf8')}`).join('');
    for (const marker of ['MARKER', 'Acme', '租赁', '北京', '125000', '华东']) expect(disk).not.toContain(marker);
    expect((await store.load('sp-other')).entries.size).toBe(0);
  });

  it('is AES-256-GCM with the documented AAD, checked with node:crypto', async () => {
    const { backend } = await filled();
    const stored = backend.rows.get('c-a')!;
    expect(stored.v).toBe(INDEX_FORMAT_VERSION);
    expect(stored.nonce).toHaveLength(12);
    const aad = Buffer.concat([Buffer.from('sealvault/v1/local-index\0'), Buffer.from(`{"account":"${ACCOUNT}","contract":"c-a","kind":"entry","space":"${SPACE}","v":1}`)]);
    const d = createDecipheriv('aes-256-gcm', rawKey, stored.nonce);
    d.setAAD(aad);
    d.setAuthTag(stored.ct.subarray(stored.ct.length - 16));
    const plain = Buffer.concat([d.update(stored.ct.subarray(0, stored.ct.length - 16)), d.final()]).toString('utf8');
    expect(JSON.parse(plain)).toEqual({ fieldsVersion: 1, fields: entryA.fields });
  });

  it('uses a fresh nonce for every write', async () => {
    const key = await keyOf(rawKey);
    const one = await sealEntry(key, ACCOUNT, entryA);
    const two = await sealEntry(key, ACCOUNT, entryA);
    expect(Buffer.from(one.nonce).equals(Buffer.from(two.nonce))).toBe(false);
    expect(Buffer.from(one.ct).equals(Buffer.from(two.ct))).toBe(false);
  });

  it('refuses a tampered entry: it is dropped and deleted, never shown, and the contract is opened again', async () => {
    const { backend, store } = await filled();
    const stored = backend.rows.get('c-a')!;
    stored.ct[5]! ^= 1;
    const { entries, dropped } = await store.load(SPACE);
    expect(dropped).toEqual(['c-a']);
    expect(entries.has('c-a')).toBe(false);
    expect(entries.get('c-b')).toEqual(entryB);
    expect(backend.rows.has('c-a')).toBe(false);
    // rebuilt: the listing now asks for c-a to be opened, and its fresh entry loads
    const plan = planRefresh([{ contract: 'c-a', records: [{ kind: 'fields', versions: [1] }] }, { contract: 'c-b', records: [{ kind: 'fields', versions: [1, 2, 3] }] }], entries);
    expect(plan.open).toEqual(['c-a']);
    expect(plan.current).toEqual([entryB]);
    await store.put(entryA);
    expect((await store.load(SPACE)).entries.get('c-a')).toEqual(entryA);
  });

  it("refuses another contract's entry swapped into a contract's place", async () => {
    const { backend, store } = await filled();
    const b = backend.rows.get('c-b')!;
    backend.rows.set('c-a', { ...b, contract: 'c-a' });
    const { entries, dropped } = await store.load(SPACE);
    expect(dropped).toEqual(['c-a']);
    expect(entries.has('c-a')).toBe(false);
    expect(entries.get('c-b')).toEqual(entryB);
  });

  it('refuses an entry moved to another space, another account, or with a changed nonce, length or version', async () => {
    const cases: [string, (e: StoredEntry) => StoredEntry][] = [
      ['space', (e) => ({ ...e, space: 'sp-2' })],
      ['nonce', (e) => ({ ...e, nonce: e.nonce.map((x, i) => (i === 0 ? x ^ 1 : x)) })],
      ['short nonce', (e) => ({ ...e, nonce: e.nonce.subarray(0, 8) })],
      ['truncated', (e) => ({ ...e, ct: e.ct.subarray(0, e.ct.length - 1) })],
      ['only a tag', (e) => ({ ...e, ct: e.ct.subarray(0, 10) })],
      ['version', (e) => ({ ...e, v: 2 })],
      ['not bytes', (e) => ({ ...e, ct: 'abc' as unknown as Uint8Array })],
    ];
    for (const [name, change] of cases) {
      const { backend, store } = await filled();
      const moved = change(backend.rows.get('c-a')!);
      backend.rows.set('c-a', moved);
      const space = moved.space;
      const { entries, dropped } = await store.load(space);
      expect(dropped, name).toEqual(['c-a']);
      expect(entries.has('c-a'), name).toBe(false);
    }
  });

  it('opening one entry refuses with a code, never returns what it could not authenticate', async () => {
    const { backend, key } = await filled();
    const stored = backend.rows.get('c-a')!;
    expect((await openEntry(key, ACCOUNT, SPACE, stored)).fields.title).toContain('MARKER-A');
    // the same key bytes under another account: the AAD names the account
    expect(await codeOf(openEntry(key, 'acct-2', SPACE, stored))).toBe('E_AUTH');
    expect(await codeOf(openEntry(key, ACCOUNT, 'sp-2', stored))).toBe('E_CONTEXT');
    expect(await codeOf(openEntry(key, ACCOUNT, SPACE, { ...stored, contract: 'c-b' }))).toBe('E_AUTH');
    expect(await codeOf(openEntry(key, ACCOUNT, SPACE, { ...stored, v: 2 }))).toBe('E_FORMAT');
    expect(await codeOf(openEntry(await keyOf(new Uint8Array(32).fill(9)), ACCOUNT, SPACE, stored))).toBe('E_AUTH');
  });

  it('keeps the entries across sign-ins under the same key, and empties a store made under another key', async () => {
    const { backend, store } = await filled();
    void store;
    const again = await EncryptedIndexStore.open(backend, await keyOf(rawKey), ACCOUNT);
    expect((await again.load(SPACE)).entries.size).toBe(2);
    const otherKey = await keyOf(new Uint8Array(32).fill(9));
    const afterPasswordChange = await EncryptedIndexStore.open(backend, otherKey, ACCOUNT);
    expect(backend.rows.size).toBe(0);
    expect((await afterPasswordChange.load(SPACE)).entries.size).toBe(0);
    // and the old key no longer opens the new check: a second reset, not a mix of two keys
    await afterPasswordChange.put(entryA);
    await EncryptedIndexStore.open(backend, await keyOf(rawKey), ACCOUNT);
    expect(backend.rows.size).toBe(0);
  });
});

describe('planRefresh', () => {
  const indexed = new Map([
    ['c-a', entryA],
    ['c-b', entryB],
    ['c-gone', { ...entryA, contract: 'c-gone' }],
    ['c-old', { ...entryA, contract: 'c-old', fieldsVersion: 2 }],
  ]);
  it('shows current entries, opens new and changed contracts, flags rollbacks, names the gone', () => {
    const plan = planRefresh(
      [
        { contract: 'c-a', records: [{ kind: 'dek', versions: [4] }, { kind: 'fields', versions: [1] }] },
        { contract: 'c-b', records: [{ kind: 'fields', versions: [1, 2, 3, 4] }] },
        { contract: 'c-new', records: [{ kind: 'fields', versions: [1] }] },
        { contract: 'c-old', records: [{ kind: 'fields', versions: [1] }] },
      ],
      indexed,
    );
    expect(plan.current.map((e) => e.contract)).toEqual(['c-a']);
    expect(plan.open).toEqual(['c-b', 'c-new']);
    expect(plan.rolledBack).toEqual([{ contract: 'c-old', indexed: 2, listed: 1 }]);
    expect(plan.gone).toEqual(['c-gone']);
  });
  it('a listed contract without a fields record is opened if new (and fails there), a rollback if indexed', () => {
    const plan = planRefresh([{ contract: 'c-a', records: [] }, { contract: 'c-x', records: [] }], indexed);
    expect(plan.open).toEqual(['c-x']);
    expect(plan.rolledBack).toEqual([{ contract: 'c-a', indexed: 1, listed: null }]);
  });
});
