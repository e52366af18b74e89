import { describe, expect, it } from 'vitest';
import type { StoredEntry } from '$shared/protocol/audit-inspect';
import { emptyFilters, isFiltered, matches } from './filters';

const at = new Date(2026, 0, 15, 10, 30).getTime();
function stored(action: string, target: string, actor = 'acct-1'): StoredEntry {
  return {
    index: 0,
    leaf: 'AA',
    entry: { type: 'sealvault/v1/audit-entry', time: at, actor, action, target, outcome: 'ok', details: 'x'.repeat(43), signer: { kind: 'account', account: actor, keyId: 'k'.repeat(22) } },
    signature: null,
    detailsJson: null,
    leafHash: 'x'.repeat(43),
    receivedAt: at,
  };
}

describe('the console filters', () => {
  it('the history of a contract is its own target and everything under it, not a contract whose id merely starts the same', () => {
    const f = { ...emptyFilters(), history: 'contract:c-1' };
    expect(matches(stored('contract.create', 'contract:c-1'), f, [])).toBe(true);
    expect(matches(stored('file.upload', 'contract:c-1/file:f-9'), f, [])).toBe(true);
    expect(matches(stored('contract.create', 'contract:c-10'), f, [])).toBe(false);
  });

  it('action by its beginning, target by substring or exactly, actor and role', () => {
    const e = stored('escrow.release', 'account:acct-7');
    expect(matches(e, { ...emptyFilters(), action: 'escrow.' }, [])).toBe(true);
    expect(matches(e, { ...emptyFilters(), action: 'release' }, [])).toBe(false);
    expect(matches(e, { ...emptyFilters(), target: 'acct-7' }, [])).toBe(true);
    expect(matches(e, { ...emptyFilters(), target: 'acct-7', targetExact: true }, [])).toBe(false);
    expect(matches(e, { ...emptyFilters(), target: 'account:acct-7', targetExact: true }, [])).toBe(true);
    expect(matches(e, { ...emptyFilters(), actor: 'ACCT-1' }, [])).toBe(true);
    expect(matches(e, { ...emptyFilters(), role: 'auditor' }, ['employee'])).toBe(false);
    expect(matches(e, { ...emptyFilters(), role: 'employee' }, ['employee'])).toBe(true);
  });

  it('time range: from inclusive, to inclusive of its whole minute', () => {
    const e = stored('a.b', 't');
    expect(matches(e, { ...emptyFilters(), from: '2026-01-15T10:30' }, [])).toBe(true);
    expect(matches(e, { ...emptyFilters(), from: '2026-01-15T10:31' }, [])).toBe(false);
    expect(matches(e, { ...emptyFilters(), to: '2026-01-15T10:30' }, [])).toBe(true);
    expect(matches(e, { ...emptyFilters(), to: '2026-01-15T10:29' }, [])).toBe(false);
  });

  it('a leaf that is not an entry shows only unfiltered, and "exactly" alone is no filter', () => {
    const bad = { ...stored('a.b', 't'), entry: null };
    expect(matches(bad, emptyFilters(), [])).toBe(true);
    expect(matches(bad, { ...emptyFilters(), action: 'a' }, [])).toBe(false);
    expect(isFiltered({ ...emptyFilters(), targetExact: true })).toBe(false);
  });
});
