// A TEST DOUBLE of the control plane's edge-config protocol, for edge-sync tests until they run
// against the real API: GET /api/v1/edges/{id}/config with Authorization: Bearer, ETag "<version>",
// If-None-Match + ?wait=N long poll (200 as soon as the config changes, 304 when the wait runs out).
// It implements only that contract; it is not the control plane.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { EdgeConfig } from '../../model/views.ts';

export class EdgeConfigApiDouble {
  private server: Server | null = null;
  private waiters: (() => void)[] = [];
  requests = 0;
  notModified = 0;
  unauthorized = 0;

  constructor(
    private config: EdgeConfig,
    readonly token: string,
    readonly edgeId: string = config.edge.id,
  ) {}

  get url(): string {
    const addr = this.server?.address() as AddressInfo | null;
    if (!addr) throw new Error('not listening');
    return `http://127.0.0.1:${addr.port}`;
  }

  /** Publishes a new config; pending long polls answer at once. */
  publish(config: EdgeConfig): void {
    this.config = config;
    const w = this.waiters;
    this.waiters = [];
    for (const wake of w) wake();
  }

  async listen(port = 0): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', () => resolve()));
  }

  async close(): Promise<void> {
    for (const wake of this.waiters) wake();
    this.waiters = [];
    const s = this.server;
    this.server = null;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.requests++;
    const url = new URL(req.url ?? '/', 'http://x');
    const m = /^\/api\/v1\/edges\/([^/]+)\/config$/.exec(url.pathname);
    if (req.method !== 'GET' || !m) {
      res.writeHead(404).end();
      return;
    }
    if (req.headers.authorization !== `Bearer ${this.token}`) {
      this.unauthorized++;
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"unauthorized"}');
      return;
    }
    if (decodeURIComponent(m[1]!) !== this.edgeId) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"no such edge"}');
      return;
    }
    const waitS = Math.min(Number(url.searchParams.get('wait') ?? 0) || 0, 60);
    const etag = () => `"${this.config.version}"`;
    if (req.headers['if-none-match'] === etag() && waitS > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, waitS * 1000);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.waiters.push(done);
        req.socket.once('close', done);
      });
    }
    if (res.destroyed) return;
    if (req.headers['if-none-match'] === etag()) {
      this.notModified++;
      res.writeHead(304, { etag: etag() }).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', etag: etag() }).end(JSON.stringify(this.config));
  }
}
