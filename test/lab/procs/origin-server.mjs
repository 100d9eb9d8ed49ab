// A lab origin: a tiny HTTP server that counts what it serves, in 250 ms bins appended to a JSON-lines
// file. These counts are the lab's *measurements* (what really reached the origin), independent of what
// the scheduler believes. Plain JS (no tsx) so it starts in milliseconds.
//
//   node origin-server.mjs '{"name":"us","host":"10.90.3.1","port":8080,"stats":"/tmp/x/us.jsonl"}'
//
// Modes, switched by signal (the lab knows the PID; `ip netns exec` execs in place):
//   up        (SIGUSR2, start)  /health 200, requests 200
//   down      (SIGUSR1)         /health 503, requests 503 — a broken origin (still counted as "rejected");
//                               its established connections break at once (a crashed process: keep-alive
//                               clients must reconnect), and every answer closes its connection
//   unhealthy (SIGHUP)          /health 503, requests 200 — fails its checks but would still serve
//
// With `metrics_port`, the origin also serves its own request counter on /metrics there, the way an
// application exports `http_requests_total` (Prometheus scrapes it; the scheduler reads it through its
// `origin_requests` query). A separate port, so scrapes are not client connections the agent counts.
import { appendFileSync } from 'node:fs';
import http from 'node:http';

const cfg = JSON.parse(process.argv[2] ?? '{}');
const BIN_MS = cfg.bin_ms ?? 250;
let mode = 'up';
// peers: requests (served or rejected, not health checks) per client address — which edge sent them.
let bin = { served: 0, rejected: 0, health: 0, conns: 0, peers: {} };
const totals = { 200: 0, 503: 0, connections: 0 };
let binStart = Math.floor(Date.now() / BIN_MS) * BIN_MS;

function flush(now) {
  while (now >= binStart + BIN_MS) {
    appendFileSync(cfg.stats, `${JSON.stringify({ t: binStart, ...bin })}\n`);
    bin = { served: 0, rejected: 0, health: 0, conns: 0, peers: {} };
    binStart += BIN_MS;
    // After a long stall (should not happen) do not write thousands of empty bins one by one.
    if (now - binStart > 60_000) binStart = Math.floor(now / BIN_MS) * BIN_MS;
  }
}
const timer = setInterval(() => flush(Date.now()), BIN_MS / 5);

const setMode = (m) => {
  mode = m;
  appendFileSync(cfg.stats, `${JSON.stringify({ t: Date.now(), mode: m })}\n`);
};
process.on('SIGUSR1', () => {
  setMode('down');
  server.closeAllConnections();
});
process.on('SIGUSR2', () => setMode('up'));
process.on('SIGHUP', () => setMode('unhealthy'));

const body = Buffer.from(`hello from ${cfg.name}\n`);
const server = http.createServer((req, res) => {
  flush(Date.now());
  if (req.url === '/health') {
    bin.health++;
    res.writeHead(mode === 'up' ? 200 : 503, { 'content-type': 'text/plain' }).end(mode === 'up' ? 'ok\n' : `${mode}\n`);
    return;
  }
  const peer = req.socket.remoteAddress ?? '?';
  bin.peers[peer] = (bin.peers[peer] ?? 0) + 1;
  if (mode === 'down') {
    bin.rejected++;
    totals[503]++;
    res.writeHead(503, { 'content-type': 'text/plain', connection: 'close' }).end('down\n');
    return;
  }
  bin.served++;
  totals[200]++;
  res.writeHead(200, { 'content-type': 'text/plain', 'x-origin': cfg.name }).end(body);
});
server.keepAliveTimeout = 30_000;
server.on('connection', () => {
  flush(Date.now());
  bin.conns++;
  totals.connections++;
});
server.listen(cfg.port, cfg.host, () => process.stdout.write(`origin ${cfg.name} listening on ${cfg.host}:${cfg.port}\n`));
const metrics = cfg.metrics_port
  ? http
      .createServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(
          [
            '# HELP http_requests_total Requests served, by status code.',
            '# TYPE http_requests_total counter',
            `http_requests_total{code="200"} ${totals[200]}`,
            `http_requests_total{code="503"} ${totals[503]}`,
            '# HELP http_connections_total Connections accepted.',
            '# TYPE http_connections_total counter',
            `http_connections_total ${totals.connections}`,
            '',
          ].join('\n'),
        );
      })
      .listen(cfg.metrics_port, cfg.host)
  : null;
const stop = () => {
  clearInterval(timer);
  flush(Date.now() + BIN_MS);
  server.closeAllConnections();
  metrics?.close();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
