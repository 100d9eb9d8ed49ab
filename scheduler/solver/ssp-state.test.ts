// The tier arcs between a column and the sink, one function each: which tier a unit more (or less)
// of routing lands in, what it costs, and how much room that tier has — at the tier boundaries too.
import { describe, expect, it } from 'vitest';
import { forwardCost, forwardRoom, reverseCost, reverseRoom, seatRows } from './ssp-state.ts';
import type { TransportProblem } from './transport.ts';

const P = 1000;
const R = 100_000;
/** One row of demand 0 on two columns: column 0 with cap1 10 / cap2 15, column 1 unlimited. */
function state(routed0: number) {
  const p: TransportProblem = { rows: 1, cols: 2, demand: new Float64Array([0]), cost: new Float64Array([1, 2]), cap1: new Float64Array([10, Infinity]), cap2: new Float64Array([15, Infinity]), penalty: P };
  const s = seatRows(p, undefined, undefined);
  s.routed[0] = routed0;
  return s;
}

describe('tier arcs', () => {
  it.each([
    // routed, forward cost, forward room, reverse cost, reverse room
    [0, 0, 10, Infinity, 0],
    [4, 0, 6, 0, 4],
    [10, P, 5, 0, 10],
    [12, P, 3, -P, 2],
    [15, Infinity, 0, -P, 5],
  ])('routing %d of cap1 10 / cap2 15: forward %d (room %d), reverse %d (room %d)', (routed, fc, fr, rc, rr) => {
    const s = state(routed);
    expect(forwardCost(s, 0)).toBe(fc);
    if (fc !== Infinity) expect(forwardRoom(s, 0)).toBe(fr);
    expect(reverseCost(s, 0)).toBe(rc);
    if (rc !== Infinity) expect(reverseRoom(s, 0)).toBe(rr);
  });

  it('an unlimited column always has room at no cost, and nothing to give back while empty', () => {
    const s = state(0);
    expect(forwardCost(s, 1)).toBe(0);
    expect(forwardRoom(s, 1)).toBe(Infinity);
    expect(reverseCost(s, 1)).toBe(Infinity);
  });

  it('seatRows puts each row on its cheapest column at the starting prices and routes what the price implies', () => {
    const p: TransportProblem = { rows: 2, cols: 2, demand: new Float64Array([6, 8]), cost: new Float64Array([1, 5, 1, 5]), cap1: new Float64Array([10, 100]), cap2: new Float64Array([12, 100]), penalty: P };
    const cold = seatRows(p, undefined, undefined);
    expect([...cold.load]).toEqual([14, 0]);
    expect(cold.routed[0]).toBe(10); // price 0: tier 1 only, the rest is excess
    expect(cold.excessOf(0)).toBe(4);
    // At a price of 5 on column 0 (1 + 5 = 6 > 5 + 0) both rows sit on column 1.
    const warm = seatRows(p, new Float64Array([5, 0]), undefined);
    expect([...warm.load]).toEqual([0, 14]);
    expect(warm.routed[0]).toBe(10); // λ > 0 asks tier 1 to be full, so column 0 has a deficit
    expect(warm.excessOf(0)).toBe(-10);
  });

  it.each([
    // A reward tier of 6 below cap1 10 / cap2 15 (every tier shifted by +R, the reward tier costs 0):
    // routed, forward cost, forward room, reverse cost, reverse room
    [0, 0, 6, Infinity, 0],
    [4, 0, 2, 0, 4],
    [6, R, 4, 0, 6],
    [8, R, 2, -R, 2],
    [10, R + P, 5, -R, 4],
    [12, R + P, 3, -R - P, 2],
    [15, Infinity, 0, -R - P, 5],
  ])('with a reward tier 6: routing %d costs %d forward (room %d), %d back (room %d)', (routed, fc, fr, rc, rr) => {
    const p: TransportProblem = { rows: 1, cols: 1, demand: new Float64Array([0]), cost: new Float64Array([1]), cap1: new Float64Array([10]), cap2: new Float64Array([15]), penalty: P, minLoad: new Float64Array([6]), reward: R };
    const s = seatRows(p, undefined, undefined);
    s.routed[0] = routed;
    expect(forwardCost(s, 0)).toBe(fc);
    if (fc !== Infinity) expect(forwardRoom(s, 0)).toBe(fr);
    expect(reverseCost(s, 0)).toBe(rc);
    if (rc !== Infinity) expect(reverseRoom(s, 0)).toBe(rr);
  });

  it('a reward tier reaching above cap1: P in the part of it above cap1, R + P beyond it (convex)', () => {
    const p: TransportProblem = { rows: 1, cols: 1, demand: new Float64Array([0]), cost: new Float64Array([1]), cap1: new Float64Array([10]), cap2: new Float64Array([15]), penalty: P, minLoad: new Float64Array([12]), reward: R };
    const s = seatRows(p, undefined, undefined);
    s.routed[0] = 11;
    expect(forwardCost(s, 0)).toBe(P);
    expect(forwardRoom(s, 0)).toBe(1);
    s.routed[0] = 13;
    expect(forwardCost(s, 0)).toBe(R + P);
    expect(reverseRoom(s, 0)).toBe(1);
    // A price between P and R + P asks every tier cheaper than it to be full: 12 units, a deficit here.
    expect(seatRows(p, new Float64Array([P + 1]), undefined).routed[0]).toBe(12);
    expect(seatRows(p, new Float64Array([0]), undefined).routed[0]).toBe(0);
  });
});
