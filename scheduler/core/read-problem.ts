// A SchedulingProblem from a parsed JSON document, exactly as ProblemSchema (schema.ts) defines it, at
// the speed a 100k-source problem needs. Through zod alone every one of 2 million RTT values is a
// schema call (~1 s and most of the garbage at 100k × 20). Here zod validates the document with its two
// big collections emptied (sources, current): every other key, default and refinement is zod's. Those
// two are then walked in a tight loop that accepts exactly the plain, valid element. An element the
// loop does not accept goes through zod's own element schema (SourceSchema, CurrentSharesSchema), so
// an error names the same field in the same words (`sources[41].rtt_ms.fra: expected a non-negative
// number (ms)`), and an element zod would accept in a less usual form is still accepted.
// Pure: no I/O. read-problem.test.ts checks it against validateConfig(ProblemSchema) case by case.
import { ConfigError, issueProblems } from '../../lib/config-file.ts';
import { isGeoPoint, isNonNegative, isNonNegativeRecord, isPlainObject, readElements, type Problem } from '../../lib/config-elements.ts';
import { CurrentSharesSchema, ProblemSchema, SourceSchema } from './schema.ts';
import type { SchedulingProblem, SourceState, Weights } from './types.ts';

type Problems = Problem[];

/**
 * A source in the usual valid form, {id, demand_rps, rtt_ms?, location?}, with the schema's default
 * (rtt_ms {}); undefined otherwise. Also a simulator scenario's constant-demand source (same keys,
 * same rules).
 */
export function plainSource(s: unknown): SourceState | undefined {
  if (!isPlainObject(s)) return undefined;
  for (const k in s) if (k !== 'id' && k !== 'demand_rps' && k !== 'rtt_ms' && k !== 'location') return undefined;
  if (typeof s.id !== 'string' || s.id.length === 0 || !isNonNegative(s.demand_rps)) return undefined;
  if (s.rtt_ms !== undefined && !isNonNegativeRecord(s.rtt_ms)) return undefined;
  if (s.location !== undefined && !isGeoPoint(s.location)) return undefined;
  return (s.rtt_ms === undefined ? { ...s, rtt_ms: {} } : s) as unknown as SourceState;
}

function readSources(list: unknown[], problems: Problems): SourceState[] {
  const out = readElements(list, SourceSchema, plainSource, (i) => ['sources', i], problems);
  // ProblemSchema's refinement, on the sources that were read.
  const seen = new Set<string>();
  out.forEach((s, i) => {
    if (!s) return;
    if (seen.has(s.id)) problems.push({ key: `sources[${i}].id`, message: `duplicate source id "${s.id}"` });
    seen.add(s.id);
  });
  return out as SourceState[];
}

function readCurrent(current: Record<string, unknown>, problems: Problems): Weights {
  const ids = Object.keys(current);
  const shares = readElements(ids.map((id) => current[id]), CurrentSharesSchema, (v) => (isNonNegativeRecord(v) ? v : undefined), (k) => ['current', ids[k]!], problems);
  const out: Weights = {};
  ids.forEach((id, k) => {
    if (shares[k]) out[id] = shares[k];
  });
  return out;
}

/**
 * Validates `doc` as ProblemSchema does; throws ConfigError naming `file` and every bad field (the
 * document's other problems first, then the sources', then current's).
 */
export function readProblem(doc: unknown, file: string): SchedulingProblem {
  const d = doc ?? {};
  if (!isPlainObject(d)) {
    const r = ProblemSchema.safeParse(d);
    throw new ConfigError(file, r.success ? [{ key: '', message: 'expected an object' }] : issueProblems(r.error.issues));
  }
  const sources = Array.isArray(d.sources) ? d.sources : null;
  const current = isPlainObject(d.current) ? d.current : null;
  // zod on everything but the two big collections (left in place when malformed: zod names them).
  const skeleton = ProblemSchema.safeParse({ ...d, ...(sources ? { sources: [] } : {}), ...(current ? { current: {} } : {}) });
  const problems: Problems = skeleton.success ? [] : issueProblems(skeleton.error.issues);
  const readSourcesOut = sources ? readSources(sources, problems) : [];
  const readCurrentOut = current ? readCurrent(current, problems) : {};
  if (!skeleton.success || problems.length > 0) throw new ConfigError(file, problems);
  return { ...skeleton.data, sources: readSourcesOut, current: readCurrentOut };
}
