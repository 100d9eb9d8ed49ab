// The quorum rule, its hold-down and edge-local reachability, table by table; then flapping inputs —
// one checker, two checkers, random flapping under a seeded PRNG — that must not flap the output.
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../lib/prng.ts';
import { initialRiseFall, riseFall, type RiseFallState } from '../../model/rise-fall.ts';
import { hold, judgeEdge, judgeOrigin, requiredDown, type HoldState, type QuorumPolicy, type Vote } from './quorum.ts';

const P: QuorumPolicy = { quorum: 'majority', min_down: 2, stale_after_ms: 10_000, forget_after_ms: 60_000, hold_down_ms: 5_000 };
const UP: HoldState = { healthy: true, since_ms: 0, clear_since_ms: null };
const vote = (vantage: string, healthy: boolean, received_ms: number): Vote => ({ vantage, healthy, received_ms });

describe('requiredDown: a majority of the fresh votes, at least min_down, at most the vantages known', () => {
  it.each([
    [1, 1, 'majority', 2, 1],
    [2, 2, 'majority', 2, 2],
    [3, 3, 'majority', 2, 2],
    [4, 4, 'majority', 2, 3],
    [5, 5, 'majority', 2, 3],
    [9, 9, 'majority', 2, 5],
    [5, 5, 1, 2, 2],
    [5, 5, 4, 2, 4],
    [3, 3, 4, 2, 3],
    [6, 6, 'majority', 5, 5],
    // Silent vantages still known keep the bar: one fresh vote of two known cannot decide alone.
    [1, 2, 'majority', 2, 2],
    [2, 4, 'majority', 2, 2],
    [3, 5, 'majority', 2, 2],
  ] as const)('%i fresh of %i known, quorum %s, min_down %i -> %i', (fresh, known, quorum, minDown, want) => {
    expect(requiredDown(fresh, { ...P, quorum, min_down: minDown }, known)).toBe(want);
  });
});

describe('judgeOrigin', () => {
  it('one vantage cut off from the origin (a control-plane partition) is outvoted', () => {
    const j = judgeOrigin(UP, [vote('cp', false, 1000), vote('edge:a', true, 1000), vote('edge:b', true, 1000)], 1500, P);
    expect(j).toMatchObject({ changed: false, state: { healthy: true }, tally: { fresh: 3, down: 1, required: 2, quorum_down: false } });
    expect(j.detail).toContain('down cp; up edge:a, edge:b');
  });

  it('a down quorum acts at once, and names the votes behind it', () => {
    const j = judgeOrigin(UP, [vote('cp', false, 1000), vote('edge:a', false, 1000), vote('edge:b', true, 1000)], 1200, P);
    expect(j).toMatchObject({ changed: true, reason: 'quorum_down', state: { healthy: false, since_ms: 1200 } });
    expect(j.detail).toBe('unhealthy by quorum: 2 of 3 fresh vantage point(s) see it down (2 needed): down cp, edge:a; up edge:b');
  });

  it('stale votes count neither way', () => {
    // Two fresh (one down) and five stale downs: 1 of 2 is no quorum.
    const stale = ['s1', 's2', 's3', 's4', 's5'].map((v) => vote(v, false, 0));
    const j = judgeOrigin(UP, [...stale, vote('cp', false, 20_000), vote('edge:a', true, 20_000)], 20_500, P);
    expect(j).toMatchObject({ changed: false, tally: { fresh: 2, stale: 5, down: 1, required: 2 } });
    expect(j.detail).toContain('stale, not counted: s1, s2, s3, s4, s5');
    // And stale ups do not keep a down quorum from forming.
    const down = judgeOrigin(UP, [vote('old-up', true, 0), vote('cp', false, 20_000), vote('edge:a', false, 20_000)], 20_500, P);
    expect(down).toMatchObject({ changed: true, state: { healthy: false }, tally: { fresh: 2, stale: 1 } });
  });

  it('no fresh vote: the decision stays, whichever it is', () => {
    const downState: HoldState = { healthy: false, since_ms: 0, clear_since_ms: null };
    for (const prev of [UP, downState]) {
      const j = judgeOrigin(prev, [vote('cp', !prev.healthy, 0)], 60_000, P);
      expect(j).toMatchObject({ changed: false, reason: 'no_fresh_vote', state: prev });
    }
    // Time without evidence does not count towards recovery either.
    const j = judgeOrigin(downState, [], 60_000, P);
    expect(j.state.clear_since_ms).toBeNull();
  });

  it('a single known vantage decides alone (and says so)', () => {
    const j = judgeOrigin(UP, [vote('cp', false, 0)], 100, P);
    expect(j).toMatchObject({ changed: true, state: { healthy: false }, tally: { lone: true, known: 1, required: 1 } });
    expect(j.detail).toContain('only one is known');
  });

  it('a vantage that went silent keeps the bar: the other alone cannot fail the origin until the silent one is forgotten', () => {
    // The edge last reported 15 s ago (stale, not counted), the control plane sees the origin down.
    const silent = judgeOrigin(UP, [vote('cp', false, 14_900), vote('edge:a', true, 0)], 15_000, P);
    expect(silent).toMatchObject({ changed: false, tally: { fresh: 1, known: 2, down: 1, required: 2, lone: false } });
    expect(silent.detail).toContain('1 silent one(s) still known keep the bar');
    // 60 s later the edge is forgotten (decommissioned): the control plane decides alone again.
    const forgotten = judgeOrigin(UP, [vote('cp', false, 60_900), vote('edge:a', true, 0)], 61_000, P);
    expect(forgotten).toMatchObject({ changed: true, state: { healthy: false }, tally: { known: 1, lone: true } });
  });

  it('back up only after hold_down without a down quorum, uninterrupted', () => {
    let s: HoldState = { healthy: false, since_ms: 0, clear_since_ms: null };
    const up = [vote('a', true, 0), vote('b', true, 0), vote('c', true, 0)];
    const at = (t: number, votes: Vote[]) => {
      const j = judgeOrigin(s, votes.map((v) => ({ ...v, received_ms: t })), t, P);
      s = j.state;
      return j;
    };
    expect(at(1000, up)).toMatchObject({ changed: false, reason: 'holding_down' });
    expect(at(5999, up).changed).toBe(false);
    // The quorum comes back for one evaluation: the hold-down starts over.
    expect(at(6000, [vote('a', false, 0), vote('b', false, 0), vote('c', true, 0)]).reason).toBe('quorum_down');
    expect(at(6500, up).changed).toBe(false);
    expect(at(11_499, up).changed).toBe(false);
    expect(at(11_500, up)).toMatchObject({ changed: true, reason: 'quorum_up', state: { healthy: true, since_ms: 11_500 } });
  });
});

