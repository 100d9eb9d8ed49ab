// The world model's arithmetic: demand curves, the RTT feedback, lost requests, health detection delay.
import { describe, expect, it } from 'vitest';
import { Scenario } from './scenario.ts';
import { World } from './world.ts';
import { toCsv, CSV_HEADER } from './csv.ts';
import { simulate } from './run.ts';
import { summarise } from './summary.ts';

const scenario = Scenario.parse({
  name: 'unit',
  cycles: 6,
  detection_delay_cycles: 1,
  origins: [
    { id: 'near', max_rps: 100 },
    { id: 'far', max_rps: 1000 },
  ],
  sources: [
    { id: 'curve', demand: [{ cycle: 0, rps: 0 }, { cycle: 4, rps: 400 }], rtt_ms: { near: 10, far: 40 } },
    { id: 'closed-loop', demand_rps: 100, rtt_ms: { near: 10, far: 40 }, feedback: { reference_rtt_ms: 10, elasticity: 1 }, initial: { near: 0.5, far: 0.5 } },
  ],
  events: [{ cycle: 2, origin: 'near', healthy: false }],
});

describe('World', () => {
  it('interpolates demand curves and holds the last point', () => {
    const w = new World(scenario);
    expect([0, 1, 2, 4, 9].map((k) => w.nominalDemand(0, k))).toEqual([0, 100, 200, 400, 400]);
  });

  it('applies the feedback: closed-loop clients at twice the mean RTT send half the requests', () => {
    const w = new World(scenario);
    w.applyEvents(0);
    const m = w.measure({ 'closed-loop': { near: 0.5, far: 0.5 } }, 0); // mean RTT 25 ms vs reference 10
    expect(m.demand['closed-loop']).toBeCloseTo(100 * (10 / 25), 12);
    expect(m.load.near).toBeCloseTo(20, 12);
    expect(m.mean_rtt_ms).toBeCloseTo(25, 12);
  });

  it('counts requests sent to an unhealthy origin as lost, and the scheduler sees the failure one cycle late', () => {
    const w = new World(scenario);
    for (let k = 0; k <= 2; k++) w.applyEvents(k);
    const m = w.measure({ 'closed-loop': { near: 1 } }, 2);
    expect(m.lost_rps).toBeCloseTo(100, 12);
    expect(m.load.near).toBe(0);
    expect(w.problem({ policy: 'latency', max_shift: 0.02, deadband: 0.005, max_latency_ms: 500 }, m, {}).origins.find((o) => o.id === 'near')!.healthy).toBe(true);
    w.applyEvents(3);
    const m3 = w.measure({}, 3);
    expect(w.problem({ policy: 'latency', max_shift: 0.02, deadband: 0.005, max_latency_ms: 500 }, m3, {}).origins.find((o) => o.id === 'near')!.healthy).toBe(false);
  });

  it('a run has one CSV line per cycle and origin, and a summary per origin', () => {
    const run = simulate(scenario);
    expect(run.cycles).toHaveLength(6);
    const csv = toCsv([run]).trim().split('\n');
    expect(csv[0]).toBe(CSV_HEADER);
    expect(csv).toHaveLength(1 + 6 * 2);
    expect(Object.keys(summarise(run))).toEqual(['near', 'far']);
    // near fails at cycle 2, is seen at cycle 3 (delay 1): share 0 from cycle 4 on.
    expect(run.cycles[4]!.origins.near!.share).toBe(0);
    expect(run.cycles[3]!.lost_rps).toBeGreaterThan(0);
  });
});
