// The scale harness's simulated agents and edges as scrape targets: their exposition text (Exporter,
// the agents' and edge-syncs' metric names, counters growing at the world's true rates) and the process
// that serves it (exporter-process.ts), started by startExporterProcess.
//
// The exporters always run in a process of their own: the measuring process blocks its event loop for
// seconds (the scheduler's read at 100k subnets, tens of seconds at 1M), and an exporter sharing it
// would miss Prometheus' scrapes then — the series would have holes the measurement itself made.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { entryDemand, ORIGIN_PORT } from './inputs.ts';
import type { SimulatedAgent } from './agents.ts';
import { edgeRttMs, type World } from './world.ts';

const LISTENER = '198.18.255.1:443';

/** Exposition text in the agents' and edge-syncs' metric names, with counters that grow at the true rates. */
export class Exporter {
  private readonly t0 = Date.now();
  bytes = 0;
  renderMs = 0;
  readonly entries: { node: string; subnet: string; demand: number; rtt: number | undefined; samples: number }[][];

  constructor(private readonly w: World, agents: SimulatedAgent[]) {
    this.entries = agents.map((a) => {
      const node = w.origins[a.origin]!.name;
      const demand = entryDemand(w, a);
      return a.exported.map((e) => ({ node, subnet: e.subnet, demand: demand.get(e.subnet) ?? 0, rtt: e.rttSeconds, samples: e.samples ?? 0 }));
    });
  }

  /** An origin agent's /metrics/subnets plus its /metrics connection counter. */
  origin(j: number): string {
    const t = performance.now();
    const s = (Date.now() - this.t0) / 1000 + 600;
    const list = this.entries[j]!;
    const node = this.w.origins[j]!.name;
    const lines: string[] = ['# TYPE sluice_agent_subnet_connections_total counter'];
    let total = 0;
    for (const e of list) {
      total += e.demand;
      lines.push(`sluice_agent_subnet_connections_total{node="${node}",subnet="${e.subnet}"} ${Math.round(e.demand * s * 1000) / 1000}`);
    }
    lines.push('# TYPE sluice_agent_client_rtt_seconds gauge');
    for (const e of list) if (e.rtt !== undefined) lines.push(`sluice_agent_client_rtt_seconds{node="${node}",subnet="${e.subnet}"} ${e.rtt}`);
    lines.push('# TYPE sluice_agent_client_rtt_samples_total counter');
    for (const e of list) if (e.rtt !== undefined) lines.push(`sluice_agent_client_rtt_samples_total{node="${node}",subnet="${e.subnet}"} ${e.samples}`);
    lines.push('# TYPE sluice_agent_connections_total counter', `sluice_agent_connections_total{node="${node}",port="${ORIGIN_PORT}"} ${Math.round(total * s * 1000) / 1000}`, '');
    const text = lines.join('\n');
    this.bytes += text.length;
    this.renderMs += performance.now() - t;
    return text;
  }

  /** An edge: its edge-sync request counter and its agent's upstream RTT to every origin. */
  edge(k: number): string {
    const t = performance.now();
    const s = (Date.now() - this.t0) / 1000 + 600;
    const e = this.w.edges[k]!;
    const lines = [
      '# TYPE sluice_edge_requests_total counter',
      `sluice_edge_requests_total{edge="${e.name}",load_balancer="app",listener="${LISTENER}"} ${Math.round(e.demand * s * 1000) / 1000}`,
      '# TYPE sluice_agent_upstream_rtt_seconds gauge',
      ...this.w.origins.map((o, j) => `sluice_agent_upstream_rtt_seconds{node="${e.name}",upstream="${o.address}:${ORIGIN_PORT}"} ${edgeRttMs(this.w, k, j) / 1000}`),
      '',
    ];
    const text = lines.join('\n');
    this.bytes += text.length;
    this.renderMs += performance.now() - t;
    return text;
  }
}

export interface ExporterSpec {
  subnets: number;
  origins: number;
  edges: number;
  budget: number;
  seed: number;
}

/** What the exporter process served since it started: exposition bytes, render time, its CPU time. */
export interface ExporterStats {
  bytes: number;
  render_ms: number;
  cpu_ms: number;
  scrapes: number;
}

export interface ExporterProcess {
  /** host:port serving /origin/<j> and /edge/<k>. */
  target: string;
  /** Series entries the agents export (sum over agents). */
  entries: number;
  pid: number;
  stats(): Promise<ExporterStats>;
  stop(): void;
}

/** Starts exporter-process.ts for this world (at nice level `nice` if given); resolves once it serves. */
export async function startExporterProcess(spec: ExporterSpec, nice?: number): Promise<ExporterProcess> {
  const script = fileURLToPath(new URL('./exporter-process.ts', import.meta.url));
  const args = [process.execPath, '--import', 'tsx', script, JSON.stringify(spec)];
  // Under nice(1) when asked: every thread of the process inherits it (setpriority on a pid is one thread's).
  const [file, ...rest] = nice === undefined ? args : ['nice', '-n', String(nice), ...args];
  const child = spawn(file!, rest, { stdio: ['pipe', 'pipe', 'inherit'] });
  const [port, entries] = await new Promise<[number, number]>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening (\d+) (\d+)/.exec(out);
      if (m) resolve([Number(m[1]), Number(m[2])]);
    });
    child.once('exit', (code) => reject(new Error(`exporter process exited (${code})`)));
  });
  const target = `127.0.0.1:${port}`;
  return {
    target,
    entries,
    pid: child.pid!,
    stats: async () => (await (await fetch(`http://${target}/stats`)).json()) as ExporterStats,
    stop: () => void child.kill('SIGTERM'),
  };
}
