// The answer-survival learner on snapshots as the agents report them: clients that follow answers
// (their connections on the old answer are gone once the change reached them), clients that keep
// them (they decay as their ages said), scrapes read before the change took effect, and a failing
// origin (its connections break for their own reason: no evidence).
import { describe, expect, it } from 'vitest';
import type { OpenConnections } from '../inputs/types.ts';
import { AnswerSurvival, answersOf, reconcile, type SnapshotAt } from './answer-survival.ts';
import { dnsPick } from './dns-pick.ts';

const conn = (open: number, surviving: number): OpenConnections => ({ open, surviving, survivingMean: (open + surviving) / 2 });
function snap(at: number, rows: Record<string, Record<string, OpenConnections>>): SnapshotAt {
  return { survivors: new Map(Object.entries(rows).map(([s, r]) => [s, new Map(Object.entries(r))])), polledAt: new Map([['near', at], ['far', at]]) };
}
const answers = (m: Record<string, string>) => new Map(Object.entries(m));
const healthy = () => true;
/** The walk's survival per cycle on every origin. */
const S = () => 0.7;
const SUBNETS = ['10.0.1.0/24', '10.0.2.0/24', '10.0.3.0/24', '10.0.4.0/24'];

/** Cycles of 1 s: every subnet's answer moves far -> near at t = 10 (decided then, TTL 1 s). */
function shift(keep: boolean, staleness: number): AnswerSurvival {
  const a = new AnswerSurvival(1);
  const onFar = Object.fromEntries(SUBNETS.map((s) => [s, 'far']));
  const onNear = Object.fromEntries(SUBNETS.map((s) => [s, 'near']));
  // Each subnet holds 4 connections on far, 70 % expected to outlive a cycle; keep-alive clients keep
  // them (they close at that rate), clients that follow answers drop them when the answer changes.
  let far = 4;
  for (let t = 8; t <= 16; t++) {
    const polled = t - staleness;
    const changed = polled >= 10.2; // the clients saw the new answer 0.2 s after the decision
    if (changed) far = keep ? far * 0.7 : 0;
    const rows = Object.fromEntries(SUBNETS.map((s) => [s, { far: conn(Math.round(far * 100) / 100, far * 0.7) }]));
    a.observe(snap(polled, rows), healthy, t);
    a.remember(snap(polled, rows), S, answers(t <= 10 ? onFar : onNear), answers(t < 10 ? onFar : onNear), t, 1);
  }
  return a;
}

