// The lab's pure parts (no root needed): the scenario files load, the damping-law cycle bound, bin
// arithmetic, DNS reason parsing, the chart, and the state file's identity checks.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './helpers/sluice-process.ts';
import { renderChart } from './lab/chart.ts';
import { loadScenario, rttBetween } from './lab/scenario.ts';
import type { Decision } from './lab/measure.ts';
import { answeredLoads, answerLag, answersAhead, dampedCycles } from './lab/settle.ts';
import { reasonCounts, subnetOf } from './lab/scripts/latency-learning.ts';
import { isSameProcess, leftovers, procRecord, readState, teardown, writeState, type LabState } from './lab/state.ts';
import { rateOf, rateOver } from './lab/world.ts';

const SCENARIOS = join(REPO_ROOT, 'test/lab/scenarios');

describe('lab scenarios', () => {
  it('every shipped scenario file is valid and names only declared namespaces', () => {
    const files = readdirSync(SCENARIOS).filter((f) => f.endsWith('.yaml'));
    expect(files.sort()).toEqual(['capacity-spill-ha.yaml', 'capacity-spill-starved.yaml', 'capacity-spill.yaml', 'dns-failover.yaml', 'health-vantage.yaml', 'idle.yaml', 'keepalive-dns-long.yaml', 'keepalive-dns.yaml', 'keepalive-edge.yaml', 'latency-learning.yaml']);
    for (const f of files) expect(() => loadScenario(join(SCENARIOS, f)), f).not.toThrow();
  });

  it('the starved spill has the far origin 120 ms away and a bounded CPU hog; the vantage scenario has two edges', () => {
    const starved = loadScenario(join(SCENARIOS, 'capacity-spill-starved.yaml'));
    expect(rttBetween(starved, 'core', 'eu')).toBe(120);
    expect(starved.params.cpu_hog).toMatchObject({ workers: 2, nice: 0, max_s: 120 });
    const vantage = loadScenario(join(SCENARIOS, 'health-vantage.yaml'));
    expect(vantage.edges.map((e) => e.name)).toEqual(['edge-a', 'edge-b']);
    expect(vantage.health).toMatchObject({ edge_checks: true, hold_down: 2000, stale_after: 5000 });
  });

  it('the latency scenario emulates the walkthrough RTTs', () => {
    const s = loadScenario(join(SCENARIOS, 'latency-learning.yaml'));
    expect(rttBetween(s, 'eastus', 'westeu')).toBe(85);
    expect(rttBetween(s, 'seaorigin', 'eastus')).toBe(220);
    expect(rttBetween(s, 'seaclients', 'seaorigin')).toBe(2);
    expect(rttBetween(s, 'core', 'eastus')).toBe(2);
  });

  it('a scenario naming an undeclared namespace is refused', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-lab-unit-'));
    try {
      const f = join(dir, 'bad.yaml');
      writeFileSync(f, 'name: bad\nkind: idle\nnamespaces: { core: { address: 10.1.0.1 } }\nload_balancer: { name: x }\norigins: [{ name: o, namespace: nowhere, region: r, location: { lat: 0, lon: 0 }, target_rps: 1, max_rps: 1 }]\n');
      expect(() => loadScenario(f)).toThrow(/namespace "nowhere"/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('damping-law cycle bound', () => {
  it('without the proportional band it is the write-up formula ceil(gap / max_shift)', () => {
    expect(dampedCycles(1 - 200 / 300, 0.02, 1, 0)).toBe(17);
    expect(dampedCycles(1 - 200 / 300, 0.05, 1, 0)).toBe(7);
  });
  it('with the band (gain 0.5) the tail is geometric: 8 cycles to within 2 % of 200/300 at max_shift 0.05', () => {
    expect(dampedCycles(1 / 3, 0.05, 0.5, 204 / 300 - 200 / 300)).toBe(8);
    expect(dampedCycles(0, 0.05, 0.5, 0.01)).toBe(0);
  });
});

describe('DNS answers against the damping law (whole subnets by their sticky points)', () => {
  // Ten subnets of 10 req/s leave one origin for another in ten equal steps of their shares; the
  // expected load on the one they leave crosses 45 req/s at the sixth decision (index 5: shares 0.4).
  const subnets = Array.from({ length: 10 }, (_, i) => ({ cidr: `10.0.${i}.0/24`, point: 0.05 + i * 0.001, rate: 10 }));
  /** The walk between origins `leaving` and `taking`, and the weights it ends on. */
  const walk = (leaving: string, taking: string): [Decision[], Record<string, Record<string, number>>] => [
    // Then three decisions that change nothing (the connections opened before them still count).
    Array.from({ length: 13 }, (_, k) => ({
      id: k, created_at: new Date(k * 2000).toISOString(), reason: 'optimize', weights_version: k + 1, detail: '', inputs: {}, predicted_load_rps: {},
      diff: k >= 10 ? [] : subnets.flatMap((s) => [
        { source: `subnet:${s.cidr}`, origin_id: leaving, from: 1 - k / 10, to: 1 - (k + 1) / 10 },
        { source: `subnet:${s.cidr}`, origin_id: taking, from: k / 10, to: (k + 1) / 10 },
      ]),
    })),
    Object.fromEntries(subnets.map((s) => [s.cidr, { [leaving]: 0, [taking]: 1 }])),
  ];

  it('points at the start of the line hold the load on the origin leaving when it comes first on the line, release it early when it comes last', () => {
    // The line is in id order: leaving `a` for `b`, a point u is answered `a` while u < share(a), so
    // these low points hold on until the last decision; leaving `z` for `a`, they go to `a` as soon
    // as share(a) passes them, at the first.
    const [late, lateEnd] = walk('a', 'b');
    const held = answeredLoads(late, 0, subnets, { a: 1 }, ['a', 'b'], 'a', lateEnd)!;
    expect(held.byShare.map((l) => Math.round(l))).toEqual([90, 80, 70, 60, 50, 40, 30, 20, 10, 0, 0, 0, 0]);
    expect(held.byAnswer).toEqual([100, 100, 100, 100, 100, 100, 100, 100, 100, 0, 0, 0, 0]);
    const [early, earlyEnd] = walk('z', 'a');
    const released = answeredLoads(early, 0, subnets, { z: 1 }, ['z', 'a'], 'z', earlyEnd)!;
    expect(released.byAnswer).toEqual(new Array(13).fill(0));
    // The shares reach 45 req/s at decision 5 (40); until then the held answers kept up to 60 req/s
    // more on the origin (100 against 40), six cycles of a law moving 10 req/s a cycle; the released
    // ones never more than the shares.
    expect(answerLag(held, 45, 10)).toBeCloseTo(6, 9);
    expect(answerLag(released, 45, 10)).toBe(0);
    expect(answerLag(held, 45, 0)).toBeNull();
    // Ahead: the released answers had left all 100 req/s by the first decision, the shares 10 of them
    // (then no answer moves); the held ones never ran ahead (they lagged, then left at once).
    expect(answersAhead(released)).toEqual({ ahead: 90, answerStep: 0, shareStep: expect.closeTo(10, 9) });
    expect(answersAhead(held).ahead).toBe(0);
    expect(answersAhead(held).answerStep).toBe(100);
  });

  it('claims nothing when the replayed weights are not the weights in force', () => {
    const [w, end] = walk('a', 'b');
    expect(answeredLoads(w.slice(0, 8), 0, subnets, { a: 1 }, ['a', 'b'], 'a', end)).toBeNull();
    expect(answeredLoads(w, 0, subnets, { a: 1 }, ['a', 'c'], 'a', end)).toBeNull();
  });
});

describe('measurement arithmetic', () => {
  const bins = [0, 250, 500, 750, 1000, 1250].map((t) => ({ t, served: 10 }));
  it('rates count whole bins only', () => {
    expect(rateOf(bins, 'served', 0, 1000)).toBe(40);
    expect(rateOf(bins, 'served', 100, 1100)).toBe(40); // snapped to [250, 1000): 3 bins over 750 ms
    expect(rateOf(bins, 'served', 0, 100)).toBe(0);
  });
  it('a window to the millisecond counts its end bins pro rata', () => {
    const uneven = [0, 250, 500].map((t, i) => ({ t, served: [10, 20, 40][i]! }));
    expect(rateOver(uneven, 'served', 0, 750)).toBeCloseTo(70 / 0.75, 9);
    expect(rateOver(uneven, 'served', 125, 625)).toBeCloseTo((5 + 20 + 20) / 0.5, 9); // half, whole, half
    expect(rateOver(uneven, 'served', 600, 600)).toBe(0);
  });
  it('DNS reasons are summed over qtype and rcode', () => {
    const text = ['# TYPE sluice_dns_queries_total counter', 'sluice_dns_queries_total{qtype="A",rcode="NOERROR",reason="learned_latency"} 5', 'sluice_dns_queries_total{qtype="AAAA",rcode="NOERROR",reason="learned_latency"} 2', 'sluice_dns_queries_total{qtype="A",rcode="NOERROR",reason="cidr_mapping"} 3'].join('\n');
    expect(reasonCounts(text)).toEqual({ learned_latency: 7, cidr_mapping: 3 });
    expect(subnetOf('10.91.1.2')).toBe('10.91.1.0/24');
  });
  it('the chart has a line per series and keeps a far-away capacity off the scale', () => {
    const svg = renderChart({
      title: 't',
      yLabel: 'rps',
      series: [{ label: 'a', colour: '#000', points: [[0, 100], [1, 200]] }],
      capacities: [{ label: 'cap a', colour: '#000', points: [[0, 150]] }, { label: 'cap b', colour: '#111', points: [[0, 5000]] }],
      events: [{ t: 0.5, label: 'event' }],
    });
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('cap b (off scale)');
    expect(svg).not.toContain('cap a (off scale)');
    expect(svg.match(/<path /g)?.length).toBe(2); // the series and cap a; cap b is not drawn
  });
});

describe('state file identity', () => {
  it('a PID counts as the lab\'s only with the recorded start time', async () => {
    const me = procRecord('me', process.pid);
    expect(isSameProcess(me)).toBe(true);
    expect(isSameProcess({ ...me, start: '1' })).toBe(false);
    const dir = mkdtempSync(join(tmpdir(), 'sluice-lab-unit-'));
    try {
      const state: LabState = { version: 1, scenario: 'x', lab: { ...me, start: '1' }, created_at: '', state_dir: dir, tun: 'slc-none0', namespaces: [{ label: 'a', name: `slc-${process.pid}-unit-none`, inode: 1 }], processes: [{ name: 'gone', pid: 2 ** 22 + 1, start: '5' }], sockets: {}, urls: {}, token: '', origins: [], clients: [], status: 'stopped' };
      writeState(state);
      expect(readState(dir)).toEqual(state);
      // Nothing of it exists: nothing left, and teardown touches nothing (not even this process).
      expect(leftovers(state)).toEqual([]);
      expect(await teardown(state)).toEqual([]);
      expect(isSameProcess(me)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
