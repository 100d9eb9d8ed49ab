// The packed view (what the process that follows the API holds) against the object path it replaced:
// the same full view and the same random deltas (re-weights, additions, removals, subnets removed and
// set again, texts that are no CIDR, enough removals to compact the tables) must render the compact
// view the object path renders (model/view-codec.ts applyChanges then toCompactView), subnet for
// subnet, in the same order and with the maps numbered alike; a malformed table is refused naming it.
import { describe, expect, it, vi } from 'vitest';
import { seededRandom } from '../../lib/prng.ts';
import { applyChanges, checkChanges, diffViews, encodeDiff, toCompactView, ViewDecodeError } from '../../model/view-codec.ts';
import type { DnsView, WeightMap } from '../../model/views.ts';
import { runToEnd } from '../../lib/steps.ts';
import { record, threeOrigins, view } from '../testing/fixtures.ts';
import { applyPackedChanges, compactViewOf, expandPackedView, packCompactView, packedViewJsonSteps, packView, withTables } from './packed-view.ts';
import { PackedSubnets } from './packed-subnets.ts';

const rand = seededRandom(7);
const [a, b, c] = threeOrigins().map((o) => o.id);
/** A few distinct maps, each made afresh per use (equal maps from different deltas are different objects). */
const mapOf = (k: number): WeightMap => [{ [a!]: 1 }, { [a!]: 0.5, [b!]: 0.5 }, { [b!]: 0.2, [c!]: 0.8 }, { [c!]: 1 }, { [a!]: 0.1, [b!]: 0.1, [c!]: 0.8 }][k % 5]!;
const pool = Array.from({ length: 20_000 }, (_, i) => (i % 997 === 0 ? `not-a-cidr-${i}-ü` : i % 1201 === 0 ? `x${'y'.repeat(300)}${i}` : i % 3 ? `10.${i >> 8}.${i & 255}.0/24` : `2001:db8:${i.toString(16)}::/48`));

function table(n: number): Record<string, WeightMap> {
  const out: Record<string, WeightMap> = {};
  for (let i = 0; i < n; i++) out[pool[i]!] = mapOf(Math.floor(rand() * 5));
  return out;
}

/** The next table: `reweight` of the entries get another map, `remove` go, `add` come (some of them ones removed before). */
function next(prev: Record<string, WeightMap>, reweight: number, remove: number, add: number): Record<string, WeightMap> {
  const out = { ...prev };
  const keys = Object.keys(out);
  for (let i = 0; i < reweight; i++) out[keys[Math.floor(rand() * keys.length)]!] = mapOf(Math.floor(rand() * 5));
  for (let i = 0; i < remove; i++) delete out[keys[Math.floor(rand() * keys.length)]!];
  for (let i = 0; i < add; i++) {
    const k = pool[Math.floor(rand() * pool.length)]!;
    if (!(k in out)) out[k] = mapOf(Math.floor(rand() * 5));
  }
  return out;
}

const viewWith = (version: string, hot: Record<string, WeightMap>, cold: Record<string, WeightMap>, healthy = true): DnsView =>
  view('example.com', [record('app.example.com', threeOrigins().map((o, i) => (i === 0 ? { ...o, healthy } : o)), { subnets: hot, policy: 'latency' }), record('cold.example.com', threeOrigins(), { subnets: cold })], version);

/** What the wire carries: JSON (no shared objects, maps not interned). */
const wire = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;

