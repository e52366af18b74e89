import { describe, expect, it } from 'vitest';
import type { RememberedCheckpoint } from '$shared/protocol/audit-memory';
import { openSealedCheckpoint, sealCheckpoint } from './checkpoint-store';

const key = () => crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
const seen: RememberedCheckpoint = { origin: 'relay.example/audit', logVkey: 'relay.example/audit+01234567+AQID', size: 42, root: 'x'.repeat(43) + '=', seenAt: 1_700_000_000_000 };

describe('the checkpoint memory kept past a reload', () => {
  it('opens for its own account, slot and key only, and a changed byte drops it', async () => {
    const k = await key();
    const sealed = await sealCheckpoint(k, 'acc-1', 'seen', seen);
    expect(await openSealedCheckpoint(k, 'acc-1', 'seen', sealed)).toEqual(seen);
    expect(JSON.stringify(sealed)).not.toContain('relay.example');
    // The witness's memory is not the sign-in memory: a record moved between slots does not open.
    expect(await openSealedCheckpoint(k, 'acc-1', 'cosigned', sealed)).toBeNull();
    expect(await openSealedCheckpoint(k, 'acc-2', 'seen', sealed)).toBeNull();
    expect(await openSealedCheckpoint(await key(), 'acc-1', 'seen', sealed)).toBeNull();
    const ct = sealed.ct.startsWith('A') ? `B${sealed.ct.slice(1)}` : `A${sealed.ct.slice(1)}`;
    expect(await openSealedCheckpoint(k, 'acc-1', 'seen', { ...sealed, ct })).toBeNull();
  });

  it('drops a record that opens but is not in shape', async () => {
    const k = await key();
    const sealed = await sealCheckpoint(k, 'acc-1', 'seen', { ...seen, size: -1 });
    expect(await openSealedCheckpoint(k, 'acc-1', 'seen', sealed)).toBeNull();
  });
});
