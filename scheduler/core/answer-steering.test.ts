// steerWholeAnswers: where the answers of subnets answered whole lag the walk, the subnets nearest to
// flipping are flipped ahead; where they run ahead of it (and the walk is carried apart from the
// published weights), the subnets the walk has just moved are held on the origin they are answered now;
// either way until the answered load is within one subnet of the walk's. Nothing else changes.
// decide() over many cycles: the answered load tracks the walk both ways, the walk itself unslowed.
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../lib/prng.ts';
import { steerWholeAnswers } from './answer-steering.ts';
import { decide } from './decide.ts';
import { pickOrder, pickOrigin } from './predict.ts';
import type { OriginState, SchedulingDecision, SchedulingProblem, Weights } from './types.ts';

const FAR = 0; // first on the line (its id sorts first)
const NEAR = 1;
const ORDER = [FAR, NEAR];

/** n subnets of demand 1 walking from near to far: shares far `now`, plan far `plan`; points `points`. */
function group(n: number, now: number, plan: number, points: (i: number) => number) {
  const weights = new Float64Array(n * 2);
  const planned = new Float64Array(n * 2);
  for (let i = 0; i < n; i++) {
    weights[i * 2 + FAR] = now;
    weights[i * 2 + NEAR] = 1 - now;
    planned[i * 2 + FAR] = plan;
    planned[i * 2 + NEAR] = 1 - plan;
  }
  return { rows: n, cols: 2, weights, plan: planned, demand: new Float64Array(n).fill(1), pick: Float64Array.from({ length: n }, (_, i) => points(i)), order: ORDER };
}

const answered = (g: ReturnType<typeof group>, origin: number) => {
  let load = 0;
  for (let i = 0; i < g.rows; i++) if (pickOrigin(g.weights, i * 2, g.order, g.pick[i]!) === origin) load += g.demand[i]!;
  return load;
};
const walked = (g: ReturnType<typeof group>, origin: number) => {
  let load = 0;
  for (let i = 0; i < g.rows; i++) load += g.demand[i]! * g.weights[i * 2 + origin]!;
  return load;
};

describe('steerWholeAnswers', () => {
  it('points that fall late leave the answers on the origin being left: the nearest ones are flipped ahead, to within one subnet of the walk', () => {
    // 40 subnets, shares 30 % far, points from 0.2 up: only 5 of 40 (12.5 %) are answered far.
    const g = group(40, 0.3, 1, (i) => 0.2 + (0.8 * i) / 40);
    const before = g.weights.slice();
    expect(answered(g, NEAR) - walked(g, NEAR)).toBeCloseTo(7, 6);
    const r = steerWholeAnswers(g);
    expect(r.flipped).toBeGreaterThanOrEqual(6);
    expect(r.surplusBefore).toBeCloseTo(7, 6);
    expect(Math.abs(answered(g, NEAR) - walked(g, NEAR))).toBeLessThanOrEqual(1);
    expect(r.surplusAfter).toBeLessThanOrEqual(1);
    // The flipped ones are those whose points were nearest above the boundary: rows 5, 6, … in order.
    const flipped = [...Array(40).keys()].filter((i) => g.weights[i * 2 + FAR] !== before[i * 2 + FAR]);
    expect(flipped).toEqual([...Array(r.flipped).keys()].map((k) => 5 + k));
    for (const i of flipped) {
      expect(pickOrigin(g.weights, i * 2, ORDER, g.pick[i]!)).toBe(FAR);
      // Ahead of the walk, towards the plan and not past it; the row still sums to 1.
      expect(g.weights[i * 2 + FAR]).toBeGreaterThan(0.3);
      expect(g.weights[i * 2 + FAR]).toBeLessThanOrEqual(1);
      expect(g.weights[i * 2 + FAR]! + g.weights[i * 2 + NEAR]!).toBeCloseTo(1, 12);
      // Just past the point: the cheapest mix that flips it.
      expect(g.weights[i * 2 + FAR]! - g.pick[i]!).toBeGreaterThan(0);
      expect(g.weights[i * 2 + FAR]! - g.pick[i]!).toBeLessThan(1e-3);
    }
  });

  it('answers that run ahead of the walk are left as they are where the published weights are the walk (holding them back would slow it)', () => {
    const g = group(40, 0.3, 1, (i) => (0.8 * i) / 40); // 15 of 40 answered far: more than the shares
    const before = g.weights.slice();
    const r = steerWholeAnswers(g);
    expect(r.flipped).toBe(0);
    expect(g.weights).toEqual(before);
  });

  it('never takes a row farther from its plan than the walk left it', () => {
    // Plan far 0.32: the walk is 0.02 from it; flipping any subnet needs far ≥ its point (≥ 0.36).
    const g = group(40, 0.3, 0.32, (i) => 0.36 + (0.6 * i) / 40);
    const before = g.weights.slice();
    expect(steerWholeAnswers(g).flipped).toBe(0);
    expect(g.weights).toEqual(before);
  });

  it('leaves rows an override fixes, rows not answered whole, and load established connections hold', () => {
    const points = (i: number) => 0.2 + (0.8 * i) / 40;
    const exact = group(40, 0.3, 1, points);
    const before = exact.weights.slice();
    expect(steerWholeAnswers({ ...exact, exact: new Uint8Array(40).fill(1) }).flipped).toBe(0);
    expect(exact.weights).toEqual(before);

    const fractional = group(40, 0.3, 1, () => NaN);
    expect(steerWholeAnswers(fractional).flipped).toBe(0);

    const pinned = group(40, 0.3, 1, points);
    const all = new Float64Array(80);
    for (let i = 0; i < 40; i++) all[i * 2 + NEAR] = 1; // every connection stays: nothing new to steer
    expect(steerWholeAnswers({ ...pinned, pinned: all }).flipped).toBe(0);
  });

  it('weighs each subnet by the load its new connections carry', () => {
    // Half the subnets' load is pinned: the same surplus in subnets takes about twice the flips... of half-weight subnets.
    const points = (i: number) => 0.2 + (0.8 * i) / 40;
    const full = group(40, 0.3, 1, points);
    const half = group(40, 0.3, 1, points);
    const pinned = new Float64Array(80);
    for (let i = 0; i < 40; i++) pinned[i * 2 + NEAR] = 0.5;
    const a = steerWholeAnswers(full);
    const b = steerWholeAnswers({ ...half, pinned });
    expect(b.surplusBefore).toBeCloseTo(a.surplusBefore / 2, 6);
    expect(b.movedLoad).toBeCloseTo(a.movedLoad / 2, 6);
    expect(b.flipped).toBe(a.flipped);
  });
});

