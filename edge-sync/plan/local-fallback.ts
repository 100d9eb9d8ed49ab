// The edge's local fallback rule (Taiji's edge-side rule for a datacenter's sudden loss): while the
// control plane cannot be told what this edge sees, edge-sync drops the origins its own checks see
// down from its own weights — marked unreachable, their share spread over the others in proportion —
// and takes the control plane's weights back as soon as it can report again. Never empties a listener:
// if every origin with a share is down here, the listener stays as the control plane said. Pure.
import type { EdgeConfig } from '../../model/views.ts';

export interface LocalDrop {
  listener: string;
  loadBalancer: string;
  origin: string;
}

export function withLocalExclusions(config: EdgeConfig, down: ReadonlySet<string>): { config: EdgeConfig; dropped: LocalDrop[] } {
  if (down.size === 0) return { config, dropped: [] };
  const dropped: LocalDrop[] = [];
  const listeners = config.listeners.map((l) => {
    const hit = l.origins.filter((o) => down.has(o.id) && o.weight > 0);
    if (hit.length === 0) return l;
    const left = l.origins.reduce((s, o) => s + (down.has(o.id) || !o.healthy || o.admin_state === 'disabled' || !o.reachable ? 0 : o.weight), 0);
    if (!(left > 0)) return l;
    for (const o of hit) dropped.push({ listener: `${l.vip}:${l.port}`, loadBalancer: l.load_balancer, origin: o.name });
    return {
      ...l,
      origins: l.origins.map((o) => (down.has(o.id) ? { ...o, weight: 0, reachable: false } : { ...o, weight: o.healthy && o.admin_state !== 'disabled' && o.reachable ? o.weight / left : 0 })),
    };
  });
  return { config: { ...config, listeners }, dropped };
}
