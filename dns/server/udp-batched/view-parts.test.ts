// A view split into parts for a serving thread comes back whole, in order, whatever its size.
import { describe, expect, it } from 'vitest';
import { record, threeOrigins, view } from '../../testing/fixtures.ts';
import { partsOf, splitView, SUBNETS_PER_PART, ViewAssembly, type WholeView } from './view-parts.ts';
import { skeletonOf, splitCompactView } from '../engine.ts';
import { expandSubnets, toCompactView } from '../../../model/view-codec.ts';
import type { DnsView } from '../../../model/views.ts';

/** The view a thread's assembly gives back, with each record's table put back into its subnets. */
function expanded(whole: WholeView): DnsView {
  return { ...whole.view, zones: whole.view.zones.map((z, zi) => ({ ...z, records: z.records.map((r, ri) => ({ ...r, subnets: expandSubnets(whole.tables![zi]![ri]!, 'test') })) })) };
}

function viewWith(n: number, m: number) {
  const subnets = (count: number, base: number) => Object.fromEntries(Array.from({ length: count }, (_, i) => [`10.${base}.${i >> 8}.${i & 255}/32`, { 'eu-london': (i % 5) + 1, 'us-east': 1 }]));
  return view('example.com', [record('a.example.com', threeOrigins(), { subnets: subnets(n, 1) }), record('b.example.com', threeOrigins(), { subnets: subnets(m, 2) }), record('c.example.com', threeOrigins())], '9', 9);
}

describe('view parts', () => {
  it.each([
    [0, 0, 0],
    [10, 0, 1],
    [SUBNETS_PER_PART, 1, 2],
    [2 * SUBNETS_PER_PART + 5, 3 * SUBNETS_PER_PART, 6],
  ])('%i and %i subnets: %i subnet parts, reassembled to the same view (same subnet order), from either form', (n, m, parts) => {
    const v = viewWith(n, m);
    for (const split of [splitView(structuredClone(v)), partsOf(splitCompactView(toCompactView(structuredClone(v))))]) {
      expect(split.length).toBe(1 + parts);
      expect(split[0]).toMatchObject({ type: 'view', parts });
      const assembly = new ViewAssembly();
      const results = split.map((p) => assembly.add(structuredClone(p)));
      expect(results.slice(0, -1).every((r) => r === null)).toBe(true);
      const whole = results.at(-1)!;
      expect(whole.view).toEqual(skeletonOf(v));
      expect(expanded(whole)).toEqual(v);
      expect(whole.tables[0]![0]!.cidrs).toEqual(Object.keys(v.zones[0]!.records[0]!.subnets));
    }
  });

  it('clones each distinct weight map once: the reassembled view shares them', () => {
    const shared = { 'eu-london': 1 };
    const v = view('example.com', [record('a.example.com', threeOrigins(), { subnets: Object.fromEntries(Array.from({ length: SUBNETS_PER_PART + 3 }, (_, i) => [`10.1.${i >> 8}.${i & 255}/32`, shared])) })], '9', 9);
    const assembly = new ViewAssembly();
    const whole = expanded(splitView(v).map((p) => assembly.add(structuredClone(p))).at(-1)!);
    const maps = Object.values(whole.zones[0]!.records[0]!.subnets);
    expect(maps).toHaveLength(SUBNETS_PER_PART + 3);
    expect(new Set(maps).size).toBe(1);
    expect(maps[0]).toEqual(shared);
  });

  it('a new view replaces one still arriving', () => {
    const assembly = new ViewAssembly();
    const first = splitView(viewWith(SUBNETS_PER_PART + 1, 0));
    expect(assembly.add(first[0]!)).toBeNull();
    const second = viewWith(3, 0);
    const parts = splitView(second);
    expect(expanded(parts.map((p) => assembly.add(p)).at(-1)!)).toEqual(second);
  });
});
