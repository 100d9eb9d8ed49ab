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
import { CurrentSharesSchema, ProblemSchema, SourceSchema } from './schema.ts';
import type { SchedulingProblem, SourceState, Weights } from './types.ts';

type Problems = { key: string; message: string }[];

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** What nonNegative() in schema.ts accepts: a finite number >= 0 (NaN fails the comparison). */
const nonNegative = (v: unknown): boolean => typeof v === 'number' && v >= 0 && v !== Infinity;

function isPlainSource(s: unknown): s is SourceState {
  if (!isPlainObject(s)) return false;
  for (const k in s) if (k !== 'id' && k !== 'demand_rps' && k !== 'rtt_ms' && k !== 'location') return false;
  if (typeof s.id !== 'string' || s.id.length === 0 || !nonNegative(s.demand_rps)) return false;
  const rtt = s.rtt_ms;
  if (rtt !== undefined) {
    if (!isPlainObject(rtt)) return false;
    for (const k in rtt) if (!nonNegative(rtt[k])) return false;
  }
  const loc = s.location;
  if (loc === undefined) return true;
  if (!isPlainObject(loc)) return false;
  for (const k in loc) if (k !== 'lat' && k !== 'lon') return false;
  const { lat, lon } = loc;
  return typeof lat === 'number' && lat >= -90 && lat <= 90 && typeof lon === 'number' && lon >= -180 && lon <= 180;
}

function isPlainShares(v: unknown): v is Record<string, number> {
  if (!isPlainObject(v)) return false;
  for (const k in v) if (!nonNegative(v[k])) return false;
  return true;
}

function readSources(list: unknown[], problems: Problems): SourceState[] {
  const out = new Array<SourceState>(list.length);
  for (let i = 0; i < list.length; i++) {
    const s = list[i];
    if (isPlainSource(s)) {
      out[i] = s.rtt_ms === undefined ? { ...s, rtt_ms: {} } : s;
      continue;
    }
    const r = SourceSchema.safeParse(s);
    if (r.success) out[i] = r.data;
    else problems.push(...issueProblems(r.error.issues, ['sources', i]));
  }
  // ProblemSchema's refinement, on the sources that were read.
  const seen = new Set<string>();
  out.forEach((s, i) => {
    if (seen.has(s.id)) problems.push({ key: `sources[${i}].id`, message: `duplicate source id "${s.id}"` });
    seen.add(s.id);
  });
  return out;
}

function readCurrent(current: Record<string, unknown>, problems: Problems): Weights {
  const out: Weights = {};
  for (const id in current) {
    const shares = current[id];
    if (isPlainShares(shares)) {
      out[id] = shares;
      continue;
    }
    const r = CurrentSharesSchema.safeParse(shares);
    if (r.success) out[id] = r.data;
    else problems.push(...issueProblems(r.error.issues, ['current', id]));
  }
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
