// A simulated world, as YAML: origins with capacities, traffic sources with demand curves and an RTT
// per origin, events (failures, drains, capacity changes) at given cycles, and the write-up's feedback
// (clients sent farther away issue fewer requests). `runs` replays the same world under different
// scheduler settings (e.g. damped vs undamped) so one chart shows both.
import { z } from 'zod';
import { isPlainObject, readElements, type Problem } from '../../lib/config-elements.ts';
import { plainSource } from '../core/read-problem.ts';
import { ConfigError, issueProblems, readConfigDocument, validateConfig } from '../../lib/config-file.ts';

const Rps = z.number().min(0, { error: 'expected a non-negative number (rps)' });
const Point = z.strictObject({ lat: z.number().min(-90).max(90), lon: z.number().min(-180).max(180) });

const SchedulerSettings = z.strictObject({
  policy: z.enum(['latency', 'balance', 'weighted', 'failover']).default('latency'),
  max_shift: z.number().gt(0).max(1).default(0.02),
  deadband: z.number().min(0).max(0.5).default(0.005),
  max_latency_ms: z.number().positive().default(500),
  gain: z.number().gt(0).max(1).optional().describe('proportional band of the damping (default 0.5)'),
});

const Origin = z.strictObject({
  id: z.string().min(1),
  target_rps: z.number().positive().optional(),
  max_rps: z.number().positive(),
  healthy: z.boolean().default(true),
  admin_state: z.enum(['active', 'drain', 'disabled']).default('active'),
  static_weight: z.number().min(0).default(1),
  priority: z.number().int().default(0),
  location: Point.optional(),
});

const Feedback = z
  .strictObject({
    reference_rtt_ms: z.number().positive().describe('mean RTT at which the source issues its nominal demand'),
    elasticity: z.number().min(0).max(4).describe('0: open loop (demand ignores RTT); 1: closed-loop clients (rate ∝ 1/RTT)'),
  })
  .describe("the write-up's side effect: clients sent farther away issue fewer requests");

/** One traffic source (exported for loadScenario, which validates big source lists element by element). */
export const ScenarioSource = z
  .strictObject({
    id: z.string().min(1),
    demand_rps: Rps.optional().describe('constant nominal demand'),
    demand: z
      .array(z.strictObject({ cycle: z.number().int().min(0), rps: Rps }))
      .min(1)
      .optional()
      .describe('piecewise-linear nominal demand over cycles (held flat after the last point)'),
    rtt_ms: z.record(z.string(), z.number().min(0)).default({}),
    location: Point.optional(),
    feedback: Feedback.optional(),
    initial: z.record(z.string(), z.number().min(0)).optional().describe('weights in force at cycle 0 (default: the plan)'),
  })
  .refine((s) => (s.demand_rps === undefined) !== (s.demand === undefined), { message: 'give exactly one of demand_rps and demand' });

const Event = z.strictObject({
  cycle: z.number().int().min(0),
  origin: z.string().min(1),
  healthy: z.boolean().optional(),
  admin_state: z.enum(['active', 'drain', 'disabled']).optional(),
  target_rps: z.number().positive().optional(),
  max_rps: z.number().positive().optional(),
});

const Run = SchedulerSettings.partial().extend({ name: z.string().min(1) });

export const Scenario = z
  .strictObject({
    name: z.string().min(1).regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, ".", "_" or "-" (used in file names)'),
    description: z.string().default(''),
    cycles: z.number().int().min(1).max(100_000),
    cycle_seconds: z.number().positive().default(15),
    detection_delay_cycles: z.number().int().min(0).default(0).describe('cycles before the scheduler sees a health change'),
    scheduler: SchedulerSettings.default({ policy: 'latency', max_shift: 0.02, deadband: 0.005, max_latency_ms: 500 }),
    origins: z.array(Origin).min(1),
    sources: z.array(ScenarioSource).min(1),
    events: z.array(Event).default([]),
    runs: z.array(Run).min(1).optional().describe('replays with scheduler overrides; default one run named after the scenario'),
  })
  .superRefine((s, ctx) => {
    const ids = new Set(s.origins.map((o) => o.id));
    s.events.forEach((e, i) => {
      if (!ids.has(e.origin)) ctx.addIssue({ code: 'custom', path: ['events', i, 'origin'], message: `unknown origin "${e.origin}"` });
    });
    s.origins.forEach((o, i) => {
      if (o.target_rps !== undefined && o.target_rps > o.max_rps) ctx.addIssue({ code: 'custom', path: ['origins', i, 'target_rps'], message: 'must not exceed max_rps' });
    });
  });
export type Scenario = z.output<typeof Scenario>;
export type ScenarioRun = z.output<typeof Run>;

/** The scheduler settings one run uses. */
export interface RunSettings {
  policy: 'latency' | 'balance' | 'weighted' | 'failover';
  max_shift: number;
  deadband: number;
  max_latency_ms: number;
  gain?: number | undefined;
}

type SourceOut = z.output<typeof ScenarioSource>;

/** A source in the usual form (constant demand, RTTs, maybe a location), as the schema returns it. */
const plainScenarioSource = (s: unknown) => plainSource(s) as SourceOut | undefined;

/**
 * A scenario file, validated as `Scenario`, with its sources read element by element
 * (lib/config-elements.ts): a 100k-source scenario costs no schema call per source and RTT, and a bad
 * source is explained as zod explains it. The first source goes through the whole schema (it needs one).
 */
export function loadScenario(file: string): Scenario {
  const { doc, locate } = readConfigDocument(file);
  if (!isPlainObject(doc) || !Array.isArray(doc.sources) || doc.sources.length < 2) return validateConfig(Scenario, doc, file, locate);
  const sources = doc.sources as unknown[];
  const head = Scenario.safeParse({ ...doc, sources: [sources[0]] });
  const problems: Problem[] = head.success ? [] : issueProblems(head.error.issues, [], locate);
  const rest = readElements(sources.slice(1), ScenarioSource, plainScenarioSource, (i) => ['sources', i + 1], problems, locate);
  if (!head.success || problems.length > 0) throw new ConfigError(file, problems);
  return { ...head.data, sources: [head.data.sources[0]!, ...(rest as SourceOut[])] };
}
