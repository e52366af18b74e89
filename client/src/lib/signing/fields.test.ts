import { describe, expect, it } from 'vitest';
import { defaultFieldSize, placeField, planGaps, signersWithoutFields, type PlacedField } from './fields';

describe('signing fields', () => {
  it('makes a seal field square in points on an A4 page', () => {
    const aspect = 842 / 595;
    const { width, height } = defaultFieldSize('seal', aspect);
    expect(width * 595).toBeCloseTo(height * 842, 6);
  });

  it('centres a new field on the drop point and keeps it inside the page', () => {
    const f = placeField([], { kind: 'signature', signer: 'a', page: 1, aspect: 1.414, at: { x: 0.5, y: 0.5 } });
    expect(f).toMatchObject({ id: 'f1', signer: 'a', kind: 'signature', page: 1 });
    expect(f.x + f.width / 2).toBeCloseTo(0.5, 9);
    const corner = placeField([f], { kind: 'seal', signer: 'a', page: 0, aspect: 1.414, at: { x: 0.99, y: 0.01 } });
    expect(corner.id).toBe('f2');
    expect(corner.x + corner.width).toBeCloseTo(1, 9);
    expect(corner.y).toBe(0);
  });

  it('never reuses an id after a field was removed', () => {
    const a = placeField([], { kind: 'date', signer: 'a', page: 0, aspect: 1 });
    const b = placeField([a], { kind: 'date', signer: 'a', page: 0, aspect: 1 });
    const c = placeField([b], { kind: 'text', signer: 'b', page: 0, aspect: 1 });
    expect(new Set([b.id, c.id]).size).toBe(2);
  });

  it('names the signers that have no field yet', () => {
    const fields: PlacedField[] = [placeField([], { kind: 'signature', signer: 'a', page: 0, aspect: 1 })];
    expect(signersWithoutFields(['a', 'b'], fields)).toEqual(['b']);
  });

  it('asks for a signature or seal from every signer, and a seal for every seal field', () => {
    const date = placeField([], { kind: 'date', signer: 'a', page: 0, aspect: 1 });
    expect(planGaps([], [])).toEqual({ kind: 'no-signers' });
    expect(planGaps(['a'], [date])).toEqual({ kind: 'no-field', signer: 'a' });
    const seal = placeField([date], { kind: 'seal', signer: 'a', page: 0, aspect: 1 });
    expect(planGaps(['a'], [date, seal])).toEqual({ kind: 'no-seal', field: seal.id });
    expect(planGaps(['a'], [date, { ...seal, seal: 's1' }])).toBeNull();
  });
});
