// LVS/IPVS through ipvsadm: one virtual service per listener, one real server per origin address,
// weights on the scheduler's scale. Weight 0 quiesces a real server: the kernel sends it no new
// connections and keeps the existing ones (exactly the drain semantics sluice needs).
// Changes are piped to one `ipvsadm -R` (one process per apply, not one per weight).
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
}

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
    const held = pools.filter((p) => p.hold).map((p) => ({ pool: serviceKey(p), reason: p.hold! }));
    const preview = [...commands.map((c) => `${this.cfg.ipvsadm.join(' ')} ${c}`), ...(restore ? [`write ${restore.path} (${restore.text.split('\n').length - 2} rules)`] : [])];
    const detail: IpvsDetail = { commands, restore };
    return { dataplane: this.name, pools, changes, preview, files, held, problems, detail };
  }

  /** Applies what can be applied; listeners refused at planning are reported as a failure. */
  async apply(plan: Plan): Promise<ApplyOutcome> {
    const applied = await this.applyCommands(plan);
    if (plan.problems.length > 0) throw new ApplyError(plan.problems.join('; '), applied.applied);
    return applied;
  }

  private async applyCommands(plan: Plan): Promise<ApplyOutcome> {
    const { commands, restore } = plan.detail as IpvsDetail;
    const applied: string[] = [];
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
