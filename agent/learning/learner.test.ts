import { describe, expect, it } from 'vitest';
import type { SocketRecord } from '../collector.ts';
import { buildClassifyConfig } from '../classify.ts';
import { TCP_STATE } from '../netlink/constants.ts';
import { Learner, subnet4, type LearnerOptions } from './learner.ts';
import { SubnetTable } from './subnet-table.ts';
import { seededRandom } from '../../lib/prng.ts';

const PORT = 443;

function learner(over: Partial<LearnerOptions> = {}): Learner {
  return new Learner({
    classify: buildClassifyConfig({ servicePorts: [PORT], upstreams: [{ host: '192.0.2.50', port: 8443 }], includeLoopback: false }),
    ipv4Prefix: 24,
    ipv6Prefix: 48,
    alpha: 0.3,
    minConnectionAgeMs: 0,
    maxSubnets: 100_000,
    subnetTtlMs: 168 * 3_600_000,
    minSamples: 1,
    ...over,
  });
}

let nextId = 1;
function sock(remote: string, rttMs: number, over: Partial<SocketRecord> = {}): SocketRecord {
  return { id: nextId++, family: remote.includes(':') ? 6 : 4, state: TCP_STATE.ESTABLISHED, localAddr: '203.0.113.1', localPort: PORT, remoteAddr: remote, remotePort: 40000, rttUs: rttMs * 1000, minRttUs: rttMs * 1000, lastAckRecvMs: 0, ...over };
}

describe('EWMA per subnet', () => {
  it('folds one value per poll: first initialises, then new = 0.3*sample + 0.7*old', () => {
    const l = learner();
    const c = sock('198.51.100.7', 100);
    l.ingest([c], 0);
    expect(l.table.get('198.51.100.0/24')!.ewmaUs).toBe(100_000);
    l.ingest([{ ...c, rttUs: 200_000 }], 1000);
    expect(l.table.get('198.51.100.0/24')!.ewmaUs).toBeCloseTo(130_000, 6); // 0.3*200 + 0.7*100
    l.ingest([{ ...c, rttUs: 50_000, minRttUs: 50_000 }], 2000);
    expect(l.table.get('198.51.100.0/24')!.ewmaUs).toBeCloseTo(106_000, 6); // 0.3*50 + 0.7*130
    const e = l.table.get('198.51.100.0/24')!;
    expect(e.samples).toBe(3);
    expect(e.connections).toBe(1);
    expect(e.minRttUs).toBe(50_000);
  });

  it('honours ewma_alpha', () => {
    const l = learner({ alpha: 0.5 });
    const c = sock('198.51.100.7', 100);
    l.ingest([c], 0);
    l.ingest([{ ...c, rttUs: 200_000 }], 1000);
    expect(l.table.get('198.51.100.0/24')!.ewmaUs).toBe(150_000);
  });

  it('one poll = one EWMA step on the median of the subnet\'s connections (a long-lived outlier cannot drag it)', () => {
    const l = learner();
    const conns = [sock('198.51.100.1', 40), sock('198.51.100.2', 42), sock('198.51.100.3', 400)];
    l.ingest(conns, 0);
    const e = l.table.get('198.51.100.0/24')!;
    expect(e.ewmaUs).toBe(42_000); // median of 40, 42, 400 — not the mean 160.7
    expect(e.samples).toBe(3);
    expect(e.connections).toBe(3);
    expect(e.minRttUs).toBe(40_000);
  });

  it('an idle connection (no ACK since the last poll) gives no new sample', () => {
    const l = learner();
    const c = sock('198.51.100.7', 100);
    l.ingest([c], 0);
    l.ingest([{ ...c, lastAckRecvMs: 5000 }], 1000); // last ACK 5 s ago, polls 1 s apart: srtt is stale
    expect(l.table.get('198.51.100.0/24')!.samples).toBe(1);
    l.ingest([{ ...c, lastAckRecvMs: 300 }], 2000);
    expect(l.table.get('198.51.100.0/24')!.samples).toBe(2);
  });

  it('aggregates IPv4 per ipv4_prefix and IPv6 per ipv6_prefix', () => {
    const l = learner({ ipv4Prefix: 16 });
    l.ingest([sock('198.51.7.7', 10), sock('198.51.200.1', 30), sock('2001:db8:aa:1::5', 50), sock('2001:db8:aa:ff::9', 70), sock('2001:db8:ab::1', 90)], 0);
    expect(l.table.get('198.51.0.0/16')!.connections).toBe(2);
    expect(l.table.get('2001:db8:aa::/48')!.connections).toBe(2);
    expect(l.table.get('2001:db8:aa::/48')!.ewmaUs).toBe(60_000); // median of 50 and 70
    expect(l.table.get('2001:db8:ab::/48')!.connections).toBe(1);
    expect(subnet4('10.1.2.3', 0)).toBe('0.0.0.0/0');
    expect(subnet4('10.1.2.3', 32)).toBe('10.1.2.3/32');
  });
});

