// Recording rules for large fleets: Prometheus pre-computes, every evaluation interval, exactly the
// reductions the scheduler's default queries (promql.ts DEFAULT_QUERIES) make each cycle — rate() over
// the window and last_over_time() over the stale span, summed over everything but the labels the
// queries select or group by (scrape `instance`/`job` and any other label go). The scheduler then reads
// one sample per recorded series instead of a window of raw samples per series.
//
// Invariant: for every input, the recorded query returns what the raw query returns (same label values
// the assembler uses, same values up to the lag of one rule evaluation), because
//   sum by (G) (rate(x{sel}[w]))  ==  sum by (G) (R{sel})   where  R = sum by (G ∪ labels(sel)) (rate(x[w]))
// (a sum over a label-matched subset is the sum of the recorded sums over the same subset). Gauges read
// with last_over_time and no aggregation are recorded as max by (the labels the assembler reads): equal
// as long as each agent is scraped once (two jobs scraping one agent gave two equal series before,
// which the assembler collapsed anyway).
//
// The window and stale span are part of each recorded name (`...:rate60s`, `...:last120s`), so a
// scheduler configured with another window than the rules were generated for finds no series and holds
// with a message naming the command, instead of reading rates over a window it did not ask for.
import type { CapacityUnit } from '../../model/index.ts';
import type { QueryName } from './assemble.ts';

/** One recording rule; `$window` and `$stale` are rendered as the scheduler renders its queries. */
export interface RecordingRule {
  record: string;
  expr: string;
}

function rateRule(metric: string, by: string[]): RecordingRule {
  return { record: `${by.join('_')}:${metric.replace(/_total$/, '')}:rate$window`, expr: `sum by (${by.join(', ')}) (rate(${metric}[$window]))` };
}

function lastRule(metric: string, by: string[], op: 'sum' | 'max'): RecordingRule {
  return { record: `${by.join('_')}:${metric}:${op === 'sum' ? '' : 'max_'}last$stale`, expr: `${op} by (${by.join(', ')}) (last_over_time(${metric}[$stale]))` };
}

/** Every rule the recorded queries read, by a short key (several inputs share one: agent connections). */
const RULES = {
  edgeRequests: rateRule('sluice_edge_requests_total', ['edge', 'listener', 'load_balancer']),
  edgeOriginRequests: rateRule('sluice_edge_origin_requests_total', ['edge', 'origin', 'load_balancer']),
  upstreamRtt: lastRule('sluice_agent_upstream_rtt_seconds', ['node', 'upstream'], 'max'),
  subnetConnections: rateRule('sluice_agent_subnet_connections_total', ['subnet', 'node']),
  subnetConnectionSeconds: rateRule('sluice_agent_subnet_connection_seconds_total', ['subnet', 'node']),
  subnetCloses: rateRule('sluice_agent_subnet_connection_closes_total', ['subnet', 'node']),
  clientRtt: lastRule('sluice_agent_client_rtt_seconds', ['node', 'subnet'], 'max'),
  clientRttSamples: lastRule('sluice_agent_client_rtt_samples_total', ['node', 'subnet'], 'max'),
  // Per port: the edges' queries select this load balancer's listener ports; the origins' sum them.
  connections: rateRule('sluice_agent_connections_total', ['node', 'port']),
  bytes: rateRule('sluice_agent_bytes_total', ['node', 'port']),
  connectionSeconds: rateRule('sluice_agent_connection_seconds_total', ['node', 'port']),
  connectionCloses: rateRule('sluice_agent_connection_closes_total', ['node', 'port']),
  subnetOpen: lastRule('sluice_agent_subnet_open_connections', ['subnet', 'node'], 'sum'),
  subnetSurviving: lastRule('sluice_agent_subnet_open_connections_surviving', ['subnet', 'node'], 'sum'),
  subnetSurvivingMean: lastRule('sluice_agent_subnet_open_connections_surviving_mean', ['subnet', 'node'], 'sum'),
  open: lastRule('sluice_agent_open_connections', ['node', 'port'], 'sum'),
  surviving: lastRule('sluice_agent_open_connections_surviving', ['node', 'port'], 'sum'),
  survivingMean: lastRule('sluice_agent_open_connections_surviving_mean', ['node', 'port'], 'sum'),
  lastPoll: lastRule('sluice_agent_last_poll_timestamp_seconds', ['node'], 'max'),
} satisfies Record<string, RecordingRule>;

const r = (k: keyof typeof RULES) => RULES[k].record;

/**
 * A recorded series read as it was recorded: re-aggregated by its own labels (a no-op on the values)
 * so the answer carries exactly the raw query's labels — without it every series also carries its
 * long recorded `__name__`, about half again the bytes of the answer.
 */
