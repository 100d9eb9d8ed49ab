// zod schema of a SchedulingProblem as JSON (the `sluice solve` input, and what the live loop may log or
// replay). Defaults are the load balancer's defaults (model/load-balancer.ts). Messages name the
// expectation so "sources[0].demand_rps: expected a non-negative number" is all an operator needs.
import { z } from 'zod';
import type { SchedulingProblem } from './types.ts';

const nonNegative = (what = 'a non-negative number') => z.number({ error: `expected ${what}` }).finite({ error: `expected ${what}` }).min(0, { error: `expected ${what}` });
const positive = (what = 'a positive number') => z.number({ error: `expected ${what}` }).finite({ error: `expected ${what}` }).gt(0, { error: `expected ${what}` });
const id = z.string({ error: 'expected a non-empty string' }).min(1, { error: 'expected a non-empty string' });

const GeoPoint = z.strictObject({
  lat: z.number({ error: 'expected a latitude in degrees (-90..90)' }).min(-90, { error: 'expected a latitude in degrees (-90..90)' }).max(90, { error: 'expected a latitude in degrees (-90..90)' }),
  lon: z.number({ error: 'expected a longitude in degrees (-180..180)' }).min(-180, { error: 'expected a longitude in degrees (-180..180)' }).max(180, { error: 'expected a longitude in degrees (-180..180)' }),
});

const Origin = z
  .strictObject({
    id,
    target_rps: positive('a positive number (rps)').optional(),
    max_rps: positive('a positive number (rps)').optional(),
    healthy: z.boolean({ error: 'expected true or false' }).default(true),
    admin_state: z.enum(['active', 'drain', 'disabled'], { error: 'expected "active", "drain" or "disabled"' }).default('active'),
    static_weight: nonNegative().default(1),
    priority: z.number({ error: 'expected an integer' }).int({ error: 'expected an integer' }).default(0),
    location: GeoPoint.optional(),
  })
  .superRefine((o, ctx) => {
    if (o.target_rps === undefined && o.max_rps === undefined) ctx.addIssue({ code: 'custom', path: ['max_rps'], message: 'expected max_rps and/or target_rps (rps)' });
    if (o.target_rps !== undefined && o.max_rps !== undefined && o.target_rps > o.max_rps) {
      ctx.addIssue({ code: 'custom', path: ['target_rps'], message: `must not exceed max_rps (${o.max_rps})` });
    }
  })
  .transform((o) => ({ ...o, target_rps: o.target_rps ?? o.max_rps!, max_rps: o.max_rps ?? o.target_rps! }));

const fraction = z.number({ error: 'expected a number in [0, 1]' }).min(0, { error: 'expected a number in [0, 1]' }).max(1, { error: 'expected a number in [0, 1]' });
const perOrigin = (what: string) => z.record(z.string(), fraction, { error: `expected an object of origin id -> ${what} in [0, 1]` });

/** One source (exported for read-problem.ts, which validates big source lists element by element). */
export const SourceSchema = z.strictObject({
  id,
  demand_rps: nonNegative(),
  rtt_ms: z.record(z.string(), nonNegative('a non-negative number (ms)'), { error: 'expected an object of origin id -> ms' }).default({}),
  location: GeoPoint.optional(),
  connections: z
    .strictObject({
      effective: perOrigin('share').optional(),
      survival: perOrigin('surviving fraction'),
      mean_survival: perOrigin('surviving fraction').optional(),
      pinned: z.strictObject({ end: perOrigin('pinned share'), mean: perOrigin('pinned share') }).optional(),
      answer_survival: z.number({ error: 'expected a number in [0, 1]' }).min(0, { error: 'expected a number in [0, 1]' }).max(1, { error: 'expected a number in [0, 1]' }).optional(),
    })
    .optional(),
  pick: z.number({ error: 'expected a number in [0, 1)' }).min(0, { error: 'expected a number in [0, 1)' }).lt(1, { error: 'expected a number in [0, 1)' }).optional(),
  excluded: z.array(id, { error: 'expected an array of origin ids' }).optional(),
});

const OverridesSchema = z.strictObject({
  dials: z.array(z.strictObject({ id, origin: id, fraction, now: z.boolean().optional() })).optional(),
  shares: z
    .array(
      z
        .strictObject({ id, origin: id, source: id.optional(), min: fraction.optional(), max: fraction.optional(), now: z.boolean().optional() })
        .refine((b) => b.min === undefined || b.max === undefined || b.min <= b.max, { path: ['min'], message: 'must not exceed max' }),
    )
    .optional(),
  force: z.array(z.strictObject({ id, sources: z.array(id), weights: perOrigin('share'), now: z.boolean().optional() })).optional(),
});

/** One source's weights in force: origin id -> share. */
export const CurrentSharesSchema = z.record(z.string(), nonNegative('a share in [0, 1]'));

export const ProblemSchema = z
  .strictObject({
    policy: z.enum(['latency', 'balance', 'weighted', 'failover'], { error: 'expected "latency", "balance", "weighted" or "failover"' }).default('latency'),
    max_shift: z.number({ error: 'expected a number in (0, 1]' }).gt(0, { error: 'expected a number in (0, 1]' }).max(1, { error: 'expected a number in (0, 1]' }).default(0.02),
    gain: z.number({ error: 'expected a number in (0, 1]' }).gt(0, { error: 'expected a number in (0, 1]' }).max(1, { error: 'expected a number in (0, 1]' }).default(0.5),
    deadband: z.number({ error: 'expected a number in [0, 0.5]' }).min(0, { error: 'expected a number in [0, 0.5]' }).max(0.5, { error: 'expected a number in [0, 0.5]' }).default(0.005),
    max_latency_ms: positive('a positive number (ms)').default(500),
    stickiness_ms: nonNegative('a non-negative number (ms)').default(0),
    merge_resolution_ms: nonNegative('a non-negative number (ms)').optional(),
    price_hint: z.record(z.string(), z.number({ error: 'expected a finite number' }).finite()).optional(),
    origins: z.array(Origin, { error: 'expected an array of origins' }).min(1, { error: 'expected at least one origin' }),
    sources: z.array(SourceSchema, { error: 'expected an array of sources' }),
    current: z.record(z.string(), CurrentSharesSchema, { error: 'expected an object of source id -> {origin id: share}' }).default({}),
    rtt_model: z
      .strictObject({ km_per_ms: positive().default(200), route_inflation: z.number().min(1, { error: 'expected a number ≥ 1' }).default(1.3), base_ms: nonNegative().default(2) })
      .optional(),
    overrides: OverridesSchema.optional(),
  })
  .superRefine((p, ctx) => {
    const seen = new Set<string>();
    p.origins.forEach((o, i) => {
      if (seen.has(o.id)) ctx.addIssue({ code: 'custom', path: ['origins', i, 'id'], message: `duplicate origin id "${o.id}"` });
      seen.add(o.id);
    });
    const seenSources = new Set<string>();
    p.sources.forEach((s, i) => {
      if (seenSources.has(s.id)) ctx.addIssue({ code: 'custom', path: ['sources', i, 'id'], message: `duplicate source id "${s.id}"` });
      seenSources.add(s.id);
    });
  });

export type ProblemInput = z.input<typeof ProblemSchema>;

/** Parsed problem; the output type is exactly the core's SchedulingProblem. */
export function toProblem(parsed: z.output<typeof ProblemSchema>): SchedulingProblem {
  return parsed;
}
