// The write-up's experiment, through the decision core and the simulator's world model: one listener,
// origins US and EU, clients near US (US 20 ms, EU 140 ms), US max_rps 200, 300 rps of demand, all on US
// at the start, clients that issue fewer requests when sent farther (demand reacts to mean RTT).
import { describe, expect, it } from 'vitest';
import { loadConfigFile } from '../lib/config-file.ts';
import { Scenario } from '../scheduler/simulate/scenario.ts';
import { simulate } from '../scheduler/simulate/run.ts';

const damped = loadConfigFile(Scenario, 'examples/scenarios/writeup.yaml');
const undamped = loadConfigFile(Scenario, 'examples/scenarios/writeup-undamped.yaml');

describe('the write-up experiment', () => {
  it('damped: US settles at <= max + 2 % within the cycles damping allows + 1, then stays within 1 % for 40 cycles', () => {
    const maxShift = damped.scheduler.max_shift;
    const usMax = damped.origins.find((o) => o.id === 'us')!.max_rps;
    const demand = damped.sources[0]!.demand_rps!;
    // Without feedback, US must shed (1 − max/demand) of its share at max_shift per cycle; the
    // feedback only shrinks the move needed. +1 for the cycle the measurement lags.
    const bound = Math.ceil((1 - usMax / demand) / maxShift) + 1;
    const run = simulate(damped);
    const us = run.cycles.map((c) => c.origins.us!.load_rps);
    const settled = us.findIndex((l) => l <= usMax * 1.02);
    expect(settled).toBeGreaterThanOrEqual(1);
    expect(settled, `US load by cycle: ${us.map((l) => l.toFixed(1)).join(' ')}`).toBeLessThanOrEqual(bound);
    for (let k = settled; k <= settled + 40; k++) {
      expect(Math.abs(us[k]! - usMax), `cycle ${k}`).toBeLessThanOrEqual(0.01 * usMax);
      expect(Math.abs(us[k]! - usMax), `cycle ${k}`).toBeLessThanOrEqual(0.01 * run.cycles[k]!.demand_rps);
    }
    // The walk itself: each cycle moves at most max_shift of the listener's share off US.
    for (let k = 1; k < run.cycles.length; k++) {
      expect(run.cycles[k - 1]!.origins.us!.share - run.cycles[k]!.origins.us!.share).toBeLessThanOrEqual(maxShift + 1e-9);
    }
    // Demand reacted to the detour (the write-up's side effect), so the loop had a moving target.
    expect(run.cycles[run.cycles.length - 1]!.demand_rps).toBeLessThan(demand * 0.9);
  });

  it('undamped (max_shift 1): the same loop oscillates or overshoots', () => {
    const usMax = undamped.origins.find((o) => o.id === 'us')!.max_rps;
    const run = simulate(undamped);
    const us = run.cycles.map((c) => c.origins.us!.load_rps);
    const late = us.slice(20, 61);
    const swing = Math.max(...late) - Math.min(...late);
    const overshootBelow = Math.min(...late) < usMax * 0.9; // sent far more away than needed
    const aboveMax = late.some((l) => l > usMax * 1.1);
    expect(swing, `US load by cycle: ${us.map((l) => l.toFixed(1)).join(' ')}`).toBeGreaterThan(0.1 * usMax);
    expect(overshootBelow || aboveMax).toBe(true);
    // ...where the damped loop does not.
    const dampedLate = simulate(damped).cycles.slice(20, 61).map((c) => c.origins.us!.load_rps);
    expect(Math.max(...dampedLate) - Math.min(...dampedLate)).toBeLessThan(0.02 * usMax);
  });

  it('a scenario with both runs in one file gives the same curves as the two files', () => {
    const both = Scenario.parse({ ...damped, runs: [{ name: 'damped' }, { name: 'undamped', max_shift: 1 }] });
    const [a, b] = [simulate(both, both.runs![0]), simulate(both, both.runs![1])];
    expect(a.cycles.map((c) => c.origins.us!.load_rps)).toEqual(simulate(damped).cycles.map((c) => c.origins.us!.load_rps));
    expect(b.cycles.map((c) => c.origins.us!.load_rps)).toEqual(simulate(undamped).cycles.map((c) => c.origins.us!.load_rps));
  });
});

describe('failures in the simulated world', () => {
  const world = (delay: number) =>
    Scenario.parse({
      name: 'failure',
      cycles: 30,
      detection_delay_cycles: delay,
      scheduler: { policy: 'latency', max_shift: 0.02, deadband: 0.005, max_latency_ms: 500 },
      origins: [
        { id: 'a', max_rps: 150 },
        { id: 'b', max_rps: 150 },
        { id: 'c', max_rps: 400 },
      ],
      sources: [{ id: 'edge', demand_rps: 240, rtt_ms: { a: 10, b: 20, c: 30 }, initial: { a: 0.4, b: 0.4, c: 0.2 } }],
      events: [{ cycle: 10, origin: 'b', healthy: false }],
    });

  it('an origin that fails has share 0 in the first cycle after the failure is detected, and nobody is overloaded', () => {
    for (const delay of [0, 2]) {
      const run = simulate(world(delay));
      const detected = 10 + delay;
      for (let k = 10; k <= detected; k++) expect(run.cycles[k]!.lost_rps, `delay ${delay}, cycle ${k}`).toBeGreaterThan(0);
      expect(run.cycles[detected + 1]!.origins.b!.share).toBe(0);
      expect(run.cycles[detected + 1]!.lost_rps).toBe(0);
      for (const c of run.cycles.slice(detected + 1)) {
        for (const id of ['a', 'c']) expect(c.origins[id]!.load_rps).toBeLessThanOrEqual(c.origins[id]!.max_rps * (1 + 1e-9));
      }
    }
  });
});
