// The agent as an operator runs it: the real CLI, as an unprivileged user (nobody), reading sockets that
// belong to root on loopback; both metric pages pass `promtool check metrics`; a real Prometheus
// (started here on a random loopback port, temp config and storage) scrapes it and the series are
// queryable through Prometheus' HTTP API.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unavailable } from './helpers/env.ts';
import { freePort, freeServerPort } from './helpers/ports.ts';
import { startSluice, type SluiceProcess } from './helpers/sluice-process.ts';
import { promtoolCheck } from './helpers/promtool.ts';
import { waitFor } from './helpers/wait.ts';

const skip = unavailable({ root: true, tools: { prometheus: 'prometheus', promtool: 'prometheus' } });
const NOBODY = 65534;


describe.skipIf(skip)('agent on loopback, unprivileged, scraped by a real Prometheus', () => {
  let dir: string;
  let echo: Server;
  const clients: Socket[] = [];
  let servicePort = 0;
  let agentPort = 0;
  let promPort = 0;
  let agent: SluiceProcess;
  let prom: ChildProcess;
  let promLog = '';

  beforeAll(async () => {
    echo = createServer((c) => {
      c.setNoDelay(true);
      c.on('data', (d) => c.write(d));
      c.on('error', () => c.destroy());
    });
    // Below the ephemeral range: a port the kernel picks (listen 0) may have been some other test's
    // client port a moment ago, and its TIME_WAIT socket is then an extra "inbound" connection here
    // (seen in a full run: 4 connections counted for 3).
    servicePort = await freeServerPort();
    await new Promise<void>((r) => echo.listen(servicePort, '127.0.0.1', r));
    // Ping-pong clients from two loopback /24s (127.0.31.0/24 and 127.0.32.0/24); root owns all these sockets.
    for (const local of ['127.0.31.1', '127.0.31.2', '127.0.32.1']) {
      const s = connect({ host: '127.0.0.1', port: servicePort, localAddress: local });
      s.setNoDelay(true);
      s.on('connect', () => s.write('x'));
      s.on('data', () => s.write('x'));
      s.on('error', () => {});
      clients.push(s);
    }

    dir = mkdtempSync(join(tmpdir(), 'sluice-agent-prom-'));
    chmodSync(dir, 0o755);
    agentPort = await freePort();
    const cfg = join(dir, 'agent.yaml');
    writeFileSync(cfg, [`node: lo-agent`, `listen: 127.0.0.1:${agentPort}`, `service_ports: [${servicePort}]`, 'include_loopback: true', 'poll_interval: 200ms', 'min_connection_age: 200ms', 'min_samples: 2', 'subnet_series_budget: 10'].join('\n'));
    chmodSync(cfg, 0o644);
    agent = startSluice(['agent', '--config', cfg], { uid: NOBODY, gid: NOBODY });
    await waitFor(async () => (await fetch(`http://127.0.0.1:${agentPort}/healthz`)).ok, { timeoutMs: 20_000, what: `agent healthz; output: ${agent.output()}` });

    promPort = await freePort();
    const promDir = join(dir, 'prom');
    writeFileSync(
      join(dir, 'prometheus.yml'),
      `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: agent\n    static_configs: [{ targets: ['127.0.0.1:${agentPort}'] }]\n  - job_name: agent-subnets\n    metrics_path: /metrics/subnets\n    static_configs: [{ targets: ['127.0.0.1:${agentPort}'] }]\n`,
    );
    prom = spawn('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${promDir}`, `--web.listen-address=127.0.0.1:${promPort}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    prom.stderr!.on('data', (d: Buffer) => (promLog += d.toString()));
    await waitFor(async () => (await fetch(`http://127.0.0.1:${promPort}/-/ready`)).ok, { timeoutMs: 30_000, what: 'prometheus ready' });
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) c.destroy();
    echo?.close();
    if (prom && prom.exitCode === null) {
      const exited = new Promise((r) => prom.once('exit', r));
      prom.kill('SIGTERM');
      await exited;
    }
    if (agent) await agent.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('runs as nobody and still learns root-owned sockets', async () => {
    const body = await waitFor(
      async () => {
        const b = (await (await fetch(`http://127.0.0.1:${agentPort}/api/v1/latency`)).json()) as { subnets: { subnet: string; samples: number; connections: number }[] };
        const a = b.subnets.find((s) => s.subnet === '127.0.31.0/24');
        return a && a.samples >= 2 ? b : null;
      },
      { timeoutMs: 15_000, what: 'loopback subnets learned' },
    );
    expect(body.subnets.find((s) => s.subnet === '127.0.31.0/24')!.connections).toBe(2);
    expect(body.subnets.find((s) => s.subnet === '127.0.32.0/24')!.connections).toBe(1);
    const sockets = (await (await fetch(`http://127.0.0.1:${agentPort}/api/v1/sockets`)).json()) as { uid: number; direction: string }[];
    expect(sockets.filter((s) => s.direction === 'inbound').map((s) => s.uid)).toEqual([0, 0, 0]);
    const { readFileSync } = await import('node:fs');
    expect(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${agent.child.pid}/status`, 'utf8'))?.[1]).toBe(String(NOBODY));
  });

  it('both metric pages pass promtool check metrics', async () => {
    for (const path of ['/metrics', '/metrics/subnets']) {
      const text = await (await fetch(`http://127.0.0.1:${agentPort}${path}`)).text();
      expect(text).toContain('node="lo-agent"');
      const r = await promtoolCheck(text);
      expect(r.problems).toEqual([]);
      expect(r.code).toBe(0);
    }
  });

  it('Prometheus scrapes the agent; the series are queryable through its HTTP API', async () => {
    const query = async (q: string) => {
      const r = (await (await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(q)}`)).json()) as { status: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
      expect(r.status).toBe('success');
      return r.data.result;
    };
    const rtt = await waitFor(async () => {
      const r = await query('sluice_agent_client_rtt_seconds{subnet="127.0.31.0/24"}');
      return r.length ? r : null;
    }, { timeoutMs: 20_000, intervalMs: 500, what: `client rtt in Prometheus; prometheus log: ${promLog.slice(-500)}` });
    expect(rtt[0]!.metric).toMatchObject({ node: 'lo-agent', job: 'agent-subnets', subnet: '127.0.31.0/24' });
    expect(Number(rtt[0]!.value[1])).toBeGreaterThan(0);
    expect(Number(rtt[0]!.value[1])).toBeLessThan(0.05); // loopback
    const conns = await waitFor(async () => {
      const r = await query(`sluice_agent_connections_total{port="${servicePort}"}`);
      return r.length ? r : null;
    }, { timeoutMs: 10_000, intervalMs: 500 });
    expect(conns[0]!.metric.node).toBe('lo-agent');
    expect(Number(conns[0]!.value[1])).toBe(3);
    const polls = await query('sum(sluice_agent_poll_duration_seconds_count{node="lo-agent"})');
    expect(Number(polls[0]!.value[1])).toBeGreaterThan(0);
    const up = await query('up{job=~"agent.*"}');
    expect(up.map((u) => u.value[1])).toEqual(['1', '1']);
  });
});
