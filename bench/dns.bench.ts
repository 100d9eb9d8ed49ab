// `npm run bench -- dns [--duration SECONDS] [--rounds N]`: dnsperf against `sluice dns` and, in the same run on the
// same machine, against gdnsd (weighted plugin) and PowerDNS Authoritative (LUA pickwrandom, shared
// Lua state). All on loopback, random ports, temp dirs; every server started and stopped here by PID.
//
// Two measurements per server, each with and without an ECS option on every query:
//   saturation: dnsperf with many outstanding queries, no rate limit -> queries per second;
//   fixed rate: dnsperf -Q 10000 -v -> per-query latencies -> p50 / p99.
// dnsperf runs on the same 2-core machine as the servers, so saturation numbers are "what this box
// does with client and server sharing it"; the ratios are what to compare.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { recordResult } from './lib/results.ts';
import { GEOIP_TEST_DB, origin, PLACES, record, view } from '../dns/testing/fixtures.ts';
import { buildQuery, decodeResponse, udpExchange } from '../dns/testing/packets.ts';
import type { WeightMap } from '../model/views.ts';
import { GeoLocator } from '../dns/answer/geo.ts';
import { Responder } from '../dns/answer/respond.ts';
import { buildViewIndex } from '../dns/answer/view-index.ts';

const SLUICE_BIN = fileURLToPath(new URL('../bin/sluice.js', import.meta.url));

interface Server {
  name: string;
  port: number;
  child: ChildProcess;
  log: () => string;
}

interface Measurement {
  qps: number;
  lost: number;
  p50_ms?: number;
  p99_ms?: number;
  mean_ms?: number;
}

async function freeUdpTcpPort(): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

function start(name: string, cmd: string, args: string[], port: number): Server {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  child.stderr?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  return { name, port, child, log: () => out };
}

async function stop(s: Server): Promise<void> {
  if (s.child.exitCode !== null || s.child.signalCode !== null) return;
  const exited = new Promise<void>((r) => s.child.once('exit', () => r()));
  process.kill(s.child.pid!, 'SIGTERM');
  const t = setTimeout(() => s.child.pid && s.child.exitCode === null && process.kill(s.child.pid, 'SIGKILL'), 5000);
  await exited;
  clearTimeout(t);
}

