/** The off-loop SHA-256 jobs, checked against node:crypto over awkward chunkings, with and without a worker. */
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { HashPool, SEGMENT, hashThreads } from './hasher';

const pools = [new HashPool(1), new HashPool(0), new HashPool(2)];
afterAll(async () => {
  for (const p of pools) await p.close();
});

function split(bytes: Uint8Array, sizes: number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let offset = 0;
  for (let i = 0; offset < bytes.length; i++) {
    const n = sizes[i % sizes.length]!;
    out.push(bytes.subarray(offset, offset + n));
    offset += n;
  }
  return out;
}

describe.each(pools.map((p, i) => [['one worker', 'inline', 'two workers'][i]!, p] as const))('HashPool (%s)', (_name, pool) => {
  it.each([0, 1, 1000, SEGMENT - 1, SEGMENT, SEGMENT + 1, 3 * SEGMENT + 17, 4 * 1024 * 1024])('hashes %i bytes like node:crypto', async (length) => {
    const bytes = randomBytes(length);
    const job = pool.job();
    for (const chunk of split(bytes, [16384, 1, 70000, 5])) await job.update(chunk);
    expect((await job.digest()).equals(createHash('sha256').update(bytes).digest())).toBe(true);
  });

  it('hands every byte to the sink, in order, in segments it may hold until it resolves', async () => {
    const bytes = randomBytes(2 * SEGMENT + 12345);
    const received: Buffer[] = [];
    let open = 0;
    let maxOpen = 0;
    const job = pool.job({
      window: 3,
      sink: async (segment) => {
        open++;
        maxOpen = Math.max(maxOpen, open);
        await new Promise((r) => setTimeout(r, 5));
        received.push(Buffer.from(segment));
        open--;
      },
    });
    for (const chunk of split(bytes, [16384])) await job.update(chunk);
    const digest = await job.digest();
    expect(Buffer.concat(received).equals(bytes)).toBe(true);
    expect(received.map((r) => r.length)).toEqual([SEGMENT, SEGMENT, 12345]);
    expect(maxOpen).toBeLessThanOrEqual(3);
    expect(digest.equals(createHash('sha256').update(bytes).digest())).toBe(true);
  });

  it('runs many jobs at once without mixing them up', async () => {
    const inputs = Array.from({ length: 6 }, (_, i) => randomBytes(SEGMENT * 2 + i * 1001));
    const digests = await Promise.all(
      inputs.map(async (bytes) => {
        const job = pool.job();
        for (const chunk of split(bytes, [65536, 333])) await job.update(chunk);
        return job.digest();
      }),
    );
    digests.forEach((d, i) => expect(d.equals(createHash('sha256').update(inputs[i]!).digest())).toBe(true));
  });

  it('reports a failing sink from digest, and refuses use after the end', async () => {
    const job = pool.job({ sink: () => Promise.reject(new Error('disk full')) });
    await job.update(randomBytes(SEGMENT + 1));
    await expect(job.digest()).rejects.toThrow('disk full');
    expect(() => job.update(new Uint8Array(1))).toThrow(/finished/);
    const aborted = pool.job();
    await aborted.update(randomBytes(SEGMENT * 2));
    aborted.abort();
    await expect(aborted.digest()).rejects.toThrow(/finished/);
  });
});

describe('hashThreads', () => {
  it('reads SEALVAULT_HASH_THREADS and refuses nonsense', () => {
    expect(hashThreads({ SEALVAULT_HASH_THREADS: '0' })).toBe(0);
    expect(hashThreads({ SEALVAULT_HASH_THREADS: '3' })).toBe(3);
    expect(hashThreads({})).toBeGreaterThanOrEqual(1);
    expect(() => hashThreads({ SEALVAULT_HASH_THREADS: 'many' })).toThrow(/whole number/);
    expect(() => new HashPool(-1)).toThrow();
  });
});