describe('hold', () => {
  it('no evidence keeps the state and the recovery clock', () => {
    const s: HoldState = { healthy: false, since_ms: 0, clear_since_ms: 100 };
    expect(hold(s, null, 10_000, 1000)).toEqual({ state: s, changed: false });
  });
});

describe('judgeEdge: edge-local reachability', () => {
  it('an edge that cannot reach an origin the quorum calls healthy excludes it for itself, at once', () => {
    const j = judgeEdge(UP, vote('edge:a', false, 1000), true, 1100, P);
    expect(j).toMatchObject({ changed: true, reason: 'unreachable_from_edge', state: { healthy: false, since_ms: 1100 } });
  });

  it('no exclusion when the origin is down for everyone, and none without a fresh down vote', () => {
    expect(judgeEdge(UP, vote('edge:a', false, 1000), false, 1100, P).changed).toBe(false);
    expect(judgeEdge(UP, vote('edge:a', false, 0), true, 60_000, P).changed).toBe(false);
    expect(judgeEdge(UP, undefined, true, 60_000, P).changed).toBe(false);
  });

  it('lifted after the hold-down once the edge reaches it again, or stops reporting', () => {
    const excluded: HoldState = { healthy: false, since_ms: 0, clear_since_ms: null };
    const a = judgeEdge(excluded, vote('edge:a', true, 1000), true, 1000, P);
    expect(a).toMatchObject({ changed: false, reason: 'holding_down' });
    expect(judgeEdge(a.state, vote('edge:a', true, 6000), true, 6000, P)).toMatchObject({ changed: true, reason: 'reachable_from_edge' });
    const silent = judgeEdge(excluded, vote('edge:a', false, 0), true, 20_000, P);
    expect(silent.detail).toContain('has not reported lately');
    expect(judgeEdge(silent.state, vote('edge:a', false, 0), true, 25_000, P).changed).toBe(true);
  });
});

/**
 * A world of vantages, each fed raw check results every `checkMs` through its own rise/fall; every
 * `evalMs` the evaluator judges their latest verdicts (received when they were made). Returns the times
 * at which the global decision flipped.
 */
function simulate(opts: { vantages: number; steps: number; checkMs: number; evalMs: number; rise: number; fall: number; raw: (v: number, step: number) => boolean; policy?: QuorumPolicy }): { flips: { t: number; healthy: boolean }[] } {
  const policy = opts.policy ?? P;
  const rf: RiseFallState[] = Array.from({ length: opts.vantages }, () => initialRiseFall());
  const votes: Vote[] = rf.map((_, v) => vote(`v${v}`, true, 0));
  let decision: HoldState = UP;
  const flips: { t: number; healthy: boolean }[] = [];
  for (let step = 0; step < opts.steps; step++) {
    const t = step * opts.checkMs;
    for (let v = 0; v < opts.vantages; v++) {
      rf[v] = riseFall(rf[v]!, opts.raw(v, step), opts.rise, opts.fall).state;
      // A vantage reports its verdict on every check (a heartbeat): always fresh.
      votes[v] = vote(`v${v}`, rf[v]!.healthy, t);
    }
    if (t % opts.evalMs === 0) {
      const j = judgeOrigin(decision, votes, t, policy);
      decision = j.state;
      if (j.changed) flips.push({ t, healthy: decision.healthy });
    }
  }
  return { flips };
}

