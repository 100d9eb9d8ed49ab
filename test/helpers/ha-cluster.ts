// Several real `sluice control-plane` processes on one real PostgreSQL (helpers/postgres.ts), for the
// HA tests: each replica has its own config file (replica id, PostgreSQL URL + password file, admin
// token, the scheduler on short cycles and a short lease), can be killed (-9), frozen (SIGSTOP) and
// restarted with the same config. Also a stand-in edge metrics page the schedulers scrape: the only
// scripted part, the scheduler's input boundary (never the store).
import { writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { startControlPlaneProcess, tempDir } from './control-plane.ts';
import type { RunningPostgres } from './postgres.ts';
import type { SluiceProcess } from './sluice-process.ts';
import { waitFor } from './wait.ts';

export const ADMIN_TOKEN = 'ha-admin-token-0123456789abcdef';

export interface ReplicaProc {
  id: string;
  url: string;
  proc: SluiceProcess;
  config: string;
  /** Output of every process this replica has been (restarts append). */
  log(): string;
}

export interface ClusterOptions {
  pg: RunningPostgres;
  dbUrl: string;
  replicas: number;
  intervalMs: number;
  leaseTtlMs: number;
  scrapeTargets: string[];
  inputTimeoutMs?: number;
  /** Health by quorum on short clocks (the health quorum test); absent: the control plane's defaults. */
  fastHealth?: boolean;
}

export class Cluster {
  readonly replicas: ReplicaProc[] = [];
  private readonly dir = tempDir('sluice-ha-');
  private readonly logs = new Map<string, string>();

  constructor(private readonly o: ClusterOptions) {}

  static async start(o: ClusterOptions): Promise<Cluster> {
    const c = new Cluster(o);
    const ids = Array.from({ length: o.replicas }, (_, i) => `cp-${String.fromCharCode(97 + i)}`);
    const started = await Promise.all(ids.map((id) => c.launch(id)));
    c.replicas.push(...started);
    return c;
  }

  configFor(id: string): string {
    const o = this.o;
    const file = join(this.dir.path, `${id}.yaml`);
    writeFileSync(
      file,
      [
        `replica_id: ${id}`,
        'log_level: info',
        'auth:',
        `  admin_tokens: ["${ADMIN_TOKEN}"]`,
        'api:',
        '  docs: false',
        'postgres:',
        `  url: ${o.dbUrl}`,
        `  password_file: ${o.pg.passwordFile}`,
        '  pool_size: 4',
        '  change_poll: 1s',
        '  connect_timeout: 2s',
        '  idle_in_transaction_timeout: 2s',
        // Health by quorum on short clocks: every replica checks and votes; one (the health lease) decides.
        ...(o.fastHealth ? ['health:', '  evaluate_interval: 200ms', '  lease_ttl: 1500ms', '  stale_after: 3s', '  hold_down: 1s', '  report_interval: 500ms'] : []),
        'scheduler:',
        `  interval: ${o.intervalMs}ms`,
        `  lease_ttl: ${o.leaseTtlMs}ms`,
        `  input_timeout: ${o.inputTimeoutMs ?? 2000}ms`,
        '  scrape:',
        '    timeout: 1s',
        `    targets:${o.scrapeTargets.length === 0 ? ' []' : ''}`,
        ...o.scrapeTargets.map((t) => `      - ${t}`),
      ].join('\n'),
    );
    return file;
  }

  private async launch(id: string): Promise<ReplicaProc> {
    const config = this.configFor(id);
    const { proc, url } = await startControlPlaneProcess(['--config', config]);
    const prior = this.logs.get(id) ?? '';
    const replica: ReplicaProc = { id, url, proc, config, log: () => prior + proc.output() };
    return replica;
  }

  byId(id: string): ReplicaProc {
    return this.replicas.find((r) => r.id === id)!;
  }

  alive(): ReplicaProc[] {
    return this.replicas.filter((r) => r.proc.child.exitCode === null && r.proc.child.signalCode === null);
  }

  /** Restarts a replica that died (or was killed) with the same config; a new process is a new lease holder. */
  async restart(id: string): Promise<ReplicaProc> {
    const i = this.replicas.findIndex((r) => r.id === id);
    const old = this.replicas[i]!;
    await old.proc.stop(1000);
    this.logs.set(id, old.log());
    const fresh = await this.launch(id);
    this.replicas[i] = fresh;
    return fresh;
  }

  /** The replica holding the health lease now (it makes the health decisions). */
  async healthLeader(): Promise<ReplicaProc | null> {
    for (const r of this.alive()) {
      try {
        const h = (await api(r, 'GET', '/api/v1/health')).json as { control_plane: { health: { leader: string | null } } };
        const holder = h.control_plane.health.leader;
        return holder ? (this.replicas.find((x) => holder.startsWith(`${x.id}/${x.proc.child.pid}/`)) ?? null) : null;
      } catch {
        // try the next replica
      }
    }
    return null;
  }

  /** The replica whose scheduler holds the lease now (asked of any live replica), with the epoch. */
  async leader(): Promise<{ replica: ReplicaProc; epoch: number; holder: string } | null> {
    for (const r of this.alive()) {
      try {
        const h = (await api(r, 'GET', '/api/v1/health')).json as { control_plane: { scheduler: { leader: string | null; epoch: number | null } } };
        const s = h.control_plane.scheduler;
        if (!s.leader) return null;
        const replica = this.replicas.find((x) => s.leader!.startsWith(`${x.id}/${x.proc.child.pid}/`));
        return replica ? { replica, epoch: s.epoch!, holder: s.leader } : null;
      } catch {
        // try the next replica
      }
    }
    return null;
  }

  async waitForLeader(opts: { not?: string; minEpoch?: number; timeoutMs?: number } = {}) {
    return waitFor(
      async () => {
        const l = await this.leader();
        if (!l || l.holder === opts.not || (opts.minEpoch !== undefined && l.epoch < opts.minEpoch)) return null;
        return l;
      },
      { timeoutMs: opts.timeoutMs ?? 15_000, intervalMs: 50, what: 'a scheduler leader' },
    );
  }

  async stop(): Promise<void> {
    await Promise.all(this.replicas.map((r) => {
      if (r.proc.child.signalCode === 'SIGSTOP') r.proc.child.kill('SIGCONT');
      return r.proc.stop(2000);
    }));
    this.dir.remove();
  }
}

export async function api(r: { url: string }, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${r.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, json: json as any, text };
}

/**
 * An edge's metrics page as the embedded scheduler scrapes it: `demandRps` requests per second at one
 * edge and its RTT to two origins, which trade places every `flipMs` so the optimum keeps moving and
 * the damped scheduler publishes a new version every cycle. `stall()` holds requests until `release()`.
 */
export class EdgeMetricsPage {
  private server!: Server;
  url = '';
  private readonly t0 = Date.now();
  private held: ServerResponse[] = [];
  stalled = false;
  requests = 0;

  constructor(
    private readonly o: { edge: string; lb: string; upstreams: [string, string]; demandRps: number; flipMs: number },
  ) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  private page(): string {
    const t = Date.now() - this.t0;
    const flip = Math.floor(t / this.o.flipMs) % 2 === 0;
    const [a, b] = this.o.upstreams;
    return [
      `sluice_edge_requests_total{edge="${this.o.edge}",load_balancer="${this.o.lb}",listener="192.0.2.10:443"} ${Math.floor((t / 1000) * this.o.demandRps)}`,
      `sluice_agent_upstream_rtt_seconds{node="${this.o.edge}",upstream="${a}"} ${flip ? 0.01 : 0.09}`,
      `sluice_agent_upstream_rtt_seconds{node="${this.o.edge}",upstream="${b}"} ${flip ? 0.09 : 0.01}`,
      '',
    ].join('\n');
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    this.requests++;
    if ((req.url ?? '').startsWith('/metrics/subnets')) return void res.writeHead(404).end();
    if (this.stalled) {
      this.held.push(res);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' }).end(this.page());
  }

  get heldCount(): number {
    return this.held.length;
  }

  stall(): void {
    this.stalled = true;
  }

  /** Answers every held request now and serves normally again. */
  release(): void {
    this.stalled = false;
    for (const res of this.held.splice(0)) res.writeHead(200, { 'content-type': 'text/plain' }).end(this.page());
  }

  async stop(): Promise<void> {
    this.release();
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
}
