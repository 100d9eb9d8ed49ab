// Validating a document's big array (100k sources) without a schema call per element, with the same
// errors. zod reads the rest of the document; the array is walked in a tight loop where `plain`
// recognises the usual valid element and returns it as the schema would (defaults filled); any other
// element goes through zod's own element schema, so it is accepted as zod accepts it or explained in
// the same words, at the same path (`sources[41].rtt_ms.fra: expected a non-negative number (ms)`).
import type { z } from 'zod';
import { issueProblems, type ConfigProblem, type Locate } from './config-file.ts';

export type Problem = ConfigProblem;

/**
 * The elements of `list`, validated; a rejected element is left undefined and its problems are appended
 * to `problems` under the path `at(index)` (e.g. i => ['sources', i]), located in the file by `locate`.
 */
export function readElements<T>(list: readonly unknown[], schema: z.ZodType<T>, plain: (v: unknown) => T | undefined, at: (index: number) => readonly PropertyKey[], problems: Problem[], locate?: Locate): (T | undefined)[] {
  const out = new Array<T | undefined>(list.length);
  for (let i = 0; i < list.length; i++) {
    const fast = plain(list[i]);
    if (fast !== undefined) {
      out[i] = fast;
      continue;
    }
    const r = schema.safeParse(list[i]);
    if (r.success) out[i] = r.data;
    else problems.push(...issueProblems(r.error.issues, at(i), locate));
  }
  return out;
}

export const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** What z.number().min(0) (and .finite()) accepts: a finite number >= 0 (NaN fails the comparison). */
export const isNonNegative = (v: unknown): v is number => typeof v === 'number' && v >= 0 && v !== Infinity;

/** A plain object whose every value is a finite number >= 0 (a z.record of such numbers). */
export function isNonNegativeRecord(v: unknown): v is Record<string, number> {
  if (!isPlainObject(v)) return false;
  for (const k in v) if (!isNonNegative(v[k])) return false;
  return true;
}

/** {lat, lon} in degrees, nothing else (a strict GeoPoint). */
export function isGeoPoint(v: unknown): boolean {
  if (!isPlainObject(v)) return false;
  for (const k in v) if (k !== 'lat' && k !== 'lon') return false;
  const { lat, lon } = v;
  return typeof lat === 'number' && lat >= -90 && lat <= 90 && typeof lon === 'number' && lon >= -180 && lon <= 180;
}