function asRecorded(k: keyof typeof RULES, selector: string): string {
  const [, op, by] = /^(\w+) by \(([^)]*)\)/.exec(RULES[k].expr)!;
  return `${op} by (${by}) (${r(k)}${selector})`;
}

/**
 * The default queries on the recorded series, input by input (promql.ts DEFAULT_QUERIES is the raw
 * twin of each). origin_requests and origin_health have no default: an override reads what it names.
 */
export const RECORDED_QUERIES: Record<QueryName, string | null> = {
  edge_demand: `sum by (edge, listener) (${r('edgeRequests')}{load_balancer="$lb"})`,
  edge_origin_demand: `sum by (edge, origin) (${r('edgeOriginRequests')}{load_balancer="$lb"})`,
  edge_rtt: asRecorded('upstreamRtt', '{node=~"$edges"}'),
  subnet_demand: asRecorded('subnetConnections', '{node=~"$origins"}'),
  subnet_connection_seconds: asRecorded('subnetConnectionSeconds', '{node=~"$origins"}'),
  subnet_closes: asRecorded('subnetCloses', '{node=~"$origins"}'),
  subnet_rtt: asRecorded('clientRtt', '{node=~"$origins"}'),
  subnet_samples: asRecorded('clientRttSamples', '{node=~"$origins"}'),
  origin_requests: null,
  origin_connections: `sum by (node) (${r('connections')}{node=~"$origins"})`,
  origin_bytes: `sum by (node) (${r('bytes')}{node=~"$origins"})`,
  edge_connection_seconds: `sum by (node) (${r('connectionSeconds')}{node=~"$edges",port=~"$ports"})`,
  edge_closes: `sum by (node) (${r('connectionCloses')}{node=~"$edges",port=~"$ports"})`,
  subnet_open: asRecorded('subnetOpen', '{node=~"$origins"}'),
  subnet_surviving: asRecorded('subnetSurviving', '{node=~"$origins"}'),
  subnet_surviving_mean: asRecorded('subnetSurvivingMean', '{node=~"$origins"}'),
  edge_open: `sum by (node) (${r('open')}{node=~"$edges",port=~"$ports"})`,
  edge_surviving: `sum by (node) (${r('surviving')}{node=~"$edges",port=~"$ports"})`,
  edge_surviving_mean: `sum by (node) (${r('survivingMean')}{node=~"$edges",port=~"$ports"})`,
  origin_polled: asRecorded('lastPoll', '{node=~"$origins"}'),
  origin_health: null,
};

/** Edge demand on the recorded series in the other capacity units (promql.ts EDGE_DEMAND_IN). */
export const RECORDED_EDGE_DEMAND_IN: Record<CapacityUnit, string> = {
  requests: RECORDED_QUERIES.edge_demand!,
  connections: `sum by (edge) (label_replace(${r('connections')}{node=~"$edges",port=~"$ports"}, "edge", "$1", "node", "(.*)"))`,
  bytes: `sum by (edge) (label_replace(${r('bytes')}{node=~"$edges",port=~"$ports"}, "edge", "$1", "node", "(.*)"))`,
};

export interface RulesOptions {
  windowSeconds: number;
  staleSeconds: number;
  /** The group's evaluation interval; absent: Prometheus' global evaluation_interval. */
  intervalSeconds?: number | undefined;
}

function render(text: string, o: RulesOptions): string {
  return text.replaceAll('$window', `${o.windowSeconds}s`).replaceAll('$stale', `${o.staleSeconds}s`);
}

/** The rules, rendered for a window and stale span (what `sluice prometheus-rules` prints). */
export function recordingRules(o: RulesOptions): RecordingRule[] {
  return Object.values(RULES).map((rule) => ({ record: render(rule.record, o), expr: render(rule.expr, o) }));
}

/** A Prometheus rules file (rule_files:) holding one group with every rule. */
export function rulesFile(o: RulesOptions): string {
  const lines = [
    '# Recording rules for the sluice scheduler (generated by `sluice prometheus-rules`).',
    `# Window ${o.windowSeconds}s, stale ${o.staleSeconds}s: set scheduler.prometheus.window/stale to the same`,
    '# values and scheduler.prometheus.recording_rules: true. Evaluate at least as often as the scheduler runs.',
    'groups:',
    '  - name: sluice_scheduler_inputs',
    ...(o.intervalSeconds !== undefined ? [`    interval: ${o.intervalSeconds}s`] : []),
    '    rules:',
    ...recordingRules(o).flatMap((rule) => [`      - record: ${rule.record}`, `        expr: ${JSON.stringify(rule.expr)}`]),
  ];
  return `${lines.join('\n')}\n`;
}
