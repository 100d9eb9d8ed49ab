// `npm run bench -- tls [--rounds N]`: what TLS costs the control plane's API and the data planes'
// long-polls. Three real `sluice control-plane` processes on loopback, identical but for transport:
// plain HTTP (the peer), HTTPS (server certificate, bearer token) and mTLS (client certificate mapped
// to a role, as data planes run it); certificates from the openssl-made test PKI (EC P-256). Rounds
// alternate between the three so load on this shared machine falls on each alike. Per round:
//   1. API on a kept-alive connection: 500 sequential GETs of a load balancer (latency, and the
//      server's CPU per request from /proc/PID/stat),
//   2. API on a new connection each time: 60 GETs (the handshake: latency and server CPU),
//   3. long-poll wake-up, 3 times: 100 data-plane clients (lib/long-poll.ts, one connection each)
//      parked on the DNS view; one PATCH; time from the write to each client holding the new view.
// Ratios are TLS / plain (and mTLS / plain) from the same run; absolute times depend on the machine.
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { createSecureContext, type SecureContext } from 'node:tls';
import http from 'node:http';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { HttpGetter } from '../lib/http-get.ts';
import { makeTestPki, standardCerts } from '../lib/testing/pki.ts';
import { TlsClientConfig } from '../lib/tls-config.ts';
import { ClientTls } from '../lib/tls-client.ts';
import { startControlPlaneProcess, tempDir } from '../test/helpers/control-plane.ts';
import { dnsViewClient } from '../test/helpers/tls-clients.ts';
import { recordResult } from './lib/results.ts';

const ADMIN = 'bench-admin-token-0123456789';
const READ = 'bench-read-token-01234567890';
const KEEPALIVE_REQUESTS = 500;
const NEW_CONNECTIONS = 60;
const WAITERS = 100;
const WAKES_PER_ROUND = 3;

type Mode = 'plain' | 'tls' | 'mtls';

interface Target {
  mode: Mode;
  url: string;
  pid: number;
  lbId: string;
  client: { ca?: string; cert?: string; key?: string };
  stop(): Promise<unknown>;
}

