// HAProxy: weights and servers change through the runtime API (no reload, no dropped connections),
// and the same servers/weights are written into haproxy.cfg so a reload or restart keeps them.
//
// Managed backends must exist in the running HAProxy (declared in haproxy.cfg with a frontend bound to
// the listener): the runtime API can add servers but not backends. Servers in a managed backend are
// owned by sluice: unknown ones are removed (maint, then `del server`), missing ones added with
// `add server` (HAProxy >= 2.5; Debian 12 ships 2.6), weights set with `set server B/S weight N`.
import { renameSync } from 'node:fs';
import type { EdgeConfig } from '../../model/views.ts';
import type { HaproxyDataPlane } from '../config.ts';
import { ApplyError, type ApplyOutcome, type DataPlane, type DemandStats, type Plan } from '../dataplane.ts';
import { describeFailure, execTool } from '../exec.ts';
import { readTextOrEmpty, removeQuietly, writeTemp } from '../fs-atomic.ts';
import { type DesiredPool, desiredPools } from '../plan/desired.ts';
import { type ActualPool, type Change, diffPools } from '../plan/diff.ts';
import { lineDiff, readBackends, rewriteBackends, serverAddress } from './cfg.ts';
import { isStaticAlgorithm, parseServersState, parseStatCsv } from './parse.ts';
import { HaproxyRuntime } from './runtime.ts';
import { haproxyHealth } from './health.ts';
import type { OriginReading } from '../health/reading.ts';

/** FMAINT (forced maintenance) or CMAINT (`disabled` in the config). */
const MAINT_MASK = 0x01 | 0x04;

interface HaproxyDetail {
  commands: { pool: string; command: string; expect: 'empty' | 'added' | 'deleted' | 'addr'; removal: boolean }[];
  cfg: { path: string; before: string; after: string } | null;
}

/**
 * Runtime commands for a plan. `hardMoves`: a server that goes to weight 0, or leaves, also has its
 * established sessions shut down (the clients reconnect and are balanced onto the others at once);
 * without it they continue until they close — HAProxy's weight only steers new sessions (and, in HTTP
 * mode, each new request).
 */
export function commandsFor(changes: readonly Change[], serverOptions: string, hardMoves = false): HaproxyDetail['commands'] {
  const out: HaproxyDetail['commands'] = [];
  const wantsHealth = /(^|\s)check(\s|$)/.test(serverOptions);
  // Order matters for safety: bring new servers in before old ones go, so a backend is never empty.
  for (const c of changes) {
    if (c.op !== 'add-server') continue;
    const s = c.server;
    out.push({ pool: c.pool, command: `add server ${c.pool}/${s.name} ${serverAddress(s.address, s.port)} weight ${s.weight}${serverOptions ? ` ${serverOptions}` : ''}`, expect: 'added', removal: false });
    // Dynamic servers start in maintenance (and with checks off) by design.
    if (wantsHealth) out.push({ pool: c.pool, command: `enable health ${c.pool}/${s.name}`, expect: 'empty', removal: false });
    out.push({ pool: c.pool, command: `enable server ${c.pool}/${s.name}`, expect: 'empty', removal: false });
  }
  for (const c of changes) {
    if (c.op === 'set-address') out.push({ pool: c.pool, command: `set server ${c.pool}/${c.server} addr ${c.address} port ${c.port}`, expect: 'addr', removal: false });
    if (c.op === 'enable-server') out.push({ pool: c.pool, command: `enable server ${c.pool}/${c.server}`, expect: 'empty', removal: false });
  }
  for (const c of changes) {
    if (c.op !== 'set-weight') continue;
    out.push({ pool: c.pool, command: `set server ${c.pool}/${c.server} weight ${c.to}`, expect: 'empty', removal: false });
    if (hardMoves && c.to === 0 && c.from > 0) out.push({ pool: c.pool, command: `shutdown sessions server ${c.pool}/${c.server}`, expect: 'empty', removal: false });
  }
  for (const c of changes) {
    if (c.op !== 'remove-server') continue;
    // `del server` requires maintenance first; it is refused while connections remain, and then is
    // retried on the next pass (the server takes no new traffic meanwhile).
    out.push({ pool: c.pool, command: `set server ${c.pool}/${c.server.name} state maint`, expect: 'empty', removal: true });
    if (hardMoves) out.push({ pool: c.pool, command: `shutdown sessions server ${c.pool}/${c.server.name}`, expect: 'empty', removal: true });
    out.push({ pool: c.pool, command: `del server ${c.pool}/${c.server.name}`, expect: 'deleted', removal: true });
  }
  return out;
}

