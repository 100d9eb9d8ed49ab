// Builds the lab's world from a scenario: network namespaces joined by the TUN delay line (the kernels'
// TCP RTTs are the emulated ones), and in them real processes — origin HTTP servers with a sluice agent
// each, HAProxy edges with edge-sync and an agent, Prometheus, the control plane (API + scheduler) and
// sluice dns in the core namespace, and client load generators. Every namespace and process is written
// to the state file the moment it exists (state.ts), so `sluice lab down` can remove it all even after
// a crash.
import { execFileSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { appendFileSync, chownSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { setPriority, tmpdir } from 'node:os';
import pg from 'pg';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DelayLine } from '../delay-line/index.ts';
import { postgresBinDir, waitForPostgres } from '../helpers/postgres.ts';
import { SLUICE_BIN, REPO_ROOT } from '../helpers/sluice-process.ts';
import { waitFor } from '../helpers/wait.ts';
import { rttBetween, type ScenarioSpec } from './scenario.ts';
import { makeTestPki, type CertPair } from '../../lib/testing/pki.ts';
import { isSameProcess, netnsInode, procRecord, teardown, writeState, type LabState } from './state.ts';
import { LabApi, unixRequest } from './unix-http.ts';

const PROCS = fileURLToPath(new URL('./procs/', import.meta.url));
export const PORTS = { controlPlane: 8080, prometheus: 9090, dns: 53, dnsMetrics: 9153, agent: 9465, edgeSync: 9310, postgres: 5432, originMetrics: 9100 } as const;

/** The lab's certificates (World.makePki). */
interface LabPki {
  ca: string;
  server: CertPair;
  reader: CertPair;
  /** Each edge-sync's report certificate, by edge name. */
  edges: Record<string, CertPair>;
}

/** Control-plane replicas in the core namespace: process name, replica id, port (8080, 8081, ...). */
export function replicaNames(replicas: number): { name: string; id: string; port: number }[] {
  if (replicas === 1) return [{ name: 'control-plane', id: 'cp', port: PORTS.controlPlane }];
  return Array.from({ length: replicas }, (_, i) => ({ name: `control-plane-${String.fromCharCode(97 + i)}`, id: `cp-${String.fromCharCode(97 + i)}`, port: PORTS.controlPlane + i }));
}

/** Runs a command as nobody (postgres refuses root). */
const AS_NOBODY = ['--reuid=65534', '--regid=65534', '--clear-groups', '--'];

/** The scheduler's origin_requests query when origins export their own counter (origin_request_metrics). */
export const ORIGIN_REQUESTS_QUERY = 'sum by (node) (rate(http_requests_total{job="origin-apps",code="200"}[$window]))';

export interface Bin {
  t: number;
  [k: string]: unknown;
}

interface Running {
  name: string;
  child: ChildProcess;
  log: string;
}

export interface Ids {
  lb: { id: string; name: string };
  origins: Record<string, string>;
  edges: Record<string, string>;
}

export class World {
  readonly procs = new Map<string, Running>();
  ids: Ids | null = null;
  private cpGeneration = 0;
  private destroyed = false;
  /** PostgreSQL in the core namespace (store: postgres). */
  private pg: { url: string; passwordFile: string; dir: string } | null = null;
  /** With spec.tls: the servers' certificate (every lab address in it) and the data planes' client certificate (OU sluice-read). */
  private pki: LabPki | null = null;

  private constructor(
    readonly spec: ScenarioSpec,
    readonly line: DelayLine,
    readonly state: LabState,
    readonly api: LabApi,
    readonly log: (line: string) => void,
  ) {}

  get dir(): string {
    return this.state.state_dir;
  }

  addr(label: string): string {
    const ns = this.spec.namespaces[label];
    if (!ns) throw new Error(`no namespace ${label}`);
    return ns.address;
  }

  get coreAddr(): string {
    return this.addr(this.spec.core);
  }

  static async build(spec: ScenarioSpec, opts: { stateDir: string; scenarioFile: string; log?: (line: string) => void }): Promise<World> {
    const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
    const dir = opts.stateDir;
    for (const sub of ['logs', 'stats', 'etc', 'ctl']) mkdirSync(join(dir, sub), { recursive: true });
    const token = randomBytes(24).toString('hex');
    const state: LabState = {
      version: 1,
      scenario: opts.scenarioFile,
      lab: procRecord('lab', process.pid),
      created_at: new Date().toISOString(),
      state_dir: dir,
      tun: 'slc0',
      namespaces: [],
      processes: [],
      sockets: {},
      urls: {},
      token,
      origins: [],
      clients: [],
      status: 'building',
    };
    writeState(state);

    const labels = Object.keys(spec.namespaces);
    const delayMs: Record<string, Record<string, number>> = {};
    for (const a of labels) {
      delayMs[a] = {};
      for (const b of labels) if (a !== b) delayMs[a]![b] = rttBetween(spec, a, b) / 2;
    }
    const line = await DelayLine.create({
      namespaces: labels.map((label) => {
        const ns = spec.namespaces[label]!;
        return { label, addresses: [ns.address, ...ns.extra].map((a) => `${a}/24`) };
      }),
      delayMs,
    });
    for (const label of labels) {
      const name = line.ns(label);
      state.namespaces.push({ label, name, inode: netnsInode(name) ?? -1 });
      // Every lab host ACKs at once (route attribute quickack): without it a request/response client's
      // delayed ACK (up to 40 ms) lands in the server's srtt, and the agents would learn RTT + delayed
      // ACK instead of the emulated path RTT. Real clients do delay ACKs; the agent README says so.
      if (spec.quickack) execFileSync('ip', ['-n', name, 'route', 'replace', '10.0.0.0/8', 'dev', 'slc0', 'quickack', '1']);
    }
    // The forwarder is the delay line's own child; it also exits by itself when the lab dies (stdin).
    const fwdPid = line.forwarderPid;
    if (fwdPid) {
      state.processes.push(procRecord('delay-line-forwarder', fwdPid));
      raisePriority(fwdPid);
    }
    writeState(state);
    log(`namespaces: ${state.namespaces.map((n) => `${n.label}=${n.name}`).join(' ')}`);

    const socks = { control_plane: join(dir, 'cp.sock'), prometheus: join(dir, 'prom.sock'), dns_metrics: join(dir, 'dns-metrics.sock') };
    state.sockets = socks;
    const pki = spec.tls ? World.makePki(spec, dir, state) : null;
    writeState(state);
    const world = new World(spec, line, state, new LabApi(socks.control_plane, token, state.tls), log);
    world.pki = pki;
    try {
      await world.startAll();
    } catch (err) {
      log(`building the lab failed: ${(err as Error).message}`);
      await world.destroy();
      throw err;
    }
    return world;
  }

  /**
   * The lab PKI (openssl, in the state dir): one server certificate naming every lab address (and
   * "sluice-lab", the name the lab process checks through its unix-socket bridges), a client
   * certificate for the DNS servers, Prometheus and the scheduler (OU sluice-read), one per edge-sync
   * (OU sluice-report, CN its edge name: its health reports need no token), and one for the lab
   * process itself (OU sluice-admin).
   */
  private static makePki(spec: ScenarioSpec, dir: string, state: LabState): LabPki {
    const pki = makeTestPki(join(dir, 'pki'));
    const addresses = Object.values(spec.namespaces).flatMap((n) => [n.address, ...n.extra]);
    const server = pki.issue('lab-server', { cn: 'sluice-lab', sans: ['sluice-lab', ...addresses] });
    const reader = pki.issue('lab-reader', { cn: 'lab-data-plane', ou: 'sluice-read', usage: 'client' });
    const lab = pki.issue('lab-admin', { cn: 'lab', ou: 'sluice-admin', usage: 'client' });
    const edges = Object.fromEntries(spec.edges.map((e) => [e.name, pki.issue(`lab-edge-${e.name}`, { cn: e.name, ou: 'sluice-report', usage: 'client' })]));
    state.tls = { ca: pki.ca, cert: lab.cert, key: lab.key, servername: 'sluice-lab' };
    return { ca: pki.ca, server, reader, edges };
  }

  /** "https" with the lab's TLS on, else "http". */
  get scheme(): 'http' | 'https' {
    return this.pki ? 'https' : 'http';
  }

  /** A server `tls` block (Prometheus web.config names): client certificates from the lab CA required. */
  private serverTls(indent: string, clientAuth = 'RequireAndVerifyClientCert'): string[] {
    const p = this.pki;
    if (!p) return [];
    return [`${indent}tls:`, `${indent}  cert_file: ${p.server.cert}`, `${indent}  key_file: ${p.server.key}`, `${indent}  client_ca_file: ${p.ca}`, `${indent}  client_auth_type: ${clientAuth}`];
  }

  /** A client `tls` block (Prometheus tls_config names) with the data planes' certificate (or `pair`). */
  private clientTls(indent: string, key = 'tls', pair?: CertPair): string[] {
    const p = this.pki;
    if (!p) return [];
    const c = pair ?? p.reader;
    return [`${indent}${key}:`, `${indent}  ca_file: ${p.ca}`, `${indent}  cert_file: ${c.cert}`, `${indent}  key_file: ${c.key}`];
  }

  /** Starts a process inside a namespace, logging to logs/<name>.log, recorded in the state file. */
  spawn(name: string, label: string, cmd: string, args: string[], env: NodeJS.ProcessEnv = {}, opts: { instrument?: boolean } = {}): ChildProcess {
    const logFile = join(this.dir, 'logs', `${name}.log`);
    const fd = openSync(logFile, 'a');
    const child = this.line.spawn(label, cmd, args, { stdio: ['ignore', fd, fd], env: { ...process.env, ...env }, cwd: REPO_ROOT });
    closeSync(fd);
    if (!child.pid) throw new Error(`could not start ${name}`);
    if (opts.instrument) raisePriority(child.pid);
    this.procs.set(name, { name, child, log: logFile });
    this.state.processes = this.state.processes.filter((p) => p.name !== name);
    this.state.processes.push(procRecord(name, child.pid, label));
    writeState(this.state);
    child.once('exit', (code, sig) => {
      if (!this.destroyed && this.procs.get(name)?.child === child) this.log(`process ${name} exited (${code ?? sig}); log: ${logFile}`);
    });
    return child;
  }

  spawnSluice(name: string, label: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
    return this.spawn(name, label, process.execPath, [SLUICE_BIN, ...args], env);
  }

  logOf(name: string): string {
    const p = this.procs.get(name);
    return p && existsSync(p.log) ? readFileSync(p.log, 'utf8') : '';
  }

  async stopProcess(name: string, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const p = this.procs.get(name);
    if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
    const exited = new Promise<void>((r) => p.child.once('exit', () => r()));
    p.child.kill(signal);
    const t = setTimeout(() => p.child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
  }

  /** Writes a file under etc/; secrets (passwords, tokens) with mode 0600, as sluice requires of them. */
  private etc(file: string, text: string, mode = 0o644): string {
    const path = join(this.dir, 'etc', file);
    writeFileSync(path, text, { mode });
    return path;
  }

  private async startAll(): Promise<void> {
    const { spec } = this;
    const core = this.coreAddr;
    this.spawn('bridge', spec.core, process.execPath, [
      join(PROCS, 'bridge.mjs'),
      JSON.stringify([
        // Every replica, in order: each connection goes to the first that accepts it.
        { sock: this.state.sockets.control_plane, targets: replicaNames(spec.control_plane.replicas).map((r) => ({ host: core, port: r.port })) },
        { sock: this.state.sockets.prometheus, host: core, port: PORTS.prometheus },
        { sock: this.state.sockets.dns_metrics, host: core, port: PORTS.dnsMetrics },
      ]),
    ]);
    // Origins: a counting HTTP server and an agent each.
    for (const o of spec.origins) {
      const address = this.addr(o.namespace);
      const stats = join(this.dir, 'stats', `origin-${o.name}.jsonl`);
      writeFileSync(stats, '');
      const metricsPort = spec.origin_request_metrics ? PORTS.originMetrics : undefined;
      this.spawn(`origin-${o.name}`, o.namespace, process.execPath, [join(PROCS, 'origin-server.mjs'), JSON.stringify({ name: o.name, host: address, port: o.port, stats, metrics_port: metricsPort })], {}, { instrument: true });
      this.state.origins.push({ name: o.name, address, port: o.port, stats, max_rps: o.max_rps, target_rps: o.target_rps });
      const cfg = this.etc(
        `agent-${o.name}.yaml`,
        [
          `node: ${o.name}`,
          `listen: ${address}:${PORTS.agent}`,
          `service_ports: [${o.port}]`,
          `poll_interval: ${spec.timing.agent_poll}ms`,
          `min_connection_age: ${spec.timing.min_connection_age}ms`,
          'min_samples: 3',
          // Survivors of open connections over the scheduler's cycle: what it predicts for.
          `survival_horizon: ${spec.timing.scheduler_interval}ms`,
          // The scheduler reads the survivors half a poll plus half a scrape after they were counted.
          `survival_offset: ${Math.round(spec.timing.agent_poll / 2 + spec.timing.scrape_interval / 2)}ms`,
          // The control plane's health checks come from the core namespace: not client demand.
          `ignore_peers: ['${core24(this.coreAddr)}']`,
          ...this.serverTls(''),
        ].join('\n'),
      );
      this.spawnSluice(`agent-${o.name}`, o.namespace, ['agent', '--config', cfg], { SLUICE_LOG_LEVEL: 'warn' });
    }
    // Edges: HAProxy (edge-sync comes once the edge exists in the control plane) and an agent.
    for (const e of spec.edges) {
      const address = this.addr(e.namespace);
      const sock = join(this.dir, `haproxy-${e.name}.sock`);
      const listeners = spec.load_balancer.listeners;
      const cfg = this.etc(
        `haproxy-${e.name}.cfg`,
        [
          'global',
          `    stats socket ${sock} mode 600 level admin`,
          '    maxconn 4000',
          'defaults',
          '    mode http',
          '    timeout connect 2s',
          '    timeout client 10s',
          '    timeout server 10s',
          // The edges' checks may take their whole interval (HAProxy's default, explicit here).
          `    timeout check ${spec.health_check.interval_ms}ms`,
          '    retries 1',
          // A request whose connection attempt fails is retried on another server, not failed.
          '    option redispatch',
          ...listeners.flatMap((l) => [
            '',
            `frontend ${spec.load_balancer.name}_${l.port}`,
            `    mode ${l.protocol === 'tcp' ? 'tcp' : 'http'}`,
            // The VIP where this edge holds it; else the edge's own address (several edges, one VIP:
            // the delay line routes an address to one namespace, so anycast is not emulated).
            `    bind ${this.edgeBindAddress(e, l.vip)}:${l.port}`,
            `    default_backend ${spec.load_balancer.name}_${l.port}`,
            '',
            `backend ${spec.load_balancer.name}_${l.port}`,
            `    mode ${l.protocol === 'tcp' ? 'tcp' : 'http'}`,
            '    balance roundrobin',
            ...(spec.health.edge_checks ? [l.protocol === 'tcp' ? '    option tcp-check' : '    option httpchk GET /health'] : []),
            // Reuse idle server connections across client sessions (the default "safe" opens one per
            // client session): long-lived edge -> origin connections, whose RTT the edge's agent learns.
            ...(l.protocol === 'tcp' ? [] : ['    http-reuse always']),
          ]),
          '',
        ].join('\n'),
      );
      this.spawn(`haproxy-${e.name}`, e.namespace, 'haproxy', ['-W', '-db', '-f', cfg]);
      await waitFor(async () => (await haproxyCommand(sock, 'show info')).includes('Pid:'), { timeoutMs: 10_000, what: `haproxy ${e.name} admin socket (see ${this.dir}/logs/haproxy-${e.name}.log)` });
      const agentCfg = this.etc(
        `agent-${e.name}.yaml`,
        [
          `node: ${e.name}`,
          `listen: ${address}:${PORTS.agent}`,
          `service_ports: [${[...new Set(listeners.map((l) => l.port))].join(', ')}]`,
          `upstreams: [${spec.origins.map((o) => `'${this.addr(o.namespace)}:${o.port}'`).join(', ')}]`,
          `poll_interval: ${spec.timing.agent_poll}ms`,
          `min_connection_age: ${spec.timing.min_connection_age}ms`,
          'min_samples: 3',
          `survival_horizon: ${spec.timing.scheduler_interval}ms`,
          ...this.serverTls(''),
        ].join('\n'),
      );
      this.spawnSluice(`agent-${e.name}`, e.namespace, ['agent', '--config', agentCfg], { SLUICE_LOG_LEVEL: 'warn' });
    }
    await this.startPrometheus();
    if (spec.control_plane.store === 'postgres') await this.startPostgres();
    await this.startControlPlane();
    this.ids = await this.createResources();
    for (const e of spec.edges) this.startEdgeSync(e.name);
    if (spec.load_balancer.dns || spec.dns_server) await this.startDns();
    await this.waitForTargets();
    this.state.status = 'running';
    writeState(this.state);
  }

  private async startPrometheus(): Promise<void> {
    const { spec } = this;
    const agents = [...spec.origins.map((o) => this.addr(o.namespace)), ...spec.edges.map((e) => this.addr(e.namespace))].map((a) => `${a}:${PORTS.agent}`);
    const originAgents = spec.origins.map((o) => `${this.addr(o.namespace)}:${PORTS.agent}`);
    const edgeSyncs = spec.edges.map((e) => `${this.addr(e.namespace)}:${PORTS.edgeSync}`);
    const interval = `${spec.timing.scrape_interval}ms`;
    const p = this.pki;
    // With TLS: every target over https with the lab's client certificate (Prometheus tls_config).
    const tlsConfig = p ? ['    scheme: https', `    tls_config: { ca_file: ${p.ca}, cert_file: ${p.reader.cert}, key_file: ${p.reader.key} }`] : [];
    const job = (name: string, path: string, targets: string[]) =>
      targets.length === 0 ? [] : [`  - job_name: ${name}`, `    metrics_path: ${path}`, ...tlsConfig, `    static_configs: [{ targets: ${JSON.stringify(targets)} }]`];
    const cfg = this.etc(
      'prometheus.yml',
      [
        'global:',
        `  scrape_interval: ${interval}`,
        `  scrape_timeout: ${Math.max(100, Math.floor(spec.timing.scrape_interval * 0.8))}ms`,
        `  evaluation_interval: ${interval}`,
        'scrape_configs:',
        ...job('agents', '/metrics', agents),
        ...job('agent-subnets', '/metrics/subnets', originAgents),
        ...job('edge-sync', '/metrics', edgeSyncs),
        // The origins' own request counters, labelled with the origin's name as the agents are.
        ...(spec.origin_request_metrics
          ? ['  - job_name: origin-apps', '    static_configs:', ...spec.origins.map((o) => `      - { targets: ["${this.addr(o.namespace)}:${PORTS.originMetrics}"], labels: { node: "${o.name}" } }`)]
          : []),
        ...(spec.load_balancer.dns ? job('dns', '/metrics', [`${this.coreAddr}:${PORTS.dnsMetrics}`]) : []),
      ].join('\n'),
    );
    // Prometheus' own API over HTTPS too, client certificates required (its web.config).
    const web = p ? this.etc('prometheus-web.yml', ['tls_server_config:', `  cert_file: ${p.server.cert}`, `  key_file: ${p.server.key}`, `  client_ca_file: ${p.ca}`, '  client_auth_type: RequireAndVerifyClientCert', ''].join('\n')) : null;
    this.spawn('prometheus', spec.core, 'prometheus', [
      `--config.file=${cfg}`,
      `--storage.tsdb.path=${join(this.dir, 'prometheus-data')}`,
      `--web.listen-address=${this.coreAddr}:${PORTS.prometheus}`,
      '--storage.tsdb.retention.time=2h',
      ...(web ? [`--web.config.file=${web}`] : []),
    ]);
    this.state.urls.prometheus = `${this.scheme}://${this.coreAddr}:${PORTS.prometheus}`;
    await waitFor(async () => (await unixRequest(this.state.sockets.prometheus!, '/-/ready', { timeoutMs: 2000, tls: this.state.tls })).status === 200, {
      timeoutMs: 30_000,
      intervalMs: 200,
      what: `prometheus ready (see ${this.dir}/logs/prometheus.log)`,
    });
  }

  /** Base URLs of the control-plane replicas, in the order data planes try them. */
  get controlPlaneUrls(): string[] {
    return replicaNames(this.spec.control_plane.replicas).map((r) => `${this.scheme}://${this.coreAddr}:${r.port}`);
  }

  /**
   * PostgreSQL for the replicas, in the core namespace: initdb into a temp dir owned by nobody, the
   * server as nobody on the core address (and a unix socket in that dir, which the lab process uses).
   */
  private async startPostgres(): Promise<void> {
    const bin = postgresBinDir();
    if (!bin) throw new Error('PostgreSQL not installed (apt-get install postgresql)');
    // Its own temp dir: the lab's state dir may sit under a 0700 directory nobody cannot enter.
    const dir = mkdtempSync(join(tmpdir(), 'sluice-lab-pg-'));
    chownSync(dir, 65534, 65534);
    const password = randomBytes(12).toString('hex');
    const initPw = join(dir, 'pw-initdb');
    writeFileSync(initPw, password, { mode: 0o600 });
    chownSync(initPw, 65534, 65534);
    const passwordFile = this.etc('postgres.password', `${password}\n`, 0o600);
    const data = join(dir, 'data');
    execFileSync('setpriv', [...AS_NOBODY, join(bin, 'initdb'), '-D', data, '-U', 'sluice', `--pwfile=${initPw}`, '--auth=scram-sha-256', '-E', 'UTF8', '--locale=C', '-N'], { stdio: 'pipe', cwd: dir });
    // The replicas connect over the lab's own addresses (pg_hba allows only loopback by default).
    appendFileSync(join(data, 'pg_hba.conf'), `host all sluice ${this.coreAddr}/32 scram-sha-256\n`);
    this.pg = { url: `postgres://sluice@${this.coreAddr}:${PORTS.postgres}/sluice`, passwordFile, dir };
    this.state.dirs = [...(this.state.dirs ?? []), dir];
    writeState(this.state);
    this.spawn('postgres', this.spec.core, 'setpriv', [...AS_NOBODY, join(bin, 'postgres'), '-D', data, '-c', `listen_addresses=${this.coreAddr}`, '-c', `port=${PORTS.postgres}`, '-c', `unix_socket_directories=${dir}`, '-c', 'max_connections=100']);
    await waitForPostgres({ host: dir, port: PORTS.postgres, user: 'sluice', password }, undefined, `postgres in the core namespace (see ${this.dir}/logs/postgres.log)`);
    const admin = new pg.Client({ host: dir, port: PORTS.postgres, user: 'sluice', password, database: 'postgres' });
    await admin.connect();
    await admin.query('CREATE DATABASE sluice');
    await admin.end();
    this.state.urls.postgres = this.pg.url;
    writeState(this.state);
  }

  /**
   * (Re)starts the control plane: one replica on a fresh SQLite data directory (an empty store and
   * latency table), or the scenario's replicas on PostgreSQL — the first alone until it leads the
   * scheduler, then the others, so the data planes' first URL is the leader's.
   */
  async startControlPlane(): Promise<void> {
    const { spec } = this;
    const gen = ++this.cpGeneration;
    const replicas = replicaNames(spec.control_plane.replicas);
    const ha = this.pg !== null;
    const start = (r: (typeof replicas)[number]) => {
      const cfg = this.etc(
        `${r.name}-${gen}.yaml`,
        [
          `listen: ${this.coreAddr}:${r.port}`,
          // A lab address is not loopback: plain HTTP there must be asked for (issue 18).
          ...(this.pki ? this.serverTls('', 'VerifyClientCertIfGiven') : ['insecure: true']),
          `data_dir: ${join(this.dir, `cp-data-${gen}`)}`,
          'log_level: info',
          `replica_id: ${r.id}`,
          ...(ha ? ['postgres:', `  url: ${this.pg!.url}`, `  password_file: ${this.pg!.passwordFile}`, '  pool_size: 4'] : []),
          'auth:',
          `  admin_tokens: ["${this.state.token}"]`,
          '  report_tokens:',
          ...(spec.edges.length === 0 ? ['    []'] : spec.edges.map((e) => `    - { token: "${this.reportToken(e.name)}", edge: ${e.name} }`)),
          // The data planes and Prometheus present the lab's reader certificate instead of a token; each
          // edge-sync its own report certificate (OU sluice-report, CN = its edge name: reports as that edge only).
          ...(this.pki ? ['  client_certificates: { admin_ous: [sluice-admin], report_ous: [sluice-report], read_ous: [sluice-read] }'] : []),
          'health:',
          `  stale_after: ${spec.health.stale_after}ms`,
          `  hold_down: ${spec.health.hold_down}ms`,
          `  evaluate_interval: ${spec.health.evaluate_interval}ms`,
          `  report_interval: ${spec.health.report_interval}ms`,
          'api:',
          '  docs: false',
          '  long_poll_max: 60s',
          'scheduler:',
          `  interval: ${spec.timing.scheduler_interval}ms`,
          ...(spec.control_plane.lease_ttl ? [`  lease_ttl: ${spec.control_plane.lease_ttl}ms`] : []),
          `  input_timeout: ${Math.max(500, Math.min(5000, spec.timing.scheduler_interval))}ms`,
          '  prometheus:',
          `    url: ${this.scheme}://${this.coreAddr}:${PORTS.prometheus}`,
          ...this.clientTls('    '),
          '    timeout: 2s',
          `    window: ${spec.timing.rate_window}ms`,
          `    stale: ${spec.timing.stale}ms`,
          ...(spec.origin_request_metrics ? ['    queries:', `      origin_requests: '${ORIGIN_REQUESTS_QUERY}'`] : []),
          '  geoip:',
          '    cidr_mappings:',
          ...spec.client_locations.map((m) => `      - { cidr: ${m.cidr}, location: { lat: ${m.location.lat}, lon: ${m.location.lon} } }`),
          ...(spec.client_locations.length === 0 ? ['      []'] : []),
        ].join('\n'),
        0o600, // it holds the admin token
      );
      this.spawnSluice(r.name, spec.core, ['control-plane', '--config', cfg]);
    };
    const answering = (r: (typeof replicas)[number]) =>
      waitFor(
        async () => {
          const p = this.procs.get(r.name)!;
          if (p.child.exitCode !== null) throw new Error(`${r.name} exited: ${this.logOf(r.name).slice(-1500)}`);
          return (await unixRequest(this.state.sockets.control_plane!, '/api/v1/health', { headers: { authorization: `Bearer ${this.state.token}` }, timeoutMs: 2000, tls: this.state.tls })).status === 200;
        },
        { timeoutMs: 30_000, intervalMs: 200, what: `${r.name} to answer` },
      );
    this.state.urls.control_plane = this.controlPlaneUrls.join(' ');
    start(replicas[0]!);
    await answering(replicas[0]!);
    if (replicas.length > 1) {
      await waitFor(async () => (await this.leader())?.name === replicas[0]!.name, { timeoutMs: 30_000, intervalMs: 200, what: `${replicas[0]!.name} to lead the scheduler` });
      for (const r of replicas.slice(1)) start(r);
      // The bridge reaches the first replica that accepts; ask each replica's own /readyz through its log line.
      for (const r of replicas.slice(1)) await waitFor(() => this.logOf(r.name).includes('control plane listening'), { timeoutMs: 30_000, intervalMs: 200, what: `${r.name} to listen (see ${this.dir}/logs/${r.name}.log)` });
    }
  }

  /** The replica whose scheduler holds the lease now, as /api/v1/health says. */
  async leader(): Promise<{ name: string; epoch: number; holder: string } | null> {
    const h = await this.api.get<{ control_plane: { scheduler: { leader: string | null; epoch: number | null } } }>('/api/v1/health').catch(() => null);
    const holder = h?.control_plane.scheduler.leader;
    if (!holder) return null;
    const r = replicaNames(this.spec.control_plane.replicas).find((x) => holder.startsWith(`${x.id}/`) || this.spec.control_plane.replicas === 1);
    return r ? { name: r.name, epoch: h!.control_plane.scheduler.epoch!, holder } : null;
  }

  async restartControlPlane(): Promise<void> {
    await this.stopProcess('control-plane');
    await this.startControlPlane();
    const oldIds = this.ids;
    this.ids = await this.createResources();
    if (oldIds && this.spec.edges.length > 0) {
      // Edge ids changed: edge-sync must follow the new ones.
      for (const e of this.spec.edges) {
        await this.stopProcess(`edge-sync-${e.name}`);
        this.startEdgeSync(e.name);
      }
    }
  }

  /** Creates the load balancer, its origins (with health checks) and the edges through the REST API. */
  async createResources(): Promise<Ids> {
    const { spec } = this;
    const lbSpec = spec.load_balancer;
    const lb = await this.api.post<{ id: string; name: string }>('/api/v1/load-balancers', {
      name: lbSpec.name,
      listeners: lbSpec.listeners,
      ...(lbSpec.dns ? { dns: { zone: lbSpec.dns.zone, hostname: lbSpec.dns.hostname, ttl: lbSpec.dns.ttl } } : {}),
      policy: lbSpec.policy,
      capacity_unit: lbSpec.capacity_unit,
      ...(lbSpec.stickiness_ms !== undefined ? { stickiness_ms: lbSpec.stickiness_ms } : {}),
      max_shift: lbSpec.max_shift,
      deadband: lbSpec.deadband,
      max_latency_ms: lbSpec.max_latency_ms,
      min_samples: lbSpec.min_samples,
    });
    const hc = spec.health_check;
    const origins: Record<string, string> = {};
    for (const o of spec.origins) {
      const created = await this.api.post<{ id: string }>(`/api/v1/load-balancers/${lb.id}/origins`, {
        name: o.name,
        region: o.region,
        addresses: [this.addr(o.namespace)],
        port: o.port,
        location: o.location,
        target_rps: o.target_rps,
        max_rps: o.max_rps,
        static_weight: o.static_weight,
        health_check: { type: 'http', path: '/health', interval_ms: hc.interval_ms, timeout_ms: hc.timeout_ms, fall: hc.fall, rise: hc.rise },
      });
      origins[o.name] = created.id;
    }
    const edges: Record<string, string> = {};
    for (const e of spec.edges) {
      const created = await this.api.post<{ id: string }>('/api/v1/edges', { name: e.name, region: e.region, address: this.addr(e.namespace), location: e.location });
      edges[e.name] = created.id;
    }
    this.state.load_balancer = { id: lb.id, name: lb.name };
    for (const o of this.state.origins) {
      const id = origins[o.name];
      if (id) o.id = id;
    }
    writeState(this.state);
    return { lb: { id: lb.id, name: lb.name }, origins, edges };
  }

  private startEdgeSync(edgeName: string): void {
    const { spec } = this;
    const e = spec.edges.find((x) => x.name === edgeName)!;
    const address = this.addr(e.namespace);
    const cfg = this.etc(
      `edge-sync-${e.name}.yaml`,
      [
        `edge: ${e.name}`,
        'api:',
        `  urls: ${JSON.stringify(this.controlPlaneUrls)}`,
        // Not the admin token: with TLS the edge's own report certificate, else a report token bound
        // to this edge (both read, and report as this edge only).
        ...(this.pki ? this.clientTls('  ', 'tls', this.pki.edges[e.name]) : [`  token: ${this.reportToken(e.name)}`]),
        `  edge_id: ${this.ids!.edges[e.name]}`,
        '  wait: 20s',
        'health:',
        `  report: ${spec.health.edge_checks}`,
        '  poll_interval: 200ms',
        `  report_interval: ${spec.health.report_interval}ms`,
        '  timeout: 1s',
        'dataplane:',
        '  type: haproxy',
        `  admin_socket: ${join(this.dir, `haproxy-${e.name}.sock`)}`,
        `  config_file: ${join(this.dir, 'etc', `haproxy-${e.name}.cfg`)}`,
        // Servers added at runtime keep no idle connections unless told (idle_lim 0): every request
        // would open a new origin connection too short for the edge's agent to learn its RTT.
        `  server_options: "pool-max-conn 100 pool-purge-delay 30s${spec.health.edge_checks ? ` check inter ${spec.health_check.interval_ms}ms fall ${spec.health_check.fall} rise ${spec.health_check.rise}` : ''}"`,
        'metrics:',
        `  listen: ${address}:${PORTS.edgeSync}`,
        '  poll_interval: 100ms',
        ...this.serverTls('  '),
        'retry:',
        '  initial: 300ms',
        '  max: 3s',
      ].join('\n'),
      0o600,
    );
    this.spawnSluice(`edge-sync-${e.name}`, e.namespace, ['edge-sync', '--config', cfg], { SLUICE_LOG_LEVEL: 'info' });
  }

  async restartDns(): Promise<void> {
    await this.stopProcess('dns');
    await this.startDns();
  }

  private async startDns(): Promise<void> {
    const { spec } = this;
    const cfg = this.etc(
      'dns.yaml',
      [
        `listen: ["${this.coreAddr}:${PORTS.dns}"]`,
        'api:',
        `  urls: ${JSON.stringify(this.controlPlaneUrls)}`,
        ...(this.pki ? this.clientTls('  ') : [`  token: ${this.state.token}`]),
        '  wait: 20s',
        '  retry: 300ms',
        'geoip:',
        '  cidr_mappings:',
        ...spec.client_locations.map((m) => `    - { cidr: ${m.cidr}, location: { lat: ${m.location.lat}, lon: ${m.location.lon} } }`),
        ...(spec.client_locations.length === 0 ? ['    []'] : []),
        'metrics:',
        `  listen: ${this.coreAddr}:${PORTS.dnsMetrics}`,
        ...this.serverTls('  '),
        'log_level: debug',
      ].join('\n'),
      0o600,
    );
    this.spawnSluice('dns', spec.core, ['dns', '--config', cfg]);
    this.state.urls.dns = `${this.coreAddr}:${PORTS.dns}`;
    await waitFor(async () => (await unixRequest(this.state.sockets.dns_metrics!, '/metrics', { timeoutMs: 2000, tls: this.state.tls })).status === 200, {
      timeoutMs: 30_000,
      intervalMs: 200,
      what: `sluice dns metrics (see ${this.dir}/logs/dns.log)`,
    });
  }

  /** Every scrape target up in Prometheus: agents, edge-syncs (and DNS) are serving. */
  private async waitForTargets(): Promise<void> {
    await waitFor(
      async () => {
        const res = await unixRequest(this.state.sockets.prometheus!, '/api/v1/targets?state=active', { tls: this.state.tls });
        const targets = (res.json as { data: { activeTargets: { health: string; scrapeUrl: string; lastError: string }[] } }).data.activeTargets;
        const down = targets.filter((t) => t.health !== 'up');
        if (targets.length > 0 && down.length === 0) return true;
        throw new Error(down.map((t) => `${t.scrapeUrl}: ${t.health} ${t.lastError}`).join('; '));
      },
      { timeoutMs: 45_000, intervalMs: 300, what: 'every Prometheus target up' },
    );
  }

  /** PromQL instant query through the bridge. */
  async promQuery(expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
    const res = await unixRequest(this.state.sockets.prometheus!, `/api/v1/query?query=${encodeURIComponent(expr)}`, { tls: this.state.tls });
    const body = res.json as { status: string; data?: { result: { metric: Record<string, string>; value: [number, string] }[] }; error?: string };
    if (body?.status !== 'success') throw new Error(`PromQL ${expr}: ${res.text.slice(0, 300)}`);
    return body.data!.result;
  }

  async dnsMetrics(): Promise<string> {
    return (await unixRequest(this.state.sockets.dns_metrics!, '/metrics', { tls: this.state.tls })).text;
  }

  /** Where an edge's HAProxy binds a listener: the VIP if the edge's namespace holds it, else its own address. */
  edgeBindAddress(e: ScenarioSpec['edges'][number], vip: string): string {
    const ns = this.spec.namespaces[e.namespace]!;
    return ns.address === vip || ns.extra.includes(vip) ? vip : ns.address;
  }

  /** The report token of one edge (derived from the lab's admin token: stable across control-plane restarts). */
  reportToken(edge: string): string {
    return createHash('sha256').update(`${this.state.token}/report/${edge}`).digest('hex').slice(0, 40);
  }

  /** Drops every packet between each pair of namespaces (both ways) until the next call; [] heals. */
  async partition(pairs: [string, string][]): Promise<number> {
    await this.line.setPartitions(pairs);
    const now = Date.now();
    this.log(pairs.length > 0 ? `partition: ${pairs.map(([a, b]) => `${a} <-x-> ${b}`).join(', ')}` : 'partitions healed');
    return now;
  }

  /**
   * A CPU hog beside the control plane: `workers` busy threads at `nice`, for at most `duration_ms`
   * (it exits by itself; the lab kills it by PID before then when the script is done).
   */
  startCpuHog(label: string, o: { workers: number; nice: number; duration_ms: number }): string {
    const name = 'cpu-hog';
    const child = this.spawn(name, label, process.execPath, [join(PROCS, 'cpu-hog.mjs'), JSON.stringify(o)]);
    try {
      setPriority(child.pid!, o.nice);
    } catch {
      // cannot renice: it runs at the default priority (reported by the log line below)
    }
    this.log(`cpu hog: ${o.workers} busy thread(s) at nice ${o.nice} in ${label} for at most ${o.duration_ms} ms (pid ${child.pid})`);
    return name;
  }

  /** Starts a load-client.mjs in a namespace; returns its stats file. */
  startClient(name: string, label: string, config: Record<string, unknown>): { stats: string; ctl: string; child: ChildProcess } {
    const stats = join(this.dir, 'stats', `client-${name}.jsonl`);
    const ctl = join(this.dir, 'ctl', `client-${name}.json`);
    writeFileSync(stats, '');
    const child = this.spawn(`client-${name}`, label, process.execPath, [join(PROCS, 'load-client.mjs'), JSON.stringify({ name, stats, ctl, ...config })], {}, { instrument: true });
    this.state.clients.push({ name, stats, subnets: [] });
    writeState(this.state);
    return { stats, ctl, child };
  }

  /** Starts procs/dns-probe.mjs in a namespace (queries the lab's DNS every interval); returns its stats file. */
  startDnsProbe(name: string, label: string, config: { hostname: string; interval_ms: number; duration_ms: number }): string {
    const stats = join(this.dir, 'stats', `probe-${name}.jsonl`);
    writeFileSync(stats, '');
    this.spawn(`probe-${name}`, label, process.execPath, [join(PROCS, 'dns-probe.mjs'), JSON.stringify({ server: this.coreAddr, stats, max_queries: Math.ceil(config.duration_ms / config.interval_ms) + 10, ...config })], {}, { instrument: true });
    return stats;
  }

  setClientRate(ctl: string, rate: number): void {
    // write + rename: the client never reads a half-written file
    writeFileSync(`${ctl}.tmp`, JSON.stringify({ rate }));
    renameSync(`${ctl}.tmp`, ctl);
    this.log(`client rate -> ${rate}/s`);
  }

  /** Switches an origin's mode: up (SIGUSR2), down (SIGUSR1: 503 to everything), unhealthy (SIGHUP: /health 503). */
  setOriginMode(origin: string, mode: 'up' | 'down' | 'unhealthy'): number {
    const p = this.procs.get(`origin-${origin}`);
    if (!p) throw new Error(`no origin ${origin}`);
    const now = Date.now();
    p.child.kill(mode === 'up' ? 'SIGUSR2' : mode === 'down' ? 'SIGUSR1' : 'SIGHUP');
    this.log(`origin ${origin} -> ${mode}`);
    return now;
  }

  originStats(name: string): Bin[] {
    const o = this.state.origins.find((x) => x.name === name);
    return o ? readBins(o.stats) : [];
  }

  async destroy(): Promise<string[]> {
    if (this.destroyed) return [];
    this.destroyed = true;
    this.state.status = 'stopping';
    writeState(this.state);
    // Stop the loop before its parts: edge-sync and DNS keep what they have.
    for (const name of [...this.procs.keys()].filter((n) => n.startsWith('client-'))) await this.stopProcess(name);
    await this.line.destroy();
    const left = await teardown({ ...this.state, lab: { ...this.state.lab, pid: process.pid } }, this.log);
    this.state.status = 'stopped';
    writeState(this.state);
    return left;
  }

  /** For a failed script: the processes that died, the last errors logged, the last decision. */
  async diagnose(): Promise<string> {
    const out: string[] = [];
    for (const [name, p] of this.procs) if (p.child.exitCode !== null && !name.startsWith('client-')) out.push(`${name} exited ${p.child.exitCode}`);
    for (const name of [...replicaNames(this.spec.control_plane.replicas).map((r) => r.name), ...this.spec.edges.map((e) => `edge-sync-${e.name}`), 'dns']) {
      const errors = this.logOf(name)
        .split('\n')
        .filter((l) => /"level":(50|60)/.test(l))
        .slice(-2)
        .map((l) => l.slice(0, 300));
      if (errors.length > 0) out.push(`${name} logged errors: ${errors.join(' | ')}`);
    }
    if (this.ids) {
      const last = await this.api.get<{ items: { reason: string; detail: string }[] }>(`/api/v1/decisions?load_balancer_id=${this.ids.lb.id}&limit=1`).catch(() => null);
      if (last?.items[0]) out.push(`last decision: ${last.items[0].reason}: ${last.items[0].detail.slice(0, 300)}`);
    }
    return out.join('; ');
  }

  alive(name: string): boolean {
    const rec = this.state.processes.find((p) => p.name === name);
    return rec ? isSameProcess(rec) : false;
  }
}

/** The /24 of an IPv4 address (the core namespace's health checks, ignored by the origins' agents). */
function core24(address: string): string {
  return `${address.split('.').slice(0, 3).join('.')}.0/24`;
}

/**
 * The lab's instruments (origin counters, load generators) and its WAN (the delay line's forwarder) run
 * at a higher CPU priority than the system under test: on two cores a starved counter would shift
 * requests between 250 ms bins and a starved forwarder would add jitter to every RTT.
 */
function raisePriority(pid: number): void {
  try {
    setPriority(pid, -10);
  } catch {
    // not permitted: measurements are just noisier
  }
}

export function readBins(file: string): Bin[] {
  if (!existsSync(file)) return [];
  const out: Bin[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line) continue;
    try {
      out.push(JSON.parse(line) as Bin);
    } catch {
      // a line being written
    }
  }
  return out;
}

/**
 * "Now" for measurements: bins are written when they close (250 ms, plus up to 50 ms), so a window
 * ending at Date.now() would miss the newest bin. Aligned to the bin grid.
 */
export function settledNow(binMs = 250): number {
  return Math.floor((Date.now() - 320) / binMs) * binMs;
}

/**
 * A numeric field of the 250 ms bins as a rate per second over [from, to), both snapped inwards to the
 * bin grid so a window never counts a partial bin as a whole one (or divides by time it did not count).
 */
export function rateOf(bins: Bin[], field: string, from: number, to: number, binMs = 250): number {
  const a = Math.ceil(from / binMs) * binMs;
  const b = Math.floor(to / binMs) * binMs;
  if (b <= a) return 0;
  let sum = 0;
  for (const x of bins) if (x.t >= a && x.t < b && typeof x[field] === 'number') sum += x[field] as number;
  return (sum * 1000) / (b - a);
}

/**
 * A numeric field of the 250 ms bins as a rate per second over exactly [from, to): the bins at either
 * end count in proportion to their overlap (requests taken as spread evenly within a bin). For windows
 * that must be one scheduler cycle to the millisecond (prediction.ts).
 */
export function rateOver(bins: Bin[], field: string, from: number, to: number, binMs = 250): number {
  if (!(to > from)) return 0;
  let sum = 0;
  for (const x of bins) {
    const v = x[field];
    if (typeof v !== 'number') continue;
    const overlap = Math.min(to, x.t + binMs) - Math.max(from, x.t);
    if (overlap > 0) sum += (v * overlap) / binMs;
  }
  return (sum * 1000) / (to - from);
}

/** One command on HAProxy's admin socket (one command per connection). */
export function haproxyCommand(sock: string, command: string, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect(sock);
    let out = '';
    const t = setTimeout(() => c.destroy(new Error(`haproxy ${command}: timeout`)), timeoutMs);
    c.on('connect', () => c.write(`${command}\n`));
    c.on('data', (d) => (out += d.toString()));
    c.on('close', () => {
      clearTimeout(t);
      resolve(out);
    });
    c.on('error', (err) => {
      clearTimeout(t);
      reject(err);
    });
  });
}
