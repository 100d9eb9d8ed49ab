import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../lib/prng.ts';
import { ExportLedger } from './export-ledger.ts';
import { planExport, type AggregationOptions } from './export-plan.ts';
import { newRttStat } from './rtt-stat.ts';
import type { SubnetEntry } from './subnet-table.ts';

const OPTS: AggregationOptions = { ipv4Prefixes: [16, 20], ipv6Prefixes: [32, 40], exactShare: 0.5, ipv4Prefix: 24, ipv6Prefix: 48 };

/** A subnet-table entry the test can change between polls (the table's own entries are read-only views). */
type Entry = { -readonly [K in keyof SubnetEntry]: SubnetEntry[K] };

function entry(subnet: string, connections: number, rttMs?: number, samples = 10): Entry {
  return { subnet, ...newRttStat(0), connections, samples: rttMs === undefined ? 0 : samples, ewmaUs: rttMs === undefined ? undefined : rttMs * 1000, minRttUs: rttMs === undefined ? undefined : rttMs * 900 };
}

const noTurnover = { subnet: () => ({ closes: 0, connectionSeconds: 0 }), survivors: () => undefined };

/** Which entry each subnet is counted in. */
function ownerOf(plan: ReturnType<typeof planExport>): Map<string, string> {
  const m = new Map<string, string>();
  for (const g of plan.groups) for (const e of g.members) {
    expect(m.has(e.subnet), `${e.subnet} counted twice`).toBe(false);
    m.set(e.subnet, g.prefix);
  }
  return m;
}

describe('planExport', () => {
  it('exports every subnet as itself while the table fits the budget (as before)', () => {
    const table = [entry('10.0.1.0/24', 3, 20), entry('10.0.2.0/24', 9, 20), entry('2001:db8:1::/48', 5)];
    const plan = planExport(table, 3, OPTS);
    expect(plan.groups.map((g) => [g.prefix, g.exact])).toEqual([['10.0.2.0/24', true], ['2001:db8:1::/48', true], ['10.0.1.0/24', true]]);
    expect(plan.uncovered).toBe(0);
  });

  it('with aggregation off, keeps only the busiest subnets', () => {
    const table = Array.from({ length: 10 }, (_, i) => entry(`10.0.${i}.0/24`, i + 1, 20));
    const plan = planExport(table, 4, { ...OPTS, ipv4Prefixes: [], ipv6Prefixes: [] });
    expect(plan.groups.map((g) => g.prefix)).toEqual(['10.0.9.0/24', '10.0.8.0/24', '10.0.7.0/24', '10.0.6.0/24']);
    expect(plan.uncovered).toBe(6);
  });

  it('covers a table larger than the budget: coarse prefixes first, the busiest subnets exactly, within the budget', () => {
    const r = seededRandom(3);
    const table: SubnetEntry[] = [];
    // 40 networks (/16) of 50 subnets each: 2,000 subnets, budget 100.
    for (let net = 0; net < 40; net++) for (let s = 0; s < 50; s++) table.push(entry(`${20 + net}.${net}.${s}.0/24`, Math.ceil(1000 / (1 + net * 50 + s)), 20 + net + r() * 2));
    const plan = planExport(table, 100, OPTS);
    expect(plan.groups.length).toBeLessThanOrEqual(100);
    const owner = ownerOf(plan);
    expect(owner.size).toBe(2000); // everything covered
    expect(plan.uncovered).toBe(0);
    const exact = plan.groups.filter((g) => g.exact && g.members.length === 1 && g.prefix === g.members[0]!.subnet);
    expect(exact.length).toBeGreaterThanOrEqual(50);
    // The busiest subnet is its own entry; a quiet one is inside its network's /16.
    expect(owner.get('20.0.0.0/24')).toBe('20.0.0.0/24');
    expect(owner.get('59.39.49.0/24')).toBe('59.39.0.0/16');
  });

  it('splits a prefix whose subnets disagree on RTT before one that is coherent', () => {
    const table: SubnetEntry[] = [];
    // 10.1.0.0/16: two /20s, one at 10 ms and one at 150 ms (two cities). 10.2.0.0/16: all at 40 ms.
    for (let s = 0; s < 16; s++) table.push(entry(`10.1.${s}.0/24`, 5, 10));
    for (let s = 16; s < 32; s++) table.push(entry(`10.1.${s}.0/24`, 5, 150));
    for (let s = 0; s < 32; s++) table.push(entry(`10.2.${s}.0/24`, 5, 40 + (s % 2)));
    // Budget: 0 exact (share 0), two roots, and one refinement.
    const plan = planExport(table, 3, { ...OPTS, exactShare: 0 });
    const owner = ownerOf(plan);
    const split = new Set([owner.get('10.1.0.0/24'), owner.get('10.1.16.0/24')]);
    expect(split.size).toBe(2); // the incoherent /16 was refined
    expect(owner.get('10.2.0.0/24')).toBe('10.2.0.0/16'); // the coherent one stayed whole
    expect(owner.get('10.2.31.0/24')).toBe('10.2.0.0/16');
  });

  it('never narrows a coarse entry to its only member (it also answers for subnets this agent has not seen)', () => {
    const table = [entry('10.1.0.0/24', 50, 10), entry('10.9.0.0/24', 2, 10), entry('10.9.1.0/24', 1, 10), entry('10.9.2.0/24', 1, 10), entry('10.8.0.0/24', 1, 90)];
    // Three /16s cover the table; one slot is left for the busiest subnet that is not alone in its /16.
    const plan = planExport(table, 4, { ...OPTS, exactShare: 0.25 });
    const owner = ownerOf(plan);
    expect(owner.get('10.1.0.0/24')).toBe('10.1.0.0/16');
    expect(owner.get('10.9.0.0/24')).toBe('10.9.0.0/24');
    expect(owner.get('10.9.1.0/24')).toBe('10.9.0.0/16');
    expect(owner.get('10.8.0.0/24')).toBe('10.8.0.0/16');
  });

  it('aggregates IPv6 /48s into /32s with RFC 5952 text', () => {
    const table = [entry('2001:db8:1::/48', 9, 30), entry('2001:db8:2::/48', 1, 30), entry('2001:db8:3::/48', 1, 30), entry('2001:db9:2::/48', 1, 30)];
    const owner = ownerOf(planExport(table, 3, { ...OPTS, exactShare: 0.5 }));
    expect(owner.get('2001:db8:1::/48')).toBe('2001:db8:1::/48');
    expect(owner.get('2001:db8:2::/48')).toBe('2001:db8::/32');
    expect(owner.get('2001:db9:2::/48')).toBe('2001:db9::/32');
    // Coverage goes by demand when even the coarsest prefixes do not fit: the lighter /32 is left out.
    const tight = planExport(table, 1, OPTS);
    expect(tight.groups.map((g) => g.prefix)).toEqual(['2001:db8::/32']);
    expect(tight.uncovered).toBe(1);
  });
});

