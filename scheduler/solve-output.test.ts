// The text `sluice solve` writes from the flat decision must be exactly what JSON.stringify of the
// record form gives (the form it had before it was written directly; kept here as the reference).
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../lib/prng.ts';
import { decideDense } from './core/decide.ts';
import { densify } from './core/input.ts';
import { toDecision } from './core/output.ts';
import type { SchedulingDecision, SchedulingProblem, Weights } from './core/types.ts';
import { renderSolveOutput, round } from './solve-output.ts';

function referenceWeights(weights: Weights): Weights {
  const out: Weights = {};
  for (const [source, shares] of Object.entries(weights)) {
    const entries = Object.entries(shares);
    const units = entries.map(([, v]) => Math.floor(v * 10_000 + 1e-9));
    let left = 10_000 - units.reduce((a, b) => a + b, 0);
    const order = entries.map(([, v], i) => ({ i, rem: v * 10_000 - units[i]! })).sort((a, b) => b.rem - a.rem);
    for (const { i } of order) {
      if (left <= 0) break;
      units[i]!++;
      left--;
    }
    out[source] = Object.fromEntries(entries.map(([id], i) => [id, units[i]! / 10_000]).filter(([, v]) => (v as number) > 0));
  }
  return out;
}

function referenceRender(d: SchedulingDecision, full: boolean): Record<string, unknown> {
  const values = (rec: Record<string, number>, digits: number) => Object.fromEntries(Object.entries(rec).map(([k, v]) => [k, round(v, digits)]));
  const out: Record<string, unknown> = {
    weights: referenceWeights(d.weights),
    objective: round(d.objective, 4),
    origin_load_rps: values(d.origin_load_rps, 4),
    overload_rps: round(d.overload_rps, 4),
    status: d.status,
    reason: d.reason,
    plan_overload_rps: round(d.plan_overload_rps, 4),
    step: { ...d.step, fraction: round(d.step.fraction, 6) },
    notes: d.notes,
    diff: d.diff.map((c) => ({ ...c, from: round(c.from, 4), to: round(c.to, 4) })),
  };
  if (full) {
    out.plan = referenceWeights(d.plan);
    out.plan_objective = round(d.plan_objective, 4);
    out.origins = Object.fromEntries(
      Object.entries(d.origins).map(([id, o]) => [
        id,
        { ...o, load_rps: round(o.load_rps, 4), pinned_rps: round(o.pinned_rps, 4), planned_rps: round(o.planned_rps, 4), utilisation: round(o.utilisation, 6), price: round(o.price, 6), target_rps: Number.isFinite(o.target_rps) ? o.target_rps : null, max_rps: Number.isFinite(o.max_rps) ? o.max_rps : null },
      ]),
    );
    out.solver = d.solver;
  }
  return out;
}

function randomProblem(r: () => number): SchedulingProblem {
  // Ids include index-like strings (a JS object lists those first), quotes and non-ASCII.
  const originIds = ['iad', '7', 'fra "main"', '2', 'zürich', 'sin'].slice(0, 1 + Math.floor(r() * 6));
  const origins = originIds.map((id) => ({ id, target_rps: 50 + r() * 500, max_rps: 600 + r() * 500, healthy: r() > 0.1, admin_state: (r() < 0.1 ? 'drain' : 'active') as 'drain' | 'active', static_weight: 1, priority: 0 }));
  const n = Math.floor(r() * 40);
  const sources = Array.from({ length: n }, (_, i) => ({
    id: r() < 0.3 ? String(1000 - i) : `edge-${i}`,
    demand_rps: r() * 200,
    rtt_ms: Object.fromEntries(originIds.filter(() => r() < 0.9).map((o) => [o, 5 + r() * 200])),
  }));
  const current: Weights = {};
  for (const s of sources) if (r() < 0.5) current[s.id] = Object.fromEntries(originIds.filter(() => r() < 0.6).map((o) => [o, r()]));
  if (n > 0 && r() < 0.3) current[sources[0]!.id] = { gone: 1 }; // an origin only `current` names
  return { policy: 'latency', max_shift: r() < 0.5 ? 1 : 0.05, deadband: 0.005, max_latency_ms: 500, origins, sources, current };
}

describe('sluice solve output', () => {
  it('is the JSON of the record form, for random decisions, compact and indented, with and without --full', () => {
    const r = seededRandom(5);
    for (let round_ = 0; round_ < 150; round_++) {
      const problem = randomProblem(r);
      const dense = decideDense(densify(problem));
      const reference = referenceRender(toDecision(dense), round_ % 2 === 0);
      const full = round_ % 2 === 0;
      expect(renderSolveOutput(dense, { full, compact: false })).toBe(JSON.stringify(reference, null, 2));
      expect(renderSolveOutput(dense, { full, compact: true })).toBe(JSON.stringify(reference));
    }
  });

  it('writes an empty decision (no usable origin) as the record form does', () => {
    const problem: SchedulingProblem = { policy: 'latency', max_shift: 1, deadband: 0, max_latency_ms: 500, origins: [{ id: 'a', target_rps: 1, max_rps: 1, healthy: true, admin_state: 'disabled', static_weight: 1, priority: 0 }], sources: [{ id: 's', demand_rps: 1, rtt_ms: { a: 1 } }], current: {} };
    const dense = decideDense(densify(problem));
    expect(renderSolveOutput(dense, { full: true, compact: false })).toBe(JSON.stringify(referenceRender(toDecision(dense), true), null, 2));
  });
});
