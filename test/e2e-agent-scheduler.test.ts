// The loop end to end on real parts, on loopback: two real agents (the `sluice agent` CLI reading the
// kernel's TCP table) in front of two origin servers, and the real control plane process whose
// scheduler reads them — through a real Prometheus, or (the embedded default) by scraping the agents
// itself — and publishes per-subnet weights into the API. Everything is read back over HTTP.
import { writeFileSync } from 'node:fs';
import type { Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { http, startControlPlaneProcess, tempDir } from './helpers/control-plane.ts';
import { unavailable } from './helpers/env.ts';
import { echoServer, subnetClients } from './helpers/loopback-clients.ts';
import { freePort } from './helpers/ports.ts';
import { startPrometheus, type RunningPrometheus } from './helpers/prometheus.ts';
import { startSluice, type SluiceProcess } from './helpers/sluice-process.ts';
import { waitFor } from './helpers/wait.ts';

const skip = unavailable({ tools: { prometheus: 'prometheus' } }) !== null;

describe.skipIf(skip).each(['prometheus', 'scrape'] as const)('agents -> %s -> scheduler -> API', (mode) => {
  const dir = tempDir();
  const origins: { name: string; server: Server; port: number; agentPort: number; agent?: SluiceProcess }[] = [];
  let load: ReturnType<typeof subnetClients> | undefined;
  let prom: RunningPrometheus | undefined;
  let cp: Awaited<ReturnType<typeof startControlPlaneProcess>>;

  beforeAll(async () => {
    for (const name of ['origin-a', 'origin-b']) {
      const { server, port } = await echoServer();
      const agentPort = await freePort();
      const cfg = join(dir.path, `${name}.yaml`);
      writeFileSync(cfg, [`node: ${name}`, `listen: 127.0.0.1:${agentPort}`, `service_ports: [${port}]`, 'include_loopback: true', 'poll_interval: 250ms', 'min_connection_age: 250ms', 'min_samples: 2'].join('\n'));
      const agent = startSluice(['agent', '--config', cfg], { env: { SLUICE_LOG_LEVEL: 'warn' } });
      origins.push({ name, server, port, agentPort, agent });
    }
    for (const o of origins) await waitFor(async () => (await fetch(`http://127.0.0.1:${o.agentPort}/healthz`)).ok, { timeoutMs: 20_000, what: `${o.name} agent; ${o.agent!.output()}` });
    let inputs: string[];
    if (mode === 'prometheus') {
      prom = await startPrometheus([
        { job: 'sluice-agent', targets: origins.map((o) => `127.0.0.1:${o.agentPort}`) },
        { job: 'sluice-agent-subnets', metricsPath: '/metrics/subnets', targets: origins.map((o) => `127.0.0.1:${o.agentPort}`) },
      ]);
      inputs = ['  prometheus:', `    url: ${prom.url}`, '    window: 10s', '    stale: 10s'];
    } else {
      inputs = ['  scrape:', '    targets:', ...origins.map((o) => `      - http://127.0.0.1:${o.agentPort}`)];
    }
    const cfg = join(dir.path, 'control-plane.yaml');
    writeFileSync(cfg, ['scheduler:', '  interval: 1s', ...inputs, 'health_checks:', '  enabled: false'].join('\n'));
    cp = await startControlPlaneProcess(['--config', cfg, '--data-dir', join(dir.path, 'data')]);
  }, 90_000);

  afterAll(async () => {
    load?.close();
    await cp?.proc.stop();
    await prom?.stop();
    for (const o of origins) {
      await o.agent?.stop();
      o.server.close();
    }
    dir.remove();
  });

  it('learns client subnets from the kernel and publishes per-subnet weights readable over HTTP', async () => {
    const lb = await http(`${cp.url}/api/v1/load-balancers`, { method: 'POST', body: { name: 'app', dns: { zone: 'example.com', hostname: 'app.example.com' }, min_samples: 2 } });
    expect(lb.status).toBe(201);
    const ids: Record<string, string> = {};
    for (const [i, o] of origins.entries()) {
      const res = await http(`${cp.url}/api/v1/load-balancers/${lb.json.id}/origins`, {
        method: 'POST',
        body: { name: o.name, region: `r${i}`, addresses: ['127.0.0.1'], port: o.port, location: { lat: 0, lon: 0 }, target_rps: 1000, max_rps: 1000 },
      });
      expect(res.status).toBe(201);
      ids[o.name] = res.json.id;
    }

    // Clients from two loopback /24s keep connections to both origins busy (the agent samples a
    // connection's RTT only when an ACK arrived since its last poll) and keep opening new ones (demand);
    // bounded in count.
    const subnets = ['127.0.41', '127.0.42'];
    load = subnetClients(origins.map((o) => o.port), subnets);
    try {
      const weights = await waitFor(
        async () => {
          const w = await http(`${cp.url}/api/v1/load-balancers/${lb.json.id}/weights`);
          return w.status === 200 && subnets.every((p) => w.json.subnets[`${p}.0/24`]) ? w.json : null;
        },
        { timeoutMs: 60_000, intervalMs: 500, what: 'per-subnet weights published' },
      );
      for (const p of subnets) {
        const shares = weights.subnets[`${p}.0/24`] as Record<string, number>;
        for (const id of Object.keys(shares)) expect(Object.values(ids)).toContain(id);
        expect(Object.values(shares).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      }
      const latency = await http(`${cp.url}/api/v1/latency?subnet=127.0.41.0/24`);
      expect(latency.json.items.map((e: { origin_id: string }) => e.origin_id).sort()).toEqual(Object.values(ids).sort());
      for (const e of latency.json.items) {
        expect(e.samples).toBeGreaterThanOrEqual(2);
        expect(e.rtt_ms).toBeGreaterThan(0);
        expect(e.rtt_ms).toBeLessThan(50);
      }
      const decisions = await http(`${cp.url}/api/v1/decisions?load_balancer_id=${lb.json.id}&limit=5`);
      expect(decisions.json.items.some((d: { weights_version: number | null }) => d.weights_version !== null) || weights.version > 0).toBe(true);
    } finally {
      load.stop();
    }
  }, 90_000);
});