describe('ExportLedger', () => {
  it('reports own totals for subnets exported as themselves (as before)', () => {
    const ledger = new ExportLedger();
    const a = entry('10.0.1.0/24', 5, 20, 9);
    const [e] = ledger.apply(planExport([a], 10, OPTS), noTurnover, 5);
    expect(e).toMatchObject({ subnet: '10.0.1.0/24', connections: 5, samples: 9, rttSeconds: 0.02 });
  });

  it('keeps an aggregate counter monotonic while its members leave for entries of their own', () => {
    const ledger = new ExportLedger();
    const subnets = Array.from({ length: 6 }, (_, i) => entry(`10.0.${i}.0/24`, 10 + i, 20 + i, 10));
    const value = (out: ReturnType<ExportLedger['apply']>, prefix: string) => out.find((x) => x.subnet === prefix);
    // Budget 2, exact share 0.5: the busiest subnet alone, the other five in 10.0.0.0/16.
    let out = ledger.apply(planExport(subnets, 2, OPTS), noTurnover, 5);
    const first = value(out, '10.0.0.0/16')!;
    expect(first.connections).toBe(10 + 11 + 12 + 13 + 14);
    expect(first.rttSeconds! * 1000).toBeCloseTo((10 * 20 + 11 * 21 + 12 * 22 + 13 * 23 + 14 * 24) / 60, 6);
    // Traffic grows; 10.0.0.0/24 becomes the busiest and takes its own entry.
    subnets[0]!.connections += 100;
    for (const s of subnets.slice(1)) s.connections += 1;
    out = ledger.apply(planExport(subnets, 2, OPTS), noTurnover, 5);
    const second = value(out, '10.0.0.0/16')!;
    // Its members' increases only: four stayed (+1 each), 10.0.5.0/24 joined (+1 since it was last
    // exported); 10.0.0.0/24 left, and its +100 is not the aggregate's. Never backwards.
    expect(second.connections).toBe(first.connections + 5);
    // 10.0.0.0/24 is a new series: it starts at its totals (Prometheus takes a first sample as the base).
    expect(value(out, '10.0.0.0/24')!.connections).toBe(110);
    subnets[0]!.connections += 7;
    out = ledger.apply(planExport(subnets, 2, OPTS), noTurnover, 5);
    expect(value(out, '10.0.0.0/24')!.connections).toBe(117);
    expect(value(out, '10.0.0.0/16')!.connections).toBe(second.connections);
  });

  it('exports an aggregate RTT once its members have min_samples together', () => {
    const ledger = new ExportLedger();
    const subnets = [entry('10.0.0.0/24', 100, 20, 50), entry('10.0.1.0/24', 1, 30, 2), entry('10.0.2.0/24', 1, 34, 2)];
    const out = ledger.apply(planExport(subnets, 2, OPTS), noTurnover, 4);
    const agg = out.find((x) => x.subnet === '10.0.0.0/16')!;
    expect(agg.rttSeconds! * 1000).toBeCloseTo(32, 6);
    expect(agg.samples).toBe(4);
    const fewer = new ExportLedger().apply(planExport(subnets, 2, OPTS), noTurnover, 5).find((x) => x.subnet === '10.0.0.0/16')!;
    expect(fewer.rttSeconds).toBeUndefined();
    expect(fewer.connections).toBe(2);
  });
});