function answerOk(expect: HaproxyDetail['commands'][number]['expect'], answer: string): boolean {
  switch (expect) {
    case 'empty':
      return answer === '';
    case 'added':
      return answer.startsWith('New server registered');
    case 'deleted':
      return answer.startsWith('Server deleted');
    case 'addr':
      return answer === '' || /changed from/.test(answer) || /no need to change/.test(answer);
  }
}

export class HaproxyAdapter implements DataPlane {
  readonly type = 'haproxy' as const;
  readonly name: string;
  private readonly runtime: HaproxyRuntime;

  constructor(private readonly cfg: HaproxyDataPlane) {
    this.name = cfg.name;
    this.runtime = new HaproxyRuntime(cfg.admin_socket, cfg.timeout);
  }

  async readActual(): Promise<{ pools: Map<string, ActualPool>; algo: Map<string, string> }> {
    const states = parseServersState(await this.runtime.send('show servers state'));
    const pools = new Map<string, ActualPool>();
    for (const s of states) {
      let p = pools.get(s.backend);
      if (!p) pools.set(s.backend, (p = { name: s.backend, servers: [] }));
      p.servers.push({ name: s.server, address: s.address, port: s.port, weight: s.weight, maint: (s.adminState & MAINT_MASK) !== 0 });
    }
    const algo = new Map<string, string>();
    for (const row of parseStatCsv(await this.runtime.send('show stat'))) {
      if (row.svname === 'BACKEND' && row.pxname) {
        algo.set(row.pxname, row.algo ?? '');
        // A backend with no servers has no rows in `show servers state`.
        if (!pools.has(row.pxname)) pools.set(row.pxname, { name: row.pxname, servers: [] });
      }
    }
    return { pools, algo };
  }

  async plan(config: EdgeConfig): Promise<Plan> {
    const pools = desiredPools(config, { poolName: this.cfg.backend_name, weightTotal: this.cfg.weight_total });
    const { pools: actual, algo } = await this.readActual();
    const cfgText = this.cfg.config_file ? readTextOrEmpty(this.cfg.config_file) : null;
    const cfgBackends = cfgText !== null ? readBackends(cfgText) : null;
    const problems: string[] = [];
    const held = pools.filter((p) => p.hold).map((p) => ({ pool: p.name, reason: p.hold! }));
    const usable: DesiredPool[] = [];
    for (const p of pools) {
      if (p.hold) continue;
      if (!actual.has(p.name)) {
        problems.push(`backend "${p.name}" (listener ${p.listener}, load balancer ${p.loadBalancer}) does not exist in the running HAProxy; declare it in haproxy.cfg (frontend bound to ${p.listener}, "backend ${p.name}" with "balance roundrobin") and reload`);
        continue;
      }
      const a = algo.get(p.name) ?? '';
      const hashType = cfgBackends ? (cfgBackends.get(p.name)?.hashType ?? null) : undefined;
      if (isStaticAlgorithm(a, hashType)) {
        problems.push(`backend "${p.name}" uses the static algorithm "${a}": HAProxy accepts only 0% or 100% weights at runtime and cannot add servers to it; use "balance roundrobin" (or leastconn/random, or hash-type consistent)`);
        continue;
      }
      if (cfgBackends && !cfgBackends.has(p.name)) {
        problems.push(`backend "${p.name}" runs but is not in ${this.cfg.config_file}; a reload would lose it`);
      }
      usable.push(p);
    }
    const changes = diffPools(usable, [...actual.values()], { matchBy: 'name' });
    if (changes.some((c) => c.op === 'add-server' || c.op === 'remove-server')) {
      const version = parseVersion(await this.runtime.send('show info'));
      if (version && (version[0] < 2 || (version[0] === 2 && version[1] < 5))) {
        problems.push(`HAProxy ${version.join('.')} cannot add or delete servers at runtime (needs 2.5 or later; 2.4 only with "experimental-mode on"): declare every origin's server line in haproxy.cfg, or upgrade`);
      }
    }
    const commands = commandsFor(changes, this.cfg.server_options, this.cfg.hard_moves);
    let cfgChange: HaproxyDetail['cfg'] = null;
    if (this.cfg.config_file && cfgText !== null) {
      const wanted = new Map(usable.filter((p) => cfgBackends?.has(p.name)).map((p) => [p.name, p.servers]));
      const { text } = rewriteBackends(cfgText, wanted, this.cfg.server_options);
      if (text !== cfgText) cfgChange = { path: this.cfg.config_file, before: cfgText, after: text };
    }
    const preview = [
      ...commands.map((c) => `echo "${c.command}" | socat stdio ${this.cfg.admin_socket}`),
      ...(cfgChange ? [`--- ${cfgChange.path}`, ...lineDiff(cfgChange.before, cfgChange.after)] : []),
    ];
    const detail: HaproxyDetail = { commands, cfg: cfgChange };
    return { dataplane: this.name, pools, changes, preview, files: cfgChange ? [cfgChange] : [], held, problems, detail };
  }

