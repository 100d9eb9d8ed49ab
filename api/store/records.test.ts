// checkWeights' hand-checked fast path must accept exactly what the WeightsInput schema accepts as is,
// and leave every doubtful input to the schema (which names the bad field).
import { describe, expect, it } from 'vitest';
import { WeightsInput } from '../../model/index.ts';
import { checkWeights } from './records.ts';
import { StoreError } from './store.ts';

describe('checkWeights', () => {
  it('accepts what the schema accepts, with absent tables as empty', () => {
    const w = { edges: { e1: { a: 0.25, b: 0.75 } }, subnets: { '192.0.2.0/24': { a: 1 }, '2001:db8::/48': { b: 0 } } };
    expect(checkWeights(w)).toEqual(WeightsInput.parse(w));
    expect(checkWeights({ subnets: { '198.51.100.0/24': { a: 1 } } })).toEqual({ edges: {}, subnets: { '198.51.100.0/24': { a: 1 } } });
  });

  it.each([
    ['a share above 1', { edges: { e1: { a: 1.5 } } }, 'edges.e1.a'],
    ['a NaN share', { subnets: { '192.0.2.0/24': { a: NaN } } }, 'subnets.192.0.2.0/24.a'],
    ['an infinite share', { edges: { e1: { a: Infinity } } }, 'edges.e1.a'],
    ['a string share', { edges: { e1: { a: '0.5' } } }, 'edges.e1.a'],
    ['host bits in a subnet', { subnets: { '192.0.2.1/24': { a: 1 } } }, 'subnets.192.0.2.1/24'],
    ['an array as a share map', { edges: { e1: [0.5] } }, 'edges.e1'],
    ['an unknown key', { edges: {}, extra: {} }, ''],
  ])('refuses %s, naming the field', (_, w, field) => {
    const err = (() => {
      try {
        checkWeights(w as never);
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).kind).toBe('invalid');
    expect((err as StoreError).field).toBe(field);
    expect(WeightsInput.safeParse(w).success).toBe(false);
  });
});
