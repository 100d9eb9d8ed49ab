// Lab client load generator, bounded in count and time, writing 250 ms bins of what it did to a
// JSON-lines file. Plain JS (no tsx) so it starts in milliseconds.
//
//   node load-client.mjs '<json config>'
//
// modes:
//   open      fixed-rate HTTP GETs to `url`, one new TCP connection per request (open loop, like the
//             write-up's curl clients); the rate is re-read from the control file `ctl` ({"rate": N})
//             every 200 ms, so the lab can step it while the client runs.
//   pingpong  `conns` keep-alive connections per target; each sends its next request `think_ms` after the
//             previous response (0: at once, so ACKs ride on data), lives `conn_ms`, then reconnects
//             (new connections = demand the agents count).
//   dns       per source address: resolve `hostname` at the lab's DNS server (the query leaves from that
//             source address), then GET the answered address from the same source; `rate` per source;
//             `conn_ms` > 0 reuses keep-alive connections (up to `max_sockets`, default 6) to the same
//             answer for that long; a changed answer retires them (they finish what they carry and close)
//             — a client that follows every answer.
//   keepalive real clients: per source address `conns` keep-alive connections carrying `rate` requests/s
//             in total (open loop: each connection sends every conns/rate s, queued on it while the last
//             is out); a connection carries `per_conn` requests or lives `conn_ms`, whichever ends it
//             first, then closes, and a new one opens — resolving `dns.hostname` from its source first
//             (DNS-steered: only new connections follow a changed answer) or to `url` (an edge). The
//             connections start staggered over one connection lifetime (the k-th after (k + u)/conns of
//             it), so turnover is spread as with real clients, not synchronised — and every connection,
//             the first too, lives its full life (the agents learn lifetimes from them). An error or a 503
//             closes the connection (as a browser would retry on a new one).
// Bins: {t, sent, ok, err, err_by_sent: {bin t: n}, opened, origins: {name: n}, answers: {source>ip: n}}: err
// counts a failure when it completes; err_by_sent files it under the bin its request was sent in (a
// request sent before a failover may fail seconds later, on a timeout).
import { appendFileSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { Resolver } from 'node:dns/promises';

const cfg = JSON.parse(process.argv[2] ?? '{}');
const BIN_MS = 250;
const started = Date.now();
const deadline = started + (cfg.duration_ms ?? 60_000);
const maxRequests = cfg.max_requests ?? 100_000;
const maxInFlight = cfg.max_in_flight ?? 2000;
let total = 0;
let inFlight = 0;
let stopping = false;

const fresh = () => ({ sent: 0, ok: 0, err: 0, err_by_sent: {}, opened: 0, origins: {}, answers: {} });
let bin = fresh();
let binStart = Math.floor(started / BIN_MS) * BIN_MS;
function flush(now) {
  while (now >= binStart + BIN_MS) {
    appendFileSync(cfg.stats, `${JSON.stringify({ t: binStart, ...bin })}\n`);
    bin = fresh();
    binStart += BIN_MS;
    if (now - binStart > 60_000) binStart = Math.floor(now / BIN_MS) * BIN_MS;
  }
}
const flusher = setInterval(() => flush(Date.now()), BIN_MS / 5);
const bump = (obj, key) => (obj[key] = (obj[key] ?? 0) + 1);

function finish() {
  if (stopping) return;
  stopping = true;
  clearInterval(flusher);
  const wait = setInterval(() => {
    if (inFlight === 0 || Date.now() > deadline + 5000) {
      clearInterval(wait);
      flush(Date.now() + BIN_MS);
      process.stdout.write(`client ${cfg.name} done: ${total} requests\n`);
      process.exit(0);
    }
  }, 50);
}
process.on('SIGTERM', finish);
process.on('SIGINT', finish);
setTimeout(finish, Math.max(0, deadline - Date.now()));

function get(opts, onDone) {
  if (total >= maxRequests || stopping) {
    if (total >= maxRequests) finish();
    return false;
  }
  total++;
  inFlight++;
  bin.sent++;
  const sentBin = Math.floor(Date.now() / BIN_MS) * BIN_MS;
  let done = false;
  const end = (ok, origin) => {
    if (done) return;
    done = true;
    inFlight--;
    flush(Date.now());
    if (ok) bin.ok++;
    else {
      bin.err++;
      bump(bin.err_by_sent, sentBin);
    }
    if (origin) bump(bin.origins, origin);
    onDone?.(ok);
  };
  let response = null;
  const req = http.request({ method: 'GET', path: cfg.path ?? '/', timeout: cfg.timeout_ms ?? 5000, ...opts }, (res) => {
    response = res;
    res.resume();
    res.on('end', () => end(res.statusCode === 200, res.headers['x-origin']));
    res.on('error', () => end(false));
  });
  // A keep-alive connection that breaks while the request waits for it (the origin went down).
  req.on('close', () => {
    if (!response?.complete) end(false);
  });
  req.on('timeout', () => req.destroy(new Error('timeout')));
  req.on('error', () => end(false));
  req.end();
  return true;
}

if (cfg.mode === 'open') {
  const url = new URL(cfg.url);
  let rate = cfg.rate ?? 0;
  const readCtl = () => {
    if (!cfg.ctl) return;
    try {
      const r = JSON.parse(readFileSync(cfg.ctl, 'utf8')).rate;
      if (typeof r === 'number' && r >= 0 && r <= 100_000) rate = r;
    } catch {
      // no control file yet: keep the rate
    }
  };
  readCtl();
  setInterval(readCtl, 200).unref();
  let credit = 0;
  let last = performance.now();
  const tick = setInterval(() => {
    if (stopping) return clearInterval(tick);
    const now = performance.now();
    credit += (rate * (now - last)) / 1000;
    last = now;
    while (credit >= 1) {
      credit -= 1;
      if (inFlight >= maxInFlight) {
        bin.err++; // the target cannot keep up: counted, not queued without bound
        continue;
      }
      get({ host: url.hostname, port: Number(url.port || 80), path: url.pathname, agent: false, ...(cfg.source ? { localAddress: cfg.source } : {}) });
    }
  }, 5);
} else if (cfg.mode === 'pingpong') {
  // Each connection lives `conn_ms` (or `per_conn` requests), sending its next request `think_ms` after
  // the previous response, then closes and reconnects: a new connection the origin's agent counts as
  // demand, and one old enough (min_connection_age) to give RTT samples while it lives.
  const thinkMs = cfg.think_ms ?? 0;
  const connMs = cfg.conn_ms ?? 3000;
  const loop = (target, source) => {
    if (stopping) return;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const born = Date.now();
    let left = cfg.per_conn ?? 1_000_000;
    const next = () => {
      if (stopping) return agent.destroy();
      if (left-- <= 0 || Date.now() - born >= connMs) {
        agent.destroy(); // close, reconnect
        return setImmediate(() => loop(target, source));
      }
      const sent = get({ host: target.host, port: target.port, agent, ...(source ? { localAddress: source } : {}) }, (ok) => (ok ? (thinkMs > 0 ? setTimeout(next, thinkMs) : next()) : setTimeout(next, 200)));
      if (!sent) agent.destroy();
    };
    next();
  };
  for (const target of cfg.targets) for (const source of cfg.sources ?? [undefined]) for (let i = 0; i < (cfg.conns ?? 2); i++) loop(target, source);
} else if (cfg.mode === 'dns') {
  const [dnsHost, dnsPort] = [cfg.dns.host, cfg.dns.port ?? 53];
  const resolvers = new Map();
  for (const source of cfg.sources) {
    const r = new Resolver({ timeout: 1000, tries: 1 });
    r.setServers([`${dnsHost}:${dnsPort}`]);
    r.setLocalAddress(source);
    resolvers.set(source, r);
  }
  const period = 1000 / (cfg.rate ?? 10);
  // conn_ms > 0: like a browser, keep a connection to the answered origin for conn_ms and reuse it;
  // a different answer means a new connection there (and the old one is closed).
  const connMs = cfg.conn_ms ?? 0;
  const pools = new Map();
  // Retiring a connection: the requests already sent or queued on it finish there, then it closes.
  // Not agent.destroy(): that aborts the request in flight, and the agent then opens a fresh socket
  // for the ones queued behind it (Agent#removeSocket) that nobody closes — on a 100 ms path every
  // renewal leaked one idle keep-alive connection (34 open at the far origin for 8 clients), which the
  // agents rightly counted as established connections pinned there.
  const retire = (agent) => {
    agent.keepAlive = false;
    for (const list of Object.values(agent.freeSockets)) for (const s of list) s.destroy();
  };
  const agentFor = (source, answer) => {
    if (connMs <= 0) return false;
    const cur = pools.get(source);
    if (cur && cur.answer === answer && Date.now() - cur.born < connMs) return cur.agent;
    if (cur) retire(cur.agent);
    // Up to `max_sockets` (6, a browser's per-host limit) connections per answer: with one, a 100 ms
    // path at 10 requests/s is saturated and requests queue behind each other on it for seconds.
    const agent = new http.Agent({ keepAlive: true, maxSockets: cfg.max_sockets ?? 6 });
    pools.set(source, { answer, agent, born: Date.now() });
    return agent;
  };
  for (const source of cfg.sources) {
    const one = async () => {
      if (stopping) return;
      let answer = null;
      try {
        answer = (await resolvers.get(source).resolve4(cfg.hostname))[0] ?? null;
      } catch {
        answer = null;
      }
      flush(Date.now());
      bump(bin.answers, `${source}>${answer ?? 'none'}`);
      if (!answer) {
        bin.err++;
        return;
      }
      get({ host: answer, port: cfg.port, agent: agentFor(source, answer), localAddress: source });
    };
    setTimeout(() => {
      const t = setInterval(() => (stopping ? clearInterval(t) : void one()), period);
    }, Math.random() * period);
  }
} else if (cfg.mode === 'keepalive') {
  const conns = cfg.conns ?? 1;
  const perConn = cfg.per_conn ?? Infinity;
  const connMs = cfg.conn_ms ?? Infinity;
  const periodMs = (1000 * conns) / cfg.rate;
  const target = cfg.url ? new URL(cfg.url) : null;
  const resolvers = new Map();
  if (cfg.dns) {
    for (const source of cfg.sources) {
      const r = new Resolver({ timeout: 1000, tries: 1 });
      r.setServers([`${cfg.dns.host}:${cfg.dns.port ?? 53}`]);
      r.setLocalAddress(source);
      resolvers.set(source, r);
    }
  }
  /** A new connection: where to (the DNS answer now, or the edge), and its budget of requests and time. */
  const open = (source) => {
    flush(Date.now());
    bin.opened++;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const where = target
      ? Promise.resolve({ host: target.hostname, port: Number(target.port || 80) })
      : resolvers
          .get(source)
          .resolve4(cfg.dns.hostname)
          .then((a) => {
            flush(Date.now());
            bump(bin.answers, `${source}>${a[0] ?? 'none'}`);
            return a[0] ? { host: a[0], port: cfg.port } : null;
          })
          .catch(() => null);
    return { agent, where, left: perConn, until: Date.now() + connMs, broken: false };
  };
  // One scheduler for every connection: each keeps its own next send time (previous + period), so a
  // stalled event loop delays requests but does not line them up. (One setInterval per connection
  // would: Node fires every expired timer of a period together after a stall, and from then on the
  // clients send in synchronised bursts.)
  const slots = [];
  for (const source of cfg.sources) {
    for (let k = 0; k < conns; k++) {
      let c = null;
      const tick = () => {
        if (stopping) return;
        if (!c) {
          c = open(source);
        }
        const conn = c;
        conn.left--;
        const last = conn.left <= 0 || Date.now() >= conn.until;
        if (last) c = null;
        conn.where.then((to) => {
          const done = () => {
            if (last) conn.agent.destroy();
          };
          if (!to || conn.broken) {
            if (!to) {
              flush(Date.now());
              bin.sent++;
              bin.err++;
            }
            if (c === conn) c = null;
            return done();
          }
          const sent = get({ host: to.host, port: to.port, agent: conn.agent, localAddress: source }, (ok) => {
            if (!ok) {
              // Broken (the origin went down) or refused: this connection is done; the next tick opens another.
              conn.broken = true;
              conn.agent.destroy();
              if (c === conn) c = null;
            }
            done();
          });
          if (!sent) conn.agent.destroy();
        });
      };
      slots.push({ tick, next: started + ((k + Math.random()) / conns) * Math.min(connMs, perConn * periodMs) });
    }
  }
  const scheduler = setInterval(() => {
    if (stopping) return clearInterval(scheduler);
    const now = Date.now();
    for (const s of slots) {
      if (s.next > now) continue;
      s.tick();
      s.next += periodMs;
      // Far behind (a long stall): drop the backlog rather than fire it at once.
      if (s.next < now - periodMs) s.next = now + Math.random() * periodMs;
    }
  }, 5);
} else {
  process.stderr.write(`load-client: unknown mode ${cfg.mode}\n`);
  process.exit(2);
}
