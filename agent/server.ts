// The agent's HTTP endpoints (node:http: four GET routes need no framework).
//   /metrics          small registry: demand, upstream RTT, poll health
//   /metrics/subnets  per-subnet series, budgeted to the busiest subnet_series_budget subnets
//   /api/v1/latency   the learning table as JSON (debugging), ?limit=N (default 1000)
//   /api/v1/sockets   the inbound/outbound sockets now (a dump of their own) with kernel RTT (debugging), ?limit=N (default 1000)
//   /healthz          200 while polls succeed, 503 (with the reason) when the last one is too old
//   over HTTPS with a `tls` block (lib/tls-server.ts: Prometheus' tls_server_config, reloaded from disk)
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import { createHttpServer, type TlsServing } from '../lib/tls-server.ts';

export interface Handlers {
  mainMetrics(): Promise<{ contentType: string; body: string }>;
  /** Bytes as the collector wrote them (agent/subnet-exposition.ts), served as they are. */
  subnetMetrics(): Promise<{ contentType: string; body: string | Uint8Array }>;
  latency(limit: number): Promise<unknown>;
  sockets(limit: number): Promise<unknown>;
  health(): { ok: boolean; detail: unknown };
}

export interface AgentServer {
  server: Server | HttpsServer;
  /** Connections accepted so far (their passive opens are the agent's own, not demand). */
  accepted(): number;
  close(): Promise<void>;
}

export async function startServer(host: string, port: number, h: Handlers, onError: (err: Error) => void, tls?: TlsServing): Promise<AgentServer> {
  let accepted = 0;
  const server = createHttpServer((req, res) => {
    handle(req, res, h).catch((err: Error) => {
      onError(err);
      if (!res.headersSent) send(res, 500, 'text/plain', `internal error: ${err.message}\n`);
      else res.destroy();
    });
  }, tls);
  server.on('connection', () => accepted++);
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    server,
    accepted: () => accepted,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function handle(req: IncomingMessage, res: ServerResponse, h: Handlers): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://agent');
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    return send(res, 405, 'text/plain', 'method not allowed\n');
  }
  const limit = parseLimit(url.searchParams.get('limit'));
  if (limit === null) return send(res, 400, 'application/json', JSON.stringify({ error: 'limit must be an integer between 1 and 1000000' }));
  switch (url.pathname) {
    case '/metrics': {
      const m = await h.mainMetrics();
      return send(res, 200, m.contentType, m.body);
    }
    case '/metrics/subnets': {
      const m = await h.subnetMetrics();
      return send(res, 200, m.contentType, m.body);
    }
    case '/api/v1/latency':
      return send(res, 200, 'application/json', JSON.stringify(await h.latency(limit)));
    case '/api/v1/sockets':
      return send(res, 200, 'application/json', JSON.stringify(await h.sockets(limit)));
    case '/healthz': {
      const { ok, detail } = h.health();
      return send(res, ok ? 200 : 503, 'application/json', JSON.stringify(detail));
    }
    default:
      return send(res, 404, 'text/plain', 'not found: try /metrics, /metrics/subnets, /api/v1/latency, /api/v1/sockets, /healthz\n');
  }
}

function parseLimit(v: string | null): number | null {
  if (v === null) return 1000;
  if (!/^\d{1,7}$/.test(v)) return null;
  const n = Number(v);
  return n >= 1 && n <= 1_000_000 ? n : null;
}

function send(res: ServerResponse, status: number, contentType: string, body: string | Uint8Array): void {
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