/** The answers the weights in force give: far `was` for every row. */
function inForce(g: ReturnType<typeof group>, was: number): Int32Array {
  const w = Float64Array.from({ length: g.rows * 2 }, (_, k) => (k % 2 === FAR ? was : 1 - was));
  return Int32Array.from({ length: g.rows }, (_, i) => pickOrigin(w, i * 2, ORDER, g.pick[i]!));
}

describe('steerWholeAnswers: answers ahead of the walk', () => {
  // 40 subnets walking from near to far, far first on the line: the walk moved far from 0.2 to 0.3
  // (8 → 12 subnets' load); points from 0 up, so 15 are answered far, 10 of them before this cycle.
  const ahead = () => {
    const g = group(40, 0.3, 1, (i) => (0.8 * i) / 40);
    return { ...g, walkApart: new Uint8Array(40).fill(1), answerInForce: inForce(g, 0.2) };
  };

  it('are held on the origin being left, nearest to their boundary first, to within one subnet of the walk (never above it there)', () => {
    const g = ahead();
    const before = g.weights.slice();
    expect(answered(g, FAR) - walked(g, FAR)).toBeCloseTo(3, 6); // 5 subnets moved against the walk's 2
    const r = steerWholeAnswers(g);
    expect(r.held).toBeGreaterThanOrEqual(2);
    expect(r.held).toBe(r.flipped);
    expect(r.heldLoad).toBeCloseTo(r.held, 9);
    // The walk (the weights it was given) is the measure: held rows' walk shares stay where they were.
    const walk = 40 * 0.3;
    let onFar = 0;
    for (let i = 0; i < 40; i++) if (pickOrigin(g.weights, i * 2, ORDER, g.pick[i]!) === FAR) onFar++;
    expect(onFar - walk).toBeLessThanOrEqual(1);
    expect(onFar - walk).toBeGreaterThanOrEqual(0); // near: answered at or below the walk, not above it
    // The held ones are those the walk moved last (points just under the new boundary), back on near.
    const held = [...Array(40).keys()].filter((i) => g.weights[i * 2 + FAR] !== before[i * 2 + FAR]);
    expect(held).toEqual([...Array(r.held).keys()].map((k) => 15 - r.held + k));
    for (const i of held) {
      expect(pickOrigin(g.weights, i * 2, ORDER, g.pick[i]!)).toBe(NEAR);
      expect(g.answerInForce[i]).toBe(NEAR);
      expect(g.weights[i * 2 + FAR]).toBeLessThan(0.3);
      expect(g.pick[i]! - g.weights[i * 2 + FAR]!).toBeGreaterThan(0);
      expect(g.pick[i]! - g.weights[i * 2 + FAR]!).toBeLessThan(1e-3); // the cheapest mix that holds it
      expect(g.weights[i * 2 + FAR]! + g.weights[i * 2 + NEAR]!).toBeCloseTo(1, 12);
    }
  });

  it('are not held where the walk is the published weights, for rows freed by failover or fixed by an override, or without the answers in force', () => {
    const g = ahead();
    const before = g.weights.slice();
    expect(steerWholeAnswers({ ...g, walkApart: undefined }).flipped).toBe(0);
    expect(steerWholeAnswers({ ...g, answerInForce: undefined }).flipped).toBe(0); // the capacity guard's cycles
    expect(steerWholeAnswers({ ...g, answerInForce: new Int32Array(40).fill(-1) }).flipped).toBe(0); // freed shares
    expect(steerWholeAnswers({ ...g, exact: new Uint8Array(40).fill(1) }).flipped).toBe(0);
    expect(g.weights).toEqual(before);
    // An origin with no share left in the walk (removed, or left completely) is not held on.
    const gone = ahead();
    for (let i = 0; i < 40; i++) gone.weights.set([1, 0], i * 2);
    expect(steerWholeAnswers(gone).flipped).toBe(0);
  });

  it('behind the walk the subnets are still flipped ahead, with the walk carried apart as without', () => {
    const g = group(40, 0.3, 1, (i) => 0.2 + (0.8 * i) / 40); // 5 answered far against the walk's 12
    const r = steerWholeAnswers({ ...g, walkApart: new Uint8Array(40).fill(1), answerInForce: inForce(g, 0.25) });
    expect(r.held).toBe(0);
    expect(r.flipped).toBeGreaterThanOrEqual(6);
    // The walk carried apart is 12 subnets on far whatever the published mix: answered within one of it.
    let onFar = 0;
    for (let i = 0; i < 40; i++) if (pickOrigin(g.weights, i * 2, ORDER, g.pick[i]!) === FAR) onFar++;
    expect(Math.abs(onFar - 12)).toBeLessThanOrEqual(1);
  });
});

