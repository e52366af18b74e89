import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AppendBatcher } from './append-batcher';
import { AuditStore } from './store';

const input = (n: number) => ({ leaf: new TextEncoder().encode(`{"leaf":${n}}`), actor: 'service:vault', detailsJson: null, receivedAt: 1 });

describe('AppendBatcher (group commit)', () => {
  it('gives concurrent appends consecutive indexes in arrival order, in one batch, and answers a repeated leaf with its first index', async () => {
    const store = new AuditStore(mkdtempSync(join(tmpdir(), 'sealvault-batch-')));
    const batcher = new AppendBatcher(store);
    let transactions = 0;
    const appendMany = store.appendMany.bind(store);
    store.appendMany = (inputs) => {
      transactions += 1;
      return appendMany(inputs);
    };
    const results = await Promise.all([...Array.from({ length: 100 }, (_, i) => batcher.append(input(i))), batcher.append(input(7))]);
    expect(results.slice(0, 100).map((r) => r.index)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(results[100]).toMatchObject({ index: 7, duplicate: true });
    expect(transactions).toBe(1);
    expect(store.size()).toBe(100);
    expect(store.entries(0, 200).map((e) => e.idx)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    store.close();
  });

  it('rejects every append of a batch that cannot be written, and stores none of them', async () => {
    const store = new AuditStore(mkdtempSync(join(tmpdir(), 'sealvault-batch-')));
    const batcher = new AppendBatcher(store);
    await batcher.append(input(0));
    // The last append of the batch breaks the transaction (a leaf that is not bytes).
    const outcomes = await Promise.allSettled([batcher.append(input(1)), batcher.append(input(2)), batcher.append({ ...input(3), leaf: null as unknown as Uint8Array })]);
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(store.size()).toBe(1);
    expect((await batcher.append(input(1))).index).toBe(1);
    store.close();
  });
});
