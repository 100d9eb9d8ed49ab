// Builders for EdgeConfig values and small helpers shared by edge-sync tests (test-only code).
import { createHash } from 'node:crypto';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { EdgeConfig } from '../../model/views.ts';

export interface OriginSpec {
  name: string;
  addresses?: string[];
  address?: string;
  port: number;
  weight: number;
  healthy?: boolean;
  /** This edge cannot reach it (edge-local exclusion). */
  reachable?: boolean;
  admin_state?: 'active' | 'drain' | 'disabled';
  health_check?: EdgeConfig['listeners'][number]['origins'][number]['health_check'];
}

export interface ListenerSpec {
  lb: string;
  vip?: string;
  port: number;
  protocol?: string;
  origins: OriginSpec[];
}

export function edgeConfig(listeners: ListenerSpec[], opts: { edge?: string; weightsVersion?: number } = {}): EdgeConfig {
  const body = {
    edge: { id: `edge-${opts.edge ?? 'test'}`, name: opts.edge ?? 'test', region: 'lab', address: '127.0.0.1' },
    weights_version: opts.weightsVersion ?? 1,
    listeners: listeners.map((l) => ({
      load_balancer_id: `lb-${l.lb}`,
      load_balancer: l.lb,
      vip: l.vip ?? '127.0.0.1',
      port: l.port,
      protocol: l.protocol ?? 'http',
      policy: 'latency' as const,
      origins: l.origins.map((o) => ({
        id: `o-${o.name}`,
        name: o.name,
        region: 'lab',
        addresses: o.addresses ?? [o.address ?? '127.0.0.1'],
        port: o.port,
        location: { lat: 0, lon: 0 },
        admin_state: o.admin_state ?? 'active',
        healthy: o.healthy ?? true,
        static_weight: 1,
        priority: 0,
        health_check: o.health_check ?? null,
        weight: o.weight,
        reachable: o.reachable ?? true,
      })),
    })),
  };
  const version = createHash('sha256').update(JSON.stringify(body)).digest('hex').slice(0, 16);
  return { ...body, version, seq: null };
}

/** An origin HTTP server that counts the requests it answers. */
export interface CountingOrigin {
  name: string;
  port: number;
  count: number;
  server: Server;
  close(): Promise<void>;
}

export async function startCountingOrigin(name: string): Promise<CountingOrigin> {
  const origin: CountingOrigin = {
    name,
    port: 0,
    count: 0,
    server: createServer((_req, res) => {
      origin.count++;
      res.writeHead(200, { 'content-type': 'text/plain', connection: 'close' }).end(`${name}\n`);
    }),
    async close() {
      origin.server.closeAllConnections();
      await new Promise<void>((resolve) => origin.server.close(() => resolve()));
    },
  };
  await new Promise<void>((resolve) => origin.server.listen(0, '127.0.0.1', () => resolve()));
  origin.port = (origin.server.address() as AddressInfo).port;
  return origin;
}

/**
 * Sends `total` GETs to 127.0.0.1:port, each on its own TCP connection (no keep-alive, so the load
 * balancer decides per request), `concurrency` at a time, within `deadlineMs`. Returns body -> count.
 */
export async function sendRequests(port: number, total: number, opts: { concurrency?: number; deadlineMs?: number } = {}): Promise<Map<string, number>> {
  const deadline = Date.now() + (opts.deadlineMs ?? 30_000);
  const counts = new Map<string, number>();
  let next = 0;
  const one = () =>
    new Promise<string>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/', agent: false, headers: { connection: 'close' }, timeout: 5000 }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve(res.statusCode === 200 ? body.trim() : `HTTP ${res.statusCode}`));
      });
      req.on('timeout', () => req.destroy(new Error('request timeout')));
      req.on('error', reject);
      req.end();
    });
  const worker = async () => {
    while (next < total) {
      if (Date.now() > deadline) throw new Error(`deadline passed after ${next} of ${total} requests`);
      next++;
      const who = await one();
      counts.set(who, (counts.get(who) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency ?? 16 }, worker));
  return counts;
}