describe('decide() over cycles: the answered load tracks the walk both ways, and the walk is not slowed', () => {
  const origin = (id: string, extra: Partial<OriginState> = {}): OriginState => ({ id, target_rps: 1000, max_rps: 1000, healthy: true, admin_state: 'active', static_weight: 1, priority: 0, ...extra });
  // Points spread like hashes (seeded): deterministic, uneven as 40 hashes are.
  const rand = seededRandom(15);
  const lastOnLine = Array.from({ length: 40 }, () => rand());
  // Mirrored for the other order of the line: the same subnets run ahead of the same walk.
  const firstOnLine = lastOnLine.map((u) => 1 - u - 1e-9);

  /**
   * 40 subnets of 1 rps all on `from`, the plan (lower RTT) all on `to`: cycles of decide() as the loop
   * runs them, each publishing weights that become the next cycle's weights in force, and carrying the
   * walk (connections.effective) it computed. Connections close within the cycle (survival 0): the
   * load is where the answers are. With `pick` false the same walk without answers (the unheld walk).
   */
  function walk(from: string, to: string, points: number[], withPick: boolean, fail?: number, maxShift = 0.05) {
    let current: Weights = {};
    let carried: Weights = {};
    const ids = points.map((_, i) => `subnet:10.0.${i}.0/24`);
    for (const id of ids) {
      current[id] = { [from]: 1 };
      carried[id] = { [from]: 1 };
    }
    const cycles: { answered: number; walk: number; held: number; decision: SchedulingDecision }[] = [];
    for (let k = 0; k < 40; k++) {
      const problem: SchedulingProblem = {
        policy: 'latency', max_shift: maxShift, gain: 0.5, deadband: 0.005, max_latency_ms: 500, current,
        origins: [origin(from, k === fail ? { healthy: false } : {}), origin(to)],
        sources: ids.map((id, i) => ({
          id, demand_rps: 1, rtt_ms: { [from]: 50, [to]: 10 },
          ...(withPick ? { pick: points[i]! } : {}),
          connections: { effective: carried[id]!, survival: { [from]: 0, [to]: 0 } },
        })),
      };
      const d = decide(problem);
      const order = pickOrder([from, to]);
      let answered = 0;
      let walked = 0;
      ids.forEach((id, i) => {
        const w = Float64Array.from([d.weights[id]![from] ?? 0, d.weights[id]![to] ?? 0]);
        if (pickOrigin(w, 0, order, points[i]!) === 1) answered++;
        walked += d.connections!.effective[id]![to] ?? 0;
      });
      const held = d.notes.find((x) => /held on their origin/.test(x));
      cycles.push({ answered, walk: walked, held: held ? Number(/(\d+) subnet/.exec(held)![1]) : 0, decision: d });
      current = d.weights;
      carried = d.connections!.effective;
    }
    return cycles;
  }

  for (const [from, to, points, line] of [['a-near', 'b-far', firstOnLine, 'the origin being left first on the line'], ['z-near', 'b-far', lastOnLine, 'the origin being left last on the line']] as const) {
    it(`within one subnet every cycle, ${line}`, () => {
      const held = walk(from, to, points, true);
      const unheld = walk(from, to, points, false);
      let holds = 0;
      held.forEach((c, k) => {
        // The walk is the unheld walk, cycle for cycle: holding answers back never slowed it.
        expect(c.walk).toBeCloseTo(unheld[k]!.walk, 9);
        expect(Math.abs(c.answered - c.walk), `cycle ${k}: answered ${c.answered}, walk ${c.walk.toFixed(3)}`).toBeLessThanOrEqual(1 + 1e-9);
        holds += c.held;
      });
      // The walk moves at max_shift (2 subnets' load a cycle) and reaches the plan, every answer with it.
      expect(held[1]!.walk - held[0]!.walk).toBeCloseTo(2, 6);
      const done = unheld.findIndex((c) => c.walk > 40 - 1e-9);
      expect(done).toBeGreaterThan(15);
      expect(held[done]!.answered).toBe(40);
      expect(held.at(-1)!.answered).toBe(40);
      // Every row's published weights are on the plan when the unheld walk's are: no hold outlives the walk.
      for (const w of Object.values(held[done]!.decision.weights)) expect(w).toEqual({ [to]: 1 });
      // A held row's published weights trail its walk (the law) by its hold: just past its point. A row
      // stays held while the answers need it and no subnet nearer its boundary can take its place: here
      // at most 0.154 of a share, three cycles' steps (max_shift 0.05); the walk itself never trails.
      let lag = 0;
      held.forEach((c) => {
        for (const [id, w] of Object.entries(c.decision.weights)) lag = Math.max(lag, (w[from] ?? 0) - (c.decision.connections!.effective[id]![from] ?? 0));
      });
      expect(lag).toBeGreaterThan(0);
      expect(lag).toBeLessThan(4 * 0.05);
      // Not vacuous: the points alone run ahead of the walk by more than a subnet somewhere (the points
      // of the unheld walk's weights), and the steering held subnets to prevent it.
      const ahead = unheld.map((c) => {
        let n = 0;
        for (const [id, w] of Object.entries(c.decision.weights)) if (pickOrigin(Float64Array.from([w[from] ?? 0, w[to] ?? 0]), 0, pickOrder([from, to]), points[Number(id.split('.')[2])]!) === 1) n++;
        return n - c.walk;
      });
      expect(Math.max(...ahead)).toBeGreaterThan(1.5);
      expect(holds).toBeGreaterThan(0);
    });
  }

  // The dns-failover lab's recovery: 8 subnets come back from far to near at max_shift 0.1 (ten cycles),
  // then the tail of the proportional band (0.95 → 0.975 → 0.988 → 1). A subnet flipped ahead (or held
  // back) must stay so while the walk catches up: each answer changes exactly once. Before hysteresis a
  // row flipped ahead in one cycle went back to the walk's answer the next (its walk carried apart does not
  // keep the flip) and was flipped again: 3–5 changes for the subnet nearest the end of the line.
  describe('each subnet’s answer moves once per plan move (no flapping)', () => {
    const rand8 = seededRandom(7);
    const sets: [string, number[]][] = [
      ['the lab’s 8 points spread over the line', [0.04, 0.17, 0.3, 0.45, 0.58, 0.71, 0.86, 0.985]],
      ['points crowding the tail', [0.12, 0.5, 0.9, 0.93, 0.955, 0.97, 0.98, 0.992]],
      ['seeded points', Array.from({ length: 8 }, () => rand8())],
    ];
    for (const [what, points] of sets) {
      for (const [from, to] of [['b-far', 'a-near'], ['a-far', 'z-near']] as const) {
        it(`${what}, ${to} ${to < from ? 'first' : 'last'} on the line`, () => {
          const cycles = walk(from, to, points, true, undefined, 0.1);
          const order = pickOrder([from, to]);
          const changes = points.map(() => 0);
          let last = points.map(() => 0); // all answered `from` (index 0) at the start
          for (const c of cycles) {
            const now = points.map((u, i) => {
              const w = c.decision.weights[`subnet:10.0.${i}.0/24`]!;
              return pickOrigin(Float64Array.from([w[from] ?? 0, w[to] ?? 0]), 0, order, u);
            });
            now.forEach((a, i) => (changes[i]! += a !== last[i] ? 1 : 0));
            last = now;
            expect(Math.abs(c.answered - c.walk), `answered ${c.answered}, walk ${c.walk.toFixed(3)}`).toBeLessThanOrEqual(1 + 1e-9);
          }
          // The walk went all the way (and through the tail), and every subnet came along exactly once.
          expect(cycles.at(-1)!.walk).toBeCloseTo(8, 9);
          expect(cycles.some((c) => c.walk > 7.5 && c.walk < 7.95)).toBe(true);
          expect(changes).toEqual(points.map(() => 1));
        });
      }
    }
  });

  it('the capacity guard is never held back: a cycle whose pace it raised holds no answer', () => {
    // x fails; its 20 subnets (A) are re-planned onto y at once, and the 20 on y (B) must make room on
    // z faster than max_shift: α = (40 − 25) / 20 = 0.75. B's points all lie past y's shrunken
    // interval, so every B answer leaves y — ahead of the walk's 25 % — and none may be held.
    const o = (id: string, max: number, healthy = true): OriginState => ({ id, target_rps: max, max_rps: max, healthy, admin_state: 'active', static_weight: 1, priority: 0 });
    const A = Array.from({ length: 20 }, (_, i) => `subnet:10.1.${i}.0/24`);
    const B = Array.from({ length: 20 }, (_, i) => `subnet:10.2.${i}.0/24`);
    const current: Weights = Object.fromEntries([...A.map((id) => [id, { x: 1 }]), ...B.map((id) => [id, { y: 1 }])]);
    const d = decide({
      policy: 'latency', max_shift: 0.05, gain: 0.5, deadband: 0.005, max_latency_ms: 500, current,
      origins: [o('x', 1000, false), o('y', 25), o('z', 1000)],
      sources: [
        ...A.map((id) => ({ id, demand_rps: 1, rtt_ms: { x: 5, y: 10, z: 100 }, pick: 0.5, connections: { effective: current[id]!, survival: { x: 0, y: 0, z: 0 } } })),
        ...B.map((id, i) => ({ id, demand_rps: 1, rtt_ms: { x: 100, y: 10, z: 20 }, pick: 0.3 + i * 0.03, connections: { effective: current[id]!, survival: { x: 0, y: 0, z: 0 } } })),
      ],
    });
    expect(d.step.limited_by).toBe('capacity');
    const walkOnY = B.reduce((t, id) => t + (d.connections!.effective[id]!.y ?? 0), 0);
    const answeredOnY = B.filter((id, i) => pickOrigin(Float64Array.from([d.weights[id]!.y ?? 0, d.weights[id]!.z ?? 0]), 0, [0, 1], 0.3 + i * 0.03) === 0).length;
    expect(walkOnY).toBeGreaterThan(2);
    expect(answeredOnY).toBe(0); // ahead of the walk by more than a subnet, and left so
    expect(d.notes.some((x) => /held on their origin/.test(x))).toBe(false);
  });

  it('failover is never held back: an origin failing mid-walk loses every answer in that cycle', () => {
    const cycles = walk('a-near', 'b-far', firstOnLine, true, 6);
    expect(cycles[6]!.answered).toBe(40);
    expect(cycles[6]!.held).toBe(0);
    expect(cycles[6]!.decision.reason).toBe('health');
  });
});