describe('flapping inputs do not flap the output', () => {
  it('rise/fall absorbs a checker whose raw results alternate pass/fail', () => {
    let s = initialRiseFall();
    let flips = 0;
    for (let i = 0; i < 1000; i++) {
      const r = riseFall(s, i % 2 === 0, 2, 2);
      s = r.state;
      if (r.flipped) flips++;
    }
    expect(flips).toBe(0);
  });

  it('one of three vantages flapping at any rate never takes the origin down', () => {
    for (const period of [1, 2, 3, 4, 7]) {
      // v0 fails `period` checks, passes `period`, ...; rise = fall = 1 so its verdict flaps with it.
      const { flips } = simulate({ vantages: 3, steps: 2000, checkMs: 500, evalMs: 500, rise: 1, fall: 1, raw: (v, step) => v !== 0 || Math.floor(step / period) % 2 === 1 });
      expect(flips, `period ${period}`).toEqual([]);
    }
  });

  it('two of three flapping faster than the hold-down: down once, stays down, no flapping', () => {
    // v0 and v1 fail together every other 2-s window (verdicts flip every 4 checks of 500 ms).
    const { flips } = simulate({ vantages: 3, steps: 400, checkMs: 500, evalMs: 500, rise: 1, fall: 1, raw: (v, step) => v === 2 || Math.floor(step / 4) % 2 === 1 });
    expect(flips).toEqual([{ t: 0, healthy: false }]);
  });

  it('a checker pair that recovers for good: exactly one down and one up, the up one hold-down after the last quorum', () => {
    // Flapping for the first 20 s, then all up.
    const { flips } = simulate({ vantages: 3, steps: 200, checkMs: 500, evalMs: 500, rise: 1, fall: 1, raw: (v, step) => v === 2 || step >= 40 || Math.floor(step / 4) % 2 === 1 });
    expect(flips).toEqual([
      { t: 0, healthy: false },
      // The last down quorum was the window of steps 32..35 (t 16.0–17.5 s); up from step 36 on: +5 s.
      { t: 36 * 500 + P.hold_down_ms, healthy: true },
    ]);
  });

  it('random flapping on five vantages (seeded): every down period lasts the hold-down, and the output changes far less often than its inputs', () => {
    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
      const rnd = seededRandom(seed);
      // Each vantage fails a check with its own probability, 5 %..60 %; rise/fall 2/2 as the checker defaults.
      const pFail = Array.from({ length: 5 }, () => 0.05 + 0.55 * rnd());
      let inputChanges = 0;
      const last: boolean[] = [true, true, true, true, true];
      const { flips } = simulate({
        vantages: 5,
        steps: 4000,
        checkMs: 500,
        evalMs: 1000,
        rise: 2,
        fall: 2,
        raw: (v, _step) => {
          const ok = rnd() >= pFail[v]!;
          if (ok !== last[v]) inputChanges++;
          last[v] = ok;
          return ok;
        },
      });
      for (let i = 0; i + 1 < flips.length; i++) {
        expect(flips[i]!.healthy, `seed ${seed}: flips alternate`).toBe(!flips[i + 1]!.healthy);
        if (!flips[i]!.healthy) expect(flips[i + 1]!.t - flips[i]!.t, `seed ${seed}: a down period shorter than the hold-down`).toBeGreaterThanOrEqual(P.hold_down_ms);
      }
      // Full down-up cycles are at least hold_down apart: at most one per hold-down of the 2000 s.
      expect(flips.length, `seed ${seed}`).toBeLessThanOrEqual(2 * Math.ceil((4000 * 500) / P.hold_down_ms));
      expect(flips.length, `seed ${seed}: ${flips.length} output flips for ${inputChanges} input changes`).toBeLessThan(inputChanges / 10);
    }
  });

  it('a real failure seen by every vantage is acted on within one evaluation of the quorum forming', () => {
    // All three start failing at step 100; fall 2: verdicts flip at step 101; evaluated every check.
    const { flips } = simulate({ vantages: 3, steps: 200, checkMs: 500, evalMs: 500, rise: 2, fall: 2, raw: (_v, step) => step < 100 });
    expect(flips).toEqual([{ t: 101 * 500, healthy: false }]);
  });
});