const progress = (what: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${what}\n`);
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
};
const r2 = (x: number) => Math.round(x * 100) / 100;
const median = (xs: number[]) => pct(xs, 50);

/** CPU time (ms) the process has used so far: utime + stime from /proc/PID/stat. */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

function clientTls(t: Target): ClientTls | undefined {
  if (t.mode === 'plain') return undefined;
  return new ClientTls(TlsClientConfig.parse({ ca_file: t.client.ca, ...(t.client.cert ? { cert_file: t.client.cert, key_file: t.client.key } : {}) }), 'bench');
}

function headers(t: Target): Record<string, string> {
  return t.mode === 'mtls' ? {} : { authorization: `Bearer ${READ}` };
}

/** The client's TLS context, built once: a new connection then costs the handshake, not parsing PEM. */
const contexts = new Map<Mode, SecureContext>();
function contextOf(t: Target): SecureContext {
  let ctx = contexts.get(t.mode);
  if (!ctx) {
    ctx = createSecureContext({ ca: readFileSync(t.client.ca!), ...(t.client.cert ? { cert: readFileSync(t.client.cert), key: readFileSync(t.client.key!) } : {}) });
    contexts.set(t.mode, ctx);
  }
  return ctx;
}

/** One request on a new connection (agent: false), in ms. */
function freshGet(t: Target, path: string): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const opts = { agent: false as const, headers: headers(t), ...(t.mode === 'plain' ? {} : { secureContext: contextOf(t), servername: 'localhost' }) };
    const req = (t.mode === 'plain' ? http : https).get(`${t.url}${path}`, opts, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve(performance.now() - started) : reject(new Error(`${t.mode}: HTTP ${res.statusCode}`))));
    });
    req.on('error', reject);
  });
}

async function keepAlive(t: Target): Promise<{ latencies: number[]; cpuUsPerRequest: number }> {
  const getter = new HttpGetter(clientTls(t));
  const path = `${t.url}/api/v1/load-balancers/${t.lbId}`;
  await getter.get(path, { headers: headers(t) }); // the connection (and its handshake) first
  const cpu0 = cpuMs(t.pid);
  const latencies: number[] = [];
  for (let i = 0; i < KEEPALIVE_REQUESTS; i++) {
    const started = performance.now();
    const r = await getter.get(path, { headers: headers(t) });
    if (r.status !== 200) throw new Error(`${t.mode}: HTTP ${r.status}`);
    latencies.push(performance.now() - started);
  }
  const cpuUsPerRequest = ((cpuMs(t.pid) - cpu0) * 1000) / KEEPALIVE_REQUESTS;
  getter.close();
  return { latencies, cpuUsPerRequest };
}

async function newConnections(t: Target): Promise<{ latencies: number[]; cpuUsPerRequest: number }> {
  const cpu0 = cpuMs(t.pid);
  const latencies: number[] = [];
  for (let i = 0; i < NEW_CONNECTIONS; i++) latencies.push(await freshGet(t, `/api/v1/load-balancers/${t.lbId}`));
  return { latencies, cpuUsPerRequest: ((cpuMs(t.pid) - cpu0) * 1000) / NEW_CONNECTIONS };
}

async function admin(t: Target, method: string, path: string, body: unknown): Promise<{ id: string }> {
  const data = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = (t.mode === 'plain' ? http : https).request(
      `${t.url}${path}`,
      {
        method,
        agent: false,
        headers: { authorization: `Bearer ${ADMIN}`, 'content-type': method === 'PATCH' ? 'application/merge-patch+json' : 'application/json', 'content-length': Buffer.byteLength(data) },
        ...(t.client.ca ? { ca: readFileSync(t.client.ca) } : {}),
      },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => (res.statusCode! < 300 ? resolve(JSON.parse(text) as { id: string }) : reject(new Error(`${method} ${path}: ${res.statusCode} ${text}`))));
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

/**
 * WAKES_PER_ROUND times: WAITERS parked long-polls, one write, and the time from sending the write to
 * each client holding the new view (ms, sorted per wake). The write's own commit (SQLite fsync) is in
 * every number alike; its duration is reported beside them.
 */
async function longPollWakes(t: Target, round: number): Promise<{ wakes: number[][]; writeMs: number[] }> {
  const clients = Array.from({ length: WAITERS }, () => dnsViewClient(t.url, { tls: clientTls(t), token: t.mode === 'mtls' ? undefined : READ, waitMs: 30_000 }));
  await Promise.all(clients.map((c) => c.next({ wait: false })));
  const getter = new HttpGetter(clientTls(t));
  const wakes: number[][] = [];
  const writeMs: number[] = [];
  for (let i = 0; i < WAKES_PER_ROUND; i++) {
    let writtenAt = 0;
    const woken = clients.map(async (c) => {
      for (;;) {
        const r = await c.next({ wait: true });
        if (r.kind === 'update') return performance.now() - writtenAt;
      }
    });
    // Every client parked: the server's own gauge says so.
    for (let tries = 0; tries < 400; tries++) {
      const m = await getter.get(`${t.url}/metrics`, { headers: { authorization: `Bearer ${READ}` } });
      if (m.body.includes(`sluice_api_long_poll_waiters ${WAITERS}`)) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    writtenAt = performance.now();
    // A TTL never used before: the DNS view changes, so every parked long-poll must answer.
    await admin(t, 'PATCH', `/api/v1/load-balancers/${t.lbId}`, { dns: { zone: 'example.com', hostname: 'app.example.com', ttl: 100 + round * WAKES_PER_ROUND + i } });
    writeMs.push(performance.now() - writtenAt);
    wakes.push((await Promise.all(woken)).sort((x, y) => x - y));
  }
  getter.close();
  for (const c of clients) c.close();
  return { wakes, writeMs };
}

export async function main(args: string[]): Promise<void> {
  const rounds = Number(args[args.indexOf('--rounds') + 1] ?? 5) || 5;
  const pki = makeTestPki();
  const c = standardCerts(pki);
  const dir = tempDir('sluice-bench-tls-');
  const targets: Target[] = [];
  // Interrupted: stop the control planes this run started (they are its children, not detached).
  const onSignal = () => void Promise.all(targets.map((t) => t.stop())).finally(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    for (const mode of ['plain', 'tls', 'mtls'] as Mode[]) {
      const cfg = join(dir.path, `${mode}.yaml`);
      writeFileSync(
        cfg,
        [
          `data_dir: ${join(dir.path, mode)}`,
          'log_level: warn',
          `auth: { admin_tokens: [${ADMIN}], read_tokens: [${READ}]${mode === 'mtls' ? ', client_certificates: { admin_ous: [sluice-admin], read_ous: [sluice-read] }' : ''} }`,
          ...(mode === 'plain' ? [] : [`tls: { cert_file: ${c.server.cert}, key_file: ${c.server.key}${mode === 'mtls' ? `, client_ca_file: ${pki.ca}, client_auth_type: VerifyClientCertIfGiven` : ''} }`]),
          `api: { long_poll_per_client: ${WAITERS + 10} }`,
          'scheduler: { enabled: false }',
          'health_checks: { enabled: false }',
        ].join('\n'),
      );
      const cp = await startControlPlaneProcess(['--config', cfg]);
      const t: Target = { mode, url: cp.url, pid: cp.proc.child.pid!, lbId: '', client: mode === 'plain' ? {} : { ca: pki.ca, ...(mode === 'mtls' ? { cert: c.clientRead.cert, key: c.clientRead.key } : {}) }, stop: () => cp.proc.stop() };
      t.lbId = (await admin(t, 'POST', '/api/v1/load-balancers', { name: 'app', dns: { zone: 'example.com', hostname: 'app.example.com', ttl: 10 }, listeners: [{ vip: '192.0.2.10', port: 443, protocol: 'tcp' }] })).id;
      for (const [i, name] of ['a', 'b'].entries()) {
        await admin(t, 'POST', `/api/v1/load-balancers/${t.lbId}/origins`, { name, region: name, addresses: [`198.51.100.${i + 1}`], port: 443, location: { lat: 0, lon: 0 }, target_rps: 100, max_rps: 100 });
      }
      targets.push(t);
    }
    const load0 = loadavg()[0]!;
    const acc = Object.fromEntries(targets.map((t) => [t.mode, { keep: [] as number[], keepCpu: [] as number[], fresh: [] as number[], freshCpu: [] as number[], wakeP50: [] as number[], wakeP99: [] as number[], wakeMax: [] as number[], writeMs: [] as number[], deliveryLast: [] as number[] }]));
    for (let round = 0; round < rounds; round++) {
      // Rotate who goes first, so no mode always meets the machine right after another's burst.
      const order = targets.map((_, i) => targets[(i + round) % targets.length]!);
      for (const t of order) {
        const a = acc[t.mode]!;
        progress(`${t.mode}: kept-alive requests`);
        const k = await keepAlive(t);
        a.keep.push(...k.latencies);
        a.keepCpu.push(k.cpuUsPerRequest);
        progress(`${t.mode}: new connections`);
        const f = await newConnections(t);
        a.fresh.push(...f.latencies);
        a.freshCpu.push(f.cpuUsPerRequest);
        progress(`${t.mode}: long-poll wake-ups`);
        const w = await longPollWakes(t, round);
        for (const [i, x] of w.wakes.entries()) {
          a.wakeP50.push(pct(x, 50));
          a.wakeP99.push(pct(x, 99));
          a.wakeMax.push(x[x.length - 1]!);
          // After the write was acknowledged: the delivery itself, without the commit's fsync (noisy here).
          a.deliveryLast.push(Math.max(0, x[x.length - 1]! - w.writeMs[i]!));
        }
        a.writeMs.push(...w.writeMs);
      }
      process.stderr.write(`round ${round + 1}/${rounds} done\n`);
    }
    const summary = Object.fromEntries(
      Object.entries(acc).map(([mode, a]) => [
        mode,
        {
          keepalive_p50_ms: r2(pct(a.keep, 50)),
          keepalive_p99_ms: r2(pct(a.keep, 99)),
          keepalive_server_cpu_us_per_request: r2(median(a.keepCpu)),
          new_connection_p50_ms: r2(pct(a.fresh, 50)),
          new_connection_p99_ms: r2(pct(a.fresh, 99)),
          new_connection_server_cpu_us_per_request: r2(median(a.freshCpu)),
          long_poll_wake_p50_ms: r2(median(a.wakeP50)),
          long_poll_wake_p99_ms: r2(median(a.wakeP99)),
          long_poll_wake_last_ms: r2(median(a.wakeMax)),
          long_poll_write_ms: r2(median(a.writeMs)),
          long_poll_last_after_write_ms: r2(median(a.deliveryLast)),
        },
      ]),
    ) as unknown as Record<Mode, Record<string, number>>;
    const ratio = (mode: Mode, key: string) => r2(summary[mode][key]! / summary.plain[key]!);
    const ratios = {
      tls_keepalive_p50: ratio('tls', 'keepalive_p50_ms'),
      tls_keepalive_server_cpu: ratio('tls', 'keepalive_server_cpu_us_per_request'),
      tls_new_connection_p50: ratio('tls', 'new_connection_p50_ms'),
      tls_new_connection_server_cpu: ratio('tls', 'new_connection_server_cpu_us_per_request'),
      tls_long_poll_wake_p50: ratio('tls', 'long_poll_wake_p50_ms'),
      tls_long_poll_wake_last: ratio('tls', 'long_poll_wake_last_ms'),
      tls_long_poll_last_after_write: ratio('tls', 'long_poll_last_after_write_ms'),
      mtls_new_connection_p50: ratio('mtls', 'new_connection_p50_ms'),
      mtls_long_poll_wake_p50: ratio('mtls', 'long_poll_wake_p50_ms'),
    };
    const load1 = loadavg()[0]!;
    const s = summary;
    recordResult(
      'tls',
      {
        comparison: 'sluice control-plane over HTTPS (and mTLS) vs plain HTTP, same process build, same run, loopback: API on kept-alive and new connections, long-poll wake-up of 100 data-plane clients',
        ratios,
        details: { rounds, keepalive_requests_per_round: KEEPALIVE_REQUESTS, new_connections_per_round: NEW_CONNECTIONS, long_poll_waiters: WAITERS, long_poll_wakes_per_round: WAKES_PER_ROUND, medians: 'long-poll numbers are medians over the wakes of all rounds', key: 'EC P-256', loadavg_1m: { start: r2(load0), end: r2(load1) }, ...summary },
      },
      `API kept-alive p50 ${s.tls.keepalive_p50_ms} ms TLS vs ${s.plain.keepalive_p50_ms} ms plain (x${ratios.tls_keepalive_p50}, server CPU x${ratios.tls_keepalive_server_cpu}); new connection p50 ${s.tls.new_connection_p50_ms} vs ${s.plain.new_connection_p50_ms} ms (x${ratios.tls_new_connection_p50}; mTLS x${ratios.mtls_new_connection_p50}); long-poll wake of ${WAITERS} clients p50 ${s.tls.long_poll_wake_p50_ms} vs ${s.plain.long_poll_wake_p50_ms} ms (x${ratios.tls_long_poll_wake_p50}), last ${s.tls.long_poll_wake_last_ms} vs ${s.plain.long_poll_wake_last_ms} ms (x${ratios.tls_long_poll_wake_last}; ${s.tls.long_poll_last_after_write_ms} vs ${s.plain.long_poll_last_after_write_ms} ms after the write's commit, x${ratios.tls_long_poll_last_after_write}); load ${r2(load0)}`,
    );
  } finally {
    for (const t of targets) await t.stop();
    dir.remove();
    pki.remove();
  }
}
