// Small HTTP helpers shared by the routes: ETags, If-Match, pagination query.
import { z } from 'zod';
import { ApiError, fieldError } from './errors.ts';

export const PageQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().max(200).optional(),
});

export function pageOf<T extends z.ZodType>(item: T) {
  return z.object({ items: z.array(item), next_cursor: z.string().nullable().describe('pass as ?cursor= for the next page; null on the last') });
}

export function revisionEtag(revision: number): string {
  return `"${revision}"`;
}

/** If-Match -> the revision it names; undefined when absent or "*". */
export function ifMatchRevision(header: string | string[] | undefined): number | undefined {
  if (header === undefined) return undefined;
  const value = (Array.isArray(header) ? header[0]! : header).trim();
  if (value === '*') return undefined;
  const m = /^(?:W\/)?"(\d+)"$/.exec(value);
  if (!m) throw new ApiError('precondition_failed', `If-Match must be an ETag this API issued, such as "3"; got ${value}`, [fieldError('if-match', 'not an ETag of this API', 'headers')]);
  return Number(m[1]);
}

/** Does an If-None-Match header list this ETag? */
export function noneMatch(header: string | string[] | undefined, etag: string): boolean {
  if (header === undefined) return false;
  const values = (Array.isArray(header) ? header.join(',') : header).split(',').map((v) => v.trim().replace(/^W\//, ''));
  return values.includes('*') || values.includes(etag);
}
