// deploy/prometheus and deploy/grafana: promtool accepts the config and the rules, the rule unit tests
// pass (and fail when an alert is broken), and every metric name used by the rules, the dashboard and
// the scheduler's recorded queries is one the code registers (read from the real prom-client
// registries, not from a list kept by hand).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { AgentMetrics } from '../agent/metrics.ts';
import { pino } from 'pino';
import { Replica } from '../api/replica.ts';
import type { Store } from '../api/store/store.ts';
import { createApiMetrics } from '../api/metrics.ts';
import { createHealthMetrics } from '../api/health/metrics.ts';
import { DnsStats } from '../dns/answer/stats.ts';
import { registerServingMetrics, registerViewMetrics } from '../dns/metrics.ts';
import { registerDnssecMetrics } from '../dns/dnssec/metrics.ts';
import { memoryKey, testSigner } from '../dns/testing/dnssec.ts';
import { EdgeMetrics } from '../edge-sync/metrics.ts';
import { createSchedulerMetrics } from '../scheduler/loop/metrics.ts';
import { renderTemplate } from '../terraform/tools/template.ts';
import { REPO_ROOT } from './helpers/sluice-process.ts';
import { unavailable } from './helpers/env.ts';
import { freePort } from './helpers/ports.ts';
import { startSluice, type SluiceProcess } from './helpers/sluice-process.ts';
import { waitFor } from './helpers/wait.ts';
import { makeTestPki, type CertPair, type TestPki } from '../lib/testing/pki.ts';

const PROM_DIR = join(REPO_ROOT, 'deploy/prometheus');
const DASHBOARD = join(REPO_ROOT, 'deploy/grafana/sluice-dashboard.json');

