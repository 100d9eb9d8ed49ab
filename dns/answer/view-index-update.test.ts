// A delta applied to an installed index gives the index a full build of the new view gives: the same
// learned entries (choice, ECS scope floor, nested networks), longest prefixes and uniform flags; a
// record whose other fields changed is rebuilt; a delta that does not fit refuses before changing anything.
import { describe, expect, it } from 'vitest';
import { applyChanges, diffViews, encodeDiff } from '../../model/view-codec.ts';
import type { DnsView, WeightMap } from '../../model/views.ts';
import { record, threeOrigins, view } from '../testing/fixtures.ts';
import { buildViewIndex, type Authority, type RecordIndex, type ViewIndex } from './view-index.ts';
import { IndexUpdateError, updateViewIndex } from './view-index-update.ts';

const AUTHORITY: Authority = { primaryNs: undefined, hostmaster: undefined, nameservers: [], soaTtl: 3600, nsTtl: 3600, negativeTtl: 30, refresh: 3600, retry: 600, expire: 1209600 };

function learnedOf(rec: RecordIndex) {
  const out: Record<string, unknown> = {};
  for (const { bytes, prefix, value } of rec.learned.networks()) {
    out[`${bytes.join('.')}/${prefix}`] = { prefix: value.prefix, scopeFloor: value.scopeFloor, nested4: value.nested4 ? [...value.nested4.starts].map((s, i) => `${s}/${value.nested4!.prefixes[i]}`).sort() : null, a: value.a ? [value.a.slots, [...value.a.cum]] : null, aaaa: value.aaaa ? [value.aaaa.slots, [...value.aaaa.cum]] : null };
  }
  return out;
}

function summary(index: ViewIndex) {
  return [...index.records.values()].map((r) => ({ host: r.hostname, ttl: r.ttl, size: r.learned.size, longest: [r.learnedLongest4, r.learnedLongest6], uniform: r.uniform, learned: learnedOf(r), origins: r.origins.map((o) => [o.id, o.healthy]) }));
}

function subnets(n: number, shift: number): Record<string, WeightMap> {
  const out: Record<string, WeightMap> = { '10.0.0.0/16': { 'eu-london': 1 }, '10.1.0.0/20': { 'us-east': 1 }, '2001:db8::/48': { 'eu-london': 1 } };
  for (let i = 0; i < n; i++) out[`10.${i >> 8}.${i & 255}.0/24`] = { 'eu-london': ((i + shift) % 5) + 1, 'us-east': 1 };
  return out;
}

function step(prev: DnsView, next: DnsView): { index: ViewIndex; full: ViewIndex } {
  const before = buildViewIndex(prev, AUTHORITY, 0);
  const changes = encodeDiff(diffViews(prev, next)!);
  const applied = applyChanges(prev, changes, next);
  return { index: updateViewIndex(before, applied, changes, AUTHORITY, 0), full: buildViewIndex(next, AUTHORITY, 0) };
}

describe('updateViewIndex', () => {
  it('changed, added and removed subnets (nested ones too) index as a full build of the new view does', () => {
    const a = view('example.com', [record('app.example.com', threeOrigins(), { subnets: subnets(600, 0) }), record('cold.example.com', threeOrigins())], '1');
    const s = subnets(600, 0);
    for (let i = 0; i < 12; i++) s[`10.0.${i}.0/24`] = { 'us-east': 1 }; // changed, inside the /16
    delete s['10.1.2.0/24']; // removed, inside the /20
    delete s['10.0.0.0/16']; // an aggregate removed: its nested /24s are no longer nested
    s['10.2.128.0/17'] = { 'eu-london': 1 }; // a new aggregate over existing /24s
    s['2001:db8:0:100::/56'] = { 'us-east': 1 }; // IPv6 nested in the /48
    const b = view('example.com', [record('app.example.com', threeOrigins(), { subnets: s }), record('cold.example.com', threeOrigins(), { subnets: { '192.0.2.0/24': { 'us-east': 1 } } })], '2');
    const { index, full } = step(a, b);
    expect(summary(index)).toEqual(summary(full));
    expect(index.version).toBe('2');
    expect(index.serial).toBe(full.serial);
  });

  it('new weights for aggregates and the networks nested in them (no network added or removed) keep their scopes', () => {
    const a = view('example.com', [record('app.example.com', threeOrigins(), { subnets: subnets(600, 0) })], '1');
    const s = subnets(600, 3);
    s['10.0.0.0/16'] = { 'us-east': 1 };
    s['2001:db8::/48'] = { 'us-east': 1 };
    const b = view('example.com', [record('app.example.com', threeOrigins(), { subnets: s })], '2');
    const { index, full } = step(a, b);
    expect(summary(index)).toEqual(summary(full));
    const rec = [...index.records.values()][0]!;
    expect(rec.learned.getExact(Uint8Array.of(10, 0, 0, 0), 16)!.scopeFloor).toBe(24);
  });

  it('a record whose origins changed is rebuilt; a learned map with nothing usable is dropped', () => {
    const a = view('example.com', [record('app.example.com', threeOrigins(), { subnets: subnets(50, 0) })], '1');
    const origins = threeOrigins().map((o) => (o.id === 'us-east' ? { ...o, healthy: false } : o));
    const s = subnets(50, 1);
    s['10.9.9.0/24'] = { 'us-east': 1 }; // only an unhealthy origin: not learned
    const b = view('example.com', [record('app.example.com', origins, { subnets: s })], '2');
    const { index, full } = step(a, b);
    expect(summary(index)).toEqual(summary(full));
    const s2 = { ...subnets(50, 1), '10.9.9.0/24': { 'us-east': 1 } };
    const c = view('example.com', [record('app.example.com', threeOrigins(), { subnets: subnets(50, 1) })], '3');
    const d = view('example.com', [record('app.example.com', threeOrigins(), { subnets: s2 })], '4');
    const again = step(c, d);
    expect(summary(again.index)).toEqual(summary(again.full));
  });

  it('refuses a delta that does not fit the index, changing nothing', () => {
    const a = view('example.com', [record('app.example.com', threeOrigins(), { subnets: subnets(20, 0) })], '1');
    const b = view('example.com', [record('app.example.com', threeOrigins(), { subnets: subnets(20, 2) })], '2');
    const before = buildViewIndex(a, AUTHORITY, 0);
    const snapshot = summary(before);
    const changes = encodeDiff(diffViews(a, b)!);
    changes[0]!.load_balancer_id = 'someone-else';
    expect(() => updateViewIndex(before, applyChanges(a, encodeDiff(diffViews(a, b)!), b), changes, AUTHORITY)).toThrow(IndexUpdateError);
    const bad = encodeDiff(diffViews(a, b)!);
    bad[0]!.set.map[0] = 99;
    expect(() => updateViewIndex(before, b, bad, AUTHORITY)).toThrow(/map\[0\]: expected an index into maps/);
    expect(summary(before)).toEqual(snapshot);
  });
});
