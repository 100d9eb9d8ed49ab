// Every component's /metrics, as built by the component itself: the standard process_* and nodejs_*
// series are there (operators watch sluice's own CPU and memory with the dashboards they use for any
// Node service), metric types follow Prometheus conventions (a running count is a counter named
// _total; a _total is never a gauge), and `promtool check metrics` accepts the exposition.
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { AgentMetrics } from '../agent/metrics.ts';
import { packSubnets } from '../agent/poller.ts';
import { createApiMetrics } from '../api/metrics.ts';
import { createHealthMetrics } from '../api/health/metrics.ts';
import { DnsStats } from '../dns/answer/stats.ts';
import { registerServingMetrics, registerViewMetrics } from '../dns/metrics.ts';
import { registerDnssecMetrics } from '../dns/dnssec/metrics.ts';
import { memoryKey, testSigner } from '../dns/testing/dnssec.ts';
import { EdgeMetrics } from '../edge-sync/metrics.ts';
import { unavailable } from './helpers/env.ts';
import { promtoolCheck } from './helpers/promtool.ts';

async function expositions(): Promise<Record<string, string>> {
  const agent = new AgentMetrics('n1');
  agent.apply(
    {
      durationSeconds: 0.01, complete: true, sockets: { inbound: 1, outbound: 0, other: 0 }, subnetsTracked: 1, evictedTotal: 0, expiredTotal: 0, countedInbound: 1,
      connectionsByPort: { '443': 1 }, errors: {}, passiveOpens: 1, upstreams: [], topSubnets: packSubnets([{ subnet: '10.0.1.0/24', rttSeconds: 0.04, minRttSeconds: 0.039, samples: 9, connections: 5 }]),
    },
    0,
  );
  const edge = new EdgeMetrics('ams-1');
  edge.applyDuration.observe({ edge: 'ams-1', dataplane: 'haproxy' }, 0.02);
  // sluice dns with one process: serving and view metrics on one registry.
  const dnsSingle = new Registry();
  registerServingMetrics(dnsSingle, new DnsStats(), () => null);
  registerViewMetrics(dnsSingle);
  registerDnssecMetrics(dnsSingle, testSigner([memoryKey('example.com')], { ms: Date.now() }));
  // The control plane with its health-by-quorum series (as the health leader exports them).
  const api = createApiMetrics();
  const health = createHealthMetrics(api.registry);
  health.vantageOrigins.set({ vantage: 'edge:ams-1', view: 'up' }, 12);
  health.vantageDisagrees.set({ load_balancer: 'web', origin: 'weu', vantage: 'cp-a' }, 1);
  health.decisions.inc({ scope: 'edge', to: 'unhealthy' });
  edge.originUp.set({ edge: 'ams-1', load_balancer: 'web', origin: 'weu' }, 1);
  edge.healthReports.inc({ edge: 'ams-1', result: 'ok' });
  return {
    'control plane': await api.registry.metrics(),
    'agent (main)': await agent.main.metrics(),
    'agent (subnets)': await agent.subnets.metrics(),
    'edge-sync': await edge.registry.metrics(),
    dns: await dnsSingle.metrics(),
  };
}

const STANDARD = ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'process_start_time_seconds', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes'];

function types(text: string): Map<string, string> {
  return new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
}

describe('metrics exposition of every component', () => {
  it('includes the standard process_* and nodejs_* series (no prefix)', async () => {
    for (const [component, text] of Object.entries(await expositions())) {
      if (component === 'agent (subnets)') continue; // the per-subnet registry is served on its own path
      for (const name of STANDARD) expect(types(text).has(name), `${component} lacks ${name}`).toBe(true);
    }
  });

  it('types running counts as counters named _total, and nothing else as _total', async () => {
    for (const [component, text] of Object.entries(await expositions())) {
      for (const [name, type] of types(text)) {
        // prom-client's own names (see helpers/promtool.ts) are the standard ones; they stay as they are.
        if (/^nodejs_active_\w+_total$/.test(name)) continue;
        if (type === 'counter') expect(name, `${component}: counter ${name}`).toMatch(/_total$/);
        if (name.endsWith('_total')) expect(type, `${component}: ${name}`).toBe('counter');
      }
    }
    expect(types((await expositions())['agent (subnets)']!).get('sluice_agent_client_rtt_samples_total')).toBe('counter');
    expect(types((await expositions())['edge-sync']!).get('sluice_edge_apply_duration_seconds')).toBe('histogram');
  });

  const skip = unavailable({ tools: { promtool: 'prometheus' } });
  it.skipIf(skip)('passes promtool check metrics', async () => {
    for (const [component, text] of Object.entries(await expositions())) {
      const r = await promtoolCheck(text);
      expect(r.problems, component).toEqual([]);
      expect(r.code, component).toBe(0);
    }
  });
});
