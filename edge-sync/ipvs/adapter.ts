// LVS/IPVS through ipvsadm: one virtual service per listener, one real server per origin address,
// weights on the scheduler's scale. Weight 0 quiesces a real server: the kernel sends it no new
// connections and keeps the existing ones (exactly the drain semantics sluice needs).
// Changes are piped to one `ipvsadm -R` (one process per apply, not one per weight).
//
// hard_moves: IPVS cannot end the established connections of a quiesced server; what it offers is two
// sysctls, kept at 1 here like any other drift: expire_quiescent_template (a persistent client's
// template to a weight-0 server expires, so its next connection is balanced anew) and
// expire_nodest_conn (packets of connections to a removed server are dropped and the entry expired, so
// the client reconnects to the others at once).
import { writeFileSync } from 'node:fs';
import type { EdgeConfig } from '../../model/views.ts';
import type { IpvsDataPlane } from '../config.ts';
import { ApplyError, type ApplyOutcome, type DataPlane, type DemandStats, type Plan } from '../dataplane.ts';
import { describeFailure, execTool } from '../exec.ts';
import { readTextOrEmpty, writeAtomic } from '../fs-atomic.ts';
import { type DesiredPool, desiredPools } from '../plan/desired.ts';
import { type IpvsOptions, planIpvs, refuseUnmappablePorts, restoreFile, serviceKey } from './commands.ts';
import { parseIpvsList, parseIpvsStats } from './parse.ts';

interface IpvsDetail {
  commands: string[];
  restore: { path: string; text: string } | null;
  /** sysctl files to set to 1 (hard_moves). */
  sysctls: string[];
}

export const HARD_MOVE_SYSCTLS = ['expire_quiescent_template', 'expire_nodest_conn'] as const;

export class IpvsAdapter implements DataPlane {
  readonly type = 'ipvs' as const;
  readonly name: string;
  readonly options: IpvsOptions;

  constructor(private readonly cfg: IpvsDataPlane) {
    this.name = cfg.name;
    this.options = { scheduler: cfg.scheduler, forwarding: cfg.forwarding, persistence: cfg.persistence === undefined ? null : Math.ceil(cfg.persistence / 1000) };
  }

  private async ipvsadm(args: string[], input?: string): Promise<string> {
    const argv = [...this.cfg.ipvsadm, ...args];
    const r = await execTool(argv, { timeoutMs: this.cfg.timeout, ...(input !== undefined ? { input } : {}) });
    if (r.code !== 0 || r.error) throw new ApplyError(describeFailure(argv, r));
    return r.stdout;
  }

  private pools(config: EdgeConfig): DesiredPool[] {
    return desiredPools(config, { poolName: '{protocol} {vip}:{port}', weightTotal: this.cfg.weight_total });
  }

  async plan(config: EdgeConfig, previous?: EdgeConfig | null): Promise<Plan> {
    const { pools, problems } = refuseUnmappablePorts(this.pools(config), this.cfg.forwarding);
    const services = parseIpvsList(await this.ipvsadm(['-Ln']));
    const current = new Set(pools.map((p) => serviceKey(p)));
    // Only services sluice applied before (and that left the config) may be deleted: an edge often
    // runs other virtual services sluice knows nothing about.
    const removable = new Set(previous ? this.pools(previous).map((p) => serviceKey(p)).filter((k) => !current.has(k)) : []);
    const { changes, commands } = planIpvs(pools, services, this.options, removable);
    let restore: IpvsDetail['restore'] = null;
    const files: Plan['files'] = [];
    if (this.cfg.restore_file) {
      const text = restoreFile(pools, services, this.options);
      const before = readTextOrEmpty(this.cfg.restore_file);
      if (text !== before) {
        restore = { path: this.cfg.restore_file, text };
        files.push({ path: this.cfg.restore_file, before, after: text });
      }
    }
    const sysctls: string[] = [];
    if (this.cfg.hard_moves) {
      for (const name of HARD_MOVE_SYSCTLS) {
        const path = `${this.cfg.sysctl_dir.replace(/\/$/, '')}/${name}`;
        const before = readTextOrEmpty(path).trim();
        if (before === '1') continue;
        sysctls.push(path);
        files.push({ path, before, after: '1' });
      }
    }
    const held = pools.filter((p) => p.hold).map((p) => ({ pool: serviceKey(p), reason: p.hold! }));
    const preview = [
      ...commands.map((c) => `${this.cfg.ipvsadm.join(' ')} ${c}`),
      ...(restore ? [`write ${restore.path} (${restore.text.split('\n').length - 2} rules)`] : []),
      ...sysctls.map((p) => `echo 1 > ${p}`),
    ];
    const detail: IpvsDetail = { commands, restore, sysctls };
    return { dataplane: this.name, pools, changes, preview, files, held, problems, detail };
  }

  /** Applies what can be applied; listeners refused at planning are reported as a failure. */
  async apply(plan: Plan): Promise<ApplyOutcome> {
    const applied = await this.applyCommands(plan);
    if (plan.problems.length > 0) throw new ApplyError(plan.problems.join('; '), applied.applied);
    return applied;
  }

  private async applyCommands(plan: Plan): Promise<ApplyOutcome> {
    const { commands, restore, sysctls } = plan.detail as IpvsDetail;
    const applied: string[] = [];
    for (const path of sysctls) {
      try {
        writeFileSync(path, '1\n');
        applied.push(`echo 1 > ${path}`);
      } catch (err) {
        throw new ApplyError(`hard_moves: cannot set ${path} (needs root and the ip_vs module): ${(err as Error).message}`, applied);
      }
    }
    if (commands.length > 0) {
      // ipvsadm -R reads one command per line (the ipvsadm-save format) and stops at the first error;
      // the next pass re-reads the table and retries whatever is still missing.
      await this.ipvsadm(['-R'], `${commands.join('\n')}\n`);
      applied.push(...commands.map((c) => `ipvsadm ${c}`));
    }
    if (restore) {
      try {
        writeAtomic(restore.path, restore.text);
        applied.push(`wrote ${restore.path}`);
      } catch (err) {
        throw new ApplyError(`cannot write ${restore.path}: ${(err as Error).message}`, applied);
      }
    }
    return { applied };
  }

  async readStats(pools: readonly DesiredPool[]): Promise<DemandStats> {
    const rows = parseIpvsStats(await this.ipvsadm(['-Ln', '--stats', '--exact']));
    return ipvsDemand(rows, pools);
  }
}

/** Connections per virtual service (listener) and per real server (origin). */
export function ipvsDemand(rows: ReturnType<typeof parseIpvsStats>, pools: readonly DesiredPool[]): DemandStats {
  const out: DemandStats = { listeners: [], origins: [] };
  for (const pool of pools) {
    const key = serviceKey(pool);
    const row = rows.find((r) => `${r.protocol} ${r.address}` === key);
    if (!row) continue;
    out.listeners.push({ loadBalancer: pool.loadBalancer, listener: pool.listener, value: row.conns });
    for (const s of pool.servers) {
      const ep = s.address.includes(':') ? `[${s.address}]:${s.port}` : `${s.address}:${s.port}`;
      const real = row.reals.find((r) => r.address === ep);
      if (real) out.origins.push({ loadBalancer: pool.loadBalancer, origin: s.origin, key: `${key}/${ep}`, value: real.conns });
    }
  }
  return out;
}