describe('min_connection_age', () => {
  it('ignores a connection younger than the age (first seen by the agent), then samples it', () => {
    const l = learner({ minConnectionAgeMs: 5000 });
    const c = sock('198.51.100.7', 80);
    l.ingest([c], 0);
    l.ingest([c], 4999);
    const e = l.table.get('198.51.100.0/24')!;
    expect(e.samples).toBe(0);
    expect(e.ewmaUs).toBeUndefined();
    expect(e.connections).toBe(1); // demand is counted at once, RTT waits
    l.ingest([c], 5000);
    expect(e.samples).toBe(1);
    expect(e.ewmaUs).toBe(80_000);
  });
});

describe('demand counting', () => {
  it('counts each connection once, when first seen, per subnet and per service port; closing states count too', () => {
    const l = learner();
    const a = sock('198.51.100.1', 10);
    const b = sock('198.51.100.2', 10, { state: TCP_STATE.TIME_WAIT, rttUs: undefined });
    l.ingest([a, b], 0);
    l.ingest([a, b], 1000);
    l.ingest([{ ...a, state: TCP_STATE.FIN_WAIT2 }], 2000);
    expect(l.table.get('198.51.100.0/24')!.connections).toBe(2);
    expect(l.connectionsByPort.get(PORT)).toBe(2);
    expect(l.countedInbound).toBe(2);
    expect(l.table.get('198.51.100.0/24')!.samples).toBe(2); // TIME_WAIT/FIN_WAIT gave no RTT
  });

  it('does not forget connections when a dump was incomplete (no double count)', () => {
    const l = learner();
    const a = sock('198.51.100.1', 10);
    l.ingest([a], 0);
    l.ingest([], 1000, false);
    l.ingest([a], 2000);
    expect(l.countedInbound).toBe(1);
    l.ingest([], 3000, true);
    expect(l.trackedConnections).toBe(0);
  });

  it('ignores loopback peers unless include_loopback, and non-service ports', () => {
    const l = learner();
    l.ingest([sock('127.0.0.1', 1), sock('::1', 1), sock('198.51.100.1', 1, { localPort: 22 })], 0);
    expect(l.table.size).toBe(0);
    const withLo = learner({ classify: buildClassifyConfig({ servicePorts: [PORT], upstreams: [], includeLoopback: true }) });
    withLo.ingest([sock('127.0.0.1', 1)], 0);
    expect(withLo.table.get('127.0.0.0/24')!.connections).toBe(1);
  });

  it('ignores peers in ignore_peers (health checkers, monitoring): no demand, no RTT', () => {
    const l = learner({ classify: buildClassifyConfig({ servicePorts: [PORT], upstreams: [], includeLoopback: false, ignorePeers: ['10.94.0.0/24', '2001:db8:cafe::/48'] }) });
    l.ingest([sock('10.94.0.1', 2), sock('2001:db8:cafe::9', 2), sock('10.94.1.2', 2)], 0);
    expect([...l.table.values()].map((e) => e.subnet)).toEqual(['10.94.1.0/24']);
    expect(l.countedInbound).toBe(1);
  });

  it('learns upstream RTT from outbound connections to a configured upstream', () => {
    const l = learner();
    const up = sock('192.0.2.50', 30, { localPort: 51000, remotePort: 8443 });
    l.ingest([up], 0);
    l.ingest([{ ...up, rttUs: 40_000 }], 1000);
    const u = l.upstreams.get('192.0.2.50:8443')!;
    expect(u.connections).toBe(1);
    expect(u.ewmaUs).toBeCloseTo(33_000, 6);
    expect(l.table.size).toBe(0);
  });
});

