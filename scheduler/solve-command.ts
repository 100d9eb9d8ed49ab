// `sluice solve FILE|-`: one scheduling decision from a JSON problem, no server. For what-if planning
// ("what if eu loses half its capacity?") and so anyone can check the solver against another.
//
// Input: a SchedulingProblem as JSON (scheduler/core/schema.ts; README "sluice solve"). An origin that a
// source has an RTT for but that is not declared under "origins" is taken as healthy with unlimited
// capacity, with a warning — so a quick what-if only needs to declare the origins whose capacity matters.
// Output: weights (shares rounded to 4 decimals, each source's still summing to exactly 1), objective
// (Σ demand × rtt × share), origin_load_rps, overload_rps, plus status, reason, notes, diff and step;
// --full adds the undamped plan, per-origin outcome and solver statistics.
import { readFileSync } from 'node:fs';
import { parseCommandLine, UsageError } from '../lib/cli-args.ts';
import { ConfigError, validateConfig } from '../lib/config-file.ts';
import { decide } from './core/decide.ts';
import { ProblemSchema } from './core/schema.ts';
import type { SchedulingDecision, SchedulingProblem, Weights } from './core/types.ts';

const USAGE = `usage: sluice solve FILE|- [--full] [--compact]

Runs one scheduling decision on a JSON problem (FILE, or - for stdin) and prints the decision as JSON.
  --full      also print the undamped plan, per-origin outcome and solver statistics
  --compact   one line of JSON instead of indented`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommandLine(argv, { full: { type: 'boolean' }, compact: { type: 'boolean' } }, USAGE, true);
  if (!parsed) return 0;
  const [file, ...extra] = parsed.positionals;
  if (!file || extra.length > 0) throw new UsageError(`expected exactly one FILE (or - for stdin)\n\n${USAGE}`);
  const name = file === '-' ? '<stdin>' : file;
  let text: string;
  try {
    text = readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    throw new ConfigError(name, [{ key: '', message: `cannot read: ${(err as Error).message}` }]);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(name, [{ key: '', message: `not valid JSON: ${(err as Error).message}` }]);
  }
  const problem: SchedulingProblem = validateConfig(ProblemSchema, doc, name);
  const implicit = addImplicitOrigins(problem);
  for (const id of implicit) process.stderr.write(`sluice solve: origin "${id}" has RTTs but is not declared under origins: assumed healthy with unlimited capacity\n`);
  const decision = decide(problem);
  if (implicit.length > 0) decision.notes.unshift(`origin(s) ${implicit.join(', ')} not declared: assumed healthy with unlimited capacity`);
  const out = render(decision, parsed.values.full === true);
  process.stdout.write(`${parsed.values.compact ? JSON.stringify(out) : JSON.stringify(out, null, 2)}\n`);
  return decision.status === 'ok' ? 0 : 3;
}

/** Declares, as unlimited and healthy, every origin referenced in rtt_ms but missing from origins. */
export function addImplicitOrigins(problem: SchedulingProblem): string[] {
  const declared = new Set(problem.origins.map((o) => o.id));
  const implicit: string[] = [];
  for (const s of problem.sources) {
    for (const id of Object.keys(s.rtt_ms)) {
      if (declared.has(id)) continue;
      declared.add(id);
      implicit.push(id);
      problem.origins.push({ id, target_rps: Infinity, max_rps: Infinity, healthy: true, admin_state: 'active', static_weight: 1, priority: 0 });
    }
  }
  return implicit;
}

export function render(d: SchedulingDecision, full: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {
    weights: roundWeights(d.weights),
    objective: round(d.objective, 4),
    origin_load_rps: roundValues(d.origin_load_rps, 4),
    overload_rps: round(d.overload_rps, 4),
    status: d.status,
    reason: d.reason,
    plan_overload_rps: round(d.plan_overload_rps, 4),
    step: { ...d.step, fraction: round(d.step.fraction, 6) },
    notes: d.notes,
    diff: d.diff.map((c) => ({ ...c, from: round(c.from, 4), to: round(c.to, 4) })),
    ...(d.overrides ? { overrides: d.overrides } : {}),
  };
  if (full) {
    out.plan = roundWeights(d.plan);
    out.plan_objective = round(d.plan_objective, 4);
    out.origins = Object.fromEntries(
      Object.entries(d.origins).map(([id, o]) => [
        id,
        {
          ...o,
          load_rps: round(o.load_rps, 4),
          pinned_rps: round(o.pinned_rps, 4),
          planned_rps: round(o.planned_rps, 4),
          utilisation: round(o.utilisation, 6),
          price: round(o.price, 6),
          target_rps: Number.isFinite(o.target_rps) ? o.target_rps : null,
          max_rps: Number.isFinite(o.max_rps) ? o.max_rps : null,
        },
      ]),
    );
    out.solver = d.solver;
  }
  return out;
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  const r = Math.round(x * f) / f;
  return Object.is(r, -0) ? 0 : r;
}

function roundValues(rec: Record<string, number>, digits: number): Record<string, number> {
  return Object.fromEntries(Object.entries(rec).map(([k, v]) => [k, round(v, digits)]));
}

/** Rounds each source's shares to 4 decimals by largest remainder, so they still sum to exactly 1. */
export function roundWeights(weights: Weights): Weights {
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
