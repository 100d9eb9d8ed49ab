// What `sluice status` reads from a control plane: every load balancer (or one), its origins, overrides
// and last decisions, and the health view (decisions in force and the votes behind them).
import type { Decision, LoadBalancer, Origin, Override } from '../../model/index.ts';
import type { LbStatus, OriginVotes } from './render.ts';

export class StatusClient {
  constructor(
    private readonly base: string,
    private readonly token: string | undefined,
  ) {}

  private async get<T>(path: string): Promise<T> {
    const url = new URL(path, this.base);
    const res = await fetch(url, { headers: this.token ? { authorization: `Bearer ${this.token}` } : {}, signal: AbortSignal.timeout(5_000) });
    if (!res.ok) throw new Error(`${url}: HTTP ${res.status}: ${(await res.text()).slice(0, 300)}`);
    return (await res.json()) as T;
  }

  private async all<T>(path: string): Promise<T[]> {
    const out: T[] = [];
    let cursor: string | null = null;
    do {
      const page: { items: T[]; next_cursor: string | null } = await this.get(`${path}?limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      out.push(...page.items);
      cursor = page.next_cursor;
    } while (cursor);
    return out;
  }

  async read(only: string | undefined, decisions: number): Promise<LbStatus[]> {
    const lbs = (await this.all<LoadBalancer>('/api/v1/load-balancers')).filter((lb) => only === undefined || lb.id === only || lb.name === only);
    const health = await this.get<{ items: { origin_id: string; healthy: boolean }[]; origins: OriginVotes[] }>('/api/v1/health');
    const votes = new Map(health.origins.map((o) => [o.origin_id, o]));
    const healthy = new Map(health.items.map((h) => [h.origin_id, h.healthy]));
    return Promise.all(
      lbs.map(async (lb) => ({
        lb,
        origins: await this.all<Origin>(`/api/v1/load-balancers/${lb.id}/origins`),
        overrides: await this.all<Override>(`/api/v1/load-balancers/${lb.id}/overrides`),
        decisions: (await this.get<{ items: Decision[] }>(`/api/v1/decisions?load_balancer_id=${encodeURIComponent(lb.id)}&limit=${decisions}`)).items,
        votes,
        health: healthy,
      })),
    );
  }
}
