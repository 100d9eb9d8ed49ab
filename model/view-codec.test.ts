// The DNS view's compact encoding and deltas: round trips, diff + apply == the next view, composition of
// several steps, and malformed input refused with the path of the problem (the view in force untouched).
import { describe, expect, it } from 'vitest';
import type { DnsView, WeightMap } from './views.ts';
import { runToEnd } from '../lib/steps.ts';
import { applyChanges, changesJsonSteps, compactSubnets, compactViewJsonSteps, composeDiffs, diffViews, encodeDiff, fromCompactView, toCompactView, ViewDecodeError } from './view-codec.ts';

function view(version: string, subnets: Record<string, WeightMap>, ttl = 20): DnsView {
  const origin = { id: 'o1', name: 'o1', region: 'r', addresses: ['192.0.2.1'], port: 80, location: { lat: 0, lon: 0 }, admin_state: 'active' as const, healthy: true, static_weight: 1, priority: 0, health_check: null };
  return {
    version,
    seq: Number(version.replace(/\D/g, '')) || 0,
    weights_version: 1,
    zones: [{ zone: 'example.com', records: [{ load_balancer_id: 'lb1', hostname: 'app.example.com', ttl, answers: 1, policy: 'latency', max_latency_ms: 100, origins: [origin], subnets }] }],
  };
}

function subnets(n: number, shift = 0): Record<string, WeightMap> {
  const out: Record<string, WeightMap> = {};
  for (let i = 0; i < n; i++) out[`10.${i >> 8}.${i & 255}.0/24`] = { o1: ((i + shift) % 4) / 4, o2: 1 - ((i + shift) % 4) / 4 };
  return out;
}

describe('compact subnet table', () => {
  it('stores each distinct weight map once and round-trips', () => {
    const v = view('v1', subnets(1000));
    const c = toCompactView(v);
    expect(c.zones[0]!.records[0]!.subnets.maps).toHaveLength(4);
    expect(c.zones[0]!.records[0]!.subnets.cidrs).toHaveLength(1000);
    expect(JSON.stringify(c).length).toBeLessThan(JSON.stringify(v).length * 0.55);
    expect(fromCompactView(c)).toEqual(v);
    // Written in steps (the API's resync): the same table.
    const pieces: string[] = [];
    runToEnd(compactViewJsonSteps(v, (p) => void pieces.push(p)));
    expect(JSON.parse(pieces.join(''))).toEqual(JSON.parse(JSON.stringify(c)));
  });

  it('writes each distinct map once: equal content in other objects shared, other origin order or shares kept apart', () => {
    const entries: [string, WeightMap][] = [
      ['10.0.0.0/24', { a: 0.5, b: 0.5 }],
      ['10.0.1.0/24', { a: 0.5, b: 0.5 }], // equal, another object
      ['10.0.2.0/24', { b: 0.5, a: 0.5 }], // the same shares in another order: kept apart (the order is content)
      ['10.0.3.0/24', { a: 0.5, b: 0.5000001 }],
      ['10.0.4.0/24', { a: 1 }],
      ['10.0.5.0/24', { a: 1, b: 0 }],
      ['10.0.6.0/24', { a: 1, b: -0 }], // prints as 0: one map, as its text key always had it
    ];
    const c = compactSubnets(entries);
    expect(c.map).toEqual([0, 0, 1, 2, 3, 4, 4]);
    expect(c.maps).toEqual([{ a: 0.5, b: 0.5 }, { b: 0.5, a: 0.5 }, { a: 0.5, b: 0.5000001 }, { a: 1 }, { a: 1, b: 0 }]);
    expect(Object.keys(c.maps[1]!)).toEqual(['b', 'a']);
    // Many distinct maps (hash collisions resolved by comparing): each written once, each entry pointing at its own content.
    const many: [string, WeightMap][] = [];
    for (let i = 0; i < 20_000; i++) many.push([`10.${i >> 8}.${i & 255}.0/24`, { [`o${i % 97}`]: (i % 89) / 89, [`o${(i % 97) + 1}`]: 1 - (i % 89) / 89 }]);
    const m = compactSubnets(many);
    expect(m.maps.length).toBe(new Set(many.map(([, w]) => JSON.stringify(Object.entries(w)))).size);
    many.forEach(([, w], i) => expect(m.maps[m.map[i]!]).toEqual(w));
  });

  it('refuses a map index out of range, a non-string cidr and arrays that do not pair up, naming the element', () => {
    const c = toCompactView(view('v1', subnets(3)));
    const bad = (f: (s: ReturnType<typeof compactSubnets>) => void) => {
      const copy = structuredClone(c);
      f(copy.zones[0]!.records[0]!.subnets);
      return () => fromCompactView(copy);
    };
    expect(bad((s) => (s.map[2] = 9))).toThrow(/zones\[0\]\.records\[0\]\.subnets\.map\[2\]: expected an index into maps \(0\.\.2\), got 9/);
    expect(bad((s) => ((s.cidrs as unknown[])[1] = 7))).toThrow(/subnets\.cidrs\[1\]: expected a CIDR string/);
    expect(bad((s) => s.map.pop())).toThrow(/cidrs has 3 entries but map has 2/);
    expect(bad((s) => (s.map[0] = 0.5))).toThrow(ViewDecodeError);
  });
});