/** Waits (bounded) until the server answers app.example.com with one A record. */
async function ready(s: Server): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (s.child.exitCode !== null) throw new Error(`${s.name} exited: ${s.log()}`);
    try {
      const d = decodeResponse(await udpExchange(s.port, buildQuery({ name: 'app.example.com' }), { timeoutMs: 300 }));
      if (d.rcode === 0 && d.answers.length >= 1) return;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${s.name} did not answer within 20 s: ${s.log()}`);
}

/** ECS option for dnsperf -E: code 8, family 1, /24, 10.1.2.0 (a learned subnet in sluice's view). */
const ECS_HEX = '000118000a0102';

async function dnsperf(port: number, queries: string, seconds: number, opts: { ecs: boolean; rate?: number }): Promise<Measurement> {
  const args = ['-s', '127.0.0.1', '-p', String(port), '-d', queries, '-l', String(seconds), '-t', '2'];
  if (opts.ecs) args.push('-E', `8:${ECS_HEX}`);
  if (opts.rate) args.push('-Q', String(opts.rate), '-c', '4', '-q', '200', '-v');
  else args.push('-c', '8', '-q', '1000');
  // Output to a file, not a pipe: reading megabytes of -v lines while measuring would steal CPU
  // from the servers on a 2-core machine.
  const outFile = join(tmpdir(), `sluice-dnsperf-${process.pid}-${Date.now()}.txt`);
  const fd = openSync(outFile, 'w');
  const child = spawn('dnsperf', args, { stdio: ['ignore', fd, 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`dnsperf exited with ${code}`))));
  });
  closeSync(fd);
  const stdout = readFileSync(outFile, 'utf8');
  rmSync(outFile, { force: true });
  const qps = Number(/Queries per second:\s+([\d.]+)/.exec(stdout)?.[1] ?? NaN);
  const lost = Number(/Queries lost:\s+(\d+)/.exec(stdout)?.[1] ?? NaN);
  const m: Measurement = { qps: Math.round(qps), lost };
  if (opts.rate) {
    const lat = [...stdout.matchAll(/^> \S+ \S+ \S+ ([\d.]+)$/gm)].map((x) => Number(x[1]) * 1000).sort((a, b) => a - b);
    if (lat.length > 0) {
      m.p50_ms = round3(lat[Math.floor(lat.length * 0.5)]!);
      m.p99_ms = round3(lat[Math.min(lat.length - 1, Math.floor(lat.length * 0.99))]!);
      m.mean_ms = round3(lat.reduce((a, b) => a + b, 0) / lat.length);
    }
  }
  return m;
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function medianOf(list: Measurement[]): Measurement {
  const m: Measurement = { qps: median(list.map((x) => x.qps)), lost: median(list.map((x) => x.lost)) };
  if (list[0]?.p99_ms !== undefined) {
    m.p50_ms = median(list.map((x) => x.p50_ms!));
    m.p99_ms = median(list.map((x) => x.p99_ms!));
    m.mean_ms = median(list.map((x) => x.mean_ms!));
  }
  return m;
}

/** sluice's view: three origins and 50,000 learned /24s with varied weights (full per-subnet steering). */
function sluiceView() {
  const origins = [
    origin('eu-london', ['192.0.2.10'], PLACES.london),
    origin('us-east', ['203.0.113.30'], PLACES.ashburn),
    origin('us-west', ['198.51.100.20'], PLACES.seattle),
  ];
  const subnets: Record<string, WeightMap> = {};
  for (let i = 0; i < 50_000; i++) {
    const a = ((i * 37) % 100) / 100;
    const b = Math.min(1 - a, ((i * 11) % 50) / 100);
    subnets[`10.${(i >> 8) & 255}.${i & 255}.0/24`] = { 'eu-london': round3(a), 'us-east': round3(b), 'us-west': round3(1 - a - b) };
  }
  subnets['10.1.2.0/24'] = { 'eu-london': 0.5, 'us-east': 0.3, 'us-west': 0.2 };
  return view('example.com', [record('app.example.com', origins, { subnets })], '1', 1);
}

/** The pure core alone (no sockets): ns per query on the fast path, same view as the server. */
function coreNsPerQuery(): Record<string, number> {
  const geo = GeoLocator.open(fileURLToPath(GEOIP_TEST_DB), []);
  const r = new Responder({ geo, limits: { ipv4: 24, ipv6: 56 }, udpPayloadSize: 1232 });
  r.setIndex(buildViewIndex(sluiceView(), { primaryNs: undefined, hostmaster: undefined, nameservers: [], soaTtl: 3600, nsTtl: 3600, negativeTtl: 30, refresh: 1, retry: 1, expire: 1 }));
  const remote = { family: 4 as const, v4: 0x7f000001, v6: new Uint8Array(16) };
  const cases = {
    no_ecs: buildQuery({ name: 'app.example.com', edns: {} }),
    ecs: buildQuery({ name: 'app.example.com', edns: { ecs: { address: '10.1.2.0', source: 24 } } }),
  };
  const out: Record<string, number> = {};
  for (const [k, q] of Object.entries(cases)) {
    for (let i = 0; i < 200_000; i++) r.respond(q, 'udp', remote); // warm-up
    const n = 1_000_000;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) r.respond(q, 'udp', remote);
    out[k] = Math.round(Number(process.hrtime.bigint() - t0) / n);
  }
  return out;
}

export async function main(args: string[]): Promise<void> {
  const dIdx = args.indexOf('--duration');
  const seconds = dIdx >= 0 ? Number(args[dIdx + 1]) : 5;
  const rIdx = args.indexOf('--rounds');
  const roundsWanted = rIdx >= 0 ? Number(args[rIdx + 1]) : 3;
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-dns-'));
  const servers: Server[] = [];
  try {
    const queries = join(dir, 'queries.txt');
    writeFileSync(queries, 'app.example.com A\n'.repeat(1000));
    const ports = { sluice: await freeUdpTcpPort(), gdnsd: await freeUdpTcpPort(), pdns: await freeUdpTcpPort() };
    const workers = availableParallelism();

    // sluice dns
    writeFileSync(join(dir, 'view.json'), JSON.stringify(sluiceView()));
    writeFileSync(
      join(dir, 'dns.yaml'),
      `listen: ["127.0.0.1:${ports.sluice}"]\nview_file: view.json\ngeoip: { database: ${JSON.stringify(fileURLToPath(GEOIP_TEST_DB))} }\nworkers: ${workers}\nlog_level: warn\n`,
    );
    servers.push(start('sluice', process.execPath, [SLUICE_BIN, 'dns', '--config', join(dir, 'dns.yaml')], ports.sluice));

    // gdnsd, weighted plugin, one UDP thread per core
    const gd = join(dir, 'gdnsd');
    mkdirSync(join(gd, 'zones'), { recursive: true });
    writeFileSync(
      join(gd, 'config'),
      `options => {\n  listen => [ 127.0.0.1:${ports.gdnsd} ]\n  run_dir => ${gd}/run\n  state_dir => ${gd}/state\n  udp_threads => ${workers}\n  tcp_threads => 1\n}\nplugins => {\n  weighted => {\n    app => {\n      eu = [ 192.0.2.10, 50 ]\n      use = [ 203.0.113.30, 30 ]\n      usw = [ 198.51.100.20, 20 ]\n    }\n  }\n}\n`,
    );
    writeFileSync(join(gd, 'zones', 'example.com'), '$TTL 3600\n@ SOA ns1 hostmaster 1 3600 600 1209600 30\n@ NS ns1\nns1 A 127.0.0.1\napp 30 DYNA weighted!app\n');
    servers.push(start('gdnsd', 'gdnsd', ['-c', gd, 'start'], ports.gdnsd));

    // PowerDNS Authoritative, bind backend, LUA record, shared Lua state; packet/query caches off so
    // every query runs the Lua (as a per-query weighted choice must).
    const pd = join(dir, 'pdns');
    mkdirSync(pd, { recursive: true });
    writeFileSync(join(pd, 'named.conf'), `zone "example.com" { type master; file "${pd}/example.com.zone"; };\n`);
    writeFileSync(
      join(pd, 'example.com.zone'),
      `$TTL 3600\n@ IN SOA ns1.example.com. hostmaster.example.com. 1 3600 600 1209600 30\n@ IN NS ns1.example.com.\nns1 IN A 127.0.0.1\napp 30 IN LUA A "pickwrandom({{50, '192.0.2.10'}, {30, '203.0.113.30'}, {20, '198.51.100.20'}})"\n`,
    );
    writeFileSync(
      join(pd, 'pdns.conf'),
      [
        'launch=bind',
        `bind-config=${pd}/named.conf`,
        'local-address=127.0.0.1',
        `local-port=${ports.pdns}`,
        'enable-lua-records=shared',
        'edns-subnet-processing=yes',
        `socket-dir=${pd}`,
        'daemon=no',
        'guardian=no',
        'disable-syslog=yes',
        'cache-ttl=0',
        'query-cache-ttl=0',
        'negquery-cache-ttl=0',
        'webserver=no',
        'loglevel=3',
      ].join('\n'),
    );
    servers.push(start('pdns', 'pdns_server', [`--config-dir=${pd}`], ports.pdns));

    await Promise.all(servers.map(ready));
    // This machine is shared: load bursts from other work would land on whichever server happens to
    // be measured. So servers are measured in turn, round after round, and the median of the rounds
    // is reported (all rounds are kept in the details).
    for (const s of servers) for (const ecs of [false, true]) await dnsperf(s.port, queries, 2, { ecs }); // warm-up (JIT, caches)
    const rounds: Record<string, Record<string, Measurement[]>> = {};
    for (let round = 0; round < roundsWanted; round++) {
      for (const ecs of [false, true]) {
        const tag = ecs ? 'ecs' : 'no_ecs';
        for (const s of servers) {
          const sat = await dnsperf(s.port, queries, seconds, { ecs });
          const fixed = await dnsperf(s.port, queries, seconds, { ecs, rate: 10_000 });
          const mine = (rounds[s.name] ??= {});
          (mine[`saturation_${tag}`] ??= []).push(sat);
          (mine[`fixed10k_${tag}`] ??= []).push(fixed);
          process.stdout.write(`round ${round + 1} ${s.name} ${tag}: ${sat.qps} qps at saturation (lost ${sat.lost}); at 10k qps p50 ${fixed.p50_ms} ms p99 ${fixed.p99_ms} ms (lost ${fixed.lost})\n`);
        }
      }
    }
    const results: Record<string, Record<string, Measurement>> = {};
    for (const [name, byKind] of Object.entries(rounds)) {
      results[name] = {};
      for (const [kind, list] of Object.entries(byKind)) results[name]![kind] = medianOf(list);
    }
    for (const [name, byKind] of Object.entries(results)) {
      process.stdout.write(`median ${name}: ${Object.entries(byKind).map(([k, m]) => `${k} ${m.qps} qps${m.p99_ms !== undefined ? ` p50 ${m.p50_ms} p99 ${m.p99_ms} ms` : ''}`).join('; ')}\n`);
    }
    const core = coreNsPerQuery();
    process.stdout.write(`sluice core (no sockets): ${core.no_ecs} ns/query without ECS, ${core.ecs} ns/query with ECS\n`);
    const r = (a: number | undefined, b: number | undefined) => (a && b ? Math.round((a / b) * 100) / 100 : NaN);
    const sl = results.sluice!;
    const gd2 = results.gdnsd!;
    const pd2 = results.pdns!;
    const ratios = {
      qps_vs_gdnsd_no_ecs: r(sl.saturation_no_ecs!.qps, gd2.saturation_no_ecs!.qps),
      qps_vs_gdnsd_ecs: r(sl.saturation_ecs!.qps, gd2.saturation_ecs!.qps),
      qps_vs_pdns_lua_no_ecs: r(sl.saturation_no_ecs!.qps, pd2.saturation_no_ecs!.qps),
      qps_vs_pdns_lua_ecs: r(sl.saturation_ecs!.qps, pd2.saturation_ecs!.qps),
      p99_vs_gdnsd_10k_no_ecs: r(sl.fixed10k_no_ecs!.p99_ms, gd2.fixed10k_no_ecs!.p99_ms),
      p99_vs_gdnsd_10k_ecs: r(sl.fixed10k_ecs!.p99_ms, gd2.fixed10k_ecs!.p99_ms),
      p99_vs_pdns_lua_10k_ecs: r(sl.fixed10k_ecs!.p99_ms, pd2.fixed10k_ecs!.p99_ms),
    };
    recordResult(
      'dns',
      {
        comparison: 'sluice dns (fast path, 50k learned /24s, workers per CPU) vs gdnsd weighted vs PowerDNS LUA pickwrandom (shared state, caches off); dnsperf on loopback',
        ratios,
        details: { seconds_per_run: seconds, rounds: roundsWanted, workers, median: results, all_rounds: rounds, sluice_core_ns_per_query: core },
      },
      `sluice ${sl.saturation_ecs!.qps} qps with ECS = ${ratios.qps_vs_gdnsd_ecs}x gdnsd (${gd2.saturation_ecs!.qps}), ${ratios.qps_vs_pdns_lua_ecs}x PowerDNS LUA (${pd2.saturation_ecs!.qps}); at 10k qps p99 ${sl.fixed10k_ecs!.p99_ms} ms (gdnsd ${gd2.fixed10k_ecs!.p99_ms} ms, PowerDNS ${pd2.fixed10k_ecs!.p99_ms} ms)`,
    );
  } finally {
    for (const s of servers) await stop(s).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}
