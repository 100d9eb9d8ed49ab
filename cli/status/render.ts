// `sluice status`'s view, pure: per load balancer, origins with load against target and max (the last
// decision's prediction, and what was measured), share, health and its votes; the overrides in force;
// the last decisions. Built from what the API serves (status/read.ts).
import type { Decision, LoadBalancer, Origin, Override } from '../../model/index.ts';

export interface OriginVotes {
  origin_id: string;
  healthy: boolean;
  reason: string;
  quorum: { fresh: number; down: number; required: number };
}

export interface LbStatus {
  lb: LoadBalancer;
  origins: Origin[];
  overrides: Override[];
  /** Newest first. */
  decisions: Decision[];
  votes: Map<string, OriginVotes>;
  health: Map<string, boolean>;
}

const pad = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s.padEnd(n));
const num = (x: number | undefined, d = 1) => (x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(d));

function describeOverride(o: Override, names: Map<string, string>): string {
  const origin = (id: string | undefined) => (id ? (names.get(id) ?? id) : '');
  const what =
    o.kind === 'dial'
      ? `dial ${origin(o.origin_id)} ${o.percent} %`
      : o.kind === 'share'
        ? `share ${origin(o.origin_id)}${o.min_share !== undefined ? ` ≥ ${o.min_share}` : ''}${o.max_share !== undefined ? ` ≤ ${o.max_share}` : ''}${o.edge_id ? ` on edge ${o.edge_id}` : ''}`
        : `force ${o.edge_id ? `edge ${o.edge_id}` : o.subnet} → ${Object.entries(o.weights ?? {}).map(([id, w]) => `${origin(id)} ${w}`).join(', ')}`;
  return `${o.id}  ${what}${o.now ? ' (now)' : ''}  by ${o.created_by}  ${o.expires_at ? `until ${o.expires_at}` : 'until cancelled'}  — ${o.reason}`;
}

export function renderStatus(all: LbStatus[], at: Date): string {
  const out: string[] = [`sluice status  ${at.toISOString()}`];
  for (const s of all) {
    // The last scheduling decision (audit records of overrides carry no loads).
    const last = s.decisions.find((d) => d.reason !== 'override' || Object.keys(d.predicted_load_rps).length > 0);
    const names = new Map(s.origins.map((o) => [o.id, o.name]));
    const measured = (last?.inputs.measured_load_rps ?? {}) as Record<string, number>;
    const total = Object.values(last?.predicted_load_rps ?? {}).reduce((a, b) => a + b, 0);
    out.push('', `load balancer ${s.lb.name} (${s.lb.id})  policy ${s.lb.policy}  mode ${s.lb.mode ?? 'enforce'}${s.lb.enabled ? '' : '  DISABLED'}  max_shift ${s.lb.max_shift}`);
    out.push(`  ${pad('origin', 14)} ${'predicted'.padStart(9)} ${'measured'.padStart(9)} ${'target'.padStart(8)} ${'max'.padStart(8)} ${'util'.padStart(6)} ${'share'.padStart(6)}  health (down votes/fresh, needed)`);
    for (const o of s.origins) {
      const load = last?.predicted_load_rps[o.id];
      const v = s.votes.get(o.id);
      const healthy = s.health.get(o.id) ?? true;
      const health = `${healthy ? 'up' : 'DOWN'}${o.admin_state !== 'active' ? ` ${o.admin_state}` : ''}${v ? ` (${v.quorum.down}/${v.quorum.fresh}, ${v.quorum.required})${v.reason ? ` ${v.reason}` : ''}` : ''}`;
      const util = load !== undefined ? `${((load / o.max_rps) * 100).toFixed(0)}%` : '-';
      const share = load !== undefined && total > 0 ? `${((load / total) * 100).toFixed(1)}%` : '-';
      out.push(`  ${pad(o.name, 14)} ${num(load).padStart(9)} ${num(measured[o.name]).padStart(9)} ${num(o.target_rps, 0).padStart(8)} ${num(o.max_rps, 0).padStart(8)} ${util.padStart(6)} ${share.padStart(6)}  ${health}`);
    }
    const active = s.overrides.filter((o) => o.state === 'active');
    out.push(`  overrides in force: ${active.length === 0 ? 'none' : active.length}`);
    for (const o of active) out.push(`    ${describeOverride(o, names)}`);
    out.push('  last decisions:');
    if (s.decisions.length === 0) out.push('    none yet');
    for (const d of s.decisions) out.push(`    ${d.created_at}  ${pad(d.reason, 8)} ${(d.weights_version !== null ? `v${d.weights_version}` : '').padEnd(7)} ${pad(d.detail.replace(/\s+/g, ' '), 110).trimEnd()}`.trimEnd());
  }
  if (all.length === 0) out.push('', 'no load balancers');
  return `${out.join('\n')}\n`;
}
