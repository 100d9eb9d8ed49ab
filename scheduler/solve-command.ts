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
import { ConfigError } from '../lib/config-error.ts';
import { decideDense } from './core/decide.ts';
import { densify } from './core/input.ts';
import { scratch } from './core/scratch.ts';
import { implicitOrigin, parseProblemText } from './core/problem-text.ts';
import { readProblem } from './core/read-problem.ts';
import type { SchedulingProblem } from './core/types.ts';
import { renderSolveOutput } from './solve-output.ts';

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
  // The fast road reads the text straight into the core's flat form; it gives way (null) to the general
  // one (JSON.parse, readProblem, densify) on anything it is not sure of (core/problem-text.ts).
  let parsedText = parseProblemText(text, name);
  if (!parsedText) {
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (err) {
      throw new ConfigError(name, [{ key: '', message: `not valid JSON: ${(err as Error).message}` }]);
    }
    const problem: SchedulingProblem = readProblem(doc, name);
    const implicit = addImplicitOrigins(problem);
    parsedText = { dense: densify(problem, scratch), implicit };
  }
  const { dense, implicit } = parsedText;
  for (const id of implicit) process.stderr.write(`sluice solve: origin "${id}" has RTTs but is not declared under origins: assumed healthy with unlimited capacity\n`);
  const decision = decideDense(dense);
  if (implicit.length > 0) decision.rest.notes.unshift(`origin(s) ${implicit.join(', ')} not declared: assumed healthy with unlimited capacity`);
  process.stdout.write(`${renderSolveOutput(decision, { full: parsed.values.full === true, compact: parsed.values.compact === true })}\n`);
  return decision.rest.status === 'ok' ? 0 : 3;
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
      problem.origins.push(implicitOrigin(id));
    }
  }
  return implicit;
}
