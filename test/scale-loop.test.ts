// The scale harness at CI size through the real loop (bench/scale/real-path.ts): simulated agents
// scraped by a real Prometheus, the scheduler's PromQL inputs, the solve in the decision worker, the
// publish into SQLite, two `sluice dns` processes long-polling the view, ECS queries. Asserts that the
// loop completes and is correct — every query answered, origins within capacity, coverage measured and
// high — not timings (`npm run bench -- scale` reports those).
import { describe, expect, it } from 'vitest';
import { runRealPath } from '../bench/scale/real-path.ts';
import { unavailable } from './helpers/env.ts';

const skip = unavailable({ tools: { prometheus: 'prometheus' } });

describe.skipIf(skip)('scale harness, CI size, through the real loop', () => {
  it('50k subnets, 50 edges, 20 origins: every query answered, capacities respected, most demand on learned RTT', async () => {
    const r = await runRealPath({ subnets: 50_000, edges: 50, origins: 20, budget: 1000, dnsServers: 2, queries: 3000, cycles: 2, log: (l) => process.env.SCALE_LOG && console.log(l) });
    // The agents had more subnets than their budget: aggregates carry the rest.
    expect(r.agents.aggregate).toBeGreaterThan(0);
    expect(r.agents.series_entries).toBeLessThanOrEqual(20 * 1000);
    // Both cycles decided and published (or found nothing to change), the first into an empty store.
    expect(r.cycles[0]!.outcome).toBe('published');
    expect(r.cycles.every((c) => c.outcome === 'published' || c.outcome.startsWith('unchanged'))).toBe(true);
    // Every prefix the agents exported is a source of the decision (beside the edges) and in the view.
    expect(r.decision.sources).toBe(r.agents.distinct_prefixes + 50);
    expect(r.dns.view_subnets).toBe(r.agents.distinct_prefixes);
    // The plan keeps every origin within its max (demand is below total capacity in this world); the
    // published weights walk there by max_shift a cycle, so they are only reported.
    expect(r.decision.plan_overload_rps).toBeLessThan(1e-6);
    expect(Number.isFinite(r.decision.max_load_over_max)).toBe(true);
    // Every ECS query answered with an address; coverage counted by the DNS processes themselves.
    expect(r.answers.answered).toBe(r.answers.sent);
    expect(r.answers.learned + r.answers.geo + r.answers.other).toBe(r.answers.sent);
    expect(r.answers.coverage).toBeGreaterThan(0.95);
    // It matches what the agents' plans learned (within sampling error of 3,000 draws).
    expect(Math.abs(r.answers.coverage - r.agents.planned_coverage)).toBeLessThan(0.03);
  }, 600_000);
});
