// The load balancer, origins and edges of a simulated fleet (fleet-exporter.ts) in a real SQLite store,
// as the scheduler's ReadContext: a DNS name (so the subnets' turnover is read) and a TCP listener (so
// the edges' is).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore, type SqliteStore } from '../../api/store/sqlite.ts';
import type { ReadContext } from '../../scheduler/inputs/types.ts';
import type { Fleet } from './fleet-exporter.ts';

export async function fleetContext(f: Fleet): Promise<{ ctx: ReadContext; store: SqliteStore; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-fleet-'));
  const store = openSqliteStore(dir);
  try {
    const lb = await store.createLoadBalancer({ name: f.lb, dns: { zone: 'example.com', hostname: 'app.example.com', ttl: 30, answers: 1 }, listeners: [{ vip: '192.0.2.10', port: f.port, protocol: 'tcp' }], policy: 'latency', max_latency_ms: 500, min_samples: 5, max_shift: 1, deadband: 0, gain: 0.5, enabled: true });
    const origins = [];
    for (const [j, o] of f.origins.entries()) {
      origins.push(await store.createOrigin(lb.id, { name: o.name, region: `r${j}`, addresses: [o.address], port: f.port, admin_state: 'active', static_weight: 1, priority: 0, location: { lat: 10 * j, lon: 10 * j }, target_rps: 1000, max_rps: 1200 }));
    }
    const edges = [];
    for (const [k, e] of f.edges.entries()) edges.push(await store.createEdge({ name: e, region: `e${k}`, address: `203.0.113.${k + 1}`, location: { lat: -10 * k, lon: 5 * k } }));
    return { ctx: { lb, origins, edges }, store, close: async () => { await store.close(); rmSync(dir, { recursive: true, force: true }); } };
  } catch (err) {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