describe('PackedView', () => {
  it('after random deltas renders the compact view the object path renders, and expands to the same view', () => {
    let hot = table(12_000);
    const cold = table(50);
    let objectView = viewWith('1', hot, cold);
    let packed = packCompactView(wire(toCompactView(objectView)));
    const compactions = vi.spyOn(PackedSubnets.prototype as unknown as { compact: () => void }, 'compact');
    expect(compactViewOf(packed)).toEqual(toCompactView(objectView));
    for (let k = 2; k <= 25; k++) {
      // Heavy removals in the middle deltas: the tables compact (tombstones dropped) on the way.
      hot = next(hot, 400, k > 5 && k < 12 ? 1500 : 100, 300);
      const target = viewWith(String(k), hot, k % 7 === 0 ? next(cold, 5, 2, 3) : cold, k % 4 !== 0);
      const changes = wire(encodeDiff(diffViews(objectView, target)!));
      const header = { version: target.version, seq: target.seq, weights_version: target.weights_version };
      checkChanges(packed.view, changes);
      packed = applyPackedChanges(packed, changes, header);
      objectView = applyChanges(objectView, changes, header);
      expect(objectView).toEqual(target);
      expect(compactViewOf(packed)).toEqual(toCompactView(objectView));
    }
    expect(compactions).toHaveBeenCalled();
    compactions.mockRestore();
    expect(expandPackedView(packed)).toEqual(objectView);
    expect(packed.tables[0]![0]!.size).toBe(Object.keys(hot).length);
  });

  it('a record rebuilt by a delta crosses with its whole table (withTables), as the object view holds it', () => {
    const v1 = viewWith('1', table(300), {});
    const v2 = viewWith('2', next(v1.zones[0]!.records[0]!.subnets, 20, 10, 10), {}, false);
    const changes = wire(encodeDiff(diffViews(v1, v2)!));
    expect(changes[0]!.meta).not.toBeNull();
    const packed = applyPackedChanges(packView(v1), changes, { version: '2', seq: null, weights_version: 1 });
    const delta = withTables({ from: '1', header: { version: '2', seq: null, weights_version: 1 }, changes }, packed);
    expect(delta.tables).toEqual([{ zone: 0, record: 0, subnets: toCompactView(v2).zones[0]!.records[0]!.subnets }]);
    expect(packed.view.zones[0]!.records[0]!.origins[0]!.healthy).toBe(false);
  });

  it('writes the view cache text as JSON.stringify of the compact view (zones last)', () => {
    const packed = packView(viewWith('3', table(5000), table(10)));
    const pieces: string[] = [];
    runToEnd(packedViewJsonSteps(packed, (p) => void pieces.push(p)));
    expect(JSON.parse(pieces.join(''))).toEqual(compactViewOf(packed));
    expect(pieces.length).toBeGreaterThan(2);
  });

  it('refuses a malformed table, naming it, and builds nothing', () => {
    const good = toCompactView(viewWith('1', table(10), {}));
    const bad = wire(good);
    bad.zones[0]!.records[0]!.subnets.map[3] = 7;
    expect(() => packCompactView(bad)).toThrow(ViewDecodeError);
    expect(() => packCompactView(bad)).toThrow(/zones\[0\]\.records\[0\]\.subnets\.map\[3\]: expected an index into maps/);
    const short = wire(good);
    short.zones[0]!.records[0]!.subnets.cidrs.pop();
    expect(() => packCompactView(short)).toThrow(/zones\[0\]\.records\[0\]\.subnets: cidrs has 9 entries but map has 10/);
  });
});

describe('PackedSubnets', () => {
  it('sets, re-weights, deletes and sets again like an object: the order of keys included', () => {
    const t = new PackedSubnets();
    const o: Record<string, WeightMap> = {};
    const ops: [string, number | null][] = [['10.0.0.0/24', 0], ['10.0.1.0/24', 1], ['10.0.0.0/24', 2], ['10.0.2.0/24', 3], ['10.0.1.0/24', null], ['10.0.1.0/24', 4], ['ü', 1], ['10.0.9.0/24', null]];
    for (const [cidr, m] of ops) {
      if (m === null) {
        expect(t.delete(cidr)).toBe(cidr in o);
        delete o[cidr];
      } else {
        t.apply({ maps: [mapOf(m)], cidrs: [cidr], map: [0] }, []);
        o[cidr] = mapOf(m);
      }
    }
    expect([...t.entries()]).toEqual(Object.entries(o));
    expect(t.size).toBe(4);
    expect(t.get('10.0.0.0/24')).toEqual(mapOf(2));
    expect(t.get('10.0.9.0/24')).toBeUndefined();
  });

  it('a table given the same subnet twice keeps its first place and its last weights (as an object does)', () => {
    const t = PackedSubnets.fromCompact({ maps: [mapOf(0), mapOf(1)], cidrs: ['10.0.0.0/24', '10.0.1.0/24', '10.0.0.0/24'], map: [0, 0, 1] }, 't');
    expect([...t.entries()]).toEqual([['10.0.0.0/24', mapOf(1)], ['10.0.1.0/24', mapOf(0)]]);
    expect(t.toCompact()).toEqual({ maps: [mapOf(1), mapOf(0)], cidrs: ['10.0.0.0/24', '10.0.1.0/24'], map: [0, 1] });
  });
});
