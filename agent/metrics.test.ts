import { describe, expect, it } from 'vitest';
import { AgentMetrics } from './metrics.ts';
import { packSubnets, unpackSubnets, type PollReport } from './poller.ts';

function report(over: Partial<PollReport> = {}): PollReport {
  return {
    durationSeconds: 0.01,
    complete: true,
    sockets: { inbound: 2, outbound: 1, other: 5 },
    subnetsTracked: 2,
    evictedTotal: 0,
    expiredTotal: 0,
    countedInbound: 0,
    connectionsByPort: {},
    errors: {},
    passiveOpens: 100,
    upstreams: [],
    topSubnets: packSubnets([]),
    ...over,
  };
}
const sub = (subnet: string, connections: number) => ({ subnet, rttSeconds: 0.04, minRttSeconds: 0.039, samples: 9, connections });

describe('agent metrics', () => {
  it('carries the busiest subnets across threads packed, and unpacks them unchanged', () => {
    const rows = [
      sub('10.0.1.0/24', 5),
      { subnet: '2001:db8:aa::/48', connections: 2 },
      { subnet: '10.0.2.0/24', connections: 1, rttSeconds: 0.1, minRttSeconds: 0.05, samples: 3, connectionSeconds: 7.5, closes: 2, survivors: { open: 3, surviving: 1.5, survivingMean: 2.25 } },
      { subnet: '10.0.3.0/24', connections: 4, connectionSeconds: 0, closes: 0 },
    ];
    expect(unpackSubnets(packSubnets(rows))).toEqual(rows);
    expect(unpackSubnets(packSubnets([]))).toEqual([]);
  });

  it('serves /metrics/subnets as the collector wrote it, and keeps it while the export is unchanged', async () => {
    const m = new AgentMetrics('n1');
    expect(m.subnetExport).toBeNull();
    const text = '# HELP x y\nsluice_agent_subnet_connections_total{subnet="10.0.1.0/24",node="n1"} 5\n';
    const body = new TextEncoder().encode(text);
    m.applySubnetExposition({ id: '7.1', exportedSubnets: { own: 1, aggregate: 0, none: 2 }, body });
    expect(m.subnets.body()).toBe(body); // the bytes that crossed, not a copy
    expect(await m.subnets.metrics()).toBe(text);
    expect(m.subnetExport).toBe('7.1');
    m.applySubnetExposition({ id: '7.1', exportedSubnets: { own: 1, aggregate: 0, none: 3 } }); // no body: still current
    expect(m.subnets.body()).toBe(body);
    expect(await m.main.metrics()).toContain('sluice_agent_exported_subnets{as="none",node="n1"} 3');
    m.applyExport({ topSubnets: packSubnets([sub('10.0.2.0/24', 4)]), exportedSubnets: { own: 1, aggregate: 0, none: 0 } });
    expect(m.subnetExport).toBeNull(); // written here: the next request asks for the collector's own
    expect(await m.subnets.metrics()).toContain('sluice_agent_subnet_connections_total{subnet="10.0.2.0/24",node="n1"} 4');
  });

  it('removes a subnet\'s series as soon as it leaves the exported top N', async () => {
    const m = new AgentMetrics('n1');
    m.apply(report({ topSubnets: packSubnets([sub('10.0.1.0/24', 5), sub('10.0.2.0/24', 3)]) }), 0);
    let text = await m.subnets.metrics();
    expect(text).toContain('sluice_agent_client_rtt_seconds{subnet="10.0.1.0/24",node="n1"} 0.04');
    expect(text).toContain('sluice_agent_subnet_connections_total{subnet="10.0.2.0/24",node="n1"} 3');
    m.apply(report({ topSubnets: packSubnets([sub('10.0.2.0/24', 4)]) }), 0);
    text = await m.subnets.metrics();
    expect(text).not.toContain('10.0.1.0/24');
    expect(text).toContain('sluice_agent_subnet_connections_total{subnet="10.0.2.0/24",node="n1"} 4');
  });

  it('reports 0 open connections for a subnet whose connections here all closed (not a vanished series)', async () => {
    // The scheduler reads these gauges with last_over_time(…[stale]): a series that vanished would keep
    // reporting the last open connections for the whole staleness window.
    const m = new AgentMetrics('n1');
    const turnover = { connectionSeconds: 4, closes: 2 };
    m.apply(report({ topSubnets: packSubnets([{ ...sub('10.0.1.0/24', 5), ...turnover, survivors: { open: 3, surviving: 1.8, survivingMean: 2.4 } }]) }), 0);
    let text = await m.subnets.metrics();
    expect(text).toContain('sluice_agent_subnet_open_connections{subnet="10.0.1.0/24",node="n1"} 3');
    m.apply(report({ topSubnets: packSubnets([{ ...sub('10.0.1.0/24', 5), ...turnover, closes: 5 }, sub('10.0.2.0/24', 1)]) }), 0);
    text = await m.subnets.metrics();
    expect(text).toContain('sluice_agent_subnet_open_connections{subnet="10.0.1.0/24",node="n1"} 0');
    expect(text).toContain('sluice_agent_subnet_open_connections_surviving{subnet="10.0.1.0/24",node="n1"} 0');
    // A subnet that never had a connection open across two polls has no turnover series at all.
    expect(text).not.toContain('sluice_agent_subnet_open_connections{subnet="10.0.2.0/24"');
  });

  it('exports demand for a busy subnet that has no RTT yet, and no RTT series for it', async () => {
    const m = new AgentMetrics('n1');
    m.apply(report({ topSubnets: packSubnets([{ subnet: '10.0.9.0/24', connections: 12 }, sub('10.0.1.0/24', 5)]) }), 0);
    const text = await m.subnets.metrics();
    expect(text).toContain('sluice_agent_subnet_connections_total{subnet="10.0.9.0/24",node="n1"} 12');
    expect(text).not.toMatch(/sluice_agent_client_(min_)?rtt_seconds\{subnet="10\.0\.9\.0\/24"/);
    expect(text).toContain('sluice_agent_client_rtt_seconds{subnet="10.0.1.0/24",node="n1"} 0.04');
  });

  it('turns the worker\'s cumulative totals into counter increments (and survives a worker restart)', async () => {
    const m = new AgentMetrics('n1');
    m.apply(report({ connectionsByPort: { '443': 10 }, errors: { bad_attribute: 2 }, evictedTotal: 3 }), 0);
    m.apply(report({ connectionsByPort: { '443': 15 }, errors: { bad_attribute: 2, timeout: 1 }, evictedTotal: 4 }), 0);
    // restarted worker: totals start again from zero
    m.apply(report({ connectionsByPort: { '443': 2 }, errors: {}, evictedTotal: 0 }), 0);
    m.apply(report({ connectionsByPort: { '443': 5 }, errors: {}, evictedTotal: 0 }), 0);
    const text = await m.main.metrics();
    expect(text).toContain('sluice_agent_connections_total{port="443",node="n1"} 18');
    expect(text).toContain('sluice_agent_collector_errors_total{kind="bad_attribute",node="n1"} 2');
    expect(text).toContain('sluice_agent_collector_errors_total{kind="timeout",node="n1"} 1');
    expect(text).toContain('sluice_agent_subnets_evicted_total{node="n1"} 4');
  });

  it('churn: uncounted = kernel passive opens - counted - own HTTP accepts, settled one poll later', async () => {
    const m = new AgentMetrics('n1');
    m.apply(report({ passiveOpens: 1000, countedInbound: 7 }), 2, 2); // baseline
    m.apply(report({ passiveOpens: 1030, countedInbound: 27 }), 5, 5); // 30 accepted: 20 counted, 3 our own scrapes, 7 missed
    expect(m.churn.uncounted).toBe(0); // not settled yet
    // Settling that poll, one more own accept has been seen than the kernel value included: 6, low, never high.
    m.apply(report({ passiveOpens: 1031, countedInbound: 27 }), 5, 6);
    expect(m.churn).toEqual({ kernelPassiveOpens: 30, countedInbound: 20, agentHttpAccepts: 4, gap: 6, uncounted: 6 });
    m.apply(report({ passiveOpens: 1031, countedInbound: 27 }), 6, 6); // kernel 31 = 20 counted + 4 own + 7 missed
    expect(m.churn.uncounted).toBe(7);
    const text = await m.main.metrics();
    expect(text).toContain('sluice_agent_uncounted_connections_total{node="n1"} 7');
    expect(text).toContain('sluice_agent_kernel_passive_opens_total{node="n1"} 31');
  });
});

describe('connection turnover series', () => {
  it('exports open connections, closes, connection-seconds and bytes per port, and turnover per subnet', async () => {
    const m = new AgentMetrics('n1');
    const ports = (closes: number, seconds: number) => ({ '443': { open: 3, closes, connectionSeconds: seconds, bytesSent: 1000 * closes, bytesReceived: 10 * closes } });
    m.apply(report({ ports: ports(2, 7.5), topSubnets: packSubnets([{ subnet: '10.0.1.0/24', connections: 4, connectionSeconds: 7.5, closes: 2 }, { subnet: '10.0.2.0/24', connections: 9, connectionSeconds: 0, closes: 0 }]) }), 0);
    m.apply(report({ ports: ports(5, 20) }), 0);
    const main = await m.main.metrics();
    expect(main).toContain('sluice_agent_open_connections{port="443",node="n1"} 3');
    expect(main).toContain('sluice_agent_connection_closes_total{port="443",node="n1"} 5');
    expect(main).toContain('sluice_agent_connection_seconds_total{port="443",node="n1"} 20');
    expect(main).toContain('sluice_agent_bytes_total{port="443",direction="sent",node="n1"} 5000');
    const first = new AgentMetrics('n1');
    first.apply(report({ topSubnets: packSubnets([{ subnet: '10.0.1.0/24', connections: 4, connectionSeconds: 7.5, closes: 2 }, { subnet: '10.0.2.0/24', connections: 9, connectionSeconds: 0, closes: 0 }]) }), 0);
    const subnets = await first.subnets.metrics();
    expect(subnets).toContain('sluice_agent_subnet_connection_seconds_total{subnet="10.0.1.0/24",node="n1"} 7.5');
    expect(subnets).toContain('sluice_agent_subnet_connection_closes_total{subnet="10.0.1.0/24",node="n1"} 2');
    // One-request connections only (never open at two polls): no turnover series, demand only.
    expect(subnets).not.toMatch(/connection_seconds_total\{subnet="10.0.2.0\/24"/);
  });
});