/** Every series name the code can expose (histograms as _bucket/_sum/_count), by component. */
async function exportedMetricNames(): Promise<Set<string>> {
  const api = createApiMetrics();
  createSchedulerMetrics(api.registry);
  createHealthMetrics(api.registry);
  // The replica's own gauges (store reachability, change seq, LISTEN) as a PostgreSQL replica registers them.
  new Replica({ id: 'cp-a', store: {} as Store, storeKind: 'postgres', log: pino({ level: 'silent' }), registry: api.registry, listening: () => true });
  const agent = new AgentMetrics('node-a');
  const edge = new EdgeMetrics('edge-a');
  const dns = new Registry();
  registerServingMetrics(dns, new DnsStats(), () => null);
  registerViewMetrics(dns);
  registerDnssecMetrics(dns, testSigner([memoryKey('example.com')], { ms: Date.now() }));
  const names = new Set<string>();
  for (const registry of [api.registry, agent.main, agent.subnets, edge.registry, dns]) {
    for (const m of await registry.getMetricsAsJSON()) {
      names.add(m.name);
      if (String(m.type) === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(m.name + s);
      if (String(m.type) === 'summary') for (const s of ['_sum', '_count']) names.add(m.name + s);
    }
  }
  return names;
}

const PROMQL_WORDS = new Set([
  'sum', 'min', 'max', 'avg', 'count', 'stddev', 'stdvar', 'topk', 'bottomk', 'quantile', 'count_values', 'group',
  'by', 'without', 'and', 'or', 'unless', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'offset',
  'rate', 'irate', 'increase', 'delta', 'idelta', 'deriv', 'histogram_quantile', 'last_over_time', 'time', 'abs', 'clamp_min', 'clamp_max',
  'label_values', 'vector', 'scalar', 'absent', 'changes', 'resets', 'inf', 'nan',
]);

/** Metric names a PromQL expression selects (strings, label matchers, ranges and grouping stripped). */
export function metricNamesIn(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\boffset\s+-?\d+[smhdwy]+/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names: string[] = [];
  for (const m of stripped.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const word = m[0];
    const after = stripped.slice(m.index! + word.length).trimStart();
    if (PROMQL_WORDS.has(word) || after.startsWith('(')) continue;
    if (/^[0-9]/.test(word)) continue;
    names.push(word);
  }
  return names;
}

interface RuleFile {
  groups: { name: string; rules: ({ record: string; expr: string } | { alert: string; expr: string; for?: string; labels?: Record<string, string> })[] }[];
}

const ruleFiles = readdirSync(join(PROM_DIR, 'rules')).filter((f) => f.endsWith('.yml'));
const rules = ruleFiles.flatMap((f) => (parseYaml(readFileSync(join(PROM_DIR, 'rules', f), 'utf8')) as RuleFile).groups.flatMap((g) => g.rules));
// The capacity rules the terraform control-plane module renders from its topology.
const CAPACITY_TEMPLATE = join(REPO_ROOT, 'terraform/modules/sluice-control-plane/templates/capacity-rules.yml.tftpl');
const capacityRecords = [...readFileSync(CAPACITY_TEMPLATE, 'utf8').matchAll(/record: (\S+)/g)].map((m) => m[1]!);
const recorded = new Set([...rules.flatMap((r) => ('record' in r ? [r.record] : [])), ...capacityRecords]);
// `up` is Prometheus' own per-target series.
const PROMETHEUS_OWN = new Set(['up']);

let exported: Set<string>;
beforeAll(async () => {
  exported = await exportedMetricNames();
});

describe('metric names', () => {
  it('the registries expose the contract metrics (sanity check of the collector)', () => {
    for (const n of ['sluice_agent_connections_total', 'sluice_agent_client_rtt_seconds', 'sluice_edge_requests_total', 'sluice_edge_weight', 'sluice_scheduler_held_cycles_total', 'sluice_scheduler_solve_duration_seconds_bucket', 'sluice_dns_queries_total', 'sluice_api_requests_total']) {
      expect(exported, n).toContain(n);
    }
  });

  it('the parser finds the metric names in a PromQL expression', () => {
    expect(metricNamesIn('sum by (le) (rate(a_bucket{x="y{z}"}[5m])) / on (i) group_left b > 0 and time() - c')).toEqual(['a_bucket', 'b', 'c']);
  });

  it('every rule expression uses exported or recorded names', () => {
    const unknown = rules.flatMap((r) => metricNamesIn(r.expr).filter((n) => !exported.has(n) && !recorded.has(n) && !PROMETHEUS_OWN.has(n)).map((n) => `${'record' in r ? r.record : r.alert}: ${n}`));
    expect(unknown).toEqual([]);
  });

  it('recording rules only read raw series the code exports (a recorded name must not feed another by accident)', () => {
    for (const r of rules) if ('record' in r) for (const n of metricNamesIn(r.expr)) expect(exported, `${r.record} reads ${n}`).toContain(n);
  });

  it('the queries the control-plane module points the scheduler at are produced by the recording rules', () => {
    const template = readFileSync(join(REPO_ROOT, 'terraform/modules/sluice-control-plane/templates/control-plane.yaml.tftpl'), 'utf8');
    const used = [...template.matchAll(/sluice:[a-z0-9_:]+/g)].map((m) => m[0]);
    expect(used.length).toBeGreaterThanOrEqual(3);
    for (const n of used) expect(recorded, n).toContain(n);
  });

  it('the alerts the issue asks for exist', () => {
    const alerts = rules.flatMap((r) => ('alert' in r ? [r] : []));
    const byName = new Map(alerts.map((a) => [a.alert, a]));
    expect(byName.get('SluiceDemandAboveCapacity')?.expr).toContain('sluice_scheduler_overload_rps');
    // Control-plane HA (issue 12): no leader, database unreachable, split views.
    expect(byName.get('SluiceSchedulerNoLeader')?.expr).toContain('sum(sluice_scheduler_leader)');
    expect(byName.get('SluiceStoreUnreachable')?.expr).toContain('sluice_api_store_up == 0');
    expect(byName.get('SluiceReplicaViewBehind')?.expr).toContain('sluice_api_change_seq');
    expect(byName.get('SluiceDataPlaneViewBehind')?.expr).toContain('sluice_dns_view_seq');
    expect(byName.get('SluiceOriginOverTarget')?.expr).toContain('sluice:origin_capacity_rps{bound="target"}');
    expect(byName.get('SluiceSchedulerHoldingWeights')?.expr).toContain('increase(sluice_scheduler_held_cycles_total[5m])');
    expect(byName.get('SluiceAgentDown')?.expr).toBe('up{job="sluice-agent"} == 0');
    expect(byName.get('SluiceSchedulerInputsStale')?.expr).toContain('no_data');
    expect(byName.get('SluiceDnsServfail')?.expr).toContain('SERVFAIL');
    // Health by quorum (issue 13): a vantage point disagreeing with the quorum for long, fail-open, too few vantages.
    expect(byName.get('SluiceHealthVantageDisagrees')?.expr).toContain('sluice_health_vantage_disagrees');
    expect(byName.get('SluiceHealthVantageDisagrees')?.for).toBe('10m');
    expect(byName.get('SluiceHealthFailOpen')?.expr).toContain('sluice_health_fail_open');
    expect(byName.get('SluiceHealthLoneVantage')?.expr).toContain('sluice_health_fresh_vantages');
    expect(byName.get('SluiceEdgeLocalFallback')?.expr).toContain('sluice_edge_local_fallback_origins');
    expect(byName.get('SluiceDnssecSignaturesExpiringSoon')?.expr).toContain('sluice_dns_dnssec_next_signature_expiry_timestamp_seconds');
    for (const a of alerts) expect(['critical', 'warning', 'info'], a.alert).toContain(a.labels?.severity);
  });
});

/** What the terraform modules install beside prometheus.yml: the sluice CA and Prometheus' client certificate. */
function installTls(dir: string, pki: TestPki): CertPair {
  const client = pki.issue('prometheus', { cn: 'prometheus', ou: 'sluice-read', usage: 'client' });
  mkdirSync(join(dir, 'tls'), { recursive: true });
  cpSync(pki.ca, join(dir, 'tls/ca.crt'));
  cpSync(client.cert, join(dir, 'tls/prometheus.crt'));
  cpSync(client.key, join(dir, 'tls/prometheus.key'));
  return client;
}

describe('prometheus.yml scrapes every sluice job over TLS', () => {
  const prom = parseYaml(readFileSync(join(PROM_DIR, 'prometheus.yml'), 'utf8')) as { scrape_configs: { job_name: string; scheme?: string; tls_config?: Record<string, string> }[] };
  it('scheme https with the CA and a client certificate, for every sluice-* job', () => {
    const jobs = prom.scrape_configs.filter((j) => j.job_name.startsWith('sluice-'));
    expect(jobs.map((j) => j.job_name).sort()).toEqual(['sluice-agent', 'sluice-agent-subnets', 'sluice-control-plane', 'sluice-dns', 'sluice-edge-sync']);
    for (const j of jobs) {
      expect(j.scheme, j.job_name).toBe('https');
      expect(j.tls_config, j.job_name).toEqual({ ca_file: 'tls/ca.crt', cert_file: 'tls/prometheus.crt', key_file: 'tls/prometheus.key' });
    }
  });
});

describe.skipIf(unavailable({ tools: { promtool: 'prometheus' } }))('promtool', () => {
  let dir: string;
  let pki: TestPki;
  beforeAll(() => {
    // The config as the control-plane module installs it: token and TLS files beside it, file_sd target files.
    dir = mkdtempSync(join(tmpdir(), 'slc-prom-'));
    cpSync(PROM_DIR, dir, { recursive: true });
    pki = makeTestPki();
    installTls(dir, pki);
    writeFileSync(join(dir, 'sluice-read.token'), 'read-token-0123456789abcdef\n');
    const targets = (t: string[]) => JSON.stringify([{ targets: t, labels: {} }]);
    mkdirSync(join(dir, 'targets'), { recursive: true });
    writeFileSync(join(dir, 'targets/control-plane.yml'), targets(['127.0.0.1:8080']));
    writeFileSync(join(dir, 'targets/agents.yml'), targets(['10.20.1.10:9465', '10.30.1.10:9465']));
    writeFileSync(join(dir, 'targets/edges.yml'), targets([]));
    writeFileSync(join(dir, 'targets/dns.yml'), targets(['127.0.0.1:9153']));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    pki?.remove();
  });

  const promtool = (...args: string[]) => spawnSync('promtool', args, { encoding: 'utf8', cwd: dir });

  it('check config accepts prometheus.yml (with its rule files)', () => {
    const r = promtool('check', 'config', 'prometheus.yml');
    expect(r.stdout + r.stderr).toContain('SUCCESS');
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });

  it('check config fails without the token file (so the check is real)', () => {
    rmSync(join(dir, 'sluice-read.token'));
    try {
      expect(promtool('check', 'config', 'prometheus.yml').status).not.toBe(0);
    } finally {
      writeFileSync(join(dir, 'sluice-read.token'), 'read-token-0123456789abcdef\n');
    }
  });

  it('check config fails without the client key (so the TLS files are checked)', () => {
    const key = join(dir, 'tls/prometheus.key');
    const saved = readFileSync(key);
    rmSync(key);
    try {
      const r = promtool('check', 'config', 'prometheus.yml');
      expect(r.status).not.toBe(0);
      expect(r.stdout + r.stderr).toContain('prometheus.key');
    } finally {
      writeFileSync(key, saved, { mode: 0o600 });
    }
  });

  it('check rules accepts every rule file', () => {
    const r = promtool('check', 'rules', ...ruleFiles.map((f) => join('rules', f)));
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect((r.stdout.match(/SUCCESS/g) ?? []).length).toBe(ruleFiles.length);
  });

  it('check rules accepts the capacity rules the control-plane module renders', () => {
    const text = renderTemplate(readFileSync(CAPACITY_TEMPLATE, 'utf8'), {
      load_balancer: 'web',
      origins: [
        { name: 'origin-weu', target_rps: 20, max_rps: 30 },
        { name: 'origin-sea', target_rps: 12.5, max_rps: 25 },
      ],
    });
    writeFileSync(join(dir, 'rules/sluice-capacity.yml'), text);
    try {
      const r = promtool('check', 'rules', 'rules/sluice-capacity.yml');
      expect(r.stdout + r.stderr).toContain('SUCCESS: 4 rules found');
      // And prometheus.yml's rule_files glob picks it up.
      expect(promtool('check', 'config', 'prometheus.yml').stdout).toContain('rules/sluice-capacity.yml');
    } finally {
      rmSync(join(dir, 'rules/sluice-capacity.yml'));
    }
  });

  it('the rule unit tests pass', () => {
    const r = promtool('test', 'rules', 'tests/sluice-rules.test.yml');
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });

  it('the health rule tests fail when the disagreement alert is broken', () => {
    const file = join(dir, 'rules/sluice-alerts.yml');
    const original = readFileSync(file, 'utf8');
    writeFileSync(file, original.replace('expr: max by (load_balancer, origin, vantage) (sluice_health_vantage_disagrees) == 1', 'expr: sluice_health_vantage_disagrees == 1'));
    try {
      const r = promtool('test', 'rules', 'tests/sluice-rules.test.yml');
      expect(r.status).not.toBe(0);
      expect(r.stdout + r.stderr).toContain('SluiceHealthVantageDisagrees');
    } finally {
      writeFileSync(file, original);
    }
  });

  it('the rule unit tests fail when an alert is broken (they test something)', () => {
    const file = join(dir, 'rules/sluice-alerts.yml');
    const original = readFileSync(file, 'utf8');
    writeFileSync(file, original.replace('expr: sluice_scheduler_overload_rps > 0', 'expr: sluice_scheduler_overload_rps > 1000'));
    try {
      const r = promtool('test', 'rules', 'tests/sluice-rules.test.yml');
      expect(r.status).not.toBe(0);
      expect(r.stdout + r.stderr).toContain('SluiceDemandAboveCapacity');
    } finally {
      writeFileSync(file, original);
    }
  });
});

describe.skipIf(unavailable({ tools: { prometheus: 'prometheus' } }))('the shipped prometheus.yml, run', () => {
  let dir: string;
  let pki: TestPki;
  let agent: SluiceProcess | undefined;
  let prom: ChildProcess | undefined;
  afterAll(async () => {
    prom?.kill('SIGTERM');
    await agent?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
    pki?.remove();
  });

  it('scrapes a sluice agent that requires client certificates, over HTTPS, with the files the modules install', async () => {
    dir = mkdtempSync(join(tmpdir(), 'slc-prom-run-'));
    cpSync(PROM_DIR, dir, { recursive: true });
    pki = makeTestPki();
    installTls(dir, pki);
    writeFileSync(join(dir, 'sluice-read.token'), 'read-token-0123456789abcdef\n');
    // The agent as the origin module renders it: its host certificate, the CA, client certificates required.
    const host = pki.issue('host', { cn: 'origin-a', ou: 'sluice-read', sans: ['127.0.0.1'] });
    const agentPort = await freePort();
    const agentCfg = join(dir, 'agent.yaml');
    writeFileSync(agentCfg, [`node: origin-a`, `listen: 127.0.0.1:${agentPort}`, 'service_ports: [1]', 'poll_interval: 1s', `tls: { cert_file: ${host.cert}, key_file: ${host.key}, client_ca_file: ${pki.ca}, client_auth_type: RequireAndVerifyClientCert }`].join('\n'));
    agent = startSluice(['agent', '--config', agentCfg], { env: { SLUICE_LOG_LEVEL: 'warn' } });
    mkdirSync(join(dir, 'targets'), { recursive: true });
    writeFileSync(join(dir, 'targets/agents.yml'), JSON.stringify([{ targets: [`127.0.0.1:${agentPort}`], labels: {} }]));
    // A short scrape interval (and timeouts within it) for the test; everything else is the shipped file.
    writeFileSync(join(dir, 'prometheus.yml'), readFileSync(join(dir, 'prometheus.yml'), 'utf8').replace('scrape_interval: 15s', 'scrape_interval: 1s').replaceAll('scrape_timeout: 10s', 'scrape_timeout: 1s'));
    const port = await freePort();
    prom = spawn('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    prom.stdout!.on('data', (d: Buffer) => (log += d.toString()));
    prom.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    const target = await waitFor(
      async () => {
        const res = (await (await fetch(`http://127.0.0.1:${port}/api/v1/targets?state=active`)).json()) as { data: { activeTargets: { labels: { job: string }; scrapeUrl: string; health: string; lastError: string }[] } };
        const t = res.data.activeTargets.find((x) => x.labels.job === 'sluice-agent');
        if (t?.health === 'up') return t;
        throw new Error(`${t?.scrapeUrl}: ${t?.health} ${t?.lastError}`);
      },
      { timeoutMs: 30_000, intervalMs: 250, what: 'the shipped config to scrape the agent over TLS' },
    ).catch((err: Error) => {
      throw new Error(`${err.message}\nprometheus: ${log.slice(-1500)}\nagent: ${agent!.output().slice(-600)}`);
    });
    expect(target.scrapeUrl).toBe(`https://127.0.0.1:${agentPort}/metrics`);
  }, 45_000);
});

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { type: string; uid: string };
  targets?: { expr: string; refId: string }[];
}

describe('grafana dashboard', () => {
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
    uid: string;
    title: string;
    panels: Panel[];
    templating: { list: { name: string; type: string; query: string | { query: string } }[] };
  };

  it('is valid JSON with a stable uid, unique panel ids and non-overlapping panels', () => {
    expect(dashboard.uid).toBe('sluice-overview');
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const cells = new Set<string>();
    for (const p of dashboard.panels) {
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
      for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++) {
        for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
          expect(cells.has(`${x},${y}`), `${p.title} overlaps at ${x},${y}`).toBe(false);
          cells.add(`${x},${y}`);
        }
      }
    }
  });

  it('every query panel reads the Prometheus datasource variable and has queries', () => {
    for (const p of dashboard.panels.filter((p) => p.type !== 'row')) {
      expect(p.datasource, p.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
    }
  });

  it('queries and template variables use only metric names the code exports', () => {
    const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: p.title, expr: t.expr })));
    for (const v of dashboard.templating.list) if (v.type === 'query') exprs.push({ where: `$${v.name}`, expr: typeof v.query === 'string' ? v.query : v.query.query });
    const unknown = exprs.flatMap(({ where, expr }) => {
      const names = /^label_values\(/.test(expr) ? [/^label_values\(\s*([A-Za-z_:][A-Za-z0-9_:]*)/.exec(expr)![1]!] : metricNamesIn(expr);
      expect(names.length, `${where}: ${expr}`).toBeGreaterThan(0);
      return names.filter((n) => !exported.has(n) && !PROMETHEUS_OWN.has(n) && !capacityRecords.includes(n)).map((n) => `${where}: ${n}`);
    });
    expect(unknown).toEqual([]);
  });

  it('has the panels the issue asks for', () => {
    const byTitle = (re: RegExp) => dashboard.panels.find((p) => re.test(p.title));
    const expectPanel = (re: RegExp, metric: string) => {
      const p = byTitle(re);
      expect(p, String(re)).toBeDefined();
      expect(p!.targets!.some((t) => t.expr.includes(metric)), `${p!.title} reads ${metric}`).toBe(true);
    };
    expectPanel(/origin load/i, 'sluice_scheduler_measured_load_rps');
    expectPanel(/origin load/i, 'sluice_scheduler_predicted_load_rps');
    expectPanel(/origin load/i, 'sluice:origin_capacity_rps');
    expectPanel(/origin share/i, 'sluice_scheduler_origin_share');
    expectPanel(/edge weights/i, 'sluice_edge_weight');
    expectPanel(/solve time/i, 'sluice_scheduler_solve_duration_seconds_bucket');
    expectPanel(/dns answers by reason/i, 'sluice_dns_queries_total');
    expectPanel(/held cycles/i, 'sluice_scheduler_held_cycles_total');
  });
});