describe('connection tracking', () => {
  it('counts each of thousands of connections once while slots are freed and reused across polls', () => {
    const l = learner();
    const conns = Array.from({ length: 6000 }, (_, i) => sock(`10.${i >> 8}.${i & 255}.9`, 20, { id: 1e12 + i }));
    l.ingest(conns.slice(0, 4000), 0); // 4000 new
    l.ingest(conns.slice(2000, 6000), 1000); // 2000 seen again, 2000 new; 2000 forgotten
    expect(l.trackedConnections).toBe(4000);
    l.ingest(conns.slice(0, 1000), 2000); // forgotten ones come back: new again (their slots were reused)
    expect(l.trackedConnections).toBe(1000);
    expect(l.countedInbound).toBe(4000 + 2000 + 1000);
    expect(l.table.get('10.0.5.0/24')!.connections).toBe(2); // 10.0.5.9 counted at polls 1 and 3
    expect(l.table.get('10.23.111.0/24')!.connections).toBe(1); // i = 5999, seen once
  });
});

describe('min_samples gate', () => {
  it('exports a subnet only once it has min_samples samples', () => {
    const l = learner({ minSamples: 3 });
    const c = sock('198.51.100.7', 10);
    l.ingest([c], 0);
    l.ingest([c], 1000);
    expect(l.topSubnets(10)).toEqual([]);
    // Its demand is exported all the same.
    expect(l.busiestSubnets(10).map((e) => [e.subnet, e.connections])).toEqual([['198.51.100.0/24', 1]]);
    l.ingest([c], 2000);
    expect(l.topSubnets(10).map((e) => e.subnet)).toEqual(['198.51.100.0/24']);
  });

  it('top N is by traffic (connections, then samples)', () => {
    const l = learner();
    l.ingest([sock('10.0.1.1', 5), sock('10.0.2.1', 5), sock('10.0.2.2', 5), sock('10.0.3.1', 5), sock('10.0.3.2', 5), sock('10.0.3.3', 5)], 0);
    expect(l.topSubnets(2).map((e) => e.subnet)).toEqual(['10.0.3.0/24', '10.0.2.0/24']);
  });
});