describe('answer survival', () => {
  it('learns 0 for clients that follow answers, whatever the scrape delay', () => {
    for (const staleness of [0, 0.4, 0.9, 1.4]) {
      const e = shift(false, staleness).estimate();
      expect(e.from, `staleness ${staleness}`).toBe('observed');
      expect(e.value, `staleness ${staleness}`).toBe(0);
      expect(e.measured, `staleness ${staleness}`).toBe(0);
    }
  });

  it('learns about 1 for clients that keep their connections', () => {
    for (const staleness of [0, 0.4, 0.9]) {
      const e = shift(true, staleness).estimate();
      expect(e.from).toBe('observed');
      expect(e.value, `staleness ${staleness}`).toBeGreaterThan(0.95);
      expect(e.measured, `staleness ${staleness}`).toBeGreaterThan(0.95);
    }
  });

  it('judges by the agents\' survivors where they expected any: the fit\'s misjudgement is not the clients\'', () => {
    // Keep-alive clients whose connections close at the rate the agents' ages say (0.6 per cycle) while
    // the walk's exponential fit says 0.9: they outlive the answer change (a_m = 1), the fit is off.
    const a = new AnswerSurvival(1);
    const s = '10.0.1.0/24';
    a.remember(snap(9.5, { [s]: { far: conn(10, 6) } }), () => 0.9, answers({ [s]: 'far' }), answers({ [s]: 'near' }), 10, 1);
    a.observe(snap(11.5, { [s]: { far: conn(3.6, 2.2) } }), healthy, 12); // 2 cycles: 10 × 0.6²
    const e = a.estimate();
    expect(e.fitted).toBeCloseTo(3.6 / (10 * 0.81), 9);
    expect(e.measured).toBeCloseTo(1, 9);
    expect(e.value).toBeCloseTo(1, 9);
    // Connections too short for the agents to expect any survivor: judged against the fit alone.
    const b = new AnswerSurvival(1);
    b.remember(snap(9.5, { [s]: { far: conn(4, 0) } }), () => 0.6, answers({ [s]: 'far' }), answers({ [s]: 'near' }), 10, 1);
    b.observe(snap(11.5, {}), healthy, 12);
    expect(b.estimate()).toMatchObject({ value: 0, fitted: 0, measured: 1, from: 'observed' });
  });

  it('without an answer change, or with the origin failing, there is no evidence: the lifetime model (1)', () => {
    const a = new AnswerSurvival(1);
    const rows = { '10.0.1.0/24': { far: conn(4, 2.8) } };
    for (let t = 0; t < 5; t++) {
      a.observe(snap(t, rows), healthy, t);
      a.remember(snap(t, rows), S, answers({ '10.0.1.0/24': 'far' }), answers({ '10.0.1.0/24': 'far' }), t, 1);
    }
    expect(a.estimate()).toMatchObject({ value: 1, from: 'lifetime', expected: 0 });
    // far fails: the answer leaves it and its connections break — not the clients' doing.
    a.remember(snap(5, rows), S, answers({ '10.0.1.0/24': 'far' }), answers({ '10.0.1.0/24': 'near' }), 5, 1);
    a.observe(snap(7, {}), (o) => o !== 'far', 7);
    expect(a.estimate()).toMatchObject({ value: 1, from: 'lifetime' });
  });

  it('a snapshot read again (same poll) or from before the change settled is no evidence yet', () => {
    const a = new AnswerSurvival(1);
    const s = '10.0.1.0/24';
    a.remember(snap(9.5, { [s]: { far: conn(2, 1.4) } }), S, answers({ [s]: 'far' }), answers({ [s]: 'near' }), 10, 1);
    a.observe(snap(9.5, { [s]: { far: conn(2, 1.4) } }), healthy, 11); // same poll
    a.observe(snap(10.6, { [s]: { far: conn(2, 1.3) } }), healthy, 11.5); // before change + TTL
    expect(a.estimate().expected).toBe(0);
    a.observe(snap(11.5, {}), healthy, 12);
    expect(a.estimate()).toMatchObject({ value: 0, from: 'observed' });
    // Judged over 2 s: 2 connections at 0.7 per second each expected 2 × 0.49.
    expect(a.estimate().expected).toBeCloseTo(2 * 0.7 ** 2, 9);
  });

  it('answersOf names the origin sluice dns picks: the point u on the cumulative line in id order', () => {
    const s = '10.0.1.0/24';
    const u = dnsPick(s, 'app.example')!;
    const names = new Map([['a', 'near'], ['b', 'far']]);
    expect(answersOf({ [s]: { b: 1 - u + 1e-6, a: u - 1e-6 } }, 'app.example', names).get(s)).toBe('far');
    expect(answersOf({ [s]: { b: 1 - u - 1e-6, a: u + 1e-6 } }, 'app.example', names).get(s)).toBe('near');
    expect(answersOf({ '10.0.0.0/16': { a: 1 } }, 'app.example', names).size).toBe(0); // not answered whole
  });

  it('reconcile re-reads a carried row with a new answer survival', () => {
    // Last decision: a′ = 1, π = (far 0.6), w = (near 0.25, far 0.75): e = π + 0.4 w = (0.1, 0.9).
    const e = { near: 0.1, far: 0.9 };
    const w = { near: 0.25, far: 0.75 };
    expect(reconcile(e, w, 1, 1)).toBe(e);
    const zero = reconcile(e, w, 1, 0);
    expect(zero.near).toBeCloseTo(0.25, 12);
    expect(zero.far).toBeCloseTo(0.75, 12);
    const half = reconcile(e, w, 1, 0.5); // 0.5π + 0.7w = (0.175, 0.825)
    expect(half.near).toBeCloseTo(0.175, 12);
    expect(half.far).toBeCloseTo(0.825, 12);
  });
});
