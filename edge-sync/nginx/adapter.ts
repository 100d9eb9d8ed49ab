// nginx (open source has no runtime API for upstream weights): render the upstream file, validate the
// whole configuration with `nginx -t`, then reload (graceful: old workers finish their requests).
// A candidate that fails validation never stays on disk: the previous file is put back and the error
// is counted. The upstream file is sluice's: every block in it is managed.
import type { EdgeConfig } from '../../model/views.ts';
import type { NginxDataPlane } from '../config.ts';
import { ApplyError, type ApplyOutcome, type DataPlane, type DemandStats, type Plan } from '../dataplane.ts';
import { describeFailure, execTool } from '../exec.ts';
import { readTextOrEmpty, writeAtomic } from '../fs-atomic.ts';
import { type DesiredPool, desiredPools } from '../plan/desired.ts';
import { diffPools } from '../plan/diff.ts';
import { lineDiff } from '../haproxy/cfg.ts';
import { AccessLogCounter, parseStubStatus } from './access-log.ts';
import { endpoint, parseUpstreamFile, renderUpstreamFile } from './upstreams.ts';

interface NginxDetail {
  before: string;
  after: string;
}

export class NginxAdapter implements DataPlane {
  readonly type = 'nginx' as const;
  readonly name: string;
  private readonly log: AccessLogCounter | null;

  constructor(private readonly cfg: NginxDataPlane) {
    this.name = cfg.name;
    this.log = cfg.access_log ? new AccessLogCounter(cfg.access_log) : null;
  }

  get testCommand(): string[] {
    return this.cfg.test_command ?? [this.cfg.binary, ...this.cfg.args, '-t', '-q'];
  }

  get reloadCommand(): string[] {
    return this.cfg.reload_command ?? [this.cfg.binary, ...this.cfg.args, '-s', 'reload'];
  }

  /** The pools this adapter derives from a config (labels for statistics). */
  planPoolsFor(config: EdgeConfig): DesiredPool[] {
    return desiredPools(forContext(config, this.cfg.context), { poolName: this.cfg.upstream_name, weightTotal: this.cfg.weight_total });
  }

  async plan(config: EdgeConfig): Promise<Plan> {
    const pools = this.planPoolsFor(config);
    const before = readTextOrEmpty(this.cfg.upstream_file);
    const actual = parseUpstreamFile(before);
    const changes = diffPools(pools, actual.pools, { matchBy: 'address', removablePools: new Set(actual.blocks.keys()) });
    const after = renderUpstreamFile(pools, actual.blocks, { directives: this.cfg.upstream_directives, serverOptions: this.cfg.server_options });
    const held = pools.filter((p) => p.hold).map((p) => ({ pool: p.name, reason: p.hold! }));
    const files = after === before ? [] : [{ path: this.cfg.upstream_file, before, after }];
    const preview = files.length > 0 ? [`--- ${this.cfg.upstream_file}`, ...lineDiff(before, after), `$ ${this.testCommand.join(' ')}`, `$ ${this.reloadCommand.join(' ')}`] : [];
    const detail: NginxDetail = { before, after };
    return { dataplane: this.name, pools, changes, preview, files, held, problems: [], detail };
  }

  async apply(plan: Plan): Promise<ApplyOutcome> {
    const { before, after } = plan.detail as NginxDetail;
    if (before === after) return { applied: [] };
    const path = this.cfg.upstream_file;
    writeAtomic(path, after);
    const test = await execTool(this.testCommand, { timeoutMs: this.cfg.timeout });
    if (test.code !== 0 || test.error) {
      writeAtomic(path, before);
      throw new ApplyError(`nginx rejected the new upstreams, previous file restored: ${describeFailure(this.testCommand, test)}`);
    }
    const reload = await execTool(this.reloadCommand, { timeoutMs: this.cfg.timeout });
    if (reload.code !== 0 || reload.error) {
      // Put the old file back so the file always describes what nginx runs; the retry writes it again.
      writeAtomic(path, before);
      throw new ApplyError(`nginx reload failed, previous file restored: ${describeFailure(this.reloadCommand, reload)}`, [`wrote ${path}`]);
    }
    return { applied: [`wrote ${path}`, this.reloadCommand.join(' ')] };
  }

  async readStats(pools: readonly DesiredPool[]): Promise<DemandStats> {
    const out: DemandStats = { listeners: [], origins: [] };
    if (this.log) {
      this.log.poll();
      for (const pool of pools) {
        out.listeners.push({ loadBalancer: pool.loadBalancer, listener: pool.listener, value: this.log.listeners.get(pool.listener) ?? 0 });
        for (const s of pool.servers) {
          const ep = endpoint(s.address, s.port);
          out.origins.push({ loadBalancer: pool.loadBalancer, origin: s.origin, key: `${pool.name}/${ep}`, value: this.log.upstreams.get(ep) ?? 0 });
        }
      }
    }
    if (this.cfg.stub_status_url) {
      const res = await fetch(this.cfg.stub_status_url, { signal: AbortSignal.timeout(this.cfg.timeout) });
      const parsed = parseStubStatus(await res.text());
      if (!res.ok || !parsed) throw new Error(`${this.cfg.stub_status_url}: not a stub_status page (HTTP ${res.status})`);
      out.total = parsed.requests;
    }
    return out;
  }
}

/** Keeps the listeners an upstream file in this nginx context serves (http {} or stream {}). */
export function forContext(config: EdgeConfig, context: 'http' | 'stream' | 'all'): EdgeConfig {
  if (context === 'all') return config;
  const isHttp = (p: string) => p === 'http' || p === 'https';
  return { ...config, listeners: config.listeners.filter((l) => (context === 'http' ? isHttp(l.protocol) : !isHttp(l.protocol))) };
}