  async apply(plan: Plan): Promise<ApplyOutcome> {
    const detail = plan.detail as HaproxyDetail;
    const applied: string[] = [];
    const failures: string[] = [];
    const failedPools = new Set<string>();
    for (const c of detail.commands) {
      // Never remove servers from a backend whose additions failed: it could end up empty.
      if (c.removal && failedPools.has(c.pool)) continue;
      try {
        await this.runtime.expect(c.command, (answer) => answerOk(c.expect, answer));
        applied.push(c.command);
      } catch (err) {
        failures.push((err as Error).message);
        failedPools.add(c.pool);
      }
    }
    if (detail.cfg && failures.length === 0) {
      try {
        await this.writeConfig(detail.cfg.path, detail.cfg.after);
        applied.push(`rewrote ${detail.cfg.path}`);
      } catch (err) {
        failures.push((err as Error).message);
      }
    } else if (detail.cfg) {
      failures.push(`${detail.cfg.path} not rewritten because runtime commands failed (it will be on the retry)`);
    }
    if (plan.problems.length > 0) failures.push(...plan.problems);
    if (failures.length > 0) throw new ApplyError(failures.join('; '), applied);
    return { applied };
  }

  /** Validates the candidate with `haproxy -c` (if enabled), then renames it over the old file. */
  private async writeConfig(path: string, text: string): Promise<void> {
    const tmp = writeTemp(path, text);
    try {
      if (this.cfg.validate) {
        const argv = [this.cfg.binary, '-c', '-q', '-f', tmp];
        const r = await execTool(argv, { timeoutMs: this.cfg.timeout });
        if (r.code !== 0) throw new ApplyError(`rewritten haproxy.cfg rejected, old file kept: ${describeFailure(argv, r)}`);
      }
      renameSync(tmp, path);
    } finally {
      removeQuietly(tmp);
    }
  }

  async readStats(pools: readonly DesiredPool[]): Promise<DemandStats> {
    const rows = parseStatCsv(await this.runtime.send('show stat'));
    return haproxyDemand(rows, pools);
  }

  /** HAProxy's own server checks (servers with `check` in server_options): this edge's vote. */
  async readHealth(pools: readonly DesiredPool[]): Promise<OriginReading[]> {
    return haproxyHealth(parseStatCsv(await this.runtime.send('show stat')), pools);
  }
}

/** "Version: 2.6.12-1+deb12u4" in `show info` -> [2, 6]. */
export function parseVersion(info: string): [number, number] | null {
  const m = /^Version:\s*(\d+)\.(\d+)/m.exec(info);
  return m ? [Number(m[1]), Number(m[2])] : null;
}

/**
 * Demand from `show stat`: per listener the backend's HTTP requests (req_tot, http mode) or sessions
 * (stot, tcp mode); per origin the same counters of its servers.
 */
export function haproxyDemand(rows: readonly Record<string, string>[], pools: readonly DesiredPool[]): DemandStats {
  const out: DemandStats = { listeners: [], origins: [] };
  const counter = (r: Record<string, string>): number => {
    const v = r.mode === 'http' && r.req_tot ? r.req_tot : r.stot;
    const n = Number(v);
    return Number.isFinite(n) && v !== '' ? n : 0;
  };
  for (const pool of pools) {
    const backend = rows.find((r) => r.pxname === pool.name && r.svname === 'BACKEND');
    if (!backend) continue;
    out.listeners.push({ loadBalancer: pool.loadBalancer, listener: pool.listener, value: counter(backend) });
    for (const s of pool.servers) {
      const row = rows.find((r) => r.pxname === pool.name && r.svname === s.name);
      if (row) out.origins.push({ loadBalancer: pool.loadBalancer, origin: s.origin, key: `${pool.name}/${s.name}`, value: counter(row) });
    }
  }
  return out;
}