describe('subnet table: max_subnets (LRU) and subnet_ttl', () => {
  it('evicts the least recently seen subnet when full', () => {
    const t = new SubnetTable({ maxSubnets: 3, ttlMs: 1e9, alpha: 0.3 });
    t.countConnection('a', 1);
    t.countConnection('b', 2);
    t.countConnection('c', 3);
    t.touch('a', 4); // a is now the most recent; b is the oldest
    t.countConnection('d', 5);
    expect([...t.values()].map((e) => e.subnet)).toEqual(['c', 'a', 'd']);
    expect(t.evicted).toBe(1);
    expect(t.get('b')).toBeUndefined();
    t.countConnection('e', 6);
    expect(t.get('c')).toBeUndefined();
    expect(t.evicted).toBe(2);
    expect(t.size).toBe(3);
  });

  it('drops subnets not seen for subnet_ttl, exactly at the boundary', () => {
    const t = new SubnetTable({ maxSubnets: 10, ttlMs: 1000, alpha: 0.3 });
    t.countConnection('a', 0);
    t.countConnection('b', 500);
    expect(t.expire(1000)).toBe(0); // a is exactly ttl old: kept
    expect(t.expire(1001)).toBe(1);
    expect(t.get('a')).toBeUndefined();
    expect(t.get('b')).toBeDefined();
    t.touch('b', 1400);
    expect(t.expire(2400)).toBe(0);
    expect(t.expire(2401)).toBe(1);
    expect(t.size).toBe(0);
    expect(t.expired).toBe(2);
  });

  it('evicts in O(1): 200k inserts into a 1000-entry table stay fast', () => {
    const t = new SubnetTable({ maxSubnets: 1000, ttlMs: 1e12, alpha: 0.3 });
    const started = performance.now();
    for (let i = 0; i < 200_000; i++) t.countConnection(`s${i}`, i);
    expect(t.size).toBe(1000);
    expect(t.evicted).toBe(199_000);
    expect(t.get('s199999')).toBeDefined();
    expect(t.get('s198999')).toBeUndefined();
    // A linear scan per insert would be ~2e8 steps; this is a sanity bound, the benchmark measures.
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it('top(k) is the first k of the whole table sorted by traffic, for random tables', () => {
    const r = seededRandom(7);
    for (let round = 0; round < 20; round++) {
      const t = new SubnetTable({ maxSubnets: 5000, ttlMs: 1e12, alpha: 0.3 });
      const n = 1 + Math.floor(r() * 3000);
      for (let i = 0; i < n; i++) {
        const s = `s${Math.floor(r() * n)}`; // repeats: some subnets get several connections
        t.countConnection(s, i);
        if (r() < 0.5) t.observe(s, 1000 + r() * 1000, 900, 1 + Math.floor(r() * 3), i);
      }
      const minSamples = round % 3;
      const eligible = [...t.values()].filter((e) => e.samples >= minSamples && (minSamples === 0 || e.ewmaUs !== undefined));
      const sorted = eligible.sort((a, b) => b.connections - a.connections || b.samples - a.samples || (a.subnet < b.subnet ? -1 : 1)).map((e) => e.subnet);
      const k = Math.floor(r() * 200);
      expect(t.top(k, minSamples).map((e) => e.subnet)).toEqual(sorted.slice(0, k));
    }
  });

  it('keeps every field per subnet while slots are reused (eviction, expiry) and the columns grow', () => {
    const t = new SubnetTable({ maxSubnets: 3000, ttlMs: 10_000, alpha: 0.5 });
    for (let i = 0; i < 5000; i++) {
      t.countConnection(`s${i}`, i); // past the first 1024 slots, then evicting from s0 on
      t.observe(`s${i}`, i, i / 2, 2, i);
    }
    expect(t.size).toBe(3000);
    expect(t.evicted).toBe(2000);
    expect(t.get('s1999')).toBeUndefined();
    const e = t.get('s4321')!;
    expect([e.subnet, e.connections, e.samples, e.ewmaUs, e.minRttUs, e.firstSeenMs, e.lastSeenMs, e.lastSampleMs]).toEqual(['s4321', 1, 2, 4321, 2160.5, 4321, 4321, 4321]);
    t.observe('s4321', 1321, 100, 1, 20_000);
    expect([e.ewmaUs, e.minRttUs, e.samples, e.lastSeenMs]).toEqual([2821, 100, 3, 20_000]); // the view is live
    expect(t.expire(20_000)).toBe(3000 - 1); // all but s4321
    t.countConnection('fresh', 20_500); // takes a freed slot
    expect([...t.values()].map((x) => [x.subnet, x.connections, x.samples, x.ewmaUs])).toEqual([
      ['s4321', 1, 3, 2821],
      ['fresh', 1, 0, undefined],
    ]);
    expect(t.recent(5).map((x) => x.subnet)).toEqual(['fresh', 's4321']);
  });
});
