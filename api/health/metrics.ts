// Metrics of health by quorum, exported by the replica that holds the health lease (the others clear
// theirs, so each series comes from one replica at a time; alerts aggregate with max by, which also
// covers a change of leader).
//
// Cardinality: votes are origins × vantage points (a thousand origins and a hundred edges: 100k), so
// per vote only the exceptions are series — a vantage point that disagrees with the decision — and
// the rest is aggregated per vantage point. Each edge exports its own per-origin view itself
// (sluice_edge_origin_up, edge-sync/metrics.ts).
import { Counter, Gauge, type Registry } from 'prom-client';

export interface HealthMetrics {
  leader: Gauge;
  /** Per vantage point: origins it reports on, by its view (up, down, stale). */
  vantageOrigins: Gauge<'vantage' | 'view'>;
  /** 1 while a fresh vote differs from the global decision (only those series exist; SluiceHealthVantageDisagrees). */
  vantageDisagrees: Gauge<'load_balancer' | 'origin' | 'vantage'>;
  /** Per vantage point: how many origins it disagrees on now. */
  vantageDisagreements: Gauge<'vantage'>;
  /** Per vantage point: the mean of its last passing checks' durations, over the origins it reports on. */
  vantageLatency: Gauge<'vantage'>;
  /** Per vantage point: age of its oldest report still counted, and of its newest. */
  vantageAge: Gauge<'vantage' | 'which'>;
  originHealthy: Gauge<'load_balancer' | 'origin'>;
  freshVantages: Gauge<'load_balancer' | 'origin'>;
  downVotes: Gauge<'load_balancer' | 'origin'>;
  requiredVotes: Gauge<'load_balancer' | 'origin'>;
  edgeExcluded: Gauge<'load_balancer' | 'origin' | 'edge'>;
  failOpen: Gauge<'load_balancer'>;
  decisions: Counter<'scope' | 'to'>;
  fencedWrites: Counter;
}

export function createHealthMetrics(registry: Registry): HealthMetrics {
  const g = <L extends string>(name: string, help: string, labelNames: L[]) => new Gauge<L>({ name, help, labelNames, registers: [registry] });
  const perVantage: ('load_balancer' | 'origin' | 'vantage')[] = ['load_balancer', 'origin', 'vantage'];
  const perOrigin: ('load_balancer' | 'origin')[] = ['load_balancer', 'origin'];
  return {
    leader: new Gauge({ name: 'sluice_health_leader', help: '1 while this replica holds the health lease and makes the health decisions', registers: [registry] }),
    vantageOrigins: g('sluice_health_vantage_origins', 'origins a vantage point reports on, by its view: up, down (fresh), stale (not counted)', ['vantage', 'view']),
    vantageDisagrees: g('sluice_health_vantage_disagrees', "1 while a vantage point's fresh verdict differs from the origin's global health decision (only disagreeing votes are series)", perVantage),
    vantageDisagreements: g('sluice_health_vantage_disagreements', 'origins a vantage point disagrees with the health decision on, now', ['vantage']),
    vantageLatency: g('sluice_health_vantage_check_latency_seconds', "mean duration of a vantage point's last passing check, over the origins it reports on", ['vantage']),
    vantageAge: g('sluice_health_vantage_report_age_seconds', "age of a vantage point's reports: the newest, and the oldest still fresh", ['vantage', 'which']),
    originHealthy: g('sluice_health_origin_healthy', 'the global health decision: 1 healthy, 0 unhealthy by quorum', perOrigin),
    freshVantages: g('sluice_health_fresh_vantages', 'vantage points that reported on the origin within health.stale_after', perOrigin),
    downVotes: g('sluice_health_down_votes', 'fresh vantage points that see the origin down', perOrigin),
    requiredVotes: g('sluice_health_required_down_votes', 'down votes a global failure needs now (quorum, min_down, capped at the fresh vantages)', perOrigin),
    edgeExcluded: g('sluice_health_edge_excluded', '1 while an origin is excluded for one edge only (that edge cannot reach it; the quorum can)', ['load_balancer', 'origin', 'edge']),
    failOpen: g('sluice_health_fail_open', '1 while every enabled origin of the load balancer is down by quorum: DNS and edges fall back to all of them', ['load_balancer']),
    decisions: new Counter({ name: 'sluice_health_decisions_total', help: 'health transitions recorded, by scope (global, edge) and new state (healthy, unhealthy)', labelNames: ['scope', 'to'], registers: [registry] }),
    fencedWrites: new Counter({ name: 'sluice_health_fenced_writes_total', help: 'health decisions the store refused because this replica no longer held the health lease', registers: [registry] }),
  };
}

/** Clears every per-origin series (a replica that stops leading exports none). */
export function clearHealthSeries(m: HealthMetrics): void {
  for (const gauge of [m.vantageOrigins, m.vantageDisagrees, m.vantageDisagreements, m.vantageLatency, m.vantageAge, m.originHealthy, m.freshVantages, m.downVotes, m.requiredVotes, m.edgeExcluded, m.failOpen]) gauge.reset();
}
