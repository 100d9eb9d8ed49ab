// Picks the collector for this OS. Imported lazily so a Linux host never loads the Windows bindings and
// vice versa.
import type { Collector, PortFilter } from './collector.ts';

export async function createCollector(kind: 'auto' | 'linux' | 'windows', filter?: PortFilter): Promise<Collector> {
  const which = kind === 'auto' ? (process.platform === 'win32' ? 'windows' : 'linux') : kind;
  if (which === 'windows') {
    const { WindowsEStatsCollector } = await import('./windows/collector.ts');
    return new WindowsEStatsCollector();
  }
  const { SockDiagCollector } = await import('./netlink/sock-diag.ts');
  const { WANTED_STATES } = await import('./netlink/constants.ts');
  return new SockDiagCollector(WANTED_STATES, filter);
}

/** The ports the agent's config makes interesting: service ports (local) and upstream ports (remote). */
export function portFilterFor(cfg: { service_ports: number[]; upstreams: { port: number }[] }): PortFilter {
  return { localPorts: new Set(cfg.service_ports), remotePorts: new Set(cfg.upstreams.map((u) => u.port)) };
}