/**
 * The ledger as it was before it kept its state in place (a fresh totals map and sets per apply): the
 * reference the in-place ledger must agree with, export for export.
 */
class ReferenceLedger {
  private lastSeen = new Map<string, number[]>();
  private entries = new Map<string, number[]>();
  private aggregated = new Set<string>();
  private own = new Set<string>();
  exported(): ReadonlySet<string> {
    return new Set([...this.entries.keys(), ...this.own]);
  }
  apply(plan: ReturnType<typeof planExport>): Map<string, number[]> {
    const out = new Map<string, number[]>();
    const nextEntries = new Map<string, number[]>();
    const nextOwn = new Set<string>();
    const present = new Set<string>();
    for (const g of plan.groups) {
      let counters: number[];
      if (g.exact && !this.aggregated.has(g.members[0]!.subnet)) {
        const e = g.members[0]!;
        counters = [e.connections, e.samples];
        this.lastSeen.set(e.subnet, counters);
        present.add(e.subnet);
        nextOwn.add(g.prefix);
      } else {
        const before = this.entries.get(g.prefix);
        counters = before ? [...before] : [0, 0];
        for (const e of g.members) {
          const now = [e.connections, e.samples];
          const prev = before ? this.lastSeen.get(e.subnet) : undefined;
          now.forEach((x, i) => (counters[i]! += prev === undefined ? x : x >= prev[i]! ? x - prev[i]! : x));
          this.lastSeen.set(e.subnet, now);
          present.add(e.subnet);
          if (!g.exact) this.aggregated.add(e.subnet);
        }
        nextEntries.set(g.prefix, counters);
      }
      out.set(g.prefix, counters);
    }
    for (const s of this.lastSeen.keys()) if (!present.has(s)) this.lastSeen.delete(s);
    for (const s of this.aggregated) if (!present.has(s)) this.aggregated.delete(s);
    this.entries = nextEntries;
    this.own = nextOwn;
    return out;
  }
}

describe('ExportLedger under random traffic (seeded)', () => {
  // A table under three /16s that changes every poll: new subnets (never a name seen before, so no
  // subnet comes back with lower totals: that is a documented counter reset), traffic on random ones,
  // subnets leaving. Exports at random polls (a scrape now and then), budget far below the table.
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    it(`seed ${seed}: counters never go back, and agree with the per-apply reference ledger`, () => {
      const r = seededRandom(seed);
      const table = new Map<string, Entry>();
      let next = 0;
      const add = () => {
        const n = next++;
        const s = `${10 + (n % 3)}.${(n >> 2) & 255}.${n % 251}.0/24`;
        if (!table.has(s)) table.set(s, entry(s, 1 + Math.floor(r() * 20), 10 + (n % 3) * 30 + r() * 5, 1 + Math.floor(r() * 8)));
      };
      for (let i = 0; i < 40; i++) add();
      const ledger = new ExportLedger();
      const reference = new ReferenceLedger();
      let last = new Map<string, { connections: number; samples: number }>();
      let exports = 0;
      let aggregates = 0;
      for (let poll = 0; poll < 200; poll++) {
        for (let k = Math.floor(r() * 3); k > 0; k--) add();
        for (const e of table.values()) {
          if (r() < 0.3) e.connections += Math.floor(r() * 5);
          if (r() < 0.3) e.samples += 1;
        }
        for (const s of [...table.keys()]) if (r() < 0.02) table.delete(s);
        if (r() > 0.25) continue; // no scrape this poll
        exports++;
        const budget = 4 + Math.floor(r() * 8);
        const plan = planExport(table.values(), budget, { ...OPTS, previous: ledger.exported() });
        const refPlan = planExport(table.values(), budget, { ...OPTS, previous: reference.exported() });
        expect(refPlan.groups.map((g) => g.prefix)).toEqual(plan.groups.map((g) => g.prefix));
        const out = ledger.apply(plan, noTurnover, 1);
        const ref = reference.apply(refPlan);
        const now = new Map(out.map((x) => [x.subnet, { connections: x.connections, samples: x.samples ?? 0 }]));
        for (const x of out) {
          expect([x.connections, x.samples ?? ref.get(x.subnet)![1]], x.subnet).toEqual(ref.get(x.subnet));
          const before = last.get(x.subnet);
          if (before) expect(x.connections, `${x.subnet} at poll ${poll}`).toBeGreaterThanOrEqual(before.connections);
          if (!plan.groups.find((g) => g.prefix === x.subnet)!.exact) aggregates++;
        }
        last = now;
      }
      expect(exports).toBeGreaterThan(20);
      expect(aggregates).toBeGreaterThan(20); // the aggregate path was exercised
    });
  }
});
