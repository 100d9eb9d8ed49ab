// The scheduler's metrics, registered on the control plane's registry.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export function createSchedulerMetrics(registry: Registry) {
  const registers = [registry];
  return {
    cycleDuration: new Histogram({ name: 'sluice_scheduler_cycle_duration_seconds', help: 'one scheduling cycle over all load balancers', buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers }),
    stageDuration: new Histogram({ name: 'sluice_scheduler_stage_duration_seconds', help: "wall time of each stage of a cycle on the scheduler's event loop between two yields (input read, problem building, solve round trip, publish...): an upper bound on how long that stage stalled the loop", labelNames: ['stage'], buckets: [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10], registers }),
    solveDuration: new Histogram({ name: 'sluice_scheduler_solve_duration_seconds', help: 'decide() in the solver worker, per load balancer', labelNames: ['load_balancer'], buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers }),
    objective: new Gauge({ name: 'sluice_scheduler_objective', help: 'demand-weighted RTT of the published weights (ms x rps)', labelNames: ['load_balancer'], registers }),
    predictedLoad: new Gauge({ name: 'sluice_scheduler_predicted_load_rps', help: "load predicted on each origin over the next cycle (established connections plus new traffic by the published weights), per second in the load balancer's capacity_unit", labelNames: ['load_balancer', 'origin'], registers }),
    measuredLoad: new Gauge({ name: 'sluice_scheduler_measured_load_rps', help: "load measured at each origin (input, converted into the load balancer's capacity_unit)", labelNames: ['load_balancer', 'origin'], registers }),
    pinnedLoad: new Gauge({ name: 'sluice_scheduler_pinned_load_rps', help: 'of the predicted load, what established connections keep on each origin over the next cycle', labelNames: ['load_balancer', 'origin'], registers }),
    answerSurvival: new Gauge({ name: 'sluice_scheduler_answer_survival', help: "of the load established connections would keep, the fraction that stays when a DNS subnet's answer moves off its origin (learned; 1 until observed)", labelNames: ['load_balancer'], registers }),
    connectionLifetime: new Gauge({ name: 'sluice_scheduler_connection_lifetime_seconds', help: "mean lifetime of DNS clients' connections at each origin, as fitted from the agents' turnover counters", labelNames: ['load_balancer', 'origin'], registers }),
    capacity: new Gauge({ name: 'sluice_scheduler_origin_capacity_rps', help: 'origin capacity as configured: bound="target" (soft) or "max" (hard)', labelNames: ['load_balancer', 'origin', 'bound'], registers }),
    weight: new Gauge({ name: 'sluice_scheduler_origin_share', help: 'demand-weighted share of each origin in the published weights', labelNames: ['load_balancer', 'origin'], registers }),
    overload: new Gauge({ name: 'sluice_scheduler_overload_rps', help: 'planned load above max_rps (demand beyond total capacity)', labelNames: ['load_balancer'], registers }),
    overrideActive: new Gauge({ name: 'sluice_scheduler_override_active', help: 'operator overrides in force (1 each), by kind and by what the last decision made of it: applied, relaxed (health or capacity came first) or void (nothing to apply to)', labelNames: ['load_balancer', 'override', 'kind', 'status'], registers }),
    overrideExpires: new Gauge({ name: 'sluice_scheduler_override_expires_timestamp_seconds', help: 'when each override in force expires (absent: until cancelled)', labelNames: ['load_balancer', 'override', 'kind'], registers }),
    shadow: new Gauge({ name: 'sluice_scheduler_shadow_mode', help: '1 while a load balancer is in shadow mode (decided and recorded, nothing published); its predicted-load and share gauges then describe what it would have published', labelNames: ['load_balancer'], registers }),
    shadowDecisions: new Counter({ name: 'sluice_scheduler_shadow_decisions_total', help: 'cycles decided in shadow mode (recorded, not published)', labelNames: ['load_balancer', 'reason'], registers }),
    held: new Counter({ name: 'sluice_scheduler_held_cycles_total', help: 'cycles that kept the last weights, by why', labelNames: ['load_balancer', 'reason'], registers }),
    published: new Counter({ name: 'sluice_scheduler_published_total', help: 'weights versions published', labelNames: ['load_balancer', 'reason'], registers }),
    rejected: new Counter({ name: 'sluice_scheduler_input_rejected_total', help: 'input values dropped (NaN, Inf, negative, out of range, unknown label)', labelNames: ['input', 'reason'], registers }),
    shardFailures: new Counter({ name: 'sluice_scheduler_prometheus_shard_failures_total', help: "reads in which a Prometheus shard did not answer, by shard, why, and what stood in (last_good: its last good answers, within shard_hold; none: the cycle held)", labelNames: ['shard', 'kind', 'stand_in'], registers }),
    duplicateSeries: new Counter({ name: 'sluice_scheduler_prometheus_duplicate_series_total', help: 'series more than one Prometheus shard returned (the first listed shard’s value is used), by input', labelNames: ['input'], registers }),
    scrapeErrors: new Counter({ name: 'sluice_scheduler_scrape_errors_total', help: 'embedded-mode scrapes that failed', labelNames: ['target'], registers }),
    leader: new Gauge({ name: 'sluice_scheduler_leader', help: '1 while this process holds the scheduler lease', registers }),
    epoch: new Gauge({ name: 'sluice_scheduler_lease_epoch', help: 'epoch (fencing token) of the scheduler lease this process last held', registers }),
    leaseAcquired: new Gauge({ name: 'sluice_scheduler_lease_acquired_timestamp_seconds', help: 'when this process acquired its current lease epoch (store clock); lease age = time() - this', registers }),
    fenced: new Counter({ name: 'sluice_scheduler_fenced_writes_total', help: 'leader writes the store refused because the lease had been lost (paused past the TTL, or taken over)', registers }),
    storedPricesReadErrors: new Counter({ name: 'sluice_scheduler_stored_prices_read_errors_total', help: "first cycles after taking the lease (or starting) that could not read the load balancer's last capacity prices from the store and solved cold instead", labelNames: ['load_balancer'], registers }),
    storeErrors: new Counter({ name: 'sluice_scheduler_store_errors_total', help: 'cycles that failed because the store did not answer (renewing the lease or writing); the weights in force stay', registers }),
    lastCycle: new Gauge({ name: 'sluice_scheduler_last_cycle_timestamp_seconds', help: 'end of the last completed cycle', registers }),
  };
}
export type SchedulerMetrics = ReturnType<typeof createSchedulerMetrics>;