describe('deltas', () => {
  it('diff then apply gives the next view; only changed, added and removed subnets travel', () => {
    const a = view('v1', subnets(1000));
    const next = subnets(1000);
    for (let i = 0; i < 20; i++) next[`10.0.${i}.0/24`] = { o1: 0.9, o2: 0.1 };
    delete next['10.3.0.0/24'];
    next['172.16.0.0/16'] = { o1: 1 };
    const b = view('v2', next);
    const diff = diffViews(a, b)!;
    expect(diff).toHaveLength(1);
    expect(diff[0]!.meta).toBeNull();
    expect(diff[0]!.subnets.size).toBe(22);
    const changes = encodeDiff(diff);
    expect(changes[0]!.removed).toEqual(['10.3.0.0/24']);
    // The API writes them in steps: the same text.
    const pieces: string[] = [];
    runToEnd(changesJsonSteps(changes, (p) => void pieces.push(p)));
    expect(pieces.join('')).toBe(JSON.stringify(changes));
    const applied = applyChanges(a, changes, b);
    expect(applied).toEqual(b);
    expect(Object.keys(a.zones[0]!.records[0]!.subnets)).toHaveLength(1000); // the base is untouched
  });

  it('a change of a record field other than subnets travels as meta; a change of shape gives no delta', () => {
    const a = view('v1', subnets(10));
    const b = view('v2', subnets(10), 60);
    const changes = encodeDiff(diffViews(a, b)!);
    expect(changes[0]!.meta?.ttl).toBe(60);
    expect(changes[0]!.set.cidrs).toEqual([]);
    expect(applyChanges(a, changes, b)).toEqual(b);
    const moreZones: DnsView = { ...b, zones: [...b.zones, { zone: 'other.com', records: [] }] };
    expect(diffViews(a, moreZones)).toBeNull();
  });

  it('composes several steps into one delta equal to the direct diff in effect', () => {
    const v1 = view('v1', subnets(500));
    const s2 = subnets(500);
    s2['10.0.1.0/24'] = { o1: 1 };
    const v2 = view('v2', s2);
    const s3 = { ...s2 };
    delete s3['10.0.1.0/24'];
    s3['10.0.2.0/24'] = { o2: 1 };
    const v3 = view('v3', s3);
    const d12 = diffViews(v1, v2)!;
    const d23 = diffViews(v2, v3)!;
    const composed = composeDiffs(d12, d23);
    expect(applyChanges(v1, encodeDiff(composed), v3)).toEqual(v3);
    // The steps themselves are not changed by composing them.
    expect(d12[0]!.subnets.get('10.0.1.0/24')).toEqual({ o1: 1 });
  });

  it('refuses a delta that names another record than the one at its position', () => {
    const a = view('v1', subnets(5));
    const changes = encodeDiff(diffViews(a, view('v2', subnets(5, 1)))!);
    changes[0]!.load_balancer_id = 'lb9';
    expect(() => applyChanges(a, changes, a)).toThrow(/is load balancer lb1, the delta names lb9/);
    changes[0]!.zone = 3;
    expect(() => applyChanges(a, changes, a)).toThrow(/no record at zones\[3\]\.records\[0\]/);
  });
});
