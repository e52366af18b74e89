import { describe, expect, it } from 'vitest';
import { VersionMemory } from '$shared/protocol/version-memory';
import { openVersions, sealVersions } from './version-store';

const key = () => crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);

describe('the rollback memory kept past a reload', () => {
  it('opens for its own account and key only, and a changed byte drops it', async () => {
    const k = await key();
    const entries: [string, number][] = [['space:sp-1/key', 3], ['c-1/fields', 7]];
    const sealed = await sealVersions(k, 'acc-1', entries);
    expect(await openVersions(k, 'acc-1', sealed)).toEqual(entries);
    expect(JSON.stringify(sealed)).not.toContain('sp-1');
    expect(await openVersions(k, 'acc-2', sealed)).toBeNull();
    expect(await openVersions(await key(), 'acc-1', sealed)).toBeNull();
    const ct = sealed.ct.startsWith('A') ? `B${sealed.ct.slice(1)}` : `A${sealed.ct.slice(1)}`;
    expect(await openVersions(k, 'acc-1', { ...sealed, ct })).toBeNull();
  });

  it('merges the kept versions without refusing, then refuses rollbacks below them and reports changes', () => {
    const memory = new VersionMemory([['c-1/fields', 9]]);
    memory.merge([['c-1/fields', 4], ['space:sp-1/key', 2]]);
    expect(new Map(memory.entries())).toEqual(new Map([['c-1/fields', 9], ['space:sp-1/key', 2]]));
    expect(() => memory.check('space:sp-1/key', 1)).toThrow(/E_ROLLBACK/);
    let changes = 0;
    memory.onChange = () => changes++;
    memory.check('space:sp-1/key', 2);
    expect(changes).toBe(0);
    memory.check('space:sp-1/key', 3);
    expect(changes).toBe(1);
  });
});
